package layers

import (
	"testing"

	"github.com/tvlt-go/tvlt/config"
)

func TestParameterCountsMatchReference(t *testing.T) {
	c := config.Default()
	for _, tc := range []struct {
		kind   Kind
		labels int
		want   int
	}{
		{Base, 2, 86107392},
		{Pretraining, 2, 113014017},
		{Classification, 1, 87293185},
		{Classification, 2, 87294722},
	} {
		c.NumLabels = tc.labels
		shapes, err := ParamShapes(tc.kind, c)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, s := range shapes {
			n := 1
			for _, d := range s {
				n *= d
			}
			got += n
		}
		if got != tc.want {
			t.Errorf("%v (%d labels): %d parameters, want %d", tc.kind, tc.labels, got, tc.want)
		}
	}
}

func TestIsHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"decoder.decoder_layers.0.attention.attention.query.weight", true},
		{"decoder_pixel_pos_embed", true},
		{"encoder_to_decoder.weight", true},
		{"pixel_mae_head.decoder.bias", true},
		{"audio_mask_token", true},
		{"matching_head.pooler.dense.weight", true},
		{"classifier.3.weight", true},
		{"encoder.layer.0.attention.attention.query.weight", false},
		{"cls_embedding", false},
		{"layernorm.weight", false},
		{"pixel_embeddings.pixel_patch_embeddings.projection.weight", false},
		{"tvlt.encoder.layer.0.output.dense.bias", false},
	} {
		if got := IsHead(tc.name); got != tc.want {
			t.Errorf("IsHead(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
