package graph

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestAttentionProbs checks that P·V_h of AttentionProbs is Attention's output for every
// head (so the probabilities are the ones Attention uses, masked rows included), that each
// row sums to 1, and that float32 agrees.
func TestAttentionProbs(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, c := range append(attnCases, attnCase{2, 40, 24, 3, true}) {
		args := attnArgs(rng, c)
		var bias *G.Node
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			if c.bias {
				bias = in[3]
			}
			return AttentionProbs(in[0], in[1], bias, c.heads)
		}
		p := runForward(t, build, args, tensor.Float64)
		att := runForward(t, buildAttn(c.heads, c.bias), args, tensor.Float64)
		v := args[2].val.Data().([]float64)
		dh := c.d / c.heads
		if len(p) != c.b*c.heads*c.s*c.s {
			t.Fatalf("%+v: %d probabilities, want %d", c, len(p), c.b*c.heads*c.s*c.s)
		}
		for b := 0; b < c.b; b++ {
			for h := 0; h < c.heads; h++ {
				for i := 0; i < c.s; i++ {
					row := p[((b*c.heads+h)*c.s+i)*c.s:][:c.s]
					sum := 0.0
					for _, x := range row {
						sum += x
					}
					if math.Abs(sum-1) > 1e-12 {
						t.Fatalf("%+v: row (%d,%d,%d) sums to %v", c, b, h, i, sum)
					}
					for col := 0; col < dh; col++ {
						acc := 0.0
						for j, x := range row {
							acc += x * v[(b*c.s+j)*c.d+h*dh+col]
						}
						if want := att[(b*c.s+i)*c.d+h*dh+col]; math.Abs(acc-want) > 1e-12 {
							t.Fatalf("%+v: P·V (%d,%d,%d,%d) = %v, Attention %v", c, b, h, i, col, acc, want)
						}
					}
				}
			}
		}
		checkF32Agrees(t, build, args, 1e-5)
	}
}

func TestAttentionProbsErrors(t *testing.T) {
	g := G.NewGraph()
	q := G.NewTensor(g, tensor.Float64, 3, G.WithShape(2, 3, 4), G.WithName("q"))
	k := G.NewTensor(g, tensor.Float64, 3, G.WithShape(2, 3, 4), G.WithName("k"))
	k2 := G.NewTensor(g, tensor.Float64, 3, G.WithShape(2, 4, 4), G.WithName("k2"))
	bad := G.NewTensor(g, tensor.Float64, 2, G.WithShape(2, 4), G.WithName("bias"))
	if _, err := AttentionProbs(q, k, nil, 3); err == nil {
		t.Error("heads 3 of dim 4: no error")
	}
	if _, err := AttentionProbs(q, k2, nil, 2); err == nil {
		t.Error("k shape mismatch: no error")
	}
	if _, err := AttentionProbs(q, k, bad, 2); err == nil {
		t.Error("bias shape mismatch: no error")
	}
	p, err := AttentionProbs(q, k, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Shape().Eq(tensor.Shape{2, 2, 3, 3}) {
		t.Errorf("shape %v, want (2, 2, 3, 3)", p.Shape())
	}
	if _, err := G.Grad(G.Must(G.Sum(p)), q); err == nil {
		t.Error("gradient through AttentionProbs: no error")
	}
}
