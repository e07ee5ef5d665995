package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// hubConfig is shaped like ZinengTang/tvlt-base's config.json: pre-release
// key names the released class ignores, and values that differ from the
// class defaults.
const hubConfig = `{
  "architectures": ["TvltForPreTraining"],
  "audio_size": 2048, "feature_size": 128, "pixel_size": 224, "pixel_patch_size": 16,
  "num_pixel_channels": 3, "norm_pix_loss": true,
  "decoder_num_attention_heads": 8, "layer_norm_eps": 1e-12,
  "use_mean_pooling": false, "num_frames": 8,
  "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
  "model_type": "tvlt", "transformers_version": "4.27.0.dev0"
}`

func TestDefaultConfigMatchesReference(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"patches per frame", c.PatchesPerFrame(), 196},
		{"freq patches", c.FreqPatches(), 8},
		{"max time patches", c.MaxTimePatches(), 128},
		{"pixel MAE dim", c.PixelMAEDim(), 768},
		{"audio patch dim", c.AudioPatchDim(), 256},
		{"num labels", c.NumLabels, 2},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

func TestHubConfigValuesWin(t *testing.T) {
	c, err := Parse([]byte(hubConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.LayerNormEps != 1e-12 || c.DecoderNumAttentionHeads != 8 || c.NumLabels != 1 {
		t.Fatalf("eps %g, decoder heads %d, labels %d; want 1e-12, 8, 1", c.LayerNormEps, c.DecoderNumAttentionHeads, c.NumLabels)
	}
	if c.ImageSize != [2]int{224, 224} || c.SpectrogramLength != 2048 {
		t.Fatalf("defaults not kept for ignored pre-release keys: %v %d", c.ImageSize, c.SpectrogramLength)
	}
	out, err := c.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]interface{}
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"audio_size", "pixel_size", "pixel_patch_size", "norm_pix_loss", "transformers_version"} {
		if _, ok := back[k]; !ok {
			t.Errorf("unknown key %s not written back", k)
		}
	}
	if back["model_type"] != "tvlt" || back["layer_norm_eps"].(float64) != 1e-12 {
		t.Errorf("written config lost values: %v", back)
	}
	c2, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	out2, _ := c2.Bytes()
	if string(out) != string(out2) {
		t.Errorf("config does not round-trip:\n%s\n%s", out, out2)
	}
}

func TestConfigParsingForms(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		check      func(Config) bool
	}{
		{"image size list", `{"image_size": [32, 48], "image_patch_size": [8, 8]}`,
			func(c Config) bool { return c.ImageSize == [2]int{32, 48} && c.PatchesPerFrame() == 24 }},
		{"image size int", `{"image_size": 64, "image_patch_size": [16, 16]}`,
			func(c Config) bool { return c.ImageSize == [2]int{64, 64} }},
		{"underscore patch level", `{"audio_mask_type": "patch_level"}`,
			func(c Config) bool { return c.AudioMaskType == "patch-level" }},
		{"hyphen patch level", `{"audio_mask_type": "patch-level"}`,
			func(c Config) bool { return c.AudioMaskType == "patch-level" }},
		{"non-square audio patch", `{"audio_patch_size": [16, 8]}`,
			func(c Config) bool { return c.FreqPatches() == 16 && c.AudioPatchDim() == 128 }},
		{"num_labels key", `{"num_labels": 7}`, func(c Config) bool { return c.NumLabels == 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("unexpected config %+v", c)
			}
		})
	}
}

