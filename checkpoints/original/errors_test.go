package original

import (
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func zeros(shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, elems(shape))))
}

// problems splits Convert's error into its sorted list.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	_, list, ok := strings.Cut(err.Error(), ": ")
	if !ok {
		t.Fatalf("error without a list: %v", err)
	}
	_, list, _ = strings.Cut(list, ": ")
	return strings.Split(list, "; ")
}

// TestConvertErrors: unmapped, unsupported, mis-shaped and missing tensors
// are all reported in one error, sorted, each with its checkpoint name and
// shape.
func TestConvertErrors(t *testing.T) {
	ckpt, hp := fixtureNPZ(t, "pretraining")
	cfg, _ := convertFixture(t, "pretraining", ckpt, hp)
	d := cfg.HiddenSize
	bad := map[string]*tensor.Dense{}
	for k, v := range ckpt {
		bad[k] = v
	}
	p := LightningPrefix
	bad[p+"foo.bar"] = zeros(2, 3)
	bad[p+"text_embeddings.word_embeddings.weight"] = zeros(5, d)
	bad[p+"blocks.0.attn.qkv.weight"] = zeros(3*d+1, d)
	bad[p+"temporal_embed"] = zeros(1, cfg.NumFrames-1, d)
	bad[p+"blocks.1.norm2.weight"] = zeros(d + 1)
	bad[p+"blocks.9.norm1.weight"] = zeros(d)
	delete(bad, p+"mae_score_audio.decoder.bias")
	_, _, err := Convert(cfg, bad)
	got := problems(t, err)
	want := []string{
		p + "blocks.0.attn.qkv.weight [" + itoa(3*d+1) + " " + itoa(d) + "]: a fused qkv needs 3·D rows",
		p + "blocks.1.norm2.weight [" + itoa(d+1) + "] gives tvlt.encoder.layer.1.layernorm_after.weight [" + itoa(d+1) + "], the config expects [" + itoa(d) + "]",
		p + "blocks.9.norm1.weight [" + itoa(d) + "] would be tvlt.encoder.layer.9.layernorm_before.weight, which TvltForPreTraining lacks",
		p + "foo.bar [2 3]: unmapped",
		p + "temporal_embed [1 " + itoa(cfg.NumFrames-1) + " " + itoa(d) + "]: has " + itoa(cfg.NumFrames-1) + " rows, the config needs " + itoa(cfg.NumFrames),
		p + "text_embeddings.word_embeddings.weight [5 " + itoa(d) + "]: unsupported, text input",
		"missing mae_score_audio.decoder.bias (for audio_mae_head.decoder.bias [",
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	if !slices.IsSorted(got) {
		t.Errorf("problems not sorted:\n%s", strings.Join(got, "\n"))
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
			t.Errorf("no problem starting %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if !strings.Contains(err.Error(), "7 problems converting to TvltForPreTraining") {
		t.Errorf("error head: %v", err)
	}
}

// TestConvertDuplicate: the MOSEI and VQA heads both become HF's
// classifier; a file with both names one HF tensor twice.
func TestConvertDuplicate(t *testing.T) {
	ckpt, hp := fixtureNPZ(t, "mosei")
	cfg, _ := convertFixture(t, "mosei", ckpt, hp)
	bad := map[string]*tensor.Dense{LightningPrefix + "vqa_classifier.4.bias": zeros(1)}
	for k, v := range ckpt {
		bad[k] = v
	}
	_, _, err := Convert(cfg, bad)
	if err == nil || !strings.Contains(err.Error(), "transformer.classifier.4.bias and transformer.vqa_classifier.4.bias both map to classifier.3.bias") {
		t.Fatalf("got %v, want both tensors named", err)
	}
}

// TestDeriveErrors: what the shapes and hyper-parameters cannot settle is
// an error naming it.
func TestDeriveErrors(t *testing.T) {
	pre, hp := fixtureNPZ(t, "pretraining")
	emo, _ := fixtureNPZ(t, "moseiemo")
	vqa, _ := fixtureNPZ(t, "vqa")
	shapes := func(ms ...map[string]*tensor.Dense) map[string][]int {
		out := map[string][]int{}
		for _, m := range ms {
			for k, v := range m {
				out[strings.TrimPrefix(k, LightningPrefix)] = shapeOf(v)
			}
		}
		return out
	}
	conflict := map[string]interface{}{}
	for k, v := range hp["config"].(map[string]interface{}) {
		conflict[k] = v
	}
	conflict["hidden_size"] = 7
	conflict["num_frames"] = 1000
	for _, c := range []struct {
		name   string
		shapes map[string][]int
		hp     map[string]interface{}
		want   []string
	}{
		{"no head count", shapes(emo), nil, []string{"the number of attention heads of width"}},
		{"two classifiers", shapes(emo, vqa), nil, []string{"both classifier and vqa_classifier"}},
		{"pretraining and classifier", shapes(pre, emo), hp, []string{"both pretraining heads and a classifier"}},
		{"conflicting hyper-parameters", shapes(pre), map[string]interface{}{"config": conflict}, []string{
			"hyper_parameters hidden_size = 7 but cls_token gives",
			"num_frames 1000 exceeds temporal_embed's 64 rows",
		}},
		{"bad hyper-parameters", shapes(pre), map[string]interface{}{"config": "x"}, []string{"config is a string, want a dict"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := DeriveConfig(c.shapes, c.hp)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestIsOriginal tells the two naming schemes apart.
func TestIsOriginal(t *testing.T) {
	for _, c := range []struct {
		names []string
		want  bool
	}{
		{[]string{"transformer.blocks.0.attn.qkv.weight", "train_vam_loss.total"}, true},
		{[]string{"cls_token"}, true},
		{[]string{"patch_embed_v.proj.weight"}, true},
		{[]string{"tvlt.cls_embedding", "tvlt.encoder.layer.0.attention.attention.query.weight"}, false},
		{[]string{"cls_embedding", "encoder.layer.0.output.dense.bias"}, false},
		{nil, false},
	} {
		if got := IsOriginal(c.names); got != c.want {
			t.Errorf("IsOriginal(%v) = %v, want %v", c.names, got, c.want)
		}
	}
}
