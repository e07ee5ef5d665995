package graph

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

func TestExp32(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 2000000; i++ {
		x := float32(-87.3 + 176.0*float64(i)/2000000)
		want := math.Exp(float64(x))
		got := float64(exp32(x))
		if want > math.MaxFloat32 {
			continue
		}
		rel := math.Abs(got-want) / want
		worst = math.Max(worst, rel)
	}
	if worst > 3e-7 {
		t.Fatalf("exp32 worst relative error %.3g > 3e-7", worst)
	}
	t.Logf("exp32 worst relative error %.3g", worst)
	for _, c := range []struct{ x, want float32 }{{-3.4028235e38, 0}, {-100, 0}, {0, 1}} {
		if got := exp32(c.x); got != c.want {
			t.Errorf("exp32(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if got := exp32(float32(math.NaN())); got == got {
		t.Errorf("exp32(NaN) = %v", got)
	}
	if got := exp32(100); !math.IsInf(float64(got), 1) {
		t.Errorf("exp32(100) = %v, want +Inf", got)
	}
}

func TestErf32(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 1200000; i++ {
		x := -6 + 12*float64(i)/1200000
		got := float64(erf32(float32(x)))
		want := math.Erf(float64(float32(x)))
		worst = math.Max(worst, math.Abs(got-want))
	}
	if worst > 2e-7 {
		t.Fatalf("erf32 worst absolute error %.3g > 2e-7", worst)
	}
	t.Logf("erf32 worst absolute error %.3g", worst)
}

// simdLevels lists the kernel paths this machine can run, scalar first.
func simdLevels() []int {
	levels := []int{simdNone}
	switch detectSIMD() {
	case simdAVX512:
		levels = append(levels, simdAVX2, simdAVX512)
	case simdAVX2:
		levels = append(levels, simdAVX2)
	}
	return levels
}

var simdNames = map[int]string{simdNone: "scalar", simdAVX2: "avx2", simdAVX512: "avx512"}

// withSIMD runs f with simdLevel forced to level.
func withSIMD(level int, f func()) {
	old := simdLevel
	simdLevel = level
	defer func() { simdLevel = old }()
	f()
}

// fastmathInputs are edge cases and random float32s of several scales, n of them in all.
func fastmathInputs(rng *rand.Rand, n int) []float32 {
	edges := []float32{
		0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-30, -1e-30, 1e-10, -1e-10,
		87.3, -87.3, 87.33654, -87.33654, 88.7, -88.7, 88.72283, -88.72283, 88.73, -88.73,
		-87.68, -87.7, 100, -100, 1e10, -1e10, math.MaxFloat32, -math.MaxFloat32, -3.4e38,
		5.656854, -5.656854, 5.6568546, -5.6568546, 6, -6, 4, -4, 2.8284271, -2.8284271,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(0x7fc12345), math.Float32frombits(0xffa00001), math.Float32frombits(0x7f800001),
	}
	// The neighbourhoods of the range limits, and of the integer n steps of exp32 near them.
	for _, c := range []float32{-87.33654, 88.72283, 87.33654, -88.72283, 88.0296, -87.3365} {
		b := math.Float32bits(c)
		for d := uint32(0); d < 40; d++ {
			edges = append(edges, math.Float32frombits(b+d), math.Float32frombits(b-d))
		}
	}
	xs := make([]float32, 0, n)
	for len(xs) < n {
		var v float32
		switch i := len(xs); {
		case i < len(edges):
			v = edges[i]
		case i%4 == 0:
			v = math.Float32frombits(rng.Uint32())
		case i%4 == 1:
			v = float32(rng.Float64()*240 - 120)
		case i%4 == 2:
			v = float32(rng.NormFloat64() * 3)
		default:
			v = float32(rng.Float64()*20 - 10)
		}
		xs = append(xs, v)
	}
	rng.Shuffle(len(xs)-len(edges), func(i, j int) {
		xs[len(edges)+i], xs[len(edges)+j] = xs[len(edges)+j], xs[len(edges)+i]
	})
	return xs
}

// sameBits reports whether a and b are the same float32, NaNs matching any NaN when anyNaN.
func sameBits(a, b float32, anyNaN bool) bool {
	if anyNaN && a != a && b != b {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

// fastmathCases yields sub-slices [off, off+n) of length 0..40 and a few large ones, at
// unaligned offsets.
func fastmathCases(f func(off, n int)) {
	for n := 0; n <= 40; n++ {
		for off := 0; off < 3; off++ {
			f(off, n)
		}
	}
	for _, n := range []int{63, 64, 65, 1000, 4099} {
		for off := 0; off < 17; off += 5 {
			f(off, n)
		}
	}
}

const guard = 5 // sentinel elements after each output slice

func TestExpSubSumPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := fastmathInputs(rng, 4200)
	for _, level := range simdLevels() {
		fastmathCases(func(off, n int) {
			for _, m := range []float32{0, 3.25, -50, 90, float32(math.NaN())} {
				in := src[off : off+n]
				want := make([]float32, n)
				var wantSum float64
				for j, v := range in {
					want[j] = exp32(v - m)
					wantSum += float64(want[j])
				}
				buf := make([]float32, off+n+guard)
				copy(buf[off:], in)
				for j := range guard {
					buf[off+n+j] = 7
				}
				var sum float64
				withSIMD(level, func() { sum = expSubSum(buf[off:off+n], m) })
				for j := range n {
					if !sameBits(buf[off+j], want[j], false) {
						t.Fatalf("%s: n=%d m=%v: exp32(%v) = %v (%#x), want %v (%#x)", simdNames[level], n, m,
							in[j]-m, buf[off+j], math.Float32bits(buf[off+j]), want[j], math.Float32bits(want[j]))
					}
				}
				for j := range guard {
					if buf[off+n+j] != 7 {
						t.Fatalf("%s: n=%d: wrote past the end", simdNames[level], n)
					}
				}
				if !(sum == wantSum || math.Abs(sum-wantSum) <= 1e-14*math.Abs(wantSum) || sum != sum && wantSum != wantSum) {
					t.Fatalf("%s: n=%d m=%v: sum %v, want %v", simdNames[level], n, m, sum, wantSum)
				}
			}
		})
	}
}

// TestFastmathPatterns runs the vector kernels over a stride of all float32 bit patterns
// (every pattern with TVLT_FASTMATH_EXHAUSTIVE=1; a few minutes) against the scalar code.
func TestFastmathPatterns(t *testing.T) {
	stride := uint64(997)
	if os.Getenv("TVLT_FASTMATH_EXHAUSTIVE") != "" {
		stride = 1
	} else if testing.Short() {
		stride = 99991
	}
	levels := simdLevels()[1:]
	if len(levels) == 0 {
		t.Skip("no vector kernels")
	}
	const chunk = 1 << 16
	xs := make([]float32, 0, chunk)
	got, gelu, grad, ones := make([]float32, chunk), make([]float32, chunk), make([]float32, chunk), make([]float32, chunk)
	for i := range ones {
		ones[i] = 1.25
	}
	check := func() {
		n := len(xs)
		for _, level := range levels {
			copy(got, xs)
			withSIMD(level, func() {
				expSubSum(got[:n], 0)
				geluFwdSlice(xs, gelu)
				geluBwdSlice(xs, ones, grad)
			})
			for j, x := range xs {
				if want := exp32(x - 0); !sameBits(got[j], want, false) { // x − 0 quiets signalling NaNs
					t.Fatalf("%s: exp32(%v [%#x]) = %v, want %v", simdNames[level], x, math.Float32bits(x), got[j], want)
				}
				if want := geluFwd1(x); !sameBits(gelu[j], want, false) {
					t.Fatalf("%s: gelu(%v [%#x]) = %v, want %v", simdNames[level], x, math.Float32bits(x), gelu[j], want)
				}
				if want := geluBwd1(x, 1.25); !sameBits(grad[j], want, false) {
					t.Fatalf("%s: gelu'(%v [%#x]) = %v, want %v", simdNames[level], x, math.Float32bits(x), grad[j], want)
				}
			}
		}
		xs = xs[:0]
	}
	for b := uint64(0); b < 1<<32; b += stride {
		xs = append(xs, math.Float32frombits(uint32(b)))
		if len(xs) == chunk {
			check()
		}
	}
	check()
}

func TestGELUPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := fastmathInputs(rng, 4200)
	grads := fastmathInputs(rand.New(rand.NewPCG(5, 6)), 4200)
	for _, level := range simdLevels() {
		fastmathCases(func(off, n int) {
			x, g := src[off:off+n], grads[off:off+n]
			y := make([]float32, n+guard)
			dx := make([]float32, n+guard)
			for j := range guard {
				y[n+j], dx[n+j] = 7, 7
			}
			withSIMD(level, func() {
				geluFwdSlice(x, y[:n])
				geluBwdSlice(x, g, dx[:n])
			})
			for j := range n {
				if want := geluFwd1(x[j]); !sameBits(y[j], want, false) {
					t.Fatalf("%s: n=%d: gelu(%v) = %v, want %v", simdNames[level], n, x[j], y[j], want)
				}
				// With NaNs in both x and g, which payload survives depends on operand order.
				if want := geluBwd1(x[j], g[j]); !sameBits(dx[j], want, true) {
					t.Fatalf("%s: n=%d: gelu'(%v)·%v = %v, want %v", simdNames[level], n, x[j], g[j], dx[j], want)
				}
			}
			for j := range guard {
				if y[n+j] != 7 || dx[n+j] != 7 {
					t.Fatalf("%s: n=%d: wrote past the end", simdNames[level], n)
				}
			}
		})
	}
}

// TestGELUGrid compares the paths on a dense grid over the range where erf and exp vary.
func TestGELUGrid(t *testing.T) {
	const n = 1 << 18
	x := make([]float32, n)
	g := make([]float32, n)
	for i := range x {
		x[i] = float32(-12 + 24*float64(i)/n)
		g[i] = float32(1 + float64(i%7)/8)
	}
	want, wantd := make([]float32, n), make([]float32, n)
	for i := range x {
		want[i], wantd[i] = geluFwd1(x[i]), geluBwd1(x[i], g[i])
	}
	for _, level := range simdLevels()[1:] {
		y, dx := make([]float32, n), make([]float32, n)
		withSIMD(level, func() {
			geluFwdSlice(x, y)
			geluBwdSlice(x, g, dx)
		})
		for i := range x {
			if y[i] != want[i] || dx[i] != wantd[i] {
				t.Fatalf("%s: x=%v: gelu %v want %v, grad %v want %v", simdNames[level], x[i], y[i], want[i], dx[i], wantd[i])
			}
		}
	}
}

// BenchmarkFastmath reports ns per element of each kernel at each SIMD level on 1<<16
// elements (softmax includes restoring its input with a copy).
func BenchmarkFastmath(b *testing.B) {
	const n = 1 << 16
	rng := rand.New(rand.NewPCG(7, 8))
	src := make([]float32, n)
	g := make([]float32, n)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 3)
		g[i] = float32(rng.NormFloat64())
	}
	row := make([]float32, n)
	out := make([]float32, n)
	for _, level := range simdLevels() {
		name := simdNames[level]
		b.Run("expsum/"+name, func(b *testing.B) {
			withSIMD(level, func() {
				for b.Loop() {
					copy(row, src)
					expSubSum(row, 9)
				}
			})
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
		})
		b.Run("softmax588/"+name, func(b *testing.B) { // softmaxRow over rows of 588 keys
			withSIMD(level, func() {
				for b.Loop() {
					copy(row, src)
					for lo := 0; lo+588 <= n; lo += 588 {
						softmaxRow(row[lo:lo+588], 9)
					}
				}
			})
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n/588*588), "ns/elem")
		})
		b.Run("gelufwd/"+name, func(b *testing.B) {
			withSIMD(level, func() {
				for b.Loop() {
					geluFwdSlice(src, out)
				}
			})
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
		})
		b.Run("gelubwd/"+name, func(b *testing.B) {
			withSIMD(level, func() {
				for b.Loop() {
					geluBwdSlice(src, g, out)
				}
			})
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
		})
	}
}

func TestScaleSlicePaths(t *testing.T) {
	src := fastmathInputs(rand.New(rand.NewPCG(9, 10)), 4200)
	for _, level := range simdLevels() {
		fastmathCases(func(off, n int) {
			for _, s := range []float32{0.37, 1e-30, float32(math.Inf(1))} {
				buf := make([]float32, off+n+guard)
				copy(buf[off:], src[off:off+n])
				for j := range guard {
					buf[off+n+j] = 7
				}
				withSIMD(level, func() { scaleSlice(buf[off:off+n], s) })
				for j, v := range src[off : off+n] {
					if !sameBits(buf[off+j], v*s, false) {
						t.Fatalf("%s: n=%d: %v·%v = %v, want %v", simdNames[level], n, v, s, buf[off+j], v*s)
					}
				}
				for j := range guard {
					if buf[off+n+j] != 7 {
						t.Fatalf("%s: n=%d: wrote past the end", simdNames[level], n)
					}
				}
			}
		})
	}
}
