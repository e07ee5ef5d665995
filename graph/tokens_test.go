package graph

import (
	"math/rand"
	"strings"
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

// TestIndexOutOfRange checks that bad runtime indices make the machine fail with an error.
func TestIndexOutOfRange(t *testing.T) {
	for _, tc := range []struct {
		name string
		ids  []int64
		fn   func(x, ids *G.Node) (*G.Node, error)
	}{
		{"Gather", []int64{0, 3}, Gather},
		{"Gather", []int64{-1, 0}, Gather},
		{"Unshuffle", []int64{0, 1, 2, 9}, func(x, ids *G.Node) (*G.Node, error) {
			tok := G.NewTensor(x.Graph(), tensor.Float64, 3, G.WithShape(1, 1, 2), G.WithValue(tensor.New(tensor.WithShape(1, 1, 2), tensor.WithBacking([]float64{1, 2}))))
			return Unshuffle(x, tok, ids)
		}},
	} {
		g := G.NewGraph()
		x := G.NewTensor(g, tensor.Float64, 3, G.WithShape(1, 3, 2), G.WithValue(tensor.New(tensor.WithShape(1, 3, 2), tensor.WithBacking(make([]float64, 6)))))
		ids := G.NewMatrix(g, tensor.Int64, G.WithShape(1, len(tc.ids)), G.WithValue(int64Dense(tc.ids, 1, len(tc.ids))))
		if _, err := tc.fn(x, ids); err != nil {
			t.Fatalf("%s: build: %v", tc.name, err)
		}
		m := G.NewTapeMachine(g)
		err := m.RunAll()
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%s %v: err = %v, want out of range", tc.name, tc.ids, err)
		}
	}
}

func TestTokenShapeErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 3, G.WithShape(2, 4, 8), G.WithName("x"))
	tab := G.NewTensor(g, tensor.Float64, 3, G.WithShape(1, 10, 6), G.WithName("table"))
	ids := G.NewMatrix(g, tensor.Int64, G.WithShape(3, 2), G.WithName("ids"))
	fids := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 2), G.WithName("fids"))
	tok := G.NewTensor(g, tensor.Float64, 3, G.WithShape(1, 2, 8), G.WithName("tok"))
	y := G.NewTensor(g, tensor.Float64, 3, G.WithShape(2, 4, 7), G.WithName("y"))
	for _, c := range []struct {
		fn   func() error
		want string
	}{
		{func() error { _, err := AddRows(x, tab, []int{0, 1, 2, 3}); return err }, "graph: AddRows: table shape (1, 10, 6) != (1, R, 8)"},
		{func() error { _, err := Gather(x, ids); return err }, "graph: Gather: ids shape (3, 2) != (2, K)"},
		{func() error { _, err := Gather(x, fids); return err }, "graph: Gather: ids dtype float64, want int64"},
		{func() error { _, err := ConcatTokens(tok, x); return err }, "graph: ConcatTokens: token shape (1, 2, 8) != (1, 1, 8)"},
		{func() error { _, err := ConcatTokens(nil, x, y); return err }, "graph: ConcatTokens: parts[1] shape (2, 4, 7)"},
		{func() error { _, err := SliceSeq(x, 3, 5); return err }, "graph: SliceSeq: range [3, 5) invalid"},
		{func() error { _, err := Attention(x, x, y, nil, 2); return err }, "graph: Attention: v shape (2, 4, 7) != q shape (2, 4, 8)"},
		{func() error { _, err := Attention(x, x, x, nil, 3); return err }, "graph: Attention: heads 3 does not divide model dim 8"},
	} {
		if err := c.fn(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want containing %q", err, c.want)
		}
	}
}
