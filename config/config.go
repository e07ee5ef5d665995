package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Config holds every field of HF's TvltConfig with the same defaults, plus
// the PretrainedConfig fields TVLT uses (num_labels, id2label, label2id).
type Config struct {
	ImageSize                 [2]int // (height, width)
	SpectrogramLength         int
	FrequencyLength           int
	ImagePatchSize            [2]int // (height, width)
	AudioPatchSize            [2]int // (time, frequency)
	NumImageChannels          int
	NumAudioChannels          int
	NumFrames                 int
	HiddenSize                int
	NumHiddenLayers           int
	NumAttentionHeads         int
	IntermediateSize          int
	HiddenAct                 string
	HiddenDropoutProb         float64
	AttentionProbsDropoutProb float64
	InitializerRange          float64
	LayerNormEps              float64
	QKVBias                   bool
	UseMeanPooling            bool
	DecoderNumAttentionHeads  int
	DecoderHiddenSize         int
	DecoderNumHiddenLayers    int
	DecoderIntermediateSize   int
	PixelMaskRatio            float64
	AudioMaskRatio            float64
	AudioMaskType             string // "frame-level" or "patch-level" (canonical spelling; config.json says "patch_level")
	TaskMatching              bool
	TaskMAE                   bool
	LossType                  string // "classification", "regression" (HF's), or the tvlt-go extensions "multilabel" and "vqa" (LossTypes)
	NumLabels                 int
	ID2Label                  map[int]string
	Architectures             []string

	// ClassifierPooler (tvlt-go extension, JSON "classifier_pooler") puts
	// the original TVLT's tanh pooler, classifier.pooler.dense, before the
	// classifier, as its MOSEI and VQA checkpoints have; HF's head has none.
	ClassifierPooler bool
	// ClassifierLayerNormEps (tvlt-go extension, JSON
	// "classifier_layer_norm_eps") is classifier.1's eps when positive; the
	// original's head uses PyTorch's default 1e-5, HF's layer_norm_eps.
	ClassifierLayerNormEps float64

	// Extra keeps keys this struct does not model (transformers_version,
	// pre-release hub names, ...) so they are written back unchanged.
	Extra map[string]json.RawMessage

	imageSizeAsInt bool
}

// Default returns TvltConfig's defaults (the base model).
func Default() Config {
	return Config{
		ImageSize:                [2]int{224, 224},
		SpectrogramLength:        2048,
		FrequencyLength:          128,
		ImagePatchSize:           [2]int{16, 16},
		AudioPatchSize:           [2]int{16, 16},
		NumImageChannels:         3,
		NumAudioChannels:         1,
		NumFrames:                8,
		HiddenSize:               768,
		NumHiddenLayers:          12,
		NumAttentionHeads:        12,
		IntermediateSize:         3072,
		HiddenAct:                "gelu",
		InitializerRange:         0.02,
		LayerNormEps:             1e-6,
		QKVBias:                  true,
		DecoderNumAttentionHeads: 16,
		DecoderHiddenSize:        512,
		DecoderNumHiddenLayers:   8,
		DecoderIntermediateSize:  2048,
		PixelMaskRatio:           0.75,
		AudioMaskRatio:           0.15,
		AudioMaskType:            "frame-level",
		TaskMatching:             true,
		TaskMAE:                  true,
		LossType:                 "classification",
		NumLabels:                2,
		imageSizeAsInt:           true,
	}
}

