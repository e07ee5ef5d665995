package audio

import (
	"math"
	"math/cmplx"
	"testing"

	"gonum.org/v1/gonum/dsp/fourier"
)

func sine(n, rate int, freq, amp float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return x
}

// zeroCrossingFreq estimates a tone's frequency from its upward zero
// crossings (linearly interpolated), independent of any DFT grid.
func zeroCrossingFreq(x []float32, rate int) float64 {
	first, last, count := -1.0, -1.0, 0
	for i := 1; i < len(x); i++ {
		a, b := float64(x[i-1]), float64(x[i])
		if a < 0 && b >= 0 {
			pos := float64(i-1) + a/(a-b)
			if first < 0 {
				first = pos
			}
			last = pos
			count++
		}
	}
	if count < 2 {
		return 0
	}
	return float64(count-1) / (last - first) * float64(rate)
}

// toneFit returns the amplitude of the best least-squares sinusoid (plus DC)
// at the zero-crossing frequency, and that frequency. guess is unused by the
// fit but documents the expected tone at call sites.
func toneFit(x []float32, rate int, guess float64) (amp, freq float64) {
	_ = guess
	freq = zeroCrossingFreq(x, rate)
	// Normal equations for a·cos + b·sin + c.
	var m [3][4]float64
	for i, v := range x {
		ph := 2 * math.Pi * freq * float64(i) / float64(rate)
		basis := [3]float64{math.Cos(ph), math.Sin(ph), 1}
		for r := 0; r < 3; r++ {
			for c := 0; c < 3; c++ {
				m[r][c] += basis[r] * basis[c]
			}
			m[r][3] += basis[r] * float64(v)
		}
	}
	for p := 0; p < 3; p++ { // Gauss-Jordan, well conditioned here
		for r := 0; r < 3; r++ {
			if r == p {
				continue
			}
			f := m[r][p] / m[p][p]
			for c := p; c < 4; c++ {
				m[r][c] -= f * m[p][c]
			}
		}
	}
	a, b := m[0][3]/m[0][0], m[1][3]/m[1][1]
	return math.Hypot(a, b), freq
}

// dftPeak returns the frequency of the largest Hann-windowed DFT bin.
func dftPeak(x []float32, rate int) float64 {
	n := len(x)
	w := periodicHann(n)
	seq := make([]float64, n)
	for i := range seq {
		seq[i] = float64(x[i]) * w[i]
	}
	coef := fourier.NewFFT(n).Coefficients(nil, seq)
	best, at := 0.0, 0
	for k, c := range coef {
		if a := cmplx.Abs(c); a > best {
			best, at = a, k
		}
	}
	return float64(at) * float64(rate) / float64(n)
}

