package original

import (
	"reflect"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/layers"
)

// originalShapes is the shape map of an original checkpoint for an HF
// config and class, without allocating it (the base model is 450 MB).
func originalShapes(t *testing.T, cfg config.Config, kind layers.Kind) map[string][]int {
	t.Helper()
	hf, err := layers.ParamShapes(kind, cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	for _, n := range originalNames(cfg, kind) {
		r, _ := lookup(n)
		h := r.hf[0]
		if r.part == partEncoder {
			h = kind.EncoderPrefix() + h
		}
		s := append([]int(nil), hf[h]...)
		switch r.op {
		case opSplitQKV:
			s[0] *= 3
		case opRows:
			s[1] = r.full
		}
		out[n] = s
	}
	return out
}

// demosMOSEISentiment is demos.py's MOSEI_sentiment_config(), the config
// the original builds TVLT-MOSEI-SA.ckpt's model with.
var demosMOSEISentiment = map[string]interface{}{
	"exp_name": "cls_mosei", "loss_names": map[string]interface{}{"vam": 0, "vtm": 0, "mae_audio": 0, "mae_video": 0, "vqa": 0, "mlm": 0, "mosei": 1, "moseiemo": 0},
	"max_text_len": 40, "draw_false_text": 0, "tokenizer": "bert-base-uncased", "vocab_size": 30522, "whole_word_masking": false,
	"mlm_prob": 0.15, "use_text": false, "video_size": 224, "max_frames": 64, "num_frames": 8, "use_video": true, "audio_size": 1024,
	"frequency_size": 128, "max_audio_patches": 1020, "mam_prob": 0.75, "draw_false_audio": 0, "use_audio": true, "frame_masking": false,
	"model_type": "mae_vit_base_patch16_dec512d8b", "patch_size": 16, "audio_patch_size": []interface{}{16, 16}, "hidden_size": 768,
	"decoder_hidden_size": 512, "num_heads": 12, "num_layers": 12, "mlp_ratio": 4, "use_mae": false, "drop_rate": 0.1,
}

// TestDerivePublished: the published checkpoints' shapes (TVLT.ckpt,
// TVLT-MOSEI-SA.ckpt, TVLT-MOSEI-EA.ckpt hold the TVLT module's bare state
// dict: 64 temporal rows, 1020 audio-time rows) give the base config with
// the original's 1024-frame spectrogram, 8 frames, eps 1e-6, and the
// heads' labels and loss types; with demos.py's config as
// hyper-parameters the result is the same but for its masking.
func TestDerivePublished(t *testing.T) {
	base := config.Default()
	base.SpectrogramLength = 1024
	base.Architectures = []string{layers.Pretraining.String()}

	sa := base
	sa.Architectures = []string{layers.Classification.String()}
	sa.NumLabels, sa.LossType, sa.ID2Label = 1, config.LossRegression, map[int]string{0: "sentiment"}
	sa.ClassifierPooler, sa.ClassifierLayerNormEps = true, 1e-5

	ea := sa
	ea.NumLabels, ea.LossType = 6, config.LossMultilabel
	ea.ID2Label = map[int]string{0: "happy", 1: "sad", 2: "angry", 3: "fear", 4: "disgust", 5: "surprise"}

	saDemo := sa
	saDemo.AudioMaskType, saDemo.AudioMaskRatio = "patch-level", 0.75

	for _, c := range []struct {
		name string
		kind layers.Kind
		from config.Config // the HF config whose original form is derived
		hp   map[string]interface{}
		want config.Config
	}{
		{"TVLT.ckpt", layers.Pretraining, base, nil, base},
		{"TVLT-MOSEI-SA.ckpt", layers.Classification, sa, nil, sa},
		{"TVLT-MOSEI-EA.ckpt", layers.Classification, ea, nil, ea},
		{"MOSEI-SA Lightning", layers.Classification, sa, map[string]interface{}{"config": demosMOSEISentiment, "model_type": "transformer"}, saDemo},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, kind, err := DeriveConfig(originalShapes(t, c.from, c.kind), c.hp)
			if err != nil {
				t.Fatal(err)
			}
			if kind != c.kind {
				t.Errorf("kind %s, want %s", kind, c.kind)
			}
			g, w := configFields(t, cfg), configFields(t, c.want)
			for k := range w {
				if !reflect.DeepEqual(g[k], w[k]) {
					t.Errorf("%s = %v, want %v", k, g[k], w[k])
				}
			}
			for k := range g {
				if _, ok := w[k]; !ok {
					t.Errorf("unexpected config key %s = %v", k, g[k])
				}
			}
		})
	}
}
