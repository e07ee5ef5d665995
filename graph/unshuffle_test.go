package graph

import (
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestUnshuffle(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	for _, tc := range []struct {
		b, k, l, d int
		ids        []int64
	}{
		{1, 2, 4, 3, []int64{2, 0, 3, 1}},
		{2, 1, 3, 2, []int64{1, 2, 0, 0, 2, 1}},
		{2, 3, 3, 2, []int64{2, 1, 0, 0, 1, 2}}, // nothing masked: token gets zero gradient
	} {
		kept, tok := randDense(rng, tc.b, tc.k, tc.d), randDense(rng, 1, 1, tc.d)
		ids := int64Dense(tc.ids, tc.b, tc.l)
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return Unshuffle(in[0], in[1], in[2]) }
		args := []gcArg{{"kept", kept, true}, {"token", tok, true}, {"idsRestore", ids, false}}
		got := runForward(t, build, args, tensor.Float64)
		kv, tv := kept.Data().([]float64), tok.Data().([]float64)
		var want []float64
		for b := 0; b < tc.b; b++ {
			for j := 0; j < tc.l; j++ {
				r := int(tc.ids[b*tc.l+j])
				if r < tc.k {
					want = append(want, kv[(b*tc.k+r)*tc.d:(b*tc.k+r+1)*tc.d]...)
				} else {
					want = append(want, tv...)
				}
			}
		}
		assertClose(t, "Unshuffle", got, want, 0, 0)
		checkF32Agrees(t, build, args, 1e-6)
		w := numGradCheck(t, build, args, 1e-7)
		t.Logf("Unshuffle %v: worst rel err %.2g", tc.ids, w)
	}
}