func rms(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

// interior drops the edges where the zero-extended input ramps in and out.
func interior(x []float32, rate int) []float32 {
	edge := rate / 100 // 10 ms, longer than any filter half-length here
	return x[edge : len(x)-edge]
}

func TestResampleKeepsTone(t *testing.T) {
	for _, c := range []struct{ from, to int }{
		{48000, 44100}, {16000, 44100}, {44100, 16000}, {44100, 48000},
		{22050, 44100}, {8000, 44100}, {96000, 44100}, {44100, 44099},
	} {
		n := c.from / 2 // 0.5 s
		if c.to == 44099 {
			n = c.from / 20 // the per-tap path is slow; 50 ms is plenty
		}
		y := Resample(sine(n, c.from, 1000, 0.5), c.from, c.to)
		if want := ResampledLen(n, c.from, c.to); len(y) != want {
			t.Fatalf("%d->%d: %d samples, want %d", c.from, c.to, len(y), want)
		}
		mid := interior(y, c.to)
		amp, freq := toneFit(mid, c.to, 1000)
		peak := dftPeak(mid, c.to)
		binHz := float64(c.to) / float64(len(mid))
		t.Logf("%6d -> %6d: amplitude %.6f (%.4f%%), zero-crossing freq %.4f Hz, DFT peak %.1f Hz",
			c.from, c.to, amp, 100*(amp-0.5)/0.5, freq, peak)
		if math.Abs(amp-0.5) > 0.005 {
			t.Errorf("%d->%d: amplitude %.5f, want 0.5 within 1%%", c.from, c.to, amp)
		}
		if math.Abs(freq-1000) > 0.5 {
			t.Errorf("%d->%d: zero-crossing frequency %.3f Hz, want 1000", c.from, c.to, freq)
		}
		if math.Abs(peak-1000) > binHz {
			t.Errorf("%d->%d: DFT peak at %.1f Hz, want 1000 (bin %.1f Hz)", c.from, c.to, peak, binHz)
		}
	}
}

// Tones above the new Nyquist frequency must not alias into the output.
func TestResampleRejectsAliases(t *testing.T) {
	for _, c := range []struct {
		from, to int
		freq     float64
	}{
		{44100, 16000, 8500}, {44100, 16000, 9000}, {44100, 16000, 12000}, {44100, 16000, 20000},
		{48000, 44100, 22500}, {48000, 44100, 23500}, {48000, 16000, 8600}, {96000, 44100, 30000},
		{22050, 8000, 4500},
	} {
		x := sine(c.from/2, c.from, c.freq, 0.5)
		y := interior(Resample(x, c.from, c.to), c.to)
		db := 20 * math.Log10(rms(y)/rms(interior(x, c.from)))
		t.Logf("%5d -> %5d, %5.0f Hz tone: %.1f dB", c.from, c.to, c.freq, db)
		if db > -40 {
			t.Errorf("%d->%d: %.0f Hz tone only attenuated to %.1f dB, want < -40 dB", c.from, c.to, c.freq, db)
		}
	}
}

// The quality the package documents: > 65 dB from 1.02x and > 95 dB from
// 1.05x the lower Nyquist frequency.
func TestResampleStopbandAsDocumented(t *testing.T) {
	for _, c := range []struct {
		from, to int
		ratio    float64 // of the output Nyquist frequency
		floorDB  float64
	}{
		{44100, 16000, 1.02, -65}, {44100, 16000, 1.05, -95}, {44100, 16000, 1.2, -95},
		{48000, 44100, 1.02, -65}, {48000, 44100, 1.05, -95},
	} {
		f := c.ratio * float64(c.to) / 2
		x := sine(c.from/2, c.from, f, 0.5)
		y := interior(Resample(x, c.from, c.to), c.to)
		db := 20 * math.Log10(rms(y)/rms(interior(x, c.from)))
		if db > c.floorDB {
			t.Errorf("%d->%d: %.0f Hz (%.2fx Nyquist) at %.1f dB, documented below %.0f dB", c.from, c.to, f, c.ratio, db, c.floorDB)
		}
	}
}

// Pass band: tones up to 0.88 of the lower Nyquist frequency keep their level
// within 0.1 dB, as documented.
func TestResamplePassband(t *testing.T) {
	for _, c := range []struct {
		from, to int
		freq     float64
	}{
		{44100, 16000, 100}, {44100, 16000, 4000}, {44100, 16000, 6400}, {44100, 16000, 7000},
		{48000, 44100, 17000}, {48000, 44100, 19400}, {16000, 44100, 6400}, {16000, 44100, 7040},
	} {
		x := sine(c.from/2, c.from, c.freq, 0.5)
		y := interior(Resample(x, c.from, c.to), c.to)
		db := 20 * math.Log10(rms(y)/rms(interior(x, c.from)))
		t.Logf("%5d -> %5d, %5.0f Hz tone: %+.3f dB", c.from, c.to, c.freq, db)
		if math.Abs(db) > 0.1 {
			t.Errorf("%d->%d: %.0f Hz tone changed by %.3f dB, want within 0.1 dB", c.from, c.to, c.freq, db)
		}
	}
}

func TestResampleBasics(t *testing.T) {
	x := []float32{1, 2, 3}
	y := Resample(x, 16000, 16000)
	y[0] = 9
	if x[0] != 1 || len(y) != 3 {
		t.Error("identity resample must return a copy")
	}
	if Resample(x, 0, 16000) != nil || Resample(x, 16000, -1) != nil {
		t.Error("non-positive rates must give nil")
	}
	if got := Resample(nil, 44100, 16000); len(got) != 0 {
		t.Errorf("empty input gave %d samples", len(got))
	}
	for _, c := range []struct{ n, from, to, want int }{
		{44100, 44100, 16000, 16000}, {1, 44100, 16000, 1}, {100, 48000, 44100, 92}, {3, 8000, 44100, 17},
	} {
		if got := ResampledLen(c.n, c.from, c.to); got != c.want {
			t.Errorf("ResampledLen(%d, %d, %d) = %d, want %d", c.n, c.from, c.to, got, c.want)
		}
	}
	// A constant stays constant away from the edges (unit DC gain per phase).
	dc := make([]float32, 4410)
	for i := range dc {
		dc[i] = 0.25
	}
	for _, to := range []int{16000, 48000, 44099} {
		for i, v := range interior(Resample(dc, 44100, to), to) {
			if math.Abs(float64(v)-0.25) > 1e-6 {
				t.Fatalf("44100->%d: DC sample %d = %v", to, i, v)
			}
		}
	}
}

// The tabulated polyphase path and the per-tap path are the same filter.
func TestResampleTableMatchesDirect(t *testing.T) {
	x := sine(2000, 44100, 3000, 0.7)
	table := kernelFor(44100, 16000)
	direct := *table
	direct.phases = nil
	n := ResampledLen(len(x), 44100, 16000)
	a, b := table.apply(x, n), direct.apply(x, n)
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			t.Fatalf("sample %d: table %v, direct %v", i, a[i], b[i])
		}
	}
}

// BenchmarkResample44100to16000 measures 10 s of audio.
func BenchmarkResample44100to16000(b *testing.B) {
	x := sine(441000, 44100, 1000, 0.5)
	Resample(x[:100], 44100, 16000) // build the cached table outside the timing
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Resample(x, 44100, 16000)
	}
}

// BenchmarkResample48000to44100 measures 10 s of audio.
func BenchmarkResample48000to44100(b *testing.B) {
	x := sine(480000, 48000, 1000, 0.5)
	Resample(x[:100], 48000, 44100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Resample(x, 48000, 44100)
	}
}
