package layers

import (
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	G "gorgonia.org/gorgonia"
)

func registerTvltModel(r *registry, prefix string, c config.Config) {
	r.embedding(prefix+"cls_embedding", 1, 1, c.HiddenSize)
	registerPixelEmbeddings(r, prefix, c)
	registerAudioEmbeddings(r, prefix, c)
	spec := blockSpec{c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize}
	for i := 0; i < c.NumHiddenLayers; i++ {
		registerBlock(r, prefix+"encoder.layer."+itoa(i)+".", spec, c.QKVBias)
	}
	if !c.UseMeanPooling {
		r.layerNorm(prefix+"layernorm", c.HiddenSize)
	}
}

// encoderInputs are the graph inputs of one TvltModel pass.
type encoderInputs struct {
	pixels, audio        *G.Node // patchified (B, T·Np, C·pH·pW) and (B, Ta·F, Ca·pT·pF)
	pixelKeep, audioKeep *G.Node // (B, K) Int64 ids of MAE-kept tokens in encoder order, or nil
	keyBias              *G.Node // (B, S) additive key mask, or nil (no padding mask)
}

// encoderOutputs mirror TvltModel's outputs.
type encoderOutputs struct {
	last         *G.Node   // last_hidden_state (B, S, D), after the final LayerNorm
	pixel, audio *G.Node   // last_pixel_hidden_state, last_audio_hidden_state
	hidden       []*G.Node // hidden_states: embedding output, then each layer (before the final LayerNorm)
}

// encode is TvltModel.forward: embed both modalities, keep the MAE-visible
// tokens, prepend CLS ([CLS, pixel..., audio...]), run the encoder and the
// final LayerNorm (absent with use_mean_pooling).
func (bd *builder) encode(prefix string, in encoderInputs) encoderOutputs {
	c := bd.cfg
	ep := bd.pixelEmbeddings(in.pixels, prefix)
	ea := bd.audioEmbeddings(in.audio, prefix)
	if in.pixelKeep != nil {
		ep = bd.gather(ep, in.pixelKeep)
	}
	if in.audioKeep != nil {
		ea = bd.gather(ea, in.audioKeep)
	}
	cls := bd.param(prefix + "cls_embedding")
	if bd.err != nil {
		return encoderOutputs{}
	}
	lp := ep.Shape()[1]
	x := bd.ok(graph.ConcatTokens(cls, ep, ea))
	hidden := []*G.Node{x}
	spec := blockSpec{c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize}
	hidden = append(hidden, bd.stack(x, prefix+"encoder.layer", c.NumHiddenLayers, spec, in.keyBias)...)
	last := hidden[len(hidden)-1]
	if !c.UseMeanPooling {
		last = bd.layerNorm(last, prefix+"layernorm")
	}
	if bd.err != nil {
		return encoderOutputs{}
	}
	s := last.Shape()[1]
	return encoderOutputs{
		last:   last,
		pixel:  bd.ok(graph.SliceSeq(last, 1, 1+lp)),
		audio:  bd.ok(graph.SliceSeq(last, 1+lp, s)),
		hidden: hidden,
	}
}

func (bd *builder) gather(x, ids *G.Node) *G.Node {
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.Gather(x, ids))
}

// cls returns the CLS state (B, 1, D) of an encoder output.
func (bd *builder) cls(last *G.Node) *G.Node {
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.SliceSeq(last, 0, 1))
}
