package audio

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/dsp/fourier"
)

// FeatureConfig mirrors TvltFeatureExtractor's constructor arguments (same defaults).
type FeatureConfig struct {
	SpectrogramLength       int     // maximum number of time frames kept (2048)
	FeatureSize             int     // mel bins (128) = model frequency_length
	PatchSize               [2]int  // audio patch (time, freq), [16, 16]
	NumChannels             int     // channel axis of audio_values (1)
	SamplingRate            int     // rate the waveform is assumed to have (44100)
	HopLengthToSamplingRate int     // hop = SamplingRate / this (86 -> 512)
	NFFT                    int     // FFT and window length (2048)
	PaddingValue            float32 // value of padded time rows in batch (0)
	// MelMaxHz is the top edge of the mel filter bank; 0 means 22050 Hz,
	// which the reference hard-codes whatever SamplingRate is.
	MelMaxHz float64
}

// DefaultFeatureConfig returns the reference defaults.
func DefaultFeatureConfig() FeatureConfig {
	return FeatureConfig{
		SpectrogramLength:       2048,
		FeatureSize:             128,
		PatchSize:               [2]int{16, 16},
		NumChannels:             1,
		SamplingRate:            44100,
		HopLengthToSamplingRate: 86,
		NFFT:                    2048,
		PaddingValue:            0,
	}
}

// Hop is the STFT hop length in samples (SamplingRate / HopLengthToSamplingRate).
func (c FeatureConfig) Hop() int {
	if c.HopLengthToSamplingRate <= 0 {
		return 0
	}
	return c.SamplingRate / c.HopLengthToSamplingRate
}

// Validate reports the first setting the extractor cannot work with.
func (c FeatureConfig) Validate() error {
	switch {
	case c.SpectrogramLength <= 0:
		return fmt.Errorf("audio: SpectrogramLength %d must be positive", c.SpectrogramLength)
	case c.FeatureSize <= 0:
		return fmt.Errorf("audio: FeatureSize %d must be positive", c.FeatureSize)
	case c.PatchSize[0] <= 0 || c.PatchSize[1] <= 0:
		return fmt.Errorf("audio: PatchSize %v must be positive", c.PatchSize)
	case c.FeatureSize%c.PatchSize[1] != 0:
		return fmt.Errorf("audio: FeatureSize %d is not a multiple of the frequency patch size %d", c.FeatureSize, c.PatchSize[1])
	case c.NumChannels <= 0:
		return fmt.Errorf("audio: NumChannels %d must be positive", c.NumChannels)
	case c.SamplingRate <= 0:
		return fmt.Errorf("audio: SamplingRate %d must be positive", c.SamplingRate)
	case c.HopLengthToSamplingRate <= 0 || c.Hop() <= 0:
		return fmt.Errorf("audio: HopLengthToSamplingRate %d gives no positive hop at %d Hz", c.HopLengthToSamplingRate, c.SamplingRate)
	case c.NFFT < 2:
		return fmt.Errorf("audio: NFFT %d must be at least 2", c.NFFT)
	case math.IsNaN(float64(c.PaddingValue)) || math.IsInf(float64(c.PaddingValue), 0):
		return fmt.Errorf("audio: PaddingValue %v is not finite", c.PaddingValue)
	case c.MelMaxHz < 0 || math.IsNaN(c.MelMaxHz) || math.IsInf(c.MelMaxHz, 0):
		return fmt.Errorf("audio: MelMaxHz %v must be finite and non-negative", c.MelMaxHz)
	}
	return nil
}

// The reference's dB constants: power floor, dynamic range and the affine
// map of [-60, 20] dB onto [-1, 1].
const (
	melFloor = 1e-10
	dbRange  = 80.0
)

// ErrTooShort is wrapped by Features when a clip yields no frame at all
// (fewer samples than one hop), so callers can skip such clips on purpose.
var ErrTooShort = errors.New("clip shorter than one hop")

// Extractor turns waveforms into TVLT audio features. The window and mel
// filters are computed once; an Extractor is safe for concurrent use.
type Extractor struct {
	cfg    FeatureConfig
	hop    int
	nBins  int
	window []float64 // analysis window: periodic Hann, NFFT long
	mel    []float64 // mel filters: (FeatureSize, nBins) row-major
	// melLo/melHi bound each filter's non-zero bins, so the projection skips
	// the zeros (adding exact zeros would not change the sums).
	melLo, melHi []int
	scratch      sync.Pool // *stftScratch; gonum's FFT keeps internal state
}

