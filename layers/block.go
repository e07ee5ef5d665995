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

// block is TvltLayer: x + Attn(LN(x)), then + MLP(LN(·)) with exact GELU.
// keyBias (B,S) is the additive attention mask, or nil (decoder).
func (bd *builder) block(x *G.Node, prefix string, s blockSpec, keyBias *G.Node) *G.Node {
	a := bd.layerNorm(x, prefix+"layernorm_before")
	ctx := bd.selfAttention(a, prefix+"attention.", s.heads, keyBias)
	x1 := bd.add(x, bd.linear(ctx, prefix+"attention.output.dense"))
	c := bd.layerNorm(x1, prefix+"layernorm_after")
	h := bd.gelu(bd.linear(c, prefix+"intermediate.dense"))
	return bd.add(x1, bd.linear(h, prefix+"output.dense"))
}

// selfAttention projects to Q, K, V and runs the fused attention op.
func (bd *builder) selfAttention(x *G.Node, prefix string, heads int, keyBias *G.Node) *G.Node {
	q := bd.linear(x, prefix+"attention.query")
	k := bd.linear(x, prefix+"attention.key")
	v := bd.linear(x, prefix+"attention.value")
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.Attention(q, k, v, keyBias, heads))
}

// stack runs n blocks named prefix.0., prefix.1., ... and returns every
// intermediate output (the reference's hidden_states without the input).
func (bd *builder) stack(x *G.Node, prefix string, n int, s blockSpec, keyBias *G.Node) []*G.Node {
	outs := make([]*G.Node, 0, n)
	for i := 0; i < n; i++ {
		x = bd.block(x, prefix+"."+strconv.Itoa(i)+".", s, keyBias)
		outs = append(outs, x)
	}
	return outs
}
