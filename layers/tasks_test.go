package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	"gorgonia.org/tensor"
)

// smallConfig is a two-frame 16×16 model with one encoder layer.
func smallConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(`{"image_size": 16, "image_patch_size": [8, 8], "num_frames": 2,
		"spectrogram_length": 32, "frequency_length": 16, "audio_patch_size": [8, 8],
		"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
		"decoder_hidden_size": 8, "decoder_num_hidden_layers": 1, "decoder_num_attention_heads": 2,
		"decoder_intermediate_size": 16, "num_labels": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// randBatch is a float64 batch of 2 clips with random frames and audio.
func randBatch(seed uint64) *Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	rnd := func(shape ...int) *tensor.Dense {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = r.NormFloat64()
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	return &Batch{PixelValues: rnd(2, 2, 3, 16, 16), AudioValues: rnd(2, 1, 32, 16)}
}

// TestSoftLabelLosses: with loss_type multilabel the classifier's loss is
// the mean BCE-with-logits of its logits against the (B, num_labels)
// targets, and with vqa that mean times num_labels; both computed here from
// the returned logits.
func TestSoftLabelLosses(t *testing.T) {
	y := []float64{1, 0, 0.5, 0, 1, 0.3}
	for _, lt := range []string{config.LossMultilabel, config.LossVQA} {
		cfg := smallConfig(t)
		cfg.LossType = lt
		m, err := New(Classification, cfg, tensor.Float64, graph.InitOptions{Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		b := randBatch(5)
		b.Labels = tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(append([]float64(nil), y...)))
		_, res := run(t, m, b, Options{Train: true})
		x := graph.Float64s(res.Outputs["logits"])
		var s float64
		for i := range x {
			q := 1 / (1 + math.Exp(-x[i]))
			s -= y[i]*math.Log(q) + (1-y[i])*math.Log(1-q)
		}
		want := s / 6
		if lt == config.LossVQA {
			want *= 3
		}
		if got := res.Scalar("loss"); math.Abs(got-want) > 1e-12 {
			t.Errorf("%s: loss %.15g, want %.15g", lt, got, want)
		}
		b.Labels = tensor.New(tensor.WithShape(2), tensor.WithBacking([]int64{0, 1}))
		if p, err := m.Compile(b, Options{Train: true}); err == nil {
			_, err = p.Run(b)
			if err == nil {
				t.Errorf("%s: class-id labels accepted", lt)
			}
		}
	}
}
