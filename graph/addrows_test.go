package graph

import (
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestAddRows(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	for _, tc := range []struct {
		b, l, r, d int
		rows       []int
	}{
		{1, 3, 5, 2, []int{0, 4, 2}},
		{2, 4, 4, 3, []int{3, 3, 0, 1}}, // repeated row, row 2 unused
		{3, 2, 6, 4, []int{5, 1}},
	} {
		x, tb := randDense(rng, tc.b, tc.l, tc.d), randDense(rng, 1, tc.r, tc.d)
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return AddRows(in[0], in[1], tc.rows) }
		args := []gcArg{{"x", x, true}, {"table", tb, true}}
		got := runForward(t, build, args, tensor.Float64)
		want := make([]float64, len(got))
		xv, tv := x.Data().([]float64), tb.Data().([]float64)
		for b := 0; b < tc.b; b++ {
			for n := 0; n < tc.l; n++ {
				for j := 0; j < tc.d; j++ {
					want[(b*tc.l+n)*tc.d+j] = xv[(b*tc.l+n)*tc.d+j] + tv[tc.rows[n]*tc.d+j]
				}
			}
		}
		assertClose(t, "AddRows", got, want, 0, 0)
		checkF32Agrees(t, build, args, 1e-6)
		w := numGradCheck(t, build, args, 1e-7)
		t.Logf("AddRows %v: worst rel err %.2g", tc.rows, w)
	}
}
