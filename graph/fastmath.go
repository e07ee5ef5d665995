package graph

import "math"

// The float32 exp and erf below have batch forms (expSubSum, geluFwdSlice, geluBwdSlice) with
// amd64 AVX-512 and AVX2 kernels (fastmath_amd64.s) that replicate the scalar operation
// sequence exactly, so every element is bit-identical whichever path computes it. Explicit
// float32/float64 conversions of products keep the compiler from fusing them into FMAs
// (GOAMD64=v3, arm64), which the vector kernels do not use either.

// exp32 is a float32 exp accurate to about 1 ulp (relative error < 2e-7 over its range),
// roughly twice as fast as math.Exp through float64. Softmax over 588 keys × 588 queries ×
// 12 heads per layer makes exp a visible cost.
func exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	if !(x >= -87.33654) { // below the smallest normal result (also −3.4e38 key masks), or NaN
		if x != x {
			return x
		}
		return 0
	}
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	// x = n·ln2 + r, |r| ≤ ln2/2; round t to nearest by truncating t ± 0.5
	t := float32(x * log2e)
	var n int32
	if t >= 0 {
		n = int32(t + 0.5)
	} else {
		n = int32(t - 0.5)
	}
	fn := float32(n)
	r := x - float32(fn*ln2hi) - float32(fn*ln2lo)
	// e^r by the Cephes expf polynomial, evaluated in two independent halves for ILP.
	r2 := r * r
	pa := float32(float32(float32(float32(1.9875691500e-4)*r)+1.3981999507e-3)*r) + 8.3334519073e-3
	pb := float32(float32(float32(float32(4.1665795894e-2)*r)+1.6666665459e-1)*r) + 5.0000001201e-1
	p := float32(float32(float32(pa*(r2*r))+pb)*r2) + r + 1
	if n > 127 { // x*log2e rounds up to 128 near the top of the range
		return p * 2 * math.Float32frombits(uint32(n-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// erf32 is a float32 erf with absolute error below 1e-7: the rational approximation Eigen and
// XLA use for single precision, evaluated in float64 (which halves its error at no cost),
// several times faster than math.Erf.
func erf32(xf float32) float32 {
	x := float64(xf)
	if x > 4 {
		x = 4
	} else if x < -4 {
		x = -4
	} else if x != x {
		return xf
	}
	x2 := x * x
	p := float64(-2.72614225801306e-10)
	p = float64(p*x2) + 2.77068142495902e-08
	p = float64(p*x2) + -2.10102402082508e-06
	p = float64(p*x2) + -5.69250639462346e-05
	p = float64(p*x2) + -7.34990630326855e-04
	p = float64(p*x2) + -2.95459980854025e-03
	p = float64(p*x2) + -1.60960333262415e-02
	p *= x
	q := float64(-1.45660718464996e-05)
	q = float64(q*x2) + -2.13374055278905e-04
	q = float64(q*x2) + -1.68282697438203e-03
	q = float64(q*x2) + -7.37332916720468e-03
	q = float64(q*x2) + -1.42647390514189e-02
	return float32(p / q)
}

// geluFwd1 and geluBwd1 are the float32 exact-erf GELU and its derivative for one element;
// the vector kernels follow their operation order.
func geluFwd1(v float32) float32 {
	return 0.5 * v * (1 + erf32(v*invSqrt2))
}

func geluBwd1(v, g float32) float32 {
	cdf := float32(0.5 * (1 + erf32(v*invSqrt2)))
	pdf := invSqrt2Pi * exp32(float32(float32(-0.5*v)*v))
	return g * (cdf + float32(v*pdf))
}

// SIMD levels of the batch kernels.
const (
	simdNone   = iota // scalar Go
	simdAVX2          // 8 float32 lanes
	simdAVX512        // 16 float32 lanes, masked tail
)

// simdLevel selects the batch kernels; set from the CPU features at init (simdNone off amd64
// and with the purego tag). Tests and benchmarks switch it to compare the paths.
var simdLevel = detectSIMD()

// expSubSum replaces row[j] by exp32(row[j]−m) and returns Σ row[j] accumulated in float64.
// Every element is bit-identical to exp32; the vector kernels sum in several float64 lanes,
// so the sum may differ from a sequential one in the last bits.
func expSubSum(row []float32, m float32) float64 {
	k, sum := expSubSumVec(row, m)
	for j := k; j < len(row); j++ {
		e := exp32(row[j] - m)
		row[j] = e
		sum += float64(e)
	}
	return sum
}

// geluFwdSlice sets y[i] = geluFwd1(x[i]); len(y) must be at least len(x).
func geluFwdSlice(x, y []float32) {
	y = y[:len(x)]
	for i := geluFwdVec(x, y); i < len(x); i++ {
		y[i] = geluFwd1(x[i])
	}
}

// geluBwdSlice sets dx[i] = geluBwd1(x[i], g[i]); g and dx must be at least as long as x.
func geluBwdSlice(x, g, dx []float32) {
	g, dx = g[:len(x)], dx[:len(x)]
	for i := geluBwdVec(x, g, dx); i < len(x); i++ {
		dx[i] = geluBwd1(x[i], g[i])
	}
}

// scaleSlice multiplies x by s in place.
func scaleSlice(x []float32, s float32) {
	for i := scaleVec(x, s); i < len(x); i++ {
		x[i] *= s
	}
}
