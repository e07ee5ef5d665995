package audio

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tvlt-go/tvlt/internal/golden"
	"gorgonia.org/tensor"
)

const featureGolden = "feature_extractor.npz"

// maxAbs is the largest |got-want|; shapes are checked by the caller.
func maxAbs(got, want []float64) float64 {
	worst := 0.0
	for i := range got {
		worst = math.Max(worst, math.Abs(got[i]-want[i]))
	}
	return worst
}

func maxRel(got, want []float64) float64 {
	worst := 0.0
	for i := range got {
		worst = math.Max(worst, math.Abs(got[i]-want[i])/math.Max(math.Abs(want[i]), 1e-300))
	}
	return worst
}

func f32to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// goldenSets lists the extractor settings stored in the file: every prefix
// "<set>/" that has an audio_values array.
func goldenSets(arrays map[string]*tensor.Dense) []string {
	var sets []string
	for k := range arrays {
		if set, ok := strings.CutSuffix(k, "/audio_values"); ok {
			sets = append(sets, set)
		}
	}
	sort.Strings(sets)
	return sets
}

func goldenWaveforms(t *testing.T, arrays map[string]*tensor.Dense) [][]float32 {
	t.Helper()
	var waves [][]float32
	for i := 0; ; i++ {
		a, ok := arrays[fmt.Sprintf("waveform_%d", i)]
		if !ok {
			break
		}
		w, ok := a.Data().([]float32)
		if !ok {
			t.Fatalf("waveform_%d has dtype %T, want float32", i, a.Data())
		}
		waves = append(waves, w)
	}
	if len(waves) == 0 {
		t.Fatal("no waveform_0 in the golden file")
	}
	return waves
}

// goldenConfig derives a set's extractor settings from the stored arrays:
// F from mel_filters' rows, NFFT from its columns, and SpectrogramLength from
// where the longest clip's rows stop in audio_values (only when it is shorter
// than the untruncated spectrogram; otherwise the default applies).
func goldenConfig(t *testing.T, arrays map[string]*tensor.Dense, set string, waves [][]float32) FeatureConfig {
	t.Helper()
	cfg := DefaultFeatureConfig()
	filt := arrays[set+"/mel_filters"]
	if filt == nil || len(filt.Shape()) != 2 {
		t.Fatalf("%s/mel_filters missing or not 2-D", set)
	}
	cfg.FeatureSize = filt.Shape()[0]
	cfg.NFFT = 2 * (filt.Shape()[1] - 1)
	vals := arrays[set+"/audio_values"]
	vs := vals.Shape()
	if len(vs) != 4 || vs[0] != len(waves) || vs[3] != cfg.FeatureSize {
		t.Fatalf("%s/audio_values shape %v does not fit %d waveforms and %d mel bins", set, vs, len(waves), cfg.FeatureSize)
	}
	cfg.NumChannels = vs[1]
	hop := cfg.Hop()
	longest, maxT := 0, 0
	for i, w := range waves {
		if T := len(w) / hop; T > maxT {
			longest, maxT = i, T
		}
	}
	pT := cfg.PatchSize[0]
	tPad := vs[2]
	if tPad >= (maxT+pT-1)/pT*pT {
		if maxT > cfg.SpectrogramLength {
			t.Fatalf("%s: stored spectrogram holds %d rows but the default length is %d", set, maxT, cfg.SpectrogramLength)
		}
		return cfg
	}
	data := golden.Float64s(vals)
	F := cfg.FeatureSize
	clip := data[longest*vs[1]*tPad*F : (longest*vs[1]+1)*tPad*F]
	L := tPad
	for L > 0 {
		allPad := true
		for _, v := range clip[(L-1)*F : L*F] {
			if v != float64(cfg.PaddingValue) {
				allPad = false
				break
			}
		}
		if !allPad {
			break
		}
		L--
	}
	if L <= tPad-pT || L >= maxT {
		t.Fatalf("%s: inferred spectrogram length %d does not fit padded length %d and %d frames", set, L, tPad, maxT)
	}
	cfg.SpectrogramLength = L
	return cfg
}