// Validate checks that the sizes fit together, naming the fields at fault.
func (c Config) Validate() error {
	pos := []struct {
		name string
		v    int
	}{
		{"image_size[0]", c.ImageSize[0]}, {"image_size[1]", c.ImageSize[1]},
		{"spectrogram_length", c.SpectrogramLength}, {"frequency_length", c.FrequencyLength},
		{"image_patch_size[0]", c.ImagePatchSize[0]}, {"image_patch_size[1]", c.ImagePatchSize[1]},
		{"audio_patch_size[0]", c.AudioPatchSize[0]}, {"audio_patch_size[1]", c.AudioPatchSize[1]},
		{"num_image_channels", c.NumImageChannels}, {"num_audio_channels", c.NumAudioChannels},
		{"num_frames", c.NumFrames}, {"hidden_size", c.HiddenSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"intermediate_size", c.IntermediateSize}, {"decoder_num_attention_heads", c.DecoderNumAttentionHeads},
		{"decoder_hidden_size", c.DecoderHiddenSize}, {"decoder_num_hidden_layers", c.DecoderNumHiddenLayers},
		{"decoder_intermediate_size", c.DecoderIntermediateSize}, {"num_labels", c.NumLabels},
	}
	for _, p := range pos {
		if p.v <= 0 {
			return fmt.Errorf("config: %s must be positive, got %d", p.name, p.v)
		}
	}
	for i, axis := range []string{"height", "width"} {
		if c.ImageSize[i]%c.ImagePatchSize[i] != 0 {
			return fmt.Errorf("config: image_size %s %d is not divisible by image_patch_size %s %d",
				axis, c.ImageSize[i], axis, c.ImagePatchSize[i])
		}
	}
	if c.SpectrogramLength%c.AudioPatchSize[0] != 0 {
		return fmt.Errorf("config: spectrogram_length %d is not divisible by audio_patch_size[0] (time) %d",
			c.SpectrogramLength, c.AudioPatchSize[0])
	}
	if c.FrequencyLength%c.AudioPatchSize[1] != 0 {
		return fmt.Errorf("config: frequency_length %d is not divisible by audio_patch_size[1] (frequency) %d",
			c.FrequencyLength, c.AudioPatchSize[1])
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("config: hidden_size %d is not divisible by num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.DecoderHiddenSize%c.DecoderNumAttentionHeads != 0 {
		return fmt.Errorf("config: decoder_hidden_size %d is not divisible by decoder_num_attention_heads %d",
			c.DecoderHiddenSize, c.DecoderNumAttentionHeads)
	}
	// HF's ACT2FN names (graph.Activation implements each); the classifier head's GELU is exact whatever this says.
	if acts := []string{"gelu", "gelu_fast", "gelu_new", "gelu_python", "gelu_pytorch_tanh", "quick_gelu",
		"relu", "relu6", "sigmoid", "silu", "swish", "tanh"}; !slices.Contains(acts, c.HiddenAct) {
		return fmt.Errorf("config: hidden_act %q not supported (supported: %s)", c.HiddenAct, strings.Join(acts, ", "))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"pixel_mask_ratio", c.PixelMaskRatio}, {"audio_mask_ratio", c.AudioMaskRatio},
		{"hidden_dropout_prob", c.HiddenDropoutProb}, {"attention_probs_dropout_prob", c.AttentionProbsDropoutProb}} {
		if !(r.v >= 0 && r.v < 1) {
			return fmt.Errorf("config: %s must be in [0, 1), got %v", r.name, r.v)
		}
	}
	if !(c.LayerNormEps > 0) {
		return fmt.Errorf("config: layer_norm_eps must be positive, got %v", c.LayerNormEps)
	}
	if !(c.ClassifierLayerNormEps >= 0) {
		return fmt.Errorf("config: classifier_layer_norm_eps must be positive (or 0 for layer_norm_eps), got %v", c.ClassifierLayerNormEps)
	}
	if c.AudioMaskType != "frame-level" && c.AudioMaskType != "patch-level" {
		return fmt.Errorf("config: audio_mask_type %q must be \"frame-level\" or \"patch-level\"", c.AudioMaskType)
	}
	if !slices.Contains(LossTypes, c.LossType) {
		return fmt.Errorf("config: loss_type %q must be one of %s", c.LossType, strings.Join(LossTypes, ", "))
	}
	return nil
}

// Loss types of TvltForAudioVisualClassification. HF's TvltConfig knows
// classification (cross-entropy on class ids) and regression (MSE on
// num_labels scores); multilabel (BCE-with-logits on num_labels 0/1 or
// [0, 1] targets, mean over elements) and vqa (BCE-with-logits on soft
// answer scores, mean × num_labels, the ViLT/TVLT VQA head) are tvlt-go
// extensions. config.json carries them as written: HF's model loads such a
// config and computes logits, but no loss (its forward knows only its two).
const (
	LossClassification = "classification"
	LossRegression     = "regression"
	LossMultilabel     = "multilabel"
	LossVQA            = "vqa"
)

// LossTypes lists the accepted loss_type values.
var LossTypes = []string{LossClassification, LossRegression, LossMultilabel, LossVQA}

// FloatLabels reports whether the loss type's labels are float targets
// (B, num_labels) rather than class ids (B).
func (c Config) FloatLabels() bool { return c.LossType != LossClassification }