func TestConfigErrorsNameTheFields(t *testing.T) {
	for _, tc := range []struct {
		json string
		want []string
	}{
		{`{"image_size": 30, "image_patch_size": [16, 16]}`, []string{"image_size", "30", "16"}},
		{`{"hidden_size": 100, "num_attention_heads": 12}`, []string{"hidden_size 100", "num_attention_heads 12"}},
		{`{"spectrogram_length": 100}`, []string{"spectrogram_length 100", "16"}},
		{`{"frequency_length": 100}`, []string{"frequency_length 100"}},
		{`{"audio_mask_type": "random"}`, []string{"audio_mask_type", "random"}},
		{`{"hidden_act": "foo"}`, []string{"hidden_act", "foo", "gelu", "relu", "quick_gelu"}},
		{`{"pixel_mask_ratio": 1.5}`, []string{"pixel_mask_ratio"}},
		{`{"image_size": "big"}`, []string{"image_size"}},
		{`{"num_frames": 0}`, []string{"num_frames"}},
		{`{"loss_type": "ranking"}`, []string{"loss_type"}},
		{`not json`, []string{"invalid JSON"}},
	} {
		_, err := Parse([]byte(tc.json))
		if err == nil {
			t.Errorf("%s: accepted", tc.json)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.json, err, w)
			}
		}
	}
}

// TestHiddenAct: hidden_act takes HF's ACT2FN names (the encoder and decoder MLP activation).
func TestHiddenAct(t *testing.T) {
	for _, act := range []string{"gelu", "relu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "silu", "swish", "quick_gelu"} {
		c, err := Parse([]byte(`{"hidden_act": "` + act + `"}`))
		if err != nil {
			t.Errorf("hidden_act %s: %v", act, err)
		} else if c.HiddenAct != act {
			t.Errorf("hidden_act %s parsed as %q", act, c.HiddenAct)
		}
	}
	c := Default()
	c.HiddenAct = "relu"
	if err := c.Validate(); err != nil {
		t.Errorf("relu: %v", err)
	}
	c.HiddenAct = "foo"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "hidden_act") || !strings.Contains(err.Error(), `"foo"`) {
		t.Errorf("hidden_act foo: error %v does not name the field and value", err)
	}
}

// TestExtensionLossTypes: multilabel and vqa are accepted and written back
// as they are (HF's TvltConfig keeps any loss_type string).
func TestExtensionLossTypes(t *testing.T) {
	for _, lt := range []string{LossMultilabel, LossVQA} {
		c, err := Parse([]byte(`{"loss_type": "` + lt + `", "num_labels": 5}`))
		if err != nil {
			t.Fatalf("%s: %v", lt, err)
		}
		if c.LossType != lt || !c.FloatLabels() {
			t.Errorf("%s: parsed as %q (float labels %v)", lt, c.LossType, c.FloatLabels())
		}
		b, err := c.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"loss_type": "`+lt+`"`) {
			t.Errorf("%s: written config lacks it:\n%s", lt, b)
		}
		back, err := Parse(b)
		if err != nil || back.LossType != lt {
			t.Errorf("%s: round trip gave %q, %v", lt, back.LossType, err)
		}
	}
	if Default().FloatLabels() {
		t.Error("classification has float labels")
	}
}

// TestAudioMaskTypeWrittenAsHFAccepts: config.json must carry the spelling
// HF's TvltConfig accepts ("frame-level" or "patch_level"), whichever
// spelling was read, and read back to the same masking.
func TestAudioMaskTypeWrittenAsHFAccepts(t *testing.T) {
	for _, tc := range []struct{ in, written, internal string }{
		{"frame-level", "frame-level", "frame-level"},
		{"patch_level", "patch_level", "patch-level"},
		{"patch-level", "patch_level", "patch-level"},
	} {
		c, err := Parse([]byte(`{"audio_mask_type": "` + tc.in + `"}`))
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]interface{}
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if back["audio_mask_type"] != tc.written {
			t.Errorf("%s: written as %v, want %q", tc.in, back["audio_mask_type"], tc.written)
		}
		c2, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		if c.AudioMaskType != tc.internal || c2.AudioMaskType != tc.internal {
			t.Errorf("%s: read as %q, re-read as %q, want %q", tc.in, c.AudioMaskType, c2.AudioMaskType, tc.internal)
		}
		if g := c2.AudioMaskGroup(); (tc.internal == "patch-level") != (g == 1) {
			t.Errorf("%s: AudioMaskGroup %d after the round trip", tc.in, g)
		}
	}
}
