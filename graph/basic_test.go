package graph

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func buildGELU(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return GELU(in[0]) }

func TestGELUForward(t *testing.T) {
	// Values of x·Φ(x) (what torch.nn.functional.gelu computes by default).
	x := tensor.New(tensor.WithShape(5), tensor.WithBacking([]float64{-2, -1, 0, 1, 2}))
	want := []float64{-0.04550026389635842, -0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416}
	got := runForward(t, buildGELU, []gcArg{{"x", x, true}}, tensor.Float64)
	assertClose(t, "GELU", got, want, 1e-15, 1e-15)

	rng := rand.New(rand.NewSource(1))
	big := randDense(rng, 3, 70, 11)
	checkF32Agrees(t, buildGELU, []gcArg{{"x", big, true}}, 1e-6)
	checkF32GradAgrees(t, buildGELU, []gcArg{{"x", big, true}}, 1e-6)
}

func TestGELUGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, shape := range [][]int{{7}, {1, 5, 3}, {2, 3, 4}} {
		w := numGradCheck(t, buildGELU, []gcArg{{"x", randDense(rng, shape...), true}}, 1e-7)
		t.Logf("GELU %v: worst rel err %.2g", shape, w)
	}
}

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

func buildLinear(bias bool) buildFn {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		if bias {
			return Linear(in[0], in[1], in[2])
		}
		return Linear(in[0], in[1], nil)
	}
}

func refLinear(x, w, b []float64, n, in, out int) []float64 {
	y := make([]float64, n*out)
	for r := 0; r < n; r++ {
		for o := 0; o < out; o++ {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for i := 0; i < in; i++ {
				s += x[r*in+i] * w[o*in+i]
			}
			y[r*out+o] = s
		}
	}
	return y
}

func TestLinearForward(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, tc := range []struct {
		x, w []int
		bias bool
	}{
		{[]int{1, 4}, []int{3, 4}, true},
		{[]int{2, 5, 6}, []int{7, 6}, false},
		{[]int{2, 3, 12}, []int{5, 3, 2, 2}, true}, // conv-style weight (out, C, pH, pW)
		{[]int{2, 2, 3, 40}, []int{33, 40}, true},
	} {
		in := tc.x[len(tc.x)-1]
		out := tc.w[0]
		x, w, b := randDense(rng, tc.x...), randDense(rng, tc.w...), randDense(rng, out)
		args := []gcArg{{"x", x, true}, {"w", w, true}}
		var bv []float64
		if tc.bias {
			args = append(args, gcArg{"b", b, true})
			bv = b.Data().([]float64)
		}
		got := runForward(t, buildLinear(tc.bias), args, tensor.Float64)
		n := x.Shape().TotalSize() / in
		want := refLinear(x.Data().([]float64), w.Data().([]float64), bv, n, in, out)
		assertClose(t, "Linear", got, want, 1e-12, 1e-12)
		checkF32Agrees(t, buildLinear(tc.bias), args, 1e-5)
		checkF32GradAgrees(t, buildLinear(tc.bias), args, 2e-5)
	}
}

func TestLinearGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for _, tc := range []struct {
		x, w []int
		bias bool
	}{
		{[]int{1, 3}, []int{2, 3}, true},
		{[]int{2, 3, 4}, []int{5, 4}, true},
		{[]int{2, 3, 4}, []int{3, 1, 2, 2}, false},
		{[]int{1, 2, 2, 3}, []int{4, 3}, true},
	} {
		args := []gcArg{{"x", randDense(rng, tc.x...), true}, {"w", randDense(rng, tc.w...), true}}
		if tc.bias {
			args = append(args, gcArg{"b", randDense(rng, tc.w[0]), true})
		}
		w := numGradCheck(t, buildLinear(tc.bias), args, 1e-6)
		t.Logf("Linear x%v w%v: worst rel err %.2g", tc.x, tc.w, w)
	}
}

func TestShapeErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 3, G.WithShape(2, 3, 48), G.WithName("x"))
	w := G.NewMatrix(g, tensor.Float64, G.WithShape(10, 64), G.WithName("w"))
	b := G.NewVector(g, tensor.Float64, G.WithShape(11), G.WithName("b"))
	gm := G.NewVector(g, tensor.Float64, G.WithShape(47), G.WithName("g"))
	x32 := G.NewTensor(g, tensor.Float32, 3, G.WithShape(2, 3, 48), G.WithName("x32"))
	cases := []struct {
		name string
		fn   func() error
		want string
	}{
		{"linear in", func() error { _, err := Linear(x, w, nil); return err }, "graph: Linear: x last dim 48 != weight in-features 64"},
		{"linear bias", func() error {
			w2 := G.NewMatrix(g, tensor.Float64, G.WithShape(10, 48))
			_, err := Linear(x, w2, b)
			return err
		}, "bias shape (11) != (10)"},
		{"linear dtype", func() error {
			w2 := G.NewMatrix(g, tensor.Float64, G.WithShape(10, 48))
			_, err := Linear(x32, w2, nil)
			return err
		}, "dtype"},
		{"ln gamma", func() error { _, err := LayerNorm(x, gm, gm, 1e-5); return err }, "graph: LayerNorm: gamma shape (47) != (48)"},
	}
	for _, c := range cases {
		err := c.fn()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want containing %q", c.name, err, c.want)
		}
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
