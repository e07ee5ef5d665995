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

// decode is TvltForPreTraining's MAE decoding of both modalities: each
// un-shuffles its kept states with its mask token (restore (B, L)) and adds
// its decoder embeddings — pixels: position tiled over frames, temporal
// repeated within a frame; audio: frequency tiled over time patches, time
// position repeated over frequency patches; then type — and the two run
// packed through the shared decoder (attention within each modality, no
// mask) and its LayerNorm into their reconstruction heads.
func (bd *builder) decode(pixKept, pixRestore, audKept, audRestore *G.Node) (pix, aud decoded) {
	c := bd.cfg
	zp := bd.unshuffle(bd.linear(pixKept, "encoder_to_decoder"), "pixel_mask_token", pixRestore)
	za := bd.unshuffle(bd.linear(audKept, "encoder_to_decoder"), "audio_mask_token", audRestore)
	if bd.err != nil {
		return decoded{}, decoded{}
	}
	np, f := c.PatchesPerFrame(), c.FreqPatches()
	n := zp.Shape()[1]
	zp = bd.addRows(zp, "decoder_pixel_pos_embed", tiled(n, np))
	zp = bd.addRows(zp, "decoder_temporal_embed", repeated(n, np))
	zp = bd.addRows(zp, "decoder_pixel_type_embed", make([]int, n))
	n = za.Shape()[1]
	za = bd.addRows(za, "decoder_freq_embed", tiled(n, f))
	za = bd.addRows(za, "decoder_audio_pos_embed", repeated(n, f))
	za = bd.addRows(za, "decoder_audio_type_embed", make([]int, n))

	z, pk := bd.pack([]*G.Node{zp, za}, []*G.Node{nil, nil})
	if bd.err != nil {
		return decoded{}, decoded{}
	}
	spec := blockSpec{c.DecoderHiddenSize, c.DecoderNumAttentionHeads, c.DecoderIntermediateSize}
	h := z
	if outs := bd.stack(z, "decoder.decoder_layers", c.DecoderNumHiddenLayers, spec, pk); len(outs) > 0 {
		h = outs[len(outs)-1]
	}
	out := bd.unpack(bd.layerNorm(h, "decoder.layernorm"), pk)
	if bd.err != nil {
		return decoded{}, decoded{}
	}
	pix = decoded{input: zp, output: out[0], logits: bd.linear(out[0], "pixel_mae_head.decoder")}
	aud = decoded{input: za, output: out[1], logits: bd.linear(out[1], "audio_mae_head.decoder")}
	return pix, aud
}

func (bd *builder) unshuffle(kept *G.Node, token string, restore *G.Node) *G.Node {
	t := bd.param(token)
	if bd.err != nil {
		return nil
	}
	return bd.ok(graph.Unshuffle(kept, t, restore))
}