type stftScratch struct {
	fft   *fourier.FFT
	frame []float64
	coef  []complex128
	power []float64
}

// NewExtractor validates cfg and precomputes the window and mel filters.
func NewExtractor(cfg FeatureConfig) (*Extractor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fMax := cfg.MelMaxHz
	if fMax == 0 {
		fMax = 22050
	}
	e := &Extractor{
		cfg:    cfg,
		hop:    cfg.Hop(),
		nBins:  cfg.NFFT/2 + 1,
		window: periodicHann(cfg.NFFT),
	}
	e.mel = melFilterBank(e.nBins, cfg.FeatureSize, 0, fMax, cfg.SamplingRate)
	e.melLo = make([]int, cfg.FeatureSize)
	e.melHi = make([]int, cfg.FeatureSize)
	for m := 0; m < cfg.FeatureSize; m++ {
		row := e.mel[m*e.nBins : (m+1)*e.nBins]
		lo, hi := 0, 0
		for k, v := range row {
			if v != 0 {
				if hi == 0 {
					lo = k
				}
				hi = k + 1
			}
		}
		e.melLo[m], e.melHi[m] = lo, hi
	}
	n := cfg.NFFT
	e.scratch.New = func() any {
		return &stftScratch{
			fft:   fourier.NewFFT(n),
			frame: make([]float64, n),
			coef:  make([]complex128, n/2+1),
			power: make([]float64, n/2+1),
		}
	}
	return e, nil
}

// Config returns the settings the extractor was built with.
func (e *Extractor) Config() FeatureConfig { return e.cfg }

// numFrames is the number of time rows Features returns for n samples
// (floor(n/hop), capped at SpectrogramLength).
func (e *Extractor) numFrames(n int) int {
	return min(n/e.hop, e.cfg.SpectrogramLength)
}

// checkWave rejects inputs the reference would turn into garbage.
func (e *Extractor) checkWave(wave []float32) error {
	if len(wave) == 0 {
		return fmt.Errorf("audio: features: empty waveform")
	}
	for i, v := range wave {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("audio: features: sample %d is %v", i, v)
		}
	}
	return nil
}

// reflectIndex maps index j of the signal extended by numpy's "reflect" mode
// (mirror without repeating the edge sample, repeated for long pads) to [0, n).
func reflectIndex(j, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	j %= period
	if j < 0 {
		j += period
	}
	if j >= n {
		j = period - j
	}
	return j
}

// MelPower returns the mel power spectrogram max(1e-10, W·|STFT|²) of wave as
// (FeatureSize, frames) row-major in float64, with frames = 1 + len/hop
// (the reference's frame count before it drops the last frame).
func (e *Extractor) MelPower(wave []float32) ([]float64, int, error) {
	if err := e.checkWave(wave); err != nil {
		return nil, 0, err
	}
	n := len(wave)
	nfft, hop, nBins, F := e.cfg.NFFT, e.hop, e.nBins, e.cfg.FeatureSize
	pad := nfft / 2
	frames := 1 + n/hop
	out := make([]float64, F*frames)

	s := e.scratch.Get().(*stftScratch)
	defer e.scratch.Put(s)
	for t := 0; t < frames; t++ {
		start := t*hop - pad // index into the unpadded signal
		if start >= 0 && start+nfft <= n {
			for i, w := range e.window {
				s.frame[i] = float64(wave[start+i]) * w
			}
		} else {
			for i, w := range e.window {
				s.frame[i] = float64(wave[reflectIndex(start+i, n)]) * w
			}
		}
		s.fft.Coefficients(s.coef, s.frame)
		for k, c := range s.coef {
			// The reference stores the STFT in a complex64 buffer before
			// taking |X|² in float64; rounding the same way makes the
			// features bit-identical instead of ~1e-7 apart.
			re, im := float64(float32(real(c))), float64(float32(imag(c)))
			s.power[k] = re*re + im*im
		}
		for m := 0; m < F; m++ {
			row := e.mel[m*nBins : (m+1)*nBins]
			var acc float64
			for k := e.melLo[m]; k < e.melHi[m]; k++ {
				acc += row[k] * s.power[k]
			}
			out[m*frames+t] = math.Max(melFloor, acc)
		}
	}
	return out, frames, nil
}

