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

// encode is TvltModel.forward for one or more passes of a step at once:
// each pass embeds both modalities, keeps its MAE-visible tokens and
// prepends CLS ([CLS, pixel..., audio...]); the passes then run through the
// encoder packed into one stream (attention stays within each pass) and the
// final LayerNorm (absent with use_mean_pooling). hidden_states are returned
// for a single pass, and for every pass of a packed run when wantHidden.
func (bd *builder) encode(prefix string, wantHidden bool, ins ...encoderInputs) []encoderOutputs {
	c := bd.cfg
	xs := make([]*G.Node, len(ins))
	biases := make([]*G.Node, len(ins))
	lps := make([]int, len(ins))
	for i, in := range ins {
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
			return nil
		}
		lps[i] = ep.Shape()[1]
		xs[i] = bd.ok(graph.ConcatTokens(cls, ep, ea))
		biases[i] = in.keyBias
	}
	x, pk := bd.pack(xs, biases)
	if bd.err != nil {
		return nil
	}
	hidden := []*G.Node{x}
	spec := blockSpec{c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize}
	hidden = append(hidden, bd.stack(x, prefix+"encoder.layer", c.NumHiddenLayers, spec, pk)...)
	last := hidden[len(hidden)-1]
	if !c.UseMeanPooling {
		last = bd.layerNorm(last, prefix+"layernorm")
	}
	lasts := bd.unpack(last, pk)
	if bd.err != nil {
		return nil
	}
	outs := make([]encoderOutputs, len(ins))
	for i, l := range lasts {
		s := l.Shape()[1]
		outs[i] = encoderOutputs{
			last:  l,
			pixel: bd.ok(graph.SliceSeq(l, 1, 1+lps[i])),
			audio: bd.ok(graph.SliceSeq(l, 1+lps[i], s)),
		}
	}
	if len(ins) == 1 {
		outs[0].hidden = hidden
	} else if wantHidden {
		for _, h := range hidden {
			for i, part := range bd.unpack(h, pk) {
				outs[i].hidden = append(outs[i].hidden, part)
			}
		}
	}
	return outs
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
