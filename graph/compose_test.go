package graph

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestComposedBlockGrad checks gradients through an MAE-style pipeline using every op,
// with residual connections (nodes used twice) so Gorgonia sums several gradient
// contributions produced by these ops.
func TestComposedBlockGrad(t *testing.T) {
	const (
		b, l, k, d, heads, mlp, r = 2, 4, 3, 4, 2, 6, 5
	)
	rng := rand.New(rand.NewSource(21))
	rows := []int{4, 0, 2, 0}
	idsKeep := []int64{3, 1, 0, 2, 2, 0} // (B,K)
	// idsRestore (B,L): for each position, where it sits in [kept..., removed...]
	idsRestore := []int64{2, 1, 3, 0, 1, 3, 0, 2}
	bias := make([]float64, b*(1+k))
	bias[1*(1+k)+2] = f32Min // one masked key in batch 1
	args := []gcArg{
		{"x", randDense(rng, b, l, d), true},
		{"pos", randDense(rng, 1, r, d), true},
		{"cls", randDense(rng, 1, 1, d), true},
		{"ln1g", randDense(rng, d), true},
		{"ln1b", randDense(rng, d), true},
		{"wq", randDense(rng, d, d), true},
		{"wk", randDense(rng, d, d), true},
		{"wv", randDense(rng, d, d), true},
		{"bq", randDense(rng, d), true},
		{"wo", randDense(rng, d, d), true},
		{"ln2g", randDense(rng, d), true},
		{"ln2b", randDense(rng, d), true},
		{"w1", randDense(rng, mlp, d), true},
		{"b1", randDense(rng, mlp), true},
		{"w2", randDense(rng, d, mlp), true},
		{"mtok", randDense(rng, 1, 1, d), true},
		{"wh", randDense(rng, 3, 2, 2), true}, // conv-style (out, 2, 2) weight
		{"idsKeep", int64Dense(idsKeep, b, k), false},
		{"idsRestore", int64Dense(idsRestore, b, l), false},
		{"keyBias", tensor.New(tensor.WithShape(b, 1+k), tensor.WithBacking(bias)), false},
	}
	build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		p := map[string]*G.Node{}
		for i, a := range args {
			p[a.name] = in[i]
		}
		h := G.Must(AddRows(p["x"], p["pos"], rows))
		kept := G.Must(Gather(h, p["idsKeep"]))
		z := G.Must(ConcatTokens(p["cls"], kept))
		a := G.Must(LayerNorm(z, p["ln1g"], p["ln1b"], 1e-12))
		q := G.Must(Linear(a, p["wq"], p["bq"]))
		kk := G.Must(Linear(a, p["wk"], nil))
		v := G.Must(Linear(a, p["wv"], nil))
		att := G.Must(Attention(q, kk, v, p["keyBias"], heads))
		z = G.Must(G.Add(z, G.Must(Linear(att, p["wo"], nil))))
		m := G.Must(LayerNorm(z, p["ln2g"], p["ln2b"], 1e-12))
		m = G.Must(GELU(G.Must(Linear(m, p["w1"], p["b1"]))))
		z = G.Must(G.Add(z, G.Must(Linear(m, p["w2"], nil))))
		z = G.Must(SliceSeq(z, 1, 1+k))
		full := G.Must(Unshuffle(z, p["mtok"], p["idsRestore"]))
		return Linear(full, p["wh"], nil)
	}
	w := numGradCheck(t, build, args, 1e-6)
	t.Logf("composed pipeline: worst rel err %.2g", w)
	checkF32GradAgrees(t, build, args, 1e-4)
}

// TestDistinctOpsNotMerged guards against Gorgonia's hash-based node merging: ops that
// differ only in baked-in constants (row maps, slice ranges, head counts) must stay
// separate nodes, and so must their gradients taken from one upstream node.
func TestDistinctOpsNotMerged(t *testing.T) {
	rng := rand.New(rand.NewSource(22))
	args := []gcArg{
		{"x", randDense(rng, 2, 3, 4), true},
		{"table", randDense(rng, 1, 3, 4), true},
	}
	build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		a := G.Must(AddRows(in[0], in[1], []int{0, 1, 2}))
		b := G.Must(AddRows(in[0], in[1], []int{2, 2, 0}))
		s1 := G.Must(SliceSeq(a, 0, 2))
		s2 := G.Must(SliceSeq(a, 1, 3))
		h2 := G.Must(Attention(b, b, b, nil, 2))
		h4 := G.Must(Attention(b, b, b, nil, 4))
		return ConcatTokens(nil, s1, s2, h2, h4)
	}
	got := runForward(t, build, args, tensor.Float64)
	// The first row of s2 is row 1 of a, not row 0.
	x, tb := args[0].val.Data().([]float64), args[1].val.Data().([]float64)
	for j := 0; j < 4; j++ {
		if want := x[4+j] + tb[4+j]; got[2*4+j] != want {
			t.Fatalf("SliceSeq(1,3) row 0 col %d = %v, want %v (merged with SliceSeq(0,2)?)", j, got[2*4+j], want)
		}
	}
	w := numGradCheck(t, build, args, 1e-6)
	t.Logf("distinct ops: worst rel err %.2g", w)
}

