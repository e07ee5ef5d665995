package graph

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

const f32Min = -3.4028234663852886e38

func buildAttn(heads int, bias bool) buildFn {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		if bias {
			return Attention(in[0], in[1], in[2], in[3], heads)
		}
		return Attention(in[0], in[1], in[2], nil, heads)
	}
}

// refAttention is a direct transcription of the PyTorch module in float64.
func refAttention(q, k, v, bias []float64, b, s, d, heads int) []float64 {
	return refAttentionScaled(q, k, v, bias, b, s, d, heads, nil)
}

// refAttentionScaled is refAttention with each probability multiplied by
// scale(index over (batch, head, query, key)) before it weighs the values:
// how dropout of the attention probabilities acts (nil: no scaling).
func refAttentionScaled(q, k, v, bias []float64, b, s, d, heads int, scale func(idx int) float64) []float64 {
	dh := d / heads
	out := make([]float64, b*s*d)
	for bi := 0; bi < b; bi++ {
		for h := 0; h < heads; h++ {
			for i := 0; i < s; i++ {
				sc := make([]float64, s)
				mx := math.Inf(-1)
				for j := 0; j < s; j++ {
					dot := 0.0
					for c := 0; c < dh; c++ {
						dot += q[(bi*s+i)*d+h*dh+c] * k[(bi*s+j)*d+h*dh+c]
					}
					sc[j] = dot / math.Sqrt(float64(dh))
					if bias != nil {
						sc[j] += bias[bi*s+j]
					}
					mx = math.Max(mx, sc[j])
				}
				sum := 0.0
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for j := range sc {
					sc[j] /= sum
					if scale != nil {
						sc[j] *= scale(((bi*heads+h)*s+i)*s + j)
					}
				}
				for c := 0; c < dh; c++ {
					acc := 0.0
					for j := 0; j < s; j++ {
						acc += sc[j] * v[(bi*s+j)*d+h*dh+c]
					}
					out[(bi*s+i)*d+h*dh+c] = acc
				}
			}
		}
	}
	return out
}

// maskBias returns a (B,S) bias: batch 0 masks its last key (if S>1), batch 1 masks every key.
func maskBias(b, s int) *tensor.Dense {
	vals := make([]float64, b*s)
	if s > 1 {
		vals[s-1] = f32Min
	}
	for bi := 1; bi < b; bi++ {
		for j := 0; j < s; j++ {
			vals[bi*s+j] = f32Min
		}
	}
	return tensor.New(tensor.WithShape(b, s), tensor.WithBacking(vals))
}

type attnCase struct {
	b, s, d, heads int
	bias           bool
}

var attnCases = []attnCase{
	{1, 3, 4, 1, false},
	{1, 5, 6, 3, true},
	{2, 4, 6, 2, true}, // batch 1 fully masked
	{3, 3, 8, 4, true},
	{2, 7, 4, 2, false},
}

func attnArgs(rng *rand.Rand, c attnCase) []gcArg {
	args := []gcArg{
		{"q", randDense(rng, c.b, c.s, c.d), true},
		{"k", randDense(rng, c.b, c.s, c.d), true},
		{"v", randDense(rng, c.b, c.s, c.d), true},
	}
	if c.bias {
		bias := maskBias(c.b, c.s)
		// Plus a small finite bias on the other keys.
		for i, v := range bias.Data().([]float64) {
			if v == 0 {
				bias.Data().([]float64)[i] = 0.3 * rng.NormFloat64()
			}
		}
		args = append(args, gcArg{"keyBias", bias, false})
	}
	return args
}