func TestGoldenFeatureExtractor(t *testing.T) {
	dir := golden.Dir(t)
	if !golden.Has(dir, featureGolden) {
		t.Skipf("golden set %s has no %s; feature extractor parity not checked", dir, featureGolden)
	}
	arrays := golden.Load(t, dir, featureGolden)
	waves := goldenWaveforms(t, arrays)
	sets := goldenSets(arrays)
	if len(sets) == 0 {
		t.Fatal("no <set>/audio_values arrays in the golden file")
	}
	for _, set := range sets {
		t.Run(set, func(t *testing.T) {
			cfg := goldenConfig(t, arrays, set, waves)
			t.Logf("settings: F=%d NFFT=%d hop=%d spectrogram_length=%d channels=%d", cfg.FeatureSize, cfg.NFFT, cfg.Hop(), cfg.SpectrogramLength, cfg.NumChannels)
			e, err := NewExtractor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			check := func(key string, got []float64, shape []int, atol, rtol float64) {
				t.Helper()
				want, ok := arrays[key]
				if !ok {
					t.Errorf("%s missing from the golden file", key)
					return
				}
				w := golden.Float64s(want)
				if msg := golden.Close(got, w, shape, want.Shape(), atol, rtol); msg != "" {
					t.Errorf("%s: %s", key, msg)
					return
				}
				t.Logf("%-24s max abs err %.3g, max rel err %.3g", key, maxAbs(got, w), maxRel(got, w))
			}

			if key := fmt.Sprintf("window_hann_%d", cfg.NFFT); arrays[key] != nil {
				check(key, e.window, []int{cfg.NFFT}, 1e-12, 0)
			}
			check(set+"/mel_filters", e.mel, []int{cfg.FeatureSize, cfg.NFFT/2 + 1}, 1e-4, 1e-6)

			power, frames, err := e.MelPower(waves[0])
			if err != nil {
				t.Fatal(err)
			}
			check(set+"/mel_power_0", power, []int{cfg.FeatureSize, frames}, 0, 1e-6)
			check(set+"/log_mel_db_0", f32to64(LogMelDB(power)), []int{cfg.FeatureSize, frames}, 1e-4, 0)
			fm, kept, err := e.FeaturesFreqMajor(waves[0])
			if err != nil {
				t.Fatal(err)
			}
			check(set+"/features_0", f32to64(fm), []int{cfg.FeatureSize, kept}, 1e-4, 0)

			feats := make([][]float32, len(waves))
			nFrames := make([]int, len(waves))
			for i, w := range waves {
				if feats[i], nFrames[i], err = e.Features(w); err != nil {
					t.Fatal(err)
				}
			}
			vals, shape, mask, maskShape := e.batch(feats, nFrames)
			check(set+"/audio_values", f32to64(vals), shape[:], 1e-4, 0)
			check(set+"/audio_mask", f32to64(mask), maskShape[:], 0, 0)
		})
	}
}

// The README's worked example: default settings, 129 and 68 frames.
func TestBatchMaskExample(t *testing.T) {
	e, err := NewExtractor(DefaultFeatureConfig())
	if err != nil {
		t.Fatal(err)
	}
	a, b := make([]float32, 129*128), make([]float32, 68*128)
	for i := range a {
		a[i] = 0.5
	}
	for i := range b {
		b[i] = -0.25
	}
	vals, shape, mask, ms := e.batch([][]float32{a, b}, []int{129, 68})
	if shape != [4]int{2, 1, 144, 128} || ms != [2]int{2, 72} {
		t.Fatalf("shape %v mask %v, want [2 1 144 128] [2 72]", shape, ms)
	}
	ones := func(row []float32) int {
		n := 0
		for _, v := range row {
			n += int(v)
		}
		return n
	}
	if n0, n1 := ones(mask[:72]), ones(mask[72:]); n0 != 72 || n1 != 40 {
		t.Errorf("mask ones %d, %d; want 72, 40", n0, n1)
	}
	for _, c := range []struct {
		b, t int
		want float32
	}{{0, 128, 0.5}, {0, 129, 0}, {0, 143, 0}, {1, 67, -0.25}, {1, 68, 0}, {1, 143, 0}} {
		if got := vals[(c.b*144+c.t)*128+5]; got != c.want {
			t.Errorf("values[%d,0,%d,5] = %v, want %v", c.b, c.t, got, c.want)
		}
	}

	cfg := DefaultFeatureConfig()
	cfg.PaddingValue = -1
	cfg.NumChannels = 2
	e2, err := NewExtractor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	vals, shape, _, _ = e2.batch([][]float32{b}, []int{68})
	if shape != [4]int{1, 2, 80, 128} {
		t.Fatalf("shape %v, want [1 2 80 128]", shape)
	}
	if vals[(1*80+67)*128] != -0.25 || vals[(1*80+68)*128] != -1 || vals[68*128] != -1 {
		t.Errorf("second channel copy or padding value wrong")
	}
}