// LogMelDB converts a mel power spectrogram to the reference's dB scale:
// 10·log10(max(p, 1e-10)), floored at (global max − 80 dB), cast to float32.
func LogMelDB(power []float64) []float32 {
	db := make([]float64, len(power))
	peak := math.Inf(-1)
	for i, p := range power {
		db[i] = 10 * math.Log10(math.Max(p, melFloor))
		peak = math.Max(peak, db[i])
	}
	out := make([]float32, len(db))
	for i, v := range db {
		out[i] = float32(math.Max(v, peak-dbRange))
	}
	return out
}

// normalizeDB is the reference's float32 map clip((db − 20)/40, −2, 0) + 1.
func normalizeDB(db float32) float32 {
	v := (db - 20) / 40
	if v < -2 {
		v = -2
	} else if v > 0 {
		v = 0
	}
	return v + 1
}

// FeaturesFreqMajor returns the normalised features before the transpose:
// (FeatureSize, frames) row-major with the last STFT frame dropped and no
// truncation, as the reference's _np_extract_fbank_features returns them.
func (e *Extractor) FeaturesFreqMajor(wave []float32) ([]float32, int, error) {
	power, frames, err := e.MelPower(wave)
	if err != nil {
		return nil, 0, err
	}
	db := LogMelDB(power)
	kept := frames - 1
	F := e.cfg.FeatureSize
	out := make([]float32, F*kept)
	for m := 0; m < F; m++ {
		for t := 0; t < kept; t++ {
			out[m*kept+t] = normalizeDB(db[m*frames+t])
		}
	}
	return out, kept, nil
}

// Features returns one clip's normalised log-mel features, time-major (frames, FeatureSize) flattened, truncated to SpectrogramLength; frames = number of time rows.
// The waveform is taken to be at Config().SamplingRate (resample first);
// clips shorter than one hop give an ErrTooShort-wrapped error.
func (e *Extractor) Features(wave []float32) (feat []float32, frames int, err error) {
	if len(wave) > 0 && len(wave) < e.hop {
		return nil, 0, fmt.Errorf("audio: features: %d samples: %w (%d samples)", len(wave), ErrTooShort, e.hop)
	}
	fm, kept, err := e.FeaturesFreqMajor(wave)
	if err != nil {
		return nil, 0, err
	}
	F := e.cfg.FeatureSize
	frames = e.numFrames(len(wave)) // min(kept, SpectrogramLength): kept is len/hop
	feat = make([]float32, frames*F)
	for t := 0; t < frames; t++ {
		row := feat[t*F : (t+1)*F]
		for m := range row {
			row[m] = fm[m*kept+t]
		}
	}
	return feat, frames, nil
}

// batch pads clips like the reference: values (B,1,Tpad,F) flattened with Tpad = max ceil(frames/pT)*pT, mask (B, maxPatches) float32.
// The channel axis has NumChannels copies of each clip. Rows beyond a clip's
// frames hold PaddingValue; a partly filled last time patch still counts as
// real in the mask, as in the reference. frames[i] is capped at the rows
// feats[i] actually holds, so inconsistent inputs cannot read out of range.
func (e *Extractor) batch(feats [][]float32, frames []int) (values []float32, shape [4]int, mask []float32, maskShape [2]int) {
	F, pT := e.cfg.FeatureSize, e.cfg.PatchSize[0]
	freqPatches := F / e.cfg.PatchSize[1]
	B, C := len(feats), e.cfg.NumChannels
	rows := make([]int, B)
	maxTP := 0
	for i, f := range feats {
		r := len(f) / F
		if i < len(frames) && frames[i] >= 0 && frames[i] < r {
			r = frames[i]
		}
		rows[i] = r
		maxTP = max(maxTP, (r+pT-1)/pT)
	}
	tPad := maxTP * pT
	shape = [4]int{B, C, tPad, F}
	maskShape = [2]int{B, maxTP * freqPatches}
	values = make([]float32, B*C*tPad*F)
	if e.cfg.PaddingValue != 0 {
		for i := range values {
			values[i] = e.cfg.PaddingValue
		}
	}
	mask = make([]float32, B*maskShape[1])
	for i, f := range feats {
		for c := 0; c < C; c++ {
			copy(values[(i*C+c)*tPad*F:], f[:rows[i]*F])
		}
		nReal := (rows[i] + pT - 1) / pT * freqPatches
		for j := 0; j < nReal; j++ {
			mask[i*maskShape[1]+j] = 1
		}
	}
	return values, shape, mask, maskShape
}
