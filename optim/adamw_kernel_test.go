package optim

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// withAdamWImpl runs fn with adamwKernel forced to impl, or skips if this
// CPU or build does not have it.
func withAdamWImpl(t testing.TB, impl int, fn func()) {
	t.Helper()
	ok := false
	for _, a := range adamwAvailable() {
		ok = ok || a == impl
	}
	if !ok {
		t.Skipf("AdamW kernel %s not available", adamwImplNames[impl])
	}
	old := adamwImpl
	adamwImpl = impl
	defer func() { adamwImpl = old }()
	fn()
}

func allAdamWImpls() []int { return []int{adamwImplGo, adamwImplAVX2, adamwImplAVX512} }

// specialF32 returns values that stress the update: signed zeros,
// subnormals, tiny and huge magnitudes, infinities and NaNs with payloads.
func specialF32(r *rand.Rand) float32 {
	switch r.Intn(12) {
	case 0:
		return 0
	case 1:
		return float32(math.Copysign(0, -1))
	case 2:
		return math.Float32frombits(uint32(r.Intn(1 << 23))) // subnormal
	case 3:
		return float32(r.NormFloat64()) * 1e-30
	case 4:
		return float32(r.NormFloat64()) * 1e30
	case 5:
		return math.MaxFloat32 * float32(2*r.Intn(2)-1)
	case 6:
		return float32(math.Inf(2*r.Intn(2) - 1))
	case 7:
		// NaN: exponent all ones, random sign, quiet or signalling payload.
		bits := uint32(0x7f800000) | uint32(r.Intn(1<<23)) | 1 | uint32(r.Intn(2))<<31
		return math.Float32frombits(bits)
	case 8:
		return -float32(r.ExpFloat64()) // negative (for v: sqrt of a negative)
	default:
		return float32(r.NormFloat64())
	}
}

type adamwCase struct {
	p, g, m, v []float32
}

func randAdamWCase(r *rand.Rand, n int, specials float64) adamwCase {
	c := adamwCase{make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)}
	for i := 0; i < n; i++ {
		c.p[i] = float32(r.NormFloat64() * 0.05)
		c.g[i] = float32(r.NormFloat64() * 1e-3)
		c.m[i] = float32(r.NormFloat64() * 1e-3)
		c.v[i] = float32(r.ExpFloat64() * 1e-6)
		if r.Intn(10) == 0 {
			c.v[i] = 0
		}
		for _, x := range []*float32{&c.p[i], &c.g[i], &c.m[i], &c.v[i]} {
			if r.Float64() < specials {
				*x = specialF32(r)
			}
		}
	}
	return c
}

func (c adamwCase) clone() adamwCase {
	cp := func(s []float32) []float32 { return append([]float32(nil), s...) }
	return adamwCase{cp(c.p), cp(c.g), cp(c.m), cp(c.v)}
}

// nanSources counts the inputs of element i that can make a NaN, so that
// more than one NaN may meet in a commutative operation, where IEEE 754 does
// not say whose payload wins.
func (c adamwCase) nanSources(i int) int {
	k := 0
	for _, x := range []float32{c.p[i], c.g[i], c.m[i], c.v[i]} {
		if x != x || math.IsInf(float64(x), 0) {
			k++
		}
	}
	if c.v[i] < 0 {
		k++
	}
	return k
}

var adamwTestCoefs = []coef{
	// torch defaults at step 1 and step 1000, lr 1e-3, wd 0.01.
	{decay: 0.99999, b1: 0.9, omb1: 0.1, b2: 0.999, omb2: 0.001, bc2sqrt: float32(math.Sqrt(0.001)), eps: 1e-8, negStep: -0.01},
	{decay: 0.99999, b1: 0.9, omb1: 0.1, b2: 0.999, omb2: 0.001, bc2sqrt: float32(math.Sqrt(1 - math.Pow(0.999, 1000))), eps: 1e-8, negStep: -1e-3},
	// No decay, eps 0 (0/0 and x/0 in the update), beta1 0.
	{decay: 1, b1: 0, omb1: 1, b2: 0.5, omb2: 0.5, bc2sqrt: 1, eps: 0, negStep: -0.5},
	// Extreme scalars.
	{decay: 0.5, b1: 0.99, omb1: 0.01, b2: 0.9999, omb2: 1e-4, bc2sqrt: 1e-20, eps: 1e-30, negStep: -1e30},
}