// nanLike returns a tensor shaped like v filled with NaN (a stale reused buffer).
func nanLike(v G.Value) *tensor.Dense {
	d := v.(*tensor.Dense).Clone().(*tensor.Dense)
	for i := range d.Data().([]float64) {
		d.Data().([]float64)[i] = math.NaN()
	}
	return d
}

// TestUsePreallocDo checks that every kernel fully overwrites a reused output buffer
// (the TapeMachine hands ops their previous output), including the scatter-add gradients.
func TestUsePreallocDo(t *testing.T) {
	rng := rand.New(rand.NewSource(23))
	x := randDense(rng, 2, 4, 6)
	kept := randDense(rng, 2, 2, 6)
	tok := randDense(rng, 1, 1, 6)
	w := randDense(rng, 3, 6)
	bvec := randDense(rng, 3)
	g6 := randDense(rng, 6)
	ids := int64Dense([]int64{1, 1, 3, 0}, 2, 2)
	restore := int64Dense([]int64{3, 0, 2, 1, 1, 2, 3, 0}, 2, 4)
	bias := randDense(rng, 2, 4)
	gradX := randDense(rng, 2, 4, 6)
	gradK := randDense(rng, 2, 2, 6)
	gradY := randDense(rng, 2, 4, 3)
	attn := &attnOp{opBase: opBase{"Attention"}, heads: 2, hasBias: true, state: &attnState{keep: true}}
	attnOut, err := attn.Do(x, x, x, bias)
	if err != nil {
		t.Fatal(err)
	}
	ln := &layerNormOp{opBase{"LN"}, 1e-5, 3}
	cases := []struct {
		name string
		op   interface {
			G.Op
			G.UsePreallocDoer
		}
		in []G.Value
	}{
		{"GELU", &geluOp{opBase{"GELU"}}, []G.Value{x}},
		{"GELUGrad", &geluGradOp{opBase{"GELUGrad"}}, []G.Value{x, gradX}},
		{"LayerNorm", ln, []G.Value{x, g6, g6}},
		{"LayerNormDx", &layerNormDxOp{opBase{"LNDx"}, 1e-5, 3}, []G.Value{x, g6, gradX}},
		{"LayerNormDgamma", &layerNormDgammaOp{opBase{"LNDg"}, 1e-5, 3}, []G.Value{x, gradX}},
		{"SumLeading", &sumLeadingOp{opBase{"Sum"}, 3}, []G.Value{gradX}},
		{"Linear", &linearOp{opBase: opBase{"Linear"}, xRank: 3, wRank: 2, hasBias: true}, []G.Value{x, w, bvec}},
		{"LinearDx", &linearDxOp{opBase{"LinearDx"}, 3, 2}, []G.Value{gradY, w}},
		{"LinearDw", &linearDwOp{opBase{"LinearDw"}, 3, 2, tensor.Shape{3, 6}}, []G.Value{gradY, x}},
		{"Attention", attn, []G.Value{x, x, x, bias}},
		{"AttentionGrad", &attnGradOp{opBase{"AttentionGrad"}, attn}, []G.Value{x, x, x, bias, attnOut, gradX}},
		{"AddRows", &addRowsOp{opBase{"AddRows"}, []int{0, 2, 2, 1}, 3}, []G.Value{x, randDense(rng, 1, 3, 6)}},
		{"AddRowsGrad", &addRowsGradOp{opBase{"AddRowsGrad"}, &addRowsOp{opBase{"AddRows"}, []int{0, 2, 2, 1}, 3}}, []G.Value{gradX}},
		{"Gather", &gatherOp{opBase{"Gather"}, 4}, []G.Value{x, ids}},
		{"GatherGrad", &gatherGradOp{opBase{"GatherGrad"}, 4}, []G.Value{ids, gradK}},
		{"Unshuffle", &unshuffleOp{opBase{"Unshuffle"}, 2}, []G.Value{kept, tok, restore}},
		{"UnshuffleDkept", &unshuffleGradOp{opBase{"Dkept"}, 2, false}, []G.Value{restore, gradX}},
		{"UnshuffleDtoken", &unshuffleGradOp{opBase{"Dtoken"}, 2, true}, []G.Value{restore, gradX}},
		{"ConcatTokens", &concatOp{opBase{"Concat"}, true, []int{4, 2}}, []G.Value{tok, x, kept}},
		{"SeqSum", &seqSumOp{opBase{"SeqSum"}, 0}, []G.Value{gradX}},
		{"SliceSeq", newSliceSeqOp(1, 3), []G.Value{x}},
		{"PadSeq", &padSeqOp{opBase{"PadSeq"}, 1, 3, 5}, []G.Value{gradK}},
	}
	for _, c := range cases {
		want, err := c.op.Do(c.in...)
		if err != nil {
			t.Fatalf("%s: Do: %v", c.name, err)
		}
		buf := nanLike(want)
		got, err := c.op.UsePreallocDo(buf, c.in...)
		if err != nil {
			t.Fatalf("%s: UsePreallocDo: %v", c.name, err)
		}
		if got.(*tensor.Dense) != buf {
			t.Errorf("%s: did not reuse the preallocated buffer", c.name)
		}
		assertClose(t, c.name+" prealloc", f64s(got), f64s(want), 0, 0)
	}
}
