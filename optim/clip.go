package optim

import "math"

// ClipGradNorm scales all gradients together so that their global L2 norm
// is at most maxNorm, like torch.nn.utils.clip_grad_norm_: the factor is
// maxNorm/(norm+1e-6) and is applied only when it is below 1. It returns the
// norm before clipping (accumulated in float64, in a fixed order, so the
// result does not depend on scheduling).
//
// A non-finite norm (NaN or Inf gradients) is returned as is and the
// gradients are left untouched; torch would scale them by 0 or NaN instead.
// The caller decides whether to skip the step or stop. maxNorm <= 0, NaN or
// +Inf disables clipping, so the function can also just measure the norm.
func ClipGradNorm(params []Param, maxNorm float64) float64 {
	spans, total := makeSpans(params)
	partial := make([]float64, len(spans))
	pl := pool{spans: spans, total: total, fn: func(i int, s span) {
		partial[i] = sumSquares(params[s.param].Grad[s.lo:s.hi])
	}}
	pl.run()
	sum := 0.0
	for _, x := range partial {
		sum += x
	}
	norm := math.Sqrt(sum)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	if !(maxNorm > 0) || math.IsInf(maxNorm, 1) {
		return norm
	}
	c := maxNorm / (norm + 1e-6)
	if c >= 1 {
		return norm
	}
	scale := float32(c)
	pl.fn = func(_ int, s span) {
		g := params[s.param].Grad[s.lo:s.hi]
		for i := range g {
			g[i] *= scale
		}
	}
	pl.run()
	return norm
}

// sumSquares uses four independent float64 accumulators so the loop is not
// bound by the latency of one dependent addition chain; the order is fixed,
// so the result is deterministic.
func sumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}