// Read reads an HF config.json: values in the file win over the class
// defaults, unknown keys are kept, and the result is validated.
func Read(path string) (Config, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(buf)
	if err != nil {
		return Config{}, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes config.json bytes (see Read).
func Parse(buf []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(buf, &raw); err != nil {
		return Config{}, fmt.Errorf("invalid JSON: %w", err)
	}
	c := Default()
	c.Extra = map[string]json.RawMessage{}
	take := func(key string, dst interface{}) error {
		msg, ok := raw[key]
		if !ok {
			return nil
		}
		delete(raw, key)
		if err := json.Unmarshal(msg, dst); err != nil {
			return fmt.Errorf("field %s: %w", key, err)
		}
		return nil
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if msg, ok := raw["image_size"]; ok {
		delete(raw, "image_size")
		sz, asInt, err := parseSize(msg)
		if err != nil {
			add(fmt.Errorf("field image_size: %w", err))
		}
		c.ImageSize, c.imageSizeAsInt = sz, asInt
	}
	for _, ps := range []struct {
		key string
		dst *[2]int
	}{{"image_patch_size", &c.ImagePatchSize}, {"audio_patch_size", &c.AudioPatchSize}} {
		if msg, ok := raw[ps.key]; ok {
			delete(raw, ps.key)
			sz, _, err := parseSize(msg)
			if err != nil {
				add(fmt.Errorf("field %s: %w", ps.key, err))
			}
			*ps.dst = sz
		}
	}
	add(take("spectrogram_length", &c.SpectrogramLength))
	add(take("frequency_length", &c.FrequencyLength))
	add(take("num_image_channels", &c.NumImageChannels))
	add(take("num_audio_channels", &c.NumAudioChannels))
	add(take("num_frames", &c.NumFrames))
	add(take("hidden_size", &c.HiddenSize))
	add(take("num_hidden_layers", &c.NumHiddenLayers))
	add(take("num_attention_heads", &c.NumAttentionHeads))
	add(take("intermediate_size", &c.IntermediateSize))
	add(take("hidden_act", &c.HiddenAct))
	add(take("hidden_dropout_prob", &c.HiddenDropoutProb))
	add(take("attention_probs_dropout_prob", &c.AttentionProbsDropoutProb))
	add(take("initializer_range", &c.InitializerRange))
	add(take("layer_norm_eps", &c.LayerNormEps))
	add(take("qkv_bias", &c.QKVBias))
	add(take("use_mean_pooling", &c.UseMeanPooling))
	add(take("decoder_num_attention_heads", &c.DecoderNumAttentionHeads))
	add(take("decoder_hidden_size", &c.DecoderHiddenSize))
	add(take("decoder_num_hidden_layers", &c.DecoderNumHiddenLayers))
	add(take("decoder_intermediate_size", &c.DecoderIntermediateSize))
	add(take("pixel_mask_ratio", &c.PixelMaskRatio))
	add(take("audio_mask_ratio", &c.AudioMaskRatio))
	add(take("audio_mask_type", &c.AudioMaskType))
	add(take("task_matching", &c.TaskMatching))
	add(take("task_mae", &c.TaskMAE))
	add(take("loss_type", &c.LossType))
	add(take("architectures", &c.Architectures))
	add(take("classifier_pooler", &c.ClassifierPooler))
	add(take("classifier_layer_norm_eps", &c.ClassifierLayerNormEps))
	delete(raw, "model_type")
	// The reference's config check spells patch-level with an underscore and
	// its forward pass with a hyphen; accept both and store the hyphen
	// (MarshalJSON writes the underscore HF's config accepts).
	if c.AudioMaskType == "patch_level" {
		c.AudioMaskType = "patch-level"
	}
	// num_labels follows id2label when present, as in PretrainedConfig.
	var id2label map[string]string
	add(take("id2label", &id2label))
	if id2label != nil {
		c.ID2Label = map[int]string{}
		for k, v := range id2label {
			i, err := strconv.Atoi(k)
			if err != nil {
				add(fmt.Errorf("field id2label: key %q is not an integer", k))
				continue
			}
			c.ID2Label[i] = v
		}
		c.NumLabels = len(c.ID2Label)
	}
	add(take("num_labels", &c.NumLabels))
	delete(raw, "label2id")
	if len(errs) > 0 {
		return Config{}, errs[0]
	}
	for k, v := range raw {
		c.Extra[k] = v
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func parseSize(msg json.RawMessage) ([2]int, bool, error) {
	var n int
	if err := json.Unmarshal(msg, &n); err == nil {
		return [2]int{n, n}, true, nil
	}
	var s []int
	if err := json.Unmarshal(msg, &s); err != nil || len(s) != 2 {
		return [2]int{}, false, fmt.Errorf("want an int or [height, width], got %s", bytes.TrimSpace(msg))
	}
	return [2]int{s[0], s[1]}, false, nil
}

// MarshalJSON writes the HF config.json layout: every TvltConfig field,
// model_type, architectures, labels, and the kept unknown keys.
func (c Config) MarshalJSON() ([]byte, error) {
	m := map[string]interface{}{}
	for k, v := range c.Extra {
		m[k] = v
	}
	if c.imageSizeAsInt && c.ImageSize[0] == c.ImageSize[1] {
		m["image_size"] = c.ImageSize[0]
	} else {
		m["image_size"] = c.ImageSize[:]
	}
	m["spectrogram_length"] = c.SpectrogramLength
	m["frequency_length"] = c.FrequencyLength
	m["image_patch_size"] = c.ImagePatchSize[:]
	m["audio_patch_size"] = c.AudioPatchSize[:]
	m["num_image_channels"] = c.NumImageChannels
	m["num_audio_channels"] = c.NumAudioChannels
	m["num_frames"] = c.NumFrames
	m["hidden_size"] = c.HiddenSize
	m["num_hidden_layers"] = c.NumHiddenLayers
	m["num_attention_heads"] = c.NumAttentionHeads
	m["intermediate_size"] = c.IntermediateSize
	m["hidden_act"] = c.HiddenAct
	m["hidden_dropout_prob"] = c.HiddenDropoutProb
	m["attention_probs_dropout_prob"] = c.AttentionProbsDropoutProb
	m["initializer_range"] = c.InitializerRange
	m["layer_norm_eps"] = c.LayerNormEps
	m["qkv_bias"] = c.QKVBias
	m["use_mean_pooling"] = c.UseMeanPooling
	m["decoder_num_attention_heads"] = c.DecoderNumAttentionHeads
	m["decoder_hidden_size"] = c.DecoderHiddenSize
	m["decoder_num_hidden_layers"] = c.DecoderNumHiddenLayers
	m["decoder_intermediate_size"] = c.DecoderIntermediateSize
	m["pixel_mask_ratio"] = c.PixelMaskRatio
	m["audio_mask_ratio"] = c.AudioMaskRatio
	m["audio_mask_type"] = c.AudioMaskType
	if c.AudioMaskType == "patch-level" {
		// HF's TvltConfig raises on "patch-level" and accepts only
		// "frame-level" or "patch_level", so the file says "patch_level".
		// HF's own forward then tests for "patch-level" and, given
		// "patch_level", fails with an unbound noise variable: HF can mask
		// audio patch-level only if the attribute is set to "patch-level"
		// after the config is built. Parse reads both spellings.
		m["audio_mask_type"] = "patch_level"
	}
	m["task_matching"] = c.TaskMatching
	m["task_mae"] = c.TaskMAE
	m["loss_type"] = c.LossType
	m["model_type"] = "tvlt"
	if len(c.Architectures) > 0 {
		m["architectures"] = c.Architectures
	}
	if c.ClassifierPooler {
		m["classifier_pooler"] = true
	}
	if c.ClassifierLayerNormEps != 0 {
		m["classifier_layer_norm_eps"] = c.ClassifierLayerNormEps
	}
	id2label := c.ID2Label
	if len(id2label) != c.NumLabels {
		id2label = map[int]string{}
		for i := 0; i < c.NumLabels; i++ {
			id2label[i] = "LABEL_" + strconv.Itoa(i)
		}
	}
	ids := map[string]string{}
	label2id := map[string]int{}
	keys := make([]int, 0, len(id2label))
	for k := range id2label {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		ids[strconv.Itoa(k)] = id2label[k]
		label2id[id2label[k]] = k
	}
	m["id2label"] = ids
	m["label2id"] = label2id
	m["num_labels"] = c.NumLabels
	return json.MarshalIndent(m, "", "  ")
}

// Bytes returns the config.json contents (callers make the write atomic).
func (c Config) Bytes() ([]byte, error) {
	b, err := c.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
