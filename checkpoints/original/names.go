package original

import (
	"strconv"
	"strings"

	"github.com/tvlt-go/tvlt/config"
)

// op says how one original tensor becomes HF tensors.
type op int

const (
	opCopy     op = iota // same values and shape
	opSplitQKV           // fused attn.qkv (3D, D) weight or (3D) bias → query, key, value
	opRows               // (1, R, D) table → its first rows (the config's count)
)

// part is the model part a tensor belongs to; it decides the HF class.
type part int

const (
	partEncoder    part = iota
	partDecoder         // the MAE decoder, its embeddings, mask tokens and MAE heads
	partMatching        // matching_score
	partClassifier      // classifier / vqa_classifier
)

// rule maps one original tensor.
type rule struct {
	op   op
	part part
	// hf is the HF name (three for opSplitQKV), encoder names without the
	// "tvlt." prefix, which depends on the class.
	hf []string
	// rows is opRows' kept row count for a config; full is the row count
	// the original allocates (config max_frames / max_audio_patches).
	rows func(config.Config) int
	full int
}

func numFrames(c config.Config) int      { return c.NumFrames }
func maxTimePatches(c config.Config) int { return c.MaxTimePatches() }

// topLevel maps every original name outside the block lists and heads.
var topLevel = map[string]rule{
	"cls_token":                 {part: partEncoder, hf: []string{"cls_embedding"}},
	"patch_embed_v.proj.weight": {part: partEncoder, hf: []string{"pixel_embeddings.patch_embeddings.projection.weight"}},
	"patch_embed_v.proj.bias":   {part: partEncoder, hf: []string{"pixel_embeddings.patch_embeddings.projection.bias"}},
	"pos_embed_v":               {part: partEncoder, hf: []string{"pixel_embeddings.pos_embed_v"}},
	"temporal_embed":            {op: opRows, part: partEncoder, hf: []string{"pixel_embeddings.temporal_embed"}, rows: numFrames, full: MaxFrames},
	"type_embed_v":              {part: partEncoder, hf: []string{"pixel_embeddings.type_embed_v"}},
	"patch_embed_a.proj.weight": {part: partEncoder, hf: []string{"audio_embeddings.patch_embeddings.projection.weight"}},
	"patch_embed_a.proj.bias":   {part: partEncoder, hf: []string{"audio_embeddings.patch_embeddings.projection.bias"}},
	"pos_embed_a":               {op: opRows, part: partEncoder, hf: []string{"audio_embeddings.pos_embed_a"}, rows: maxTimePatches, full: MaxAudioPatches},
	"freq_embed":                {part: partEncoder, hf: []string{"audio_embeddings.freq_embed"}},
	"type_embed_a":              {part: partEncoder, hf: []string{"audio_embeddings.type_embed_a"}},
	"norm.weight":               {part: partEncoder, hf: []string{"layernorm.weight"}},
	"norm.bias":                 {part: partEncoder, hf: []string{"layernorm.bias"}},

	"decoder_pos_embed_v":    {part: partDecoder, hf: []string{"decoder_pixel_pos_embed"}},
	"decoder_temporal_embed": {op: opRows, part: partDecoder, hf: []string{"decoder_temporal_embed"}, rows: numFrames, full: MaxFrames},
	"decoder_type_embed_v":   {part: partDecoder, hf: []string{"decoder_pixel_type_embed"}},
	"mask_token_v":           {part: partDecoder, hf: []string{"pixel_mask_token"}},
	"decoder_pos_embed_a":    {op: opRows, part: partDecoder, hf: []string{"decoder_audio_pos_embed"}, rows: maxTimePatches, full: MaxAudioPatches},
	"decoder_freq_embed":     {part: partDecoder, hf: []string{"decoder_freq_embed"}},
	"decoder_type_embed_a":   {part: partDecoder, hf: []string{"decoder_audio_type_embed"}},
	"mask_token_a":           {part: partDecoder, hf: []string{"audio_mask_token"}},
	"decoder_embed.weight":   {part: partDecoder, hf: []string{"encoder_to_decoder.weight"}},
	"decoder_embed.bias":     {part: partDecoder, hf: []string{"encoder_to_decoder.bias"}},
	"decoder_norm.weight":    {part: partDecoder, hf: []string{"decoder.layernorm.weight"}},
	"decoder_norm.bias":      {part: partDecoder, hf: []string{"decoder.layernorm.bias"}},

	"mae_score_video.decoder.weight": {part: partDecoder, hf: []string{"pixel_mae_head.decoder.weight"}},
	"mae_score_video.decoder.bias":   {part: partDecoder, hf: []string{"pixel_mae_head.decoder.bias"}},
	"mae_score_audio.decoder.weight": {part: partDecoder, hf: []string{"audio_mae_head.decoder.weight"}},
	"mae_score_audio.decoder.bias":   {part: partDecoder, hf: []string{"audio_mae_head.decoder.bias"}},

	"matching_score.pooler.dense.weight": {part: partMatching, hf: []string{"matching_head.pooler.dense.weight"}},
	"matching_score.pooler.dense.bias":   {part: partMatching, hf: []string{"matching_head.pooler.dense.bias"}},
	"matching_score.fc.weight":           {part: partMatching, hf: []string{"matching_head.fc.weight"}},
	"matching_score.fc.bias":             {part: partMatching, hf: []string{"matching_head.fc.bias"}},
}

