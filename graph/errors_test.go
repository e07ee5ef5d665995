package graph

import (
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

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
