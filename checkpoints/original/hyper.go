package original

import (
	"fmt"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/layers"
)

// customModelType names an architecture the original registers no
// function for; DeriveConfig then reads the head counts from num_heads and
// decoder_num_heads.
const customModelType = "tvlt_go_custom"

// HyperParameters is the original's config dict (model/config.py keys) for
// an HF config and class, as a Lightning checkpoint stores it under
// hyper_parameters["config"]: DeriveConfig of FromHF's tensors with it
// gives cfg back. decoder_num_heads is a tvlt-go key (the original
// hard-codes 16). Loss types the original has no head for are an error.
func HyperParameters(cfg config.Config, kind layers.Kind) (map[string]interface{}, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("original: %w", err)
	}
	loss := map[string]interface{}{"vam": 0, "vatr": 0, "vtm": 0, "mae_audio": 0, "mae_video": 0, "vqa": 0, "mlm": 0, "mosei": 0, "moseiemo": 0}
	hp := map[string]interface{}{}
	switch kind {
	case layers.Pretraining:
		if cfg.TaskMatching {
			loss["vam"] = 1
		}
		if cfg.TaskMAE {
			loss["mae_audio"], loss["mae_video"] = 1, 1
		}
	case layers.Classification:
		switch {
		case cfg.LossType == config.LossVQA:
			loss["vqa"] = 1
			hp["vqav2_label_size"] = cfg.NumLabels
		case cfg.LossType == config.LossRegression && cfg.NumLabels == 1:
			loss["mosei"] = 1
		case cfg.LossType == config.LossMultilabel && cfg.NumLabels == len(Emotions):
			loss["moseiemo"] = 1
		default:
			return nil, fmt.Errorf("original: no original head for loss_type %s with %d labels (it has MOSEI sentiment: regression, 1; emotion: multilabel, %d; VQA: vqa)",
				cfg.LossType, cfg.NumLabels, len(Emotions))
		}
	}
	if cfg.ImagePatchSize[0] != cfg.ImagePatchSize[1] || cfg.ImageSize[0] != cfg.ImageSize[1] {
		return nil, fmt.Errorf("original: the original's patch embedding is square; image %v, patch %v", cfg.ImageSize, cfg.ImagePatchSize)
	}
	var mlp interface{} = float64(cfg.IntermediateSize) / float64(cfg.HiddenSize)
	if cfg.IntermediateSize%cfg.HiddenSize == 0 {
		mlp = cfg.IntermediateSize / cfg.HiddenSize
	}
	for k, v := range map[string]interface{}{
		"loss_names":          loss,
		"model_type":          modelType(cfg, kind),
		"hidden_size":         cfg.HiddenSize,
		"num_layers":          cfg.NumHiddenLayers,
		"num_heads":           cfg.NumAttentionHeads,
		"mlp_ratio":           mlp,
		"decoder_hidden_size": cfg.DecoderHiddenSize,
		"decoder_num_heads":   cfg.DecoderNumAttentionHeads,
		"patch_size":          cfg.ImagePatchSize[0],
		"audio_patch_size":    []interface{}{cfg.AudioPatchSize[0], cfg.AudioPatchSize[1]},
		"video_size":          cfg.ImageSize[0],
		"frequency_size":      cfg.FrequencyLength,
		"max_frames":          max(MaxFrames, cfg.NumFrames),
		"num_frames":          cfg.NumFrames,
		"audio_size":          cfg.SpectrogramLength,
		"max_audio_patches":   max(MaxAudioPatches, cfg.MaxTimePatches()),
		"frame_masking":       cfg.AudioMaskType == "frame-level",
		"use_audio":           true,
		"use_video":           true,
		"use_text":            false,
		"use_mae":             kind == layers.Pretraining && cfg.TaskMAE,
	} {
		hp[k] = v
	}
	return hp, nil
}

// modelType names the registered model function cfg equals, if any.
func modelType(c config.Config, kind layers.Kind) string {
	base := c.HiddenSize == 768 && c.NumHiddenLayers == 12 && c.NumAttentionHeads == 12 && c.IntermediateSize == 3072 &&
		c.ImagePatchSize == [2]int{16, 16}
	if kind == layers.Pretraining && c.TaskMAE {
		base = base && c.DecoderHiddenSize == 512 && c.DecoderNumHiddenLayers == 8 && c.DecoderNumAttentionHeads == 16 && c.DecoderIntermediateSize == 2048
	}
	switch {
	case base && c.AudioPatchSize == [2]int{16, 16}:
		return "mae_vit_base_patch16_dec512d8b"
	case base && c.AudioPatchSize == [2]int{2, 128}:
		return "mae_vit_base_patch128_dec512d8b"
	}
	return customModelType
}
