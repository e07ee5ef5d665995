package graph

import (
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestConcatTokensAndSliceSeq(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	for _, tc := range []struct {
		b, d  int
		lens  []int
		token bool
	}{
		{1, 3, []int{2}, true},
		{2, 2, []int{3, 1, 2}, true},
		{3, 4, []int{2, 2}, false},
	} {
		var args []gcArg
		if tc.token {
			args = append(args, gcArg{"token", randDense(rng, 1, 1, tc.d), true})
		}
		for i, l := range tc.lens {
			args = append(args, gcArg{"part" + string(rune('0'+i)), randDense(rng, tc.b, l, tc.d), true})
		}
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			if tc.token {
				return ConcatTokens(in[0], in[1:]...)
			}
			return ConcatTokens(nil, in...)
		}
		got := runForward(t, build, args, tensor.Float64)
		var want []float64
		for b := 0; b < tc.b; b++ {
			for _, a := range args {
				v, s := a.val.Data().([]float64), a.val.Shape()
				if s[0] == 1 && a.name == "token" {
					want = append(want, v...)
					continue
				}
				want = append(want, v[b*s[1]*tc.d:(b+1)*s[1]*tc.d]...)
			}
		}
		assertClose(t, "ConcatTokens", got, want, 0, 0)
		checkF32Agrees(t, build, args, 1e-6)
		w := numGradCheck(t, build, args, 1e-7)
		t.Logf("ConcatTokens %v token=%t: worst rel err %.2g", tc.lens, tc.token, w)
	}

	for _, tc := range []struct{ b, s, d, from, to int }{{1, 4, 2, 0, 1}, {2, 5, 3, 1, 4}, {2, 3, 2, 0, 3}} {
		x := randDense(rng, tc.b, tc.s, tc.d)
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return SliceSeq(in[0], tc.from, tc.to) }
		args := []gcArg{{"x", x, true}}
		got := runForward(t, build, args, tensor.Float64)
		var want []float64
		xv := x.Data().([]float64)
		for b := 0; b < tc.b; b++ {
			want = append(want, xv[(b*tc.s+tc.from)*tc.d:(b*tc.s+tc.to)*tc.d]...)
		}
		assertClose(t, "SliceSeq", got, want, 0, 0)
		checkF32Agrees(t, build, args, 1e-6)
		w := numGradCheck(t, build, args, 1e-7)
		t.Logf("SliceSeq %d:%d of %d: worst rel err %.2g", tc.from, tc.to, tc.s, w)
	}
}
