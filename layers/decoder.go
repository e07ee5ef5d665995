package layers

import (
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	G "gorgonia.org/gorgonia"
)

// registerDecoder registers TvltForPreTraining's MAE parts: mask tokens,
// decoder position/type embeddings, encoder_to_decoder, the shared decoder
// and the two reconstruction heads.
func registerDecoder(r *registry, c config.Config) {
	d := c.DecoderHiddenSize
	r.embedding("pixel_mask_token", 1, 1, d)
	r.embedding("audio_mask_token", 1, 1, d)
	r.embedding("decoder_pixel_pos_embed", 1, c.PatchesPerFrame(), d)
	r.embedding("decoder_temporal_embed", 1, c.NumFrames, d)
	r.embedding("decoder_pixel_type_embed", 1, 1, d)
	r.embedding("decoder_audio_pos_embed", 1, c.MaxTimePatches(), d)
	r.embedding("decoder_freq_embed", 1, c.FreqPatches(), d)
	r.embedding("decoder_audio_type_embed", 1, 1, d)
	r.linear("encoder_to_decoder", true, d, c.HiddenSize)
	spec := blockSpec{d, c.DecoderNumAttentionHeads, c.DecoderIntermediateSize}
	for i := 0; i < c.DecoderNumHiddenLayers; i++ {
		registerBlock(r, "decoder.decoder_layers."+itoa(i)+".", spec, c.QKVBias)
	}
	r.layerNorm("decoder.layernorm", d)
	r.linear("pixel_mae_head.decoder", true, c.PixelMAEDim(), d)
	r.linear("audio_mae_head.decoder", true, c.AudioPatchDim(), d)
}

// decoded holds one modality's decoder input and output, for inspection.
type decoded struct {
	input, output, logits *G.Node
}

// decodePixels un-shuffles the kept pixel states with the pixel mask token,
// adds decoder position (tiled), temporal (repeated) and type embeddings,
// and runs the shared decoder and the pixel MAE head. restore is (B, Lp).
func (bd *builder) decodePixels(kept, restore *G.Node) decoded {
	np := bd.cfg.PatchesPerFrame()
	z := bd.unshuffle(bd.linear(kept, "encoder_to_decoder"), "pixel_mask_token", restore)
	if bd.err != nil {
		return decoded{}
	}
	n := z.Shape()[1]
	z = bd.addRows(z, "decoder_pixel_pos_embed", tiled(n, np))
	z = bd.addRows(z, "decoder_temporal_embed", repeated(n, np))
	z = bd.addRows(z, "decoder_pixel_type_embed", make([]int, n))
	return bd.decode(z, "pixel_mae_head.decoder")
}

// decodeAudio is decodePixels for audio: decoder_freq_embed tiled over time
// patches and decoder_audio_pos_embed repeated over frequency patches.
func (bd *builder) decodeAudio(kept, restore *G.Node) decoded {
	f := bd.cfg.FreqPatches()
	z := bd.unshuffle(bd.linear(kept, "encoder_to_decoder"), "audio_mask_token", restore)
	if bd.err != nil {
		return decoded{}
	}
	n := z.Shape()[1]
	z = bd.addRows(z, "decoder_freq_embed", tiled(n, f))
	z = bd.addRows(z, "decoder_audio_pos_embed", repeated(n, f))
	z = bd.addRows(z, "decoder_audio_type_embed", make([]int, n))
	return bd.decode(z, "audio_mae_head.decoder")
}

// decode runs TvltDecoder (blocks without any attention mask, then
// LayerNorm) and a reconstruction head.
func (bd *builder) decode(z *G.Node, head string) decoded {
	c := bd.cfg
	spec := blockSpec{c.DecoderHiddenSize, c.DecoderNumAttentionHeads, c.DecoderIntermediateSize}
	h := z
	if outs := bd.stack(z, "decoder.decoder_layers", c.DecoderNumHiddenLayers, spec, nil); len(outs) > 0 {
		h = outs[len(outs)-1]
	}
	out := bd.layerNorm(h, "decoder.layernorm")
	return decoded{input: z, output: out, logits: bd.linear(out, head)}
}

func (bd *builder) unshuffle(kept *G.Node, token string, restore *G.Node) *G.Node {
	t := bd.param(token)
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.Unshuffle(kept, t, restore))
}
