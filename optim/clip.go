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
		sum := 0.0
		for _, x := range params[s.param].Grad[s.lo:s.hi] {
			sum += float64(x) * float64(x)
		}
		partial[i] = sum
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