// blockNames maps the inside of a timm Block (blocks.i / decoder_blocks.i)
// to the inside of an HF TvltLayer.
var blockNames = map[string]string{
	"norm1.weight":     "layernorm_before.weight",
	"norm1.bias":       "layernorm_before.bias",
	"attn.proj.weight": "attention.output.dense.weight",
	"attn.proj.bias":   "attention.output.dense.bias",
	"norm2.weight":     "layernorm_after.weight",
	"norm2.bias":       "layernorm_after.bias",
	"mlp.fc1.weight":   "intermediate.dense.weight",
	"mlp.fc1.bias":     "intermediate.dense.bias",
	"mlp.fc2.weight":   "output.dense.weight",
	"mlp.fc2.bias":     "output.dense.bias",
}

// classifierNames maps the original head nn.Sequential(Pooler, Linear,
// LayerNorm, GELU, Linear) to HF's Sequential(Linear, LayerNorm, GELU,
// Linear) plus the pooler HF lacks (config.ClassifierPooler).
var classifierNames = map[string]string{
	"0.dense.weight": "classifier.pooler.dense.weight",
	"0.dense.bias":   "classifier.pooler.dense.bias",
	"1.weight":       "classifier.0.weight",
	"1.bias":         "classifier.0.bias",
	"2.weight":       "classifier.1.weight",
	"2.bias":         "classifier.1.bias",
	"4.weight":       "classifier.3.weight",
	"4.bias":         "classifier.3.bias",
}

// Classifier module names in the original: the MOSEI sentiment and emotion
// heads share "classifier", VQA has its own.
const (
	classifierModule    = "classifier"
	vqaClassifierModule = "vqa_classifier"
)

// unsupported names original modules HF's TVLT has no counterpart for.
var unsupported = map[string]string{
	"text_embeddings": "text input (use_text): HF's TVLT reads no text",
	"mlm_score":       "the masked-language-modelling head: HF's TVLT reads no text",
	"rank_output":     "the MSR-VTT retrieval head (vatr): HF's TVLT has only the matching head",
}

// lookup finds the rule of one original name (Lightning prefix and
// metrics already removed). ok is false for unmapped names.
func lookup(name string) (rule, bool) {
	if r, ok := topLevel[name]; ok {
		return r, true
	}
	for _, b := range []struct {
		prefix, hf string
		part       part
	}{{"blocks.", "encoder.layer.", partEncoder}, {"decoder_blocks.", "decoder.decoder_layers.", partDecoder}} {
		rest, ok := strings.CutPrefix(name, b.prefix)
		if !ok {
			continue
		}
		idx, inner, ok := strings.Cut(rest, ".")
		if i, err := strconv.Atoi(idx); !ok || err != nil || i < 0 || strconv.Itoa(i) != idx {
			return rule{}, false
		}
		pre := b.hf + idx + "."
		switch inner {
		case "attn.qkv.weight", "attn.qkv.bias":
			kind := strings.TrimPrefix(inner, "attn.qkv.")
			return rule{op: opSplitQKV, part: b.part, hf: []string{
				pre + "attention.attention.query." + kind,
				pre + "attention.attention.key." + kind,
				pre + "attention.attention.value." + kind,
			}}, true
		}
		if hf, ok := blockNames[inner]; ok {
			return rule{part: b.part, hf: []string{pre + hf}}, true
		}
		return rule{}, false
	}
	for _, m := range []string{classifierModule, vqaClassifierModule} {
		if rest, ok := strings.CutPrefix(name, m+"."); ok {
			if hf, ok := classifierNames[rest]; ok {
				return rule{part: partClassifier, hf: []string{hf}}, true
			}
		}
	}
	return rule{}, false
}

// layerIndex returns i for "<prefix>i.<anything>", or -1.
func layerIndex(name, prefix string) int {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return -1
	}
	idx, _, _ := strings.Cut(rest, ".")
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || strconv.Itoa(i) != idx {
		return -1
	}
	return i
}
