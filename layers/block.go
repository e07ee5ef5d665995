package layers

import (
	"strconv"

	"github.com/tvlt-go/tvlt/graph"
	G "gorgonia.org/gorgonia"
)

// blockSpec sizes one pre-LN ViT block (TvltLayer); the encoder and the MAE
// decoder use the same block with different widths.
type blockSpec struct {
	hidden, heads, intermediate int
}

func registerBlock(r *registry, prefix string, s blockSpec, qkvBias bool) {
	for _, p := range []string{"query", "key", "value"} {
		r.linear(prefix+"attention.attention."+p, qkvBias, s.hidden, s.hidden)
	}
	r.linear(prefix+"attention.output.dense", true, s.hidden, s.hidden)
	r.linear(prefix+"intermediate.dense", true, s.intermediate, s.hidden)
	r.linear(prefix+"output.dense", true, s.hidden, s.intermediate)
	r.layerNorm(prefix+"layernorm_before", s.hidden)
	r.layerNorm(prefix+"layernorm_after", s.hidden)
}

// segment is one sequence of a packed token stream: its tokens [lo, hi)
// attend only to each other, with keyBias (B, hi−lo) added to the scores (nil:
// no mask). Packing the passes of one step (matching and MAE in the
// encoder, pixels and audio in the decoder) into one stream runs each
// token-wise Linear, LayerNorm and GELU once over all of them: one weight
// gradient per parameter instead of one per pass, and larger GEMMs.
type segment struct {
	lo, hi  int
	keyBias *G.Node
}

// block is TvltLayer: x + Attn(LN(x)), then + MLP(LN(·)) with exact GELU,
// over a packed stream of segments.
func (bd *builder) block(x *G.Node, prefix string, s blockSpec, segs []segment) *G.Node {
	a := bd.layerNorm(x, prefix+"layernorm_before")
	ctx := bd.selfAttention(a, prefix+"attention.", s.heads, segs)
	x1 := bd.add(x, bd.linear(ctx, prefix+"attention.output.dense"))
	c := bd.layerNorm(x1, prefix+"layernorm_after")
	h := bd.gelu(bd.linear(c, prefix+"intermediate.dense"))
	return bd.add(x1, bd.linear(h, prefix+"output.dense"))
}

// selfAttention projects to Q, K, V and runs the fused attention op on each
// segment.
func (bd *builder) selfAttention(x *G.Node, prefix string, heads int, segs []segment) *G.Node {
	q := bd.linear(x, prefix+"attention.query")
	k := bd.linear(x, prefix+"attention.key")
	v := bd.linear(x, prefix+"attention.value")
	if bd.err != nil {
		return nil
	}
	if len(segs) == 1 {
		return bd.ok(graph.Attention(q, k, v, segs[0].keyBias, heads))
	}
	outs := make([]*G.Node, len(segs))
	for i, sg := range segs {
		qs, ks, vs := bd.slice(q, sg.lo, sg.hi), bd.slice(k, sg.lo, sg.hi), bd.slice(v, sg.lo, sg.hi)
		if bd.err != nil {
			return nil
		}
		outs[i] = bd.ok(graph.Attention(qs, ks, vs, sg.keyBias, heads))
	}
	return bd.concat(outs...)
}

// stack runs n blocks named prefix.0., prefix.1., ... and returns every
// intermediate output (the reference's hidden_states without the input).
func (bd *builder) stack(x *G.Node, prefix string, n int, s blockSpec, segs []segment) []*G.Node {
	outs := make([]*G.Node, 0, n)
	for i := 0; i < n; i++ {
		x = bd.block(x, prefix+"."+strconv.Itoa(i)+".", s, segs)
		outs = append(outs, x)
	}
	return outs
}

// pack lays sequences (B, Si, D) end to end as one stream (B, ΣSi, D) with
// their segments; a single sequence is returned as it is.
func (bd *builder) pack(xs []*G.Node, biases []*G.Node) (*G.Node, []segment) {
	segs := make([]segment, len(xs))
	lo := 0
	for i, x := range xs {
		if x == nil {
			return nil, nil
		}
		segs[i] = segment{lo: lo, hi: lo + x.Shape()[1], keyBias: biases[i]}
		lo = segs[i].hi
	}
	if len(xs) == 1 {
		return xs[0], segs
	}
	return bd.concat(xs...), segs
}

// unpack cuts a packed stream back into its segments' sequences.
func (bd *builder) unpack(x *G.Node, segs []segment) []*G.Node {
	if len(segs) == 1 {
		return []*G.Node{x}
	}
	out := make([]*G.Node, len(segs))
	for i, sg := range segs {
		out[i] = bd.slice(x, sg.lo, sg.hi)
	}
	return out
}

func (bd *builder) slice(x *G.Node, lo, hi int) *G.Node {
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.SliceSeq(x, lo, hi))
}

func (bd *builder) concat(xs ...*G.Node) *G.Node {
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.ConcatTokens(nil, xs...))
}
