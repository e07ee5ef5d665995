package data

import (
	"image/color"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tvlt-go/tvlt/data/audio"
)

// TestVideoAudioResampledAsWAV: a video whose audio track is at 48 kHz
// (float PCM in Matroska, decoded exactly) gives the loader the same spectrogram as the
// same samples in a WAV file, for both resamplers: the track is decoded at
// its own rate and resampled by the loader's filter, not by ffmpeg.
func TestVideoAudioResampledAsWAV(t *testing.T) {
	ff := requireFFmpeg(t)
	dir := t.TempDir()
	const rate = 48000
	wave := make([]float32, rate*3/4)
	for i, v := range chirp(len(wave), rate, 300) {
		wave[i] = v
	}
	wav := filepath.Join(dir, "a.wav")
	if err := audio.WriteWAV(wav, &audio.Clip{Channels: [][]float32{wave}, Rate: rate}, audio.Float32); err != nil {
		t.Fatal(err)
	}
	frames := filepath.Join(dir, "f")
	writeFrames(t, frames, 2, 32, 32, color.RGBA{10, 20, 30, 255})
	mkv := filepath.Join(dir, "v.mkv")
	if b, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-y", "-framerate", "8", "-i", filepath.Join(frames, "f%03d.png"),
		"-i", wav, "-c:v", "ffv1", "-c:a", "pcm_f32le", mkv).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	cfg := tinyConfig()
	for _, r := range []audio.Resampler{audio.SincHann, audio.Kaiser} {
		load := func(c Clip) []float32 {
			t.Helper()
			l, err := NewLoader([]Clip{c}, cfg, LoaderOptions{BatchSize: 1, Workers: 1, AudioResampler: r})
			if err != nil {
				t.Fatal(err)
			}
			it := l.Epoch(0)
			defer it.Close()
			b, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			return b.AudioValues
		}
		fromVideo := load(Clip{ID: "v", Video: mkv})
		fromWAV := load(Clip{ID: "w", Frames: frames, Audio: wav})
		sameBits(t, r.String()+" audio_values", fromVideo, fromWAV)
	}
}
