package layers

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/internal/golden"
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

// TestPretrainingLossWeights: the total loss is Σ w·term of the (still
// unweighted) per-task outputs; weights of 1 give the unweighted program
// bit for bit; a matching weight of 0 leaves the matching head without
// gradient while the MAE decoder still learns.
func TestPretrainingLossWeights(t *testing.T) {
	dir := golden.Dir(t)
	in := golden.Load(t, dir, "inputs.npz")
	rec := golden.Load(t, dir, "pretraining.npz")
	m := goldenModel(t, dir, "config.json", "weights.safetensors", Pretraining, tensor.Float64)
	b := pretrainingBatch(t, in, rec)
	p0, plain := run(t, m, b, Options{Train: true})
	g0, _ := p0.Grads()
	want0 := map[string][]float64{}
	for k, v := range g0 {
		want0[k] = append([]float64(nil), graph.Float64s(v)...)
	}
	ones := DefaultLossWeights()
	p1, res1 := run(t, m, b, Options{Train: true, LossWeights: &ones})
	if a, b := res1.Scalar("loss"), plain.Scalar("loss"); a != b {
		t.Errorf("weights 1: loss %v, unweighted %v", a, b)
	}
	g1, _ := p1.Grads()
	for k, v := range g1 {
		if !slices.Equal(graph.Float64s(v), want0[k]) {
			t.Errorf("weights 1: gradient of %s differs from the unweighted program's", k)
		}
	}

	w := LossWeights{PixelMAE: 2, AudioMAE: 0.5, Matching: 0}
	p, res := run(t, m, b, Options{Train: true, LossWeights: &w})
	pix, aud, match := res.Scalar("pixel_mae_loss"), res.Scalar("audio_mae_loss"), res.Scalar("matching_loss")
	for k, v := range map[string]float64{"pixel_mae_loss": pix, "audio_mae_loss": aud, "matching_loss": match} {
		if v != plain.Scalar(k) {
			t.Errorf("%s = %v with weights, %v without: the per-task losses must stay unweighted", k, v, plain.Scalar(k))
		}
	}
	if got, want := res.Scalar("loss"), 2*pix+0.5*aud+0*match; math.Abs(got-want) > 1e-12*math.Abs(want) || !(match > 0) {
		t.Errorf("weighted loss %v, want 2·%v + 0.5·%v + 0·%v = %v", got, pix, aud, match, want)
	}
	grads, err := p.Grads()
	if err != nil {
		t.Fatal(err)
	}
	var head, decoder int
	for k, v := range grads {
		norm := 0.0
		for _, x := range graph.Float64s(v) {
			norm += x * x
		}
		switch {
		case strings.HasPrefix(k, "matching_head."):
			head++
			if norm != 0 {
				t.Errorf("matching weight 0: %s has gradient norm² %v", k, norm)
			}
		case strings.HasPrefix(k, "decoder.") || strings.HasSuffix(k, "_mae_head.decoder.weight"):
			decoder++
			if strings.HasSuffix(k, ".weight") && norm == 0 {
				t.Errorf("%s has no gradient", k)
			}
		}
	}
	if head == 0 || decoder == 0 {
		t.Fatalf("%d matching-head and %d decoder gradients (names: %v)", head, decoder, sortedKeys(grads))
	}
	bad := LossWeights{PixelMAE: -1, AudioMAE: 1, Matching: 1}
	if _, err := m.Compile(b, Options{Train: true, LossWeights: &bad}); err == nil || !strings.Contains(err.Error(), "pixel=-1") {
		t.Errorf("negative weight: %v", err)
	}
}
