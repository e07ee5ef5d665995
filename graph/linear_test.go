package graph

import (
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

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
