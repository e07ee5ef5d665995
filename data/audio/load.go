package audio

import (
	"fmt"
	"math"
)

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
// is an error; silence is valid audio and is returned as is. It resamples
// with the default resampler (SincHann, as the original TVLT); see
// LoadMonoWith.
func LoadMono(path string, rate int) ([]float32, error) {
	return LoadMonoWith(path, rate, SincHann)
}

// LoadMonoWith is LoadMono resampling with r.
func LoadMonoWith(path string, rate int, r Resampler) ([]float32, error) {
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("audio: %s: %w", path, err)
	}
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
	if err := checkResample(c, rate); err != nil {
		return nil, fmt.Errorf("audio: %s: %w", path, err)
	}
	return ResampleWith(Downmix(c.Channels), c.Rate, rate, r), nil
}

// MaxResampledSamples bounds the waveform LoadMono and LoadMonoSegment
// return (2^28 samples: 1 GiB of float32, over 100 minutes at 44.1 kHz), so a
// file whose header promises a huge resampling ratio fails before the
// allocation instead of exhausting memory.
const MaxResampledSamples = 1 << 28

// checkResample refuses target rates out of range and resamplings whose
// output would exceed MaxResampledSamples.
func checkResample(c *Clip, rate int) error {
	if rate < MinSampleRate || rate > MaxSampleRate {
		return fmt.Errorf("target sample rate %d Hz is outside the supported %d to %d Hz", rate, MinSampleRate, MaxSampleRate)
	}
	if c.Rate < MinSampleRate || c.Rate > MaxSampleRate {
		return fmt.Errorf("sample rate %d Hz is outside the supported %d to %d Hz", c.Rate, MinSampleRate, MaxSampleRate)
	}
	if n := ResampledLen(c.Frames(), c.Rate, rate); n > MaxResampledSamples {
		return fmt.Errorf("%d samples at %d Hz resample to %d samples at %d Hz, more than the %d allowed", c.Frames(), c.Rate, n, rate, MaxResampledSamples)
	}
	return nil
}

// Cut returns the samples from start to end seconds (end <= 0: to the end),
// sample-accurately: samples ⌊start·Rate⌋ up to but excluding ⌊end·Rate⌋,
// an end past the last sample being the last sample. The channels share
// c's storage. A start at or past the end of the audio is an error.
func (c *Clip) Cut(start, end float64) (*Clip, error) {
	if math.IsNaN(start) || math.IsInf(start, 0) || start < 0 {
		return nil, fmt.Errorf("segment start %v must be a number of seconds >= 0", start)
	}
	if math.IsNaN(end) || math.IsInf(end, 0) || (end > 0 && end <= start) {
		return nil, fmt.Errorf("segment end %v must be after its start %v", end, start)
	}
	if c.Rate <= 0 {
		return nil, fmt.Errorf("sample rate %d must be positive", c.Rate)
	}
	n := c.Frames()
	i0 := sampleIndex(start, c.Rate)
	if i0 >= n {
		return nil, fmt.Errorf("segment starting at %gs starts past the end of the audio (%d samples = %.3fs)", start, n, float64(n)/float64(c.Rate))
	}
	i1 := n
	if end > 0 {
		i1 = min(sampleIndex(end, c.Rate), n)
	}
	if i1 <= i0 {
		return nil, fmt.Errorf("segment %gs to %gs holds no whole sample at %d Hz", start, end, c.Rate)
	}
	out := &Clip{Rate: c.Rate, Channels: make([][]float32, len(c.Channels))}
	for i, ch := range c.Channels {
		out.Channels[i] = ch[i0:i1:i1]
	}
	return out, nil
}

// sampleIndex is ⌊t·rate⌋, tolerating the rounding error of decimal times
// (0.3·44100 is 13229.999… in binary floating point).
func sampleIndex(t float64, rate int) int {
	return int(math.Floor(t*float64(rate) + 1e-6))
}

// LoadMonoSegment is LoadMono on the part of a WAV file from start to end
// seconds (end <= 0: to the end of the file), cut at the file's own sample
// rate before resampling (see Clip.Cut).
func LoadMonoSegment(path string, rate int, start, end float64) ([]float32, error) {
	return LoadMonoSegmentWith(path, rate, start, end, SincHann)
}

// LoadMonoSegmentWith is LoadMonoSegment resampling with r.
func LoadMonoSegmentWith(path string, rate int, start, end float64, r Resampler) ([]float32, error) {
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("audio: %s: %w", path, err)
	}
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
	if c, err = c.Cut(start, end); err != nil {
		return nil, fmt.Errorf("audio: %s: %w", path, err)
	}
	if err := checkResample(c, rate); err != nil {
		return nil, fmt.Errorf("audio: %s: %w", path, err)
	}
	return ResampleWith(Downmix(c.Channels), c.Rate, rate, r), nil
}
