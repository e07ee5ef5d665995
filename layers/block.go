package layers

import (
	"fmt"
	"strconv"

	"github.com/tvlt-go/tvlt/graph"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
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

// packing describes a token stream holding several sequences laid end to
// end: attention stays within each sequence, with its part of keyBias
// (B, ΣS; nil: no mask). Packing the passes of one step (matching and MAE in
// the encoder, pixels and audio in the decoder) into one stream runs each
// token-wise Linear, LayerNorm and activation once over all of them: one weight
// gradient per parameter instead of one per pass, and larger GEMMs.
type packing struct {
	lens    []int // sequence lengths
	keyBias *G.Node
}

// block is TvltLayer: x + Drop(Attn(LN(x))), then + Drop(MLP(LN(·))) with
// the config's hidden_act, over a packed stream. Dropout (training only)
// sits where the reference's does: on the attention probabilities and
// after each of the two output projections.
func (bd *builder) block(x *G.Node, prefix string, s blockSpec, pk packing) *G.Node {
	a := bd.layerNorm(x, prefix+"layernorm_before")
	ctx := bd.selfAttention(a, prefix+"attention.", s.heads, pk)
	x1 := bd.add(x, bd.dropout(bd.linear(ctx, prefix+"attention.output.dense")))
	c := bd.layerNorm(x1, prefix+"layernorm_after")
	h := bd.hiddenAct(bd.linear(c, prefix+"intermediate.dense"))
	return bd.add(x1, bd.dropout(bd.linear(h, prefix+"output.dense")))
}

// selfAttention projects to Q, K, V and runs the fused attention op within
// each packed sequence.
func (bd *builder) selfAttention(x *G.Node, prefix string, heads int, pk packing) *G.Node {
	q := bd.linear(x, prefix+"attention.query")
	k := bd.linear(x, prefix+"attention.key")
	v := bd.linear(x, prefix+"attention.value")
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.PackedAttention(q, k, v, pk.keyBias, heads, bd.attentionDropout(graph.AttentionOptions{Segments: pk.lens})))
}

// stack runs n blocks named prefix.0., prefix.1., ... and returns every
// intermediate output (the reference's hidden_states without the input).
func (bd *builder) stack(x *G.Node, prefix string, n int, s blockSpec, pk packing) []*G.Node {
	outs := make([]*G.Node, 0, n)
	for i := 0; i < n; i++ {
		x = bd.block(x, prefix+"."+strconv.Itoa(i)+".", s, pk)
		outs = append(outs, x)
	}
	return outs
}

// pack lays sequences (B, Si, D) end to end as one stream (B, ΣSi, D) and
// their key biases (B, Si) as one; a sequence without a bias gets zeros when
// another has one. A single sequence is returned as it is.
func (bd *builder) pack(xs []*G.Node, biases []*G.Node) (*G.Node, packing) {
	if bd.err != nil {
		return nil, packing{}
	}
	pk := packing{lens: make([]int, len(xs))}
	masked := false
	for i, x := range xs {
		pk.lens[i] = x.Shape()[1]
		masked = masked || biases[i] != nil
	}
	if len(xs) == 1 {
		pk.keyBias = biases[0]
		return xs[0], pk
	}
	if masked {
		parts := make([]*G.Node, len(xs))
		for i, kb := range biases {
			b, n := xs[i].Shape()[0], pk.lens[i]
			if kb == nil {
				kb = G.NewTensor(xs[i].Graph(), xs[i].Dtype(), 2, G.WithShape(b, n),
					G.WithValue(tensor.New(tensor.Of(xs[i].Dtype()), tensor.WithShape(b, n))), G.WithName(fmt.Sprintf("no_key_bias_%d", i)))
			}
			parts[i] = bd.reshape(kb, b, n, 1)
		}
		all := bd.concat(parts...)
		if bd.err != nil {
			return nil, packing{}
		}
		pk.keyBias = bd.reshape(all, all.Shape()[0], all.Shape()[1])
	}
	return bd.concat(xs...), pk
}

// unpack cuts a packed stream back into its sequences.
func (bd *builder) unpack(x *G.Node, pk packing) []*G.Node {
	if len(pk.lens) == 1 {
		return []*G.Node{x}
	}
	out := make([]*G.Node, len(pk.lens))
	lo := 0
	for i, n := range pk.lens {
		out[i] = bd.slice(x, lo, lo+n)
		lo += n
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