func TestFeaturesShapesAndErrors(t *testing.T) {
	cfg := DefaultFeatureConfig()
	cfg.SpectrogramLength = 50
	e, err := NewExtractor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ n, frames int }{{512, 1}, {1023, 1}, {1024, 2}, {700, 1}, {100 * 512, 50}, {30*512 + 7, 30}} {
		w := make([]float32, c.n)
		for i := range w {
			w[i] = float32(math.Sin(float64(i) * 0.05))
		}
		feat, frames, err := e.Features(w)
		if err != nil {
			t.Fatalf("n=%d: %v", c.n, err)
		}
		if frames != c.frames || len(feat) != frames*128 || e.numFrames(c.n) != c.frames {
			t.Errorf("n=%d: %d frames (%d values), want %d", c.n, frames, len(feat), c.frames)
		}
		for _, v := range feat {
			if v < -1 || v > 1 {
				t.Fatalf("n=%d: value %v outside [-1, 1]", c.n, v)
			}
		}
	}
	if _, _, err := e.Features(make([]float32, 100)); !errors.Is(err, ErrTooShort) {
		t.Errorf("100 samples: err %v, want ErrTooShort", err)
	}
	if _, _, err := e.Features(nil); err == nil {
		t.Error("empty waveform: no error")
	}
	bad := make([]float32, 4096)
	bad[77] = float32(math.NaN())
	if _, _, err := e.Features(bad); err == nil || !strings.Contains(err.Error(), "sample 77") {
		t.Errorf("NaN sample: err %v, want one naming sample 77", err)
	}
	bad[77] = float32(math.Inf(1))
	if _, _, err := e.Features(bad); err == nil {
		t.Error("Inf sample: no error")
	}
	// Silence is valid audio: everything sits at the 1e-10 floor, so the
	// 80 dB clip leaves -100 dB and the normalisation gives -1.
	feat, _, err := e.Features(make([]float32, 4096))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range feat {
		if v != -1 {
			t.Fatalf("silence gave %v, want -1", v)
		}
	}
}

func TestReflectIndex(t *testing.T) {
	// numpy.pad([0,1,2,3], 7, mode="reflect") -> 1 0 1 2 3 2 1 | 0 1 2 3 | 2 1 0 1 2 3 2
	want := []int{1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2}
	for i, w := range want {
		if got := reflectIndex(i-7, 4); got != w {
			t.Errorf("reflectIndex(%d, 4) = %d, want %d", i-7, got, w)
		}
	}
	if reflectIndex(-5, 1) != 0 || reflectIndex(3, 1) != 0 {
		t.Error("single-sample signal must reflect onto itself")
	}
}

func TestNewExtractorRejectsBadConfig(t *testing.T) {
	for name, mod := range map[string]func(*FeatureConfig){
		"zero length":     func(c *FeatureConfig) { c.SpectrogramLength = 0 },
		"zero mels":       func(c *FeatureConfig) { c.FeatureSize = 0 },
		"mels vs patch":   func(c *FeatureConfig) { c.FeatureSize = 100 },
		"zero patch":      func(c *FeatureConfig) { c.PatchSize = [2]int{0, 16} },
		"zero channels":   func(c *FeatureConfig) { c.NumChannels = 0 },
		"zero rate":       func(c *FeatureConfig) { c.SamplingRate = 0 },
		"zero hop ratio":  func(c *FeatureConfig) { c.HopLengthToSamplingRate = 0 },
		"hop below 1":     func(c *FeatureConfig) { c.HopLengthToSamplingRate = 50000 },
		"tiny fft":        func(c *FeatureConfig) { c.NFFT = 1 },
		"NaN padding":     func(c *FeatureConfig) { c.PaddingValue = float32(math.NaN()) },
		"negative mel hz": func(c *FeatureConfig) { c.MelMaxHz = -1 },
	} {
		cfg := DefaultFeatureConfig()
		mod(&cfg)
		if _, err := NewExtractor(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Several goroutines sharing one Extractor must get the serial results.
func TestExtractorConcurrent(t *testing.T) {
	e, err := NewExtractor(DefaultFeatureConfig())
	if err != nil {
		t.Fatal(err)
	}
	clips := make([][]float32, 8)
	want := make([][]float32, len(clips))
	for c := range clips {
		clips[c] = make([]float32, 20000+3000*c)
		for i := range clips[c] {
			clips[c][i] = float32(0.3 * math.Sin(float64(i)*0.01*float64(c+1)))
		}
		if want[c], _, err = e.Features(clips[c]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for r := 0; r < 3; r++ {
				for c := range clips {
					c := (c + g) % len(clips)
					got, _, err := e.Features(clips[c])
					if err != nil {
						errs <- err.Error()
						return
					}
					for i := range got {
						if got[i] != want[c][i] {
							errs <- fmt.Sprintf("goroutine %d clip %d: value %d differs", g, c, i)
							return
						}
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

// BenchmarkFeatures measures one 10 s, 44.1 kHz clip with the default config.
func BenchmarkFeatures(b *testing.B) {
	e, err := NewExtractor(DefaultFeatureConfig())
	if err != nil {
		b.Fatal(err)
	}
	w := make([]float32, 10*44100)
	for i := range w {
		x := float64(i) / 44100
		w[i] = float32(0.5*math.Sin(2*math.Pi*440*x) + 0.2*math.Sin(2*math.Pi*3000*x*x))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := e.Features(w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/clip")
}
