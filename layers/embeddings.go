package layers

import (
	"github.com/tvlt-go/tvlt/config"
	G "gorgonia.org/gorgonia"
)

func registerPixelEmbeddings(r *registry, prefix string, c config.Config) {
	p := prefix + "pixel_embeddings."
	r.embedding(p+"type_embed_v", 1, 1, c.HiddenSize)
	r.embedding(p+"temporal_embed", 1, c.NumFrames, c.HiddenSize)
	r.embedding(p+"pos_embed_v", 1, c.PatchesPerFrame(), c.HiddenSize)
	r.linear(p+"patch_embeddings.projection", true, c.HiddenSize, c.NumImageChannels, c.ImagePatchSize[0], c.ImagePatchSize[1])
}

func registerAudioEmbeddings(r *registry, prefix string, c config.Config) {
	p := prefix + "audio_embeddings."
	r.embedding(p+"type_embed_a", 1, 1, c.HiddenSize)
	r.embedding(p+"pos_embed_a", 1, c.MaxTimePatches(), c.HiddenSize)
	r.embedding(p+"freq_embed", 1, c.FreqPatches(), c.HiddenSize)
	r.linear(p+"patch_embeddings.projection", true, c.HiddenSize, c.NumAudioChannels, c.AudioPatchSize[0], c.AudioPatchSize[1])
}

// tiled returns rows[n] = n mod period (a table tiled over the sequence).
func tiled(n, period int) []int {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i % period
	}
	return rows
}

// repeated returns rows[n] = n div period (each table row repeated period times).
func repeated(n, period int) []int {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i / period
	}
	return rows
}

// pixelEmbeddings is TvltPixelEmbeddings on patchified frames (B, T·Np, C·pH·pW):
// the patch convolution as a Linear, plus pos_embed_v tiled over frames,
// temporal_embed repeated within a frame, and type_embed_v.
func (bd *builder) pixelEmbeddings(patches *G.Node, prefix string) *G.Node {
	p := prefix + "pixel_embeddings."
	np := bd.cfg.PatchesPerFrame()
	n := patches.Shape()[1]
	x := bd.linear(patches, p+"patch_embeddings.projection")
	x = bd.addRows(x, p+"pos_embed_v", tiled(n, np))
	x = bd.addRows(x, p+"temporal_embed", repeated(n, np))
	return bd.addRows(x, p+"type_embed_v", make([]int, n))
}

// audioEmbeddings is TvltAudioEmbeddings on patchified spectrograms
// (B, Ta·F, Ca·pT·pF): freq_embed tiled over time patches, pos_embed_a (the
// time table) repeated over frequency patches, and type_embed_a.
func (bd *builder) audioEmbeddings(patches *G.Node, prefix string) *G.Node {
	p := prefix + "audio_embeddings."
	f := bd.cfg.FreqPatches()
	n := patches.Shape()[1]
	x := bd.linear(patches, p+"patch_embeddings.projection")
	x = bd.addRows(x, p+"freq_embed", tiled(n, f))
	x = bd.addRows(x, p+"pos_embed_a", repeated(n, f))
	return bd.addRows(x, p+"type_embed_a", make([]int, n))
}
