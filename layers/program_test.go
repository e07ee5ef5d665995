package layers

import (
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/internal/golden"
	"gorgonia.org/tensor"
)

// A compiled program is reused every training step: a second Run must give
// the same outputs and gradients as a fresh program (no stale registers, no
// gradient accumulation across runs), and must not modify its inputs.
func TestProgramReuseIsStateless(t *testing.T) {
	dir := golden.Dir(t)
	in := golden.Load(t, dir, "inputs.npz")
	rec := golden.Load(t, dir, "pretraining.npz")
	m := goldenModel(t, dir, "config.json", "weights.safetensors", Pretraining, tensor.Float32)
	b := pretrainingBatch(t, in, rec)
	before := golden.Float64s(b.PixelValues)
	p, first := run(t, m, b, Options{Train: true})
	g1, _ := p.Grads()
	want := map[string][]float64{}
	for k, v := range g1 {
		want[k] = golden.Float64s(v)
	}
	for i := 0; i < 2; i++ {
		again, err := p.Run(b)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := again.Scalar("loss"), first.Scalar("loss"); a != b {
			t.Fatalf("run %d: loss %v, first run %v", i+2, a, b)
		}
		g2, _ := p.Grads()
		for k, v := range g2 {
			if msg := golden.Close(golden.Float64s(v), want[k], v.Shape(), v.Shape(), 0, 0); msg != "" {
				t.Fatalf("run %d: gradient %s changed: %s", i+2, k, msg)
			}
		}
	}
	if msg := golden.Close(golden.Float64s(b.PixelValues), before, b.PixelValues.Shape(), b.PixelValues.Shape(), 0, 0); msg != "" {
		t.Fatalf("Run modified pixel_values: %s", msg)
	}
}

