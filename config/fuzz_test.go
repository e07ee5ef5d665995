package config

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/internal/allocs"
)

// FuzzParse feeds arbitrary bytes to config.Parse (config.json). It must not
// panic; it returns either an error or a config that passes Validate, and
// allocates at most 64 times the input plus 64 MiB. An accepted config's
// Bytes must parse again and serialise to the same bytes (the first write
// may normalise: num_labels regenerates a mismatched id2label, patch_level
// becomes patch-level).
func FuzzParse(f *testing.F) {
	def, err := Default().Bytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	for _, s := range []string{
		`{}`,
		`{"model_type": "tvlt", "image_size": [224, 192], "image_patch_size": 16, "audio_patch_size": [16, 16], "hidden_size": 96, "num_attention_heads": 3, "transformers_version": "4.30.0"}`,
		`{"id2label": {"0": "neg", "1": "neu", "2": "pos"}, "label2id": {"neg": 0}, "loss_type": "classification", "architectures": ["TvltForAudioVisualClassification"]}`,
		`{"num_labels": 4, "loss_type": "multilabel", "audio_mask_type": "patch_level", "hidden_act": "quick_gelu", "qkv_bias": false}`,
		`{"loss_type": "vqa", "num_labels": 3, "id2label": {"0": "a"}, "pixel_mask_ratio": 0.5, "layer_norm_eps": 1e-12}`,
		`{"image_size": [224], "hidden_size": "768"}`,
		`{"hidden_size": 100, "num_attention_heads": 12}`,
		`{"id2label": {"x": "a"}}`,
		`[]`,
		`{"hidden_dropout_prob": 1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Config
		var err error
		alloc := allocs.Of(func() { c, err = Parse(b) })
		if limit := uint64(64<<20) + 64*uint64(len(b)); alloc > limit {
			t.Fatalf("parsing %d bytes allocated %d bytes (limit %d)", len(b), alloc, limit)
		}
		if err != nil {
			if err.Error() == "" || strings.Contains(err.Error(), "%!") {
				t.Fatalf("unclear error %q", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
		if c.NumLabels > 1<<12 {
			return // Bytes writes num_labels id2label entries; keep the work small
		}
		b1, err := c.Bytes()
		if err != nil {
			t.Fatalf("Bytes of a parsed config: %v", err)
		}
		c2, err := Parse(b1)
		if err != nil {
			t.Fatalf("the written config does not parse: %v\n%s", err, b1)
		}
		b2, err := c2.Bytes()
		if err != nil {
			t.Fatalf("Bytes of the re-parsed config: %v", err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("config.json changes on a second round trip:\n%s\nthen\n%s", b1, b2)
		}
	})
}
