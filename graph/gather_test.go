package graph

import (
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestGather(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, tc := range []struct {
		b, l, k, d int
		ids        []int64
	}{
		{1, 4, 2, 3, []int64{3, 0}},
		{2, 5, 4, 2, []int64{1, 1, 4, 1, 0, 2, 2, 3}}, // repeats
		{3, 3, 3, 4, []int64{2, 1, 0, 0, 0, 0, 1, 2, 1}},
	} {
		x := randDense(rng, tc.b, tc.l, tc.d)
		ids := int64Dense(tc.ids, tc.b, tc.k)
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return Gather(in[0], in[1]) }
		args := []gcArg{{"x", x, true}, {"ids", ids, false}}
		got := runForward(t, build, args, tensor.Float64)
		xv := x.Data().([]float64)
		var want []float64
		for b := 0; b < tc.b; b++ {
			for i := 0; i < tc.k; i++ {
				r := int(tc.ids[b*tc.k+i])
				want = append(want, xv[(b*tc.l+r)*tc.d:(b*tc.l+r+1)*tc.d]...)
			}
		}
		assertClose(t, "Gather", got, want, 0, 0)
		checkF32Agrees(t, build, args, 1e-6)
		w := numGradCheck(t, build, args, 1e-7)
		t.Logf("Gather %v: worst rel err %.2g", tc.ids, w)
	}
}
