package graph

import (
	"math/rand"
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
