package graph

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func buildLN(eps float64) buildFn {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return LayerNorm(in[0], in[1], in[2], eps) }
}

func refLayerNorm(x, gamma, beta []float64, d int, eps float64) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/d; r++ {
		mean := 0.0
		for j := 0; j < d; j++ {
			mean += x[r*d+j]
		}
		mean /= float64(d)
		v := 0.0
		for j := 0; j < d; j++ {
			v += (x[r*d+j] - mean) * (x[r*d+j] - mean)
		}
		v /= float64(d)
		for j := 0; j < d; j++ {
			out[r*d+j] = (x[r*d+j]-mean)/math.Sqrt(v+eps)*gamma[j] + beta[j]
		}
	}
	return out
}

func TestLayerNormForward(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, tc := range []struct {
		shape []int
		eps   float64
	}{{[]int{4}, 1e-5}, {[]int{3, 5}, 1e-12}, {[]int{2, 7, 16}, 1e-6}, {[]int{2, 3, 300}, 1e-12}, {[]int{4, 50, 64}, 1e-12}} {
		d := tc.shape[len(tc.shape)-1]
		x, gm, bt := randDense(rng, tc.shape...), randDense(rng, d), randDense(rng, d)
		// Offset the inputs so a naive one-pass variance would lose precision.
		for i, v := range x.Data().([]float64) {
			x.Data().([]float64)[i] = v + 3
		}
		args := []gcArg{{"x", x, true}, {"gamma", gm, true}, {"beta", bt, true}}
		got := runForward(t, buildLN(tc.eps), args, tensor.Float64)
		want := refLayerNorm(x.Data().([]float64), gm.Data().([]float64), bt.Data().([]float64), d, tc.eps)
		assertClose(t, "LayerNorm", got, want, 1e-12, 1e-12)
		checkF32Agrees(t, buildLN(tc.eps), args, 1e-5)
		checkF32GradAgrees(t, buildLN(tc.eps), args, 2e-5)
	}
}

func TestLayerNormGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, shape := range [][]int{{6}, {1, 1, 5}, {2, 3, 4}, {3, 9}} {
		d := shape[len(shape)-1]
		args := []gcArg{{"x", randDense(rng, shape...), true}, {"gamma", randDense(rng, d), true}, {"beta", randDense(rng, d), true}}
		w := numGradCheck(t, buildLN(1e-5), args, 1e-6)
		t.Logf("LayerNorm %v: worst rel err %.2g", shape, w)
	}
}

// TestParallelReductionsMatchSerial checks the chunked parallel row reductions (LayerNorm
// dgamma, bias sums) against plain loops on shapes large enough to be split.
func TestParallelReductionsMatchSerial(t *testing.T) {
	rng := rand.New(rand.NewSource(15))
	const rows, d = 300, 64
	g := randDense(rng, rows, d).Data().([]float64)
	x := randDense(rng, rows, d).Data().([]float64)
	sum := make([]float64, d)
	sumLeading(g, sum, d)
	dg := make([]float64, d)
	lnDgamma(x, g, dg, d, 1e-5)
	wantSum := make([]float64, d)
	wantDg := make([]float64, d)
	for r := 0; r < rows; r++ {
		xr := x[r*d : (r+1)*d]
		mean, rstd := rowStats(xr, 1e-5)
		for j := 0; j < d; j++ {
			wantSum[j] += g[r*d+j]
			wantDg[j] += g[r*d+j] * (xr[j] - mean) * rstd
		}
	}
	assertClose(t, "sumLeading", sum, wantSum, 1e-12, 1e-12)
	assertClose(t, "lnDgamma", dg, wantDg, 1e-12, 1e-12)
}