// TestAdamWKernelBitExact checks every kernel against adamwKernelGo, bit for
// bit, on many lengths, offsets, coefficients and special values.
func TestAdamWKernelBitExact(t *testing.T) {
	lengths := []int{}
	for n := 0; n <= 100; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 127, 128, 129, 255, 1000, 4099, chunkElems, chunkElems+13, 1<<17+5)
	for _, impl := range allAdamWImpls() {
		t.Run(adamwImplNames[impl], func(t *testing.T) {
			withAdamWImpl(t, impl, func() {
				r := rand.New(rand.NewSource(int64(impl) + 1))
				lenient, lenientExact := 0, 0
				for ci := range adamwTestCoefs {
					c := &adamwTestCoefs[ci]
					for _, n := range lengths {
						for _, specials := range []float64{0, 0.05, 0.5} {
							off := r.Intn(4) // unaligned starts
							in := randAdamWCase(r, n+off, specials)
							want, got := in.clone(), in.clone()
							adamwKernelGo(want.p[off:], want.g[off:], want.m[off:], want.v[off:], c)
							adamwKernel(got.p[off:], got.g[off:], got.m[off:], got.v[off:], c)
							for i := 0; i < n+off; i++ {
								for k, pair := range [3][2][]float32{{got.p, want.p}, {got.m, want.m}, {got.v, want.v}} {
									a, b := pair[0][i], pair[1][i]
									if math.Float32bits(a) == math.Float32bits(b) {
										if a != a && in.nanSources(i) > 1 {
											lenient++
											lenientExact++
										}
										continue
									}
									if a != a && b != b && in.nanSources(i) > 1 {
										lenient++
										continue
									}
									t.Fatalf("coef %d n=%d off=%d specials=%v: %s[%d] = %#08x (%v), want %#08x (%v); in p=%v g=%v m=%v v=%v",
										ci, n, off, specials, "pmv"[k:k+1], i-off, math.Float32bits(a), a, math.Float32bits(b), b,
										in.p[i], in.g[i], in.m[i], in.v[i])
								}
							}
						}
					}
				}
				t.Logf("%d NaN results from several NaN sources, %d with the reference's exact payload", lenient, lenientExact)
			})
		})
	}
}

// TestAdamWKernelNaNPropagation checks exact NaN bit patterns where one
// input is a NaN (IEEE 754 preserves its payload) or the update makes the
// default NaN (sqrt of a negative v, 0/0).
func TestAdamWKernelNaNPropagation(t *testing.T) {
	nan := math.Float32frombits(0x7fa12345) // signalling; comes out quieted
	c := &adamwTestCoefs[2]                 // eps 0
	const n = 67
	for _, impl := range allAdamWImpls() {
		t.Run(adamwImplNames[impl], func(t *testing.T) {
			withAdamWImpl(t, impl, func() {
				for which := 0; which < 5; which++ {
					in := randAdamWCase(rand.New(rand.NewSource(int64(which))), n, 0)
					for i := 0; i < n; i += 3 {
						switch which {
						case 0:
							in.p[i] = nan
						case 1:
							in.g[i] = nan
						case 2:
							in.m[i] = nan
						case 3:
							in.v[i] = nan
						case 4:
							in.v[i], in.m[i], in.g[i] = -1, 0, 0 // sqrt(-1): default NaN
							if i%2 == 0 {
								in.v[i] = 0 // 0/0: default NaN
							}
						}
					}
					want, got := in.clone(), in.clone()
					adamwKernelGo(want.p, want.g, want.m, want.v, c)
					adamwKernel(got.p, got.g, got.m, got.v, c)
					for i := 0; i < n; i++ {
						for k, pair := range [3][2][]float32{{got.p, want.p}, {got.m, want.m}, {got.v, want.v}} {
							if a, b := math.Float32bits(pair[0][i]), math.Float32bits(pair[1][i]); a != b {
								t.Fatalf("case %d: %s[%d] = %#08x, want %#08x", which, "pmv"[k:k+1], i, a, b)
							}
						}
					}
					if i := 0; which < 4 && got.p[i] == got.p[i] {
						t.Fatalf("case %d: p[0] = %v, want NaN", which, got.p[i])
					}
				}
			})
		})
	}
}

// TestAdamWGoldenAllKernels runs the torch golden step with every kernel.
func TestAdamWGoldenAllKernels(t *testing.T) {
	for _, impl := range allAdamWImpls() {
		t.Run(adamwImplNames[impl], func(t *testing.T) {
			withAdamWImpl(t, impl, func() { TestAdamWGolden(t) })
		})
	}
}

func TestAdamWBestImpl(t *testing.T) {
	avail := adamwAvailable()
	best := avail[len(avail)-1]
	if got := adamwBestImpl(""); got != best {
		t.Errorf(`adamwBestImpl("") = %d, want %d`, got, best)
	}
	if got := adamwBestImpl("nonsense"); got != best {
		t.Errorf(`adamwBestImpl("nonsense") = %d, want %d`, got, best)
	}
	if got := adamwBestImpl(" GO "); got != adamwImplGo {
		t.Errorf(`adamwBestImpl("go") = %d, want %d`, got, adamwImplGo)
	}
	for _, impl := range allAdamWImpls() {
		got := adamwBestImpl(adamwImplNames[impl])
		if got > impl || (got != impl && got != best) {
			t.Errorf("adamwBestImpl(%q) = %d", adamwImplNames[impl], got)
		}
	}
}

// BenchmarkAdamWKernel measures one kernel call per op on one goroutine,
// for the optimizer's span size (cache resident) and for 1<<20 elements
// (memory bound). Bytes are the 4 arrays read plus 3 written, 28 per element.
func BenchmarkAdamWKernel(b *testing.B) {
	for _, n := range []int{chunkElems, 1 << 20} {
		in := randAdamWCase(rand.New(rand.NewSource(1)), n, 0)
		c := &adamwTestCoefs[0]
		for _, impl := range allAdamWImpls() {
			b.Run(fmt.Sprintf("%s/n=%d", adamwImplNames[impl], n), func(b *testing.B) {
				withAdamWImpl(b, impl, func() {
					b.SetBytes(int64(n) * 28)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						adamwKernel(in.p, in.g, in.m, in.v, c)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
				})
			})
		}
	}
}