func TestBatchValidationErrors(t *testing.T) {
	cfg, err := config.Parse([]byte(`{"image_size": 16, "image_patch_size": [8, 8], "num_frames": 2,
		"spectrogram_length": 32, "frequency_length": 16, "audio_patch_size": [8, 8],
		"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
		"decoder_hidden_size": 8, "decoder_num_hidden_layers": 1, "decoder_num_attention_heads": 2,
		"decoder_intermediate_size": 16, "num_labels": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Classification, cfg, tensor.Float32, graph.InitOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	z := func(shape ...int) *tensor.Dense {
		return tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	}
	ids := func(v ...int64) *tensor.Dense { return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v)) }
	good := func() *Batch {
		return &Batch{PixelValues: z(2, 2, 3, 16, 16), AudioValues: z(2, 1, 32, 16), PixelMask: z(2, 8), AudioMask: z(2, 8), Labels: ids(0, 2)}
	}
	if _, err := m.Compile(good(), Options{Train: true}); err != nil {
		t.Fatalf("valid batch rejected: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(b *Batch)
		want string
	}{
		{"channels", func(b *Batch) { b.PixelValues = z(2, 2, 1, 16, 16) }, "num_image_channels"},
		{"image size", func(b *Batch) { b.PixelValues = z(2, 2, 3, 16, 24) }, "image_size"},
		{"too many frames", func(b *Batch) { b.PixelValues = z(2, 3, 3, 16, 16) }, "num_frames"},
		{"audio too long", func(b *Batch) { b.AudioValues = z(2, 1, 40, 16) }, "spectrogram_length"},
		{"audio frequency", func(b *Batch) { b.AudioValues = z(2, 1, 32, 8) }, "frequency_length"},
		{"batch mismatch", func(b *Batch) { b.AudioValues = z(3, 1, 32, 16) }, "batch"},
		{"pixel mask shape", func(b *Batch) { b.PixelMask = z(2, 7) }, "pixel_mask"},
		{"label range", func(b *Batch) { b.Labels = ids(0, 3) }, "num_labels"},
		{"labels length", func(b *Batch) { b.Labels = ids(0) }, "labels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := good()
			tc.edit(b)
			p, err := m.Compile(b, Options{Train: true})
			if err == nil {
				_, err = p.Run(b)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestReplayMaskingRejectsBadPermutations(t *testing.T) {
	perm := func(v ...int64) *tensor.Dense { return tensor.New(tensor.WithShape(1, len(v)), tensor.WithBacking(v)) }
	for _, tc := range []struct {
		ids  *tensor.Dense
		keep int
	}{
		{perm(0, 1, 1, 3), 2},
		{perm(0, 1, 2, 4), 2},
		{perm(0, 1, 2, 3), 0},
		{perm(0, 1, 2), 2},
	} {
		if _, err := replayMasking("pixel", tc.ids, tc.keep, 1, 4, nil); err == nil {
			t.Errorf("ids %v keep %d accepted", tc.ids.Data(), tc.keep)
		}
	}
}

// Either pretraining task works alone (the reference crashes without
// matching): the loss is then exactly that task's terms.
func TestPretrainingSingleTask(t *testing.T) {
	dir := golden.Dir(t)
	in := golden.Load(t, dir, "inputs.npz")
	rec := golden.Load(t, dir, "pretraining.npz")
	for _, tc := range []struct {
		name            string
		matching, mae   bool
		present, absent []string
	}{
		{"mae only", false, true, []string{"pixel_mae_loss", "audio_mae_loss"}, []string{"matching_loss", "matching_logits"}},
		{"matching only", true, false, []string{"matching_loss"}, []string{"pixel_mae_loss", "pixel_logits"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := goldenModel(t, dir, "config.json", "weights.safetensors", Pretraining, tensor.Float64)
			m := withTasks(t, full, tc.matching, tc.mae)
			p, res := run(t, m, pretrainingBatch(t, in, rec), Options{Train: true})
			want := 0.0
			for _, k := range tc.present {
				if _, ok := res.Outputs[k]; !ok {
					t.Fatalf("%s missing", k)
				}
				if strings.HasSuffix(k, "_loss") {
					want += golden.Float64s(rec[k])[0]
				}
			}
			for _, k := range tc.absent {
				if _, ok := res.Outputs[k]; ok {
					t.Errorf("%s computed although its task is off", k)
				}
			}
			if got := res.Scalar("loss"); got-want > 1e-5 || want-got > 1e-5 {
				t.Errorf("loss %v, want %v (sum of the task's golden terms)", got, want)
			}
			if _, err := p.Grads(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPackedPassesWithOneUnmasked packs a matching pass without an attention
// mask (no pixel_mask_mixed) with a masked MAE pass: each pass must give
// what it gives alone.
func TestPackedPassesWithOneUnmasked(t *testing.T) {
	dir := golden.Dir(t)
	in := golden.Load(t, dir, "inputs.npz")
	rec := golden.Load(t, dir, "pretraining.npz")
	full := goldenModel(t, dir, "config.json", "weights.safetensors", Pretraining, tensor.Float64)
	batch := func() *Batch {
		b := pretrainingBatch(t, in, rec)
		b.PixelMaskMixed = nil
		return b
	}
	_, both := run(t, full, batch(), Options{})
	_, matching := run(t, withTasks(t, full, true, false), batch(), Options{})
	_, mae := run(t, withTasks(t, full, false, true), batch(), Options{})
	for _, tc := range []struct {
		key  string
		want *Result
	}{{"matching_loss", matching}, {"matching_logits", matching}, {"pixel_mae_loss", mae}, {"audio_mae_loss", mae}, {"pixel_logits", mae}} {
		got, want := golden.Float64s(both.Outputs[tc.key]), golden.Float64s(tc.want.Outputs[tc.key])
		for i := range want {
			if d := got[i] - want[i]; d > 1e-9 || d < -1e-9 {
				t.Fatalf("%s[%d]: packed %v, alone %v", tc.key, i, got[i], want[i])
			}
		}
	}
}

// withTasks is a float64 pretraining model with only the given tasks, sharing
// full's weights.
func withTasks(t *testing.T, full *Model, matching, mae bool) *Model {
	t.Helper()
	cfg := full.Config
	cfg.TaskMatching, cfg.TaskMAE = matching, mae
	m, err := New(Pretraining, cfg, tensor.Float64, graph.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sub := map[string]*tensor.Dense{}
	for _, n := range m.Params.Names() {
		sub[n] = full.Params.Value(n)
	}
	if err := m.Params.Load(sub); err != nil {
		t.Fatal(err)
	}
	return m
}
