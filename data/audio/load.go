package audio

import "fmt"

// Downmix averages the channels sample by sample (the shortest channel sets
// the length); a single channel is copied.
func Downmix(channels [][]float32) []float32 {
	if len(channels) == 0 {
		return nil
	}
	n := len(channels[0])
	for _, ch := range channels[1:] {
		n = min(n, len(ch))
	}
	out := make([]float32, n)
	if len(channels) == 1 {
		copy(out, channels[0])
		return out
	}
	inv := 1 / float64(len(channels))
	for i := range out {
		var acc float64
		for _, ch := range channels {
			acc += float64(ch[i])
		}
		out[i] = float32(acc * inv)
	}
	return out
}

// LoadMono reads a WAV file, averages its channels and resamples it to rate
// Hz, giving the waveform Extractor.Features expects. A file without samples
// is an error; silence is valid audio and is returned as is.
func LoadMono(path string, rate int) ([]float32, error) {
	if rate <= 0 {
		return nil, fmt.Errorf("audio: %s: target sample rate %d must be positive", path, rate)
	}
	c, err := ReadWAV(path)
	if err != nil {
		return nil, err
	}
	if c.Frames() == 0 {
		return nil, fmt.Errorf("audio: %s: no audio samples", path)
	}
	return Resample(Downmix(c.Channels), c.Rate, rate), nil
}
