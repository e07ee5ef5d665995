package data

import (
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/data/audio"
)

// TestProcessorAudioResampler: ProcessorOptions.AudioResampler picks the
// filter for input at another rate (torchaudio's by default, "" too), is
// normalised to its canonical name, and an unknown name is refused.
func TestProcessorAudioResampler(t *testing.T) {
	cfg := tinyConfig()
	img := randFrames(5, 1, 32, 32)
	wave := chirp(22050*7/10, 22050, 250)
	if got := DefaultProcessorOptions(cfg).AudioResampler; got != "torchaudio" {
		t.Errorf("default AudioResampler %q, want torchaudio", got)
	}
	for _, c := range []struct {
		name string
		want audio.Resampler
	}{
		{"torchaudio", audio.SincHann}, {"", audio.SincHann}, {"sinc_interp_hann", audio.SincHann}, {"Kaiser", audio.Kaiser},
	} {
		p := newProc(t, cfg, func(o *ProcessorOptions) { o.AudioResampler = c.name })
		if got := p.Options().AudioResampler; got != c.want.String() {
			t.Errorf("%q: Options().AudioResampler %q, want %q", c.name, got, c.want.String())
		}
		feat, rows, err := p.Features(Wave{Samples: wave, Rate: 22050})
		if err != nil {
			t.Fatal(err)
		}
		want, wrows, err := p.Extractor().Features(audio.ResampleWith(wave, 22050, 44100, c.want))
		if err != nil {
			t.Fatal(err)
		}
		if rows != wrows {
			t.Fatalf("%q: %d rows, want %d", c.name, rows, wrows)
		}
		sameBits(t, c.name+" features", feat, want)
		b := process(t, p, Input{Frames: img, Audio: Wave{Samples: wave, Rate: 22050}})
		sameBits(t, c.name+" audio_values", b.AudioValues[:rows*cfg.FrequencyLength], want)
	}
	// The two filters differ on this input, so the option is not ignored.
	fs, _, _ := newProc(t, cfg, nil).Features(Wave{Samples: wave, Rate: 22050})
	fk, _, _ := newProc(t, cfg, func(o *ProcessorOptions) { o.AudioResampler = "kaiser" }).Features(Wave{Samples: wave, Rate: 22050})
	diff := 0.0
	for i := range fs {
		diff = max(diff, float64(abs32(fs[i]-fk[i])))
	}
	if diff < 1e-3 {
		t.Errorf("torchaudio and kaiser features differ by only %g", diff)
	}
	o := DefaultProcessorOptions(cfg)
	o.AudioResampler = "lanczos"
	if _, err := NewProcessor(cfg, o); err == nil || !strings.Contains(err.Error(), `audio_resampler "lanczos"`) {
		t.Errorf("unknown resampler: error %v", err)
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
