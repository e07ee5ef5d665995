package optim

import "strings"

// Names of the two groups produced by the built-in GroupFuncs.
const (
	GroupDecay   = "decay"
	GroupNoDecay = "no_decay"
)

// GroupFunc assigns a parameter to a named group; groups carry their own
// weight decay and learning-rate scale (see Group).
type GroupFunc func(name string, shape []int) string

// Group holds the per-group hyper-parameters. LRScale multiplies the
// learning rate passed to Step (layer-wise decay, frozen parts with 0).
type Group struct {
	LRScale     float64
	WeightDecay float64
}

// DefaultGroups puts tensors of rank <= 1 (biases, LayerNorm weights and
// biases) and free embedding/token parameters in GroupNoDecay and everything
// else in GroupDecay, following MAE's and HF Trainer's practice.
//
// Embedding/token parameters are recognised by the last component of the
// name (after the final '.') containing "embed" or "mask_token" (cls_embedding,
// pos_embed_v, decoder_audio_pos_embed, pixel_mask_token, ...). Only the last
// component is looked at so that convolution weights living under an
// "...embeddings.patch_embeddings.projection" module still get weight decay,
// as in the original MAE/TVLT code.
func DefaultGroups(name string, shape []int) string {
	if len(shape) <= 1 {
		return GroupNoDecay
	}
	leaf := name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		leaf = name[i+1:]
	}
	if strings.Contains(leaf, "embed") || strings.Contains(leaf, "mask_token") {
		return GroupNoDecay
	}
	return GroupDecay
}