func TestAttentionForward(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, c := range append(attnCases, attnCase{2, 40, 24, 3, true}) {
		args := attnArgs(rng, c)
		var bias []float64
		if c.bias {
			bias = args[3].val.Data().([]float64)
		}
		got := runForward(t, buildAttn(c.heads, c.bias), args, tensor.Float64)
		want := refAttention(args[0].val.Data().([]float64), args[1].val.Data().([]float64), args[2].val.Data().([]float64), bias, c.b, c.s, c.d, c.heads)
		assertClose(t, "Attention", got, want, 1e-12, 1e-12)
		checkF32Agrees(t, buildAttn(c.heads, c.bias), args, 1e-5)
		checkF32GradAgrees(t, buildAttn(c.heads, c.bias), args, 2e-5)
		if c.bias && c.b > 1 {
			// The fully masked batch element attends uniformly: out = mean of v rows per column.
			v := args[2].val.Data().([]float64)
			for col := 0; col < c.d; col++ {
				mean := 0.0
				for j := 0; j < c.s; j++ {
					mean += v[(c.s+j)*c.d+col]
				}
				mean /= float64(c.s)
				if g := got[(c.s+0)*c.d+col]; math.Abs(g-mean) > 1e-12 {
					t.Fatalf("fully masked row col %d: %v, want uniform mean %v", col, g, mean)
				}
			}
		}
	}
}

func TestAttentionGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	for _, c := range attnCases {
		w := numGradCheck(t, buildAttn(c.heads, c.bias), attnArgs(rng, c), 1e-6)
		t.Logf("Attention %+v: worst rel err %.2g", c, w)
	}
}

// TestAttentionGradRecompute checks that the backward kernel's recomputation path (used when
// the stashed probabilities belong to another output buffer) equals the stash path.
func TestAttentionGradRecompute(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		c := attnCase{2, 6, 8, 2, true}
		args := attnArgs(rng, c)
		vals := make([]G.Value, len(args))
		for i, a := range args {
			vals[i] = asDtype(a.val, dt)
		}
		op := &attnOp{opBase: opBase{"Attention"}, heads: c.heads, hasBias: true, state: &attnState{keep: true}}
		out, err := op.Do(vals...)
		if err != nil {
			t.Fatal(err)
		}
		dout := asDtype(randDense(rng, c.b, c.s, c.d), dt)
		gop := &attnGradOp{opBase: opBase{"AttentionGrad"}, fwd: op}
		stashed, err := gop.Do(append(append([]G.Value{}, vals...), out, dout)...)
		if err != nil {
			t.Fatal(err)
		}
		other := out.(*tensor.Dense).Clone().(*tensor.Dense)
		recomputed, err := gop.Do(append(append([]G.Value{}, vals...), other, dout)...)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "recomputed vs stashed "+dt.String(), f64s(recomputed), f64s(stashed), 0, 0)
	}
}

// TestAttentionLargeRows covers the goroutine-split softmax rows (S large enough to split)
// against the reference, in both dtypes, with gradients agreeing across dtypes.
func TestAttentionLargeRows(t *testing.T) {
	rng := rand.New(rand.NewSource(14))
	c := attnCase{2, 64, 16, 2, true}
	args := attnArgs(rng, c)
	got := runForward(t, buildAttn(c.heads, c.bias), args, tensor.Float64)
	want := refAttention(args[0].val.Data().([]float64), args[1].val.Data().([]float64), args[2].val.Data().([]float64), args[3].val.Data().([]float64), c.b, c.s, c.d, c.heads)
	assertClose(t, "Attention S=64", got, want, 1e-12, 1e-12)
	checkF32Agrees(t, buildAttn(c.heads, c.bias), args, 1e-5)
	checkF32GradAgrees(t, buildAttn(c.heads, c.bias), args, 2e-5)
}

// packedRef applies refAttention to each segment of a packed (B,S,D) batch.
func packedRef(q, k, v, bias []float64, b, s, d, heads int, segs []int) []float64 {
	out := make([]float64, b*s*d)
	lo := 0
	for _, n := range segs {
		cut := func(x []float64, w int) []float64 {
			c := make([]float64, 0, b*n*w)
			for bi := 0; bi < b; bi++ {
				c = append(c, x[(bi*s+lo)*w:(bi*s+lo+n)*w]...)
			}
			return c
		}
		var bs []float64
		if bias != nil {
			bs = cut(bias, 1)
		}
		r := refAttention(cut(q, d), cut(k, d), cut(v, d), bs, b, n, d, heads)
		for bi := 0; bi < b; bi++ {
			copy(out[(bi*s+lo)*d:(bi*s+lo+n)*d], r[bi*n*d:(bi+1)*n*d])
		}
		lo += n
	}
	return out
}

