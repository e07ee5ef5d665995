package audio

import (
	"fmt"
	"strings"
)

// Resampler selects the filter Resample uses to change a waveform's rate.
// The zero value is the default, SincHann.
type Resampler int

// The resamplers. SincHann is torchaudio.functional.resample with its
// defaults (Hann-windowed sinc, lowpass_filter_width 6, rolloff 0.99), the
// filter the original TVLT applied to its audio, reproduced to within 1e-5
// (resample_sinc.go). Kaiser is tvlt-go's earlier filter: a sharper
// Kaiser-windowed sinc (32 zero crossings, rolloff 0.94) with more than
// 65 dB of stop-band attenuation (resample_kaiser.go), which the pretrained
// weights never saw.
const (
	SincHann Resampler = iota
	Kaiser
)

// String is the name ParseResampler reads back ("torchaudio" or "kaiser").
func (r Resampler) String() string {
	switch r {
	case SincHann:
		return "torchaudio"
	case Kaiser:
		return "kaiser"
	}
	return fmt.Sprintf("Resampler(%d)", int(r))
}

// ParseResampler reads a resampler name: "torchaudio" (also "sinc_hann",
// "sinc_interp_hann", "sinc_interpolation", torchaudio's own names, and ""
// for the default) or "kaiser"; case is ignored.
func ParseResampler(s string) (Resampler, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "torchaudio", "sinc_hann", "sinc_interp_hann", "sinc_interpolation":
		return SincHann, nil
	case "kaiser":
		return Kaiser, nil
	}
	return 0, fmt.Errorf("audio: resampler %q: want \"torchaudio\" (the default, as the original TVLT) or \"kaiser\"", s)
}

// check refuses values other than the named resamplers.
func (r Resampler) check() error {
	if r != SincHann && r != Kaiser {
		return fmt.Errorf("unknown resampler %v", r)
	}
	return nil
}

// ResampledLen is the length Resample returns: ceil(n·to/from), torchaudio's
// output length.
func ResampledLen(n, from, to int) int {
	if from <= 0 || to <= 0 || n <= 0 {
		return 0
	}
	return int((int64(n)*int64(to) + int64(from) - 1) / int64(from))
}

// Resample converts x from rate `from` to rate `to` (Hz) with the default
// resampler (SincHann, torchaudio's); see ResampleWith.
func Resample(x []float32, from, to int) []float32 {
	return ResampleWith(x, from, to, SincHann)
}

// ResampleWith converts x from rate `from` to rate `to` (Hz) with the given
// filter; the result has ceil(len(x)·to/from) samples, and output sample 0 is
// aligned with input sample 0 (the input is zero outside its ends). Equal
// rates give a copy of x. Non-positive rates or an unknown resampler give nil
// (LoadMono validates rates and reports errors).
func ResampleWith(x []float32, from, to int, r Resampler) []float32 {
	if from <= 0 || to <= 0 {
		return nil
	}
	if from == to {
		return append([]float32(nil), x...)
	}
	switch r {
	case SincHann:
		return resampleSinc(x, from, to)
	case Kaiser:
		return resampleKaiser(x, from, to)
	}
	return nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
