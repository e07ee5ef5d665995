package original

import (
	"math"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/internal/golden"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// outAtol is the forward tolerance.
const outAtol = 1e-5

// model builds the HF class of a converted checkpoint.
func model(t *testing.T, kind layers.Kind, cfg config.Config, hf map[string]*tensor.Dense) *layers.Model {
	t.Helper()
	m, err := layers.New(kind, cfg, tensor.Float32, graph.InitOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(hf) != len(m.Params.Names()) {
		t.Fatalf("%d converted tensors, %s has %d parameters", len(hf), kind, len(m.Params.Names()))
	}
	if err := m.Params.Load(hf); err != nil {
		t.Fatal(err)
	}
	return m
}

func runModel(t *testing.T, m *layers.Model, b *layers.Batch, opts layers.Options) map[string]*tensor.Dense {
	t.Helper()
	p, err := m.Compile(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(b)
	if err != nil {
		t.Fatal(err)
	}
	return res.Outputs
}

// compareKeys checks every key of want the outputs hold; must lists keys
// that have to be among them.
func compareKeys(t *testing.T, got, want map[string]*tensor.Dense, must ...string) {
	t.Helper()
	seen := map[string]bool{}
	worst, at := 0.0, ""
	for _, k := range sortedNames(want) {
		g, ok := got[k]
		if !ok {
			continue
		}
		seen[k] = true
		gv, wv := golden.Float64s(g), golden.Float64s(want[k])
		if msg := golden.Close(gv, wv, g.Shape(), want[k].Shape(), outAtol, 0); msg != "" {
			t.Errorf("%s: %s", k, msg)
			continue
		}
		for i := range wv {
			if d := math.Abs(gv[i] - wv[i]); d > worst {
				worst, at = d, k
			}
		}
	}
	t.Logf("%d outputs compared, max abs err %.2g (%s)", len(seen), worst, at)
	for _, k := range must {
		if !seen[k] {
			t.Errorf("%s: not compared (outputs: %v)", k, sortedNames(got))
		}
	}
}

// TestGoldenForward: python-written original checkpoints (Lightning and
// published-hub style, pretraining, encoder and the MOSEI sentiment,
// emotion and VQA heads) converted by ToHF (Convert with the user's
// config for files without hyper-parameters) reproduce the golden forward
// — and, for the original heads, the original head's logits computed by
// torch — to 1e-5.
func TestGoldenForward(t *testing.T) {
	dir := golden.Dir(t)
	in := golden.Load(t, dir, "inputs.npz")
	plain := &layers.Batch{PixelValues: in["pixel_values"], PixelMask: in["pixel_mask"],
		AudioValues: in["audio_values"], AudioMask: in["audio_mask"]}
	expected := func(t *testing.T) map[string]*tensor.Dense {
		ts, err := readNPZ(fixtures(t), "expected.npz")
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}

	t.Run("pretraining", func(t *testing.T) {
		ckpt, hp := fixture(t, "pretraining")
		cfg, hf := convertFixture(t, "pretraining", ckpt, hp)
		rec := golden.Load(t, dir, "pretraining.npz")
		b := &layers.Batch{
			PixelValues: in["pixel_values"], PixelMask: in["pixel_mask"],
			AudioValues: in["audio_values"], AudioMask: in["audio_mask"],
			PixelValuesMixed: in["pixel_values_mixed"], PixelMaskMixed: in["pixel_mask_mixed"],
			MatchingLabels:  in["matching_labels"],
			PixelIDsShuffle: rec["pixel_ids_shuffle"], AudioIDsShuffle: rec["audio_ids_shuffle"],
			PixelLenKeep: int(golden.Float64s(rec["pixel_len_keep"])[0]), AudioLenKeep: int(golden.Float64s(rec["audio_len_keep"])[0]),
		}
		out := runModel(t, model(t, layers.Pretraining, cfg, hf), b, layers.Options{Train: true, Inspect: true})
		compareKeys(t, out, rec, "matching_logits", "pixel_logits", "audio_logits", "loss", "pixel_decoder_output", "audio_decoder_output")
	})
	t.Run("encoder", func(t *testing.T) {
		ckpt, hp := fixture(t, "encoder")
		cfg, hf := convertFixture(t, "encoder", ckpt, hp)
		out := runModel(t, model(t, layers.Base, cfg, hf), plain, layers.Options{})
		compareKeys(t, out, golden.Load(t, dir, "model_forward.npz"), "last_hidden_state")
	})
	for _, name := range []string{"mosei", "moseiemo", "vqa"} {
		t.Run(name, func(t *testing.T) {
			ckpt, hp := fixture(t, name)
			cfg, hf := convertFixture(t, name, ckpt, hp)
			out := runModel(t, model(t, layers.Classification, cfg, hf), plain, layers.Options{})
			want := expected(t)[name+"/logits"]
			compareKeys(t, out, map[string]*tensor.Dense{"logits": want}, "logits")
		})
	}
}