// TestPackedAttention checks attention within the segments of a packed
// sequence against the reference on each segment, float32 against float64,
// and its gradient numerically (stash and recomputation paths alike).
func TestPackedAttention(t *testing.T) {
	rng := rand.New(rand.NewSource(15))
	for _, tc := range []struct {
		c    attnCase
		segs []int
	}{
		{attnCase{1, 7, 4, 2, false}, []int{3, 4}},
		{attnCase{2, 9, 6, 3, true}, []int{5, 1, 3}}, // batch 1 fully masked in every segment
		{attnCase{2, 40, 8, 2, true}, []int{24, 16}},
	} {
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			var bias *G.Node
			if tc.c.bias {
				bias = in[3]
			}
			return PackedAttention(in[0], in[1], in[2], bias, tc.c.heads, AttentionOptions{Segments: tc.segs})
		}
		args := attnArgs(rng, tc.c)
		var bias []float64
		if tc.c.bias {
			bias = args[3].val.Data().([]float64)
		}
		got := runForward(t, build, args, tensor.Float64)
		want := packedRef(args[0].val.Data().([]float64), args[1].val.Data().([]float64), args[2].val.Data().([]float64), bias, tc.c.b, tc.c.s, tc.c.d, tc.c.heads, tc.segs)
		assertClose(t, fmt.Sprintf("PackedAttention %v", tc.segs), got, want, 1e-12, 1e-12)
		checkF32Agrees(t, build, args, 1e-5)
		checkF32GradAgrees(t, build, args, 2e-5)
		if tc.c.s < 20 {
			w := numGradCheck(t, build, args, 1e-6)
			t.Logf("PackedAttention %+v %v: worst rel err %.2g", tc.c, tc.segs, w)
		}
	}
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 3, G.WithShape(1, 5, 4), G.WithName("x"))
	for _, segs := range [][]int{{2, 2}, {5, 0}, {6}} {
		if _, err := PackedAttention(x, x, x, nil, 2, AttentionOptions{Segments: segs}); err == nil {
			t.Errorf("segments %v of a 5-token sequence accepted", segs)
		}
	}
}

// refDroppedAttention is refAttention with probabilities dropped by the
// attention's mask.
func refDroppedAttention(q, k, v, bias []float64, b, s, d, heads int, m dropMask, seed uint64) []float64 {
	th := m.threshold()
	return refAttentionScaled(q, k, v, bias, b, s, d, heads, func(idx int) float64 {
		if m.keep(seed, idx, th) {
			return m.scale()
		}
		return 0
	})
}

// TestAttentionDropout checks attention-probability dropout against a
// reference that drops the same elements, numerically checks its gradient
// (stashed and recomputed probabilities), and packs two sequences with it.
func TestAttentionDropout(t *testing.T) {
	rng := rand.New(rand.NewSource(31))
	c := attnCase{2, 6, 8, 2, false}
	args := append(attnArgs(rng, c), gcArg{"seed", int64Dense([]int64{99}, 1), false})
	build := func(segs []int) buildFn {
		return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return PackedAttention(in[0], in[1], in[2], nil, c.heads, AttentionOptions{Segments: segs, DropoutProb: 0.3, DropoutSeed: in[3], DropoutSite: 4})
		}
	}
	got := runForward(t, build(nil), args, tensor.Float64)
	want := refDroppedAttention(args[0].val.Data().([]float64), args[1].val.Data().([]float64), args[2].val.Data().([]float64), nil,
		c.b, c.s, c.d, c.heads, dropMask{p: 0.3, site: 4}, 99)
	assertClose(t, "attention with dropout", got, want, 1e-12, 1e-12)
	plain := runForward(t, buildAttn(c.heads, false), args[:3], tensor.Float64)
	same := true
	for i := range plain {
		same = same && plain[i] == got[i]
	}
	if same {
		t.Error("dropout 0.3 left the output unchanged")
	}
	for _, segs := range [][]int{nil, {2, 4}} {
		w := numGradCheck(t, build(segs), args, 1e-6)
		t.Logf("attention dropout %v: worst rel err %.2g", segs, w)
		checkF32GradAgrees(t, build(segs), args, 2e-5)
	}
}
