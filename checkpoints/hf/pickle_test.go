package hf_test

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/checkpoints/hf"
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/internal/golden"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// pickleFixtures runs checkpoints/original's fixture generator into a
// temporary folder: original-style .ckpt files and the golden weights as a
// hub-style pytorch_model.bin (zip and legacy serialization).
func pickleFixtures(t *testing.T) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if exec.Command(python, "-c", "import torch, numpy").Run() != nil {
		t.Skipf("%s with torch and numpy is needed for the fixtures (apt-get install python3-torch python3-numpy)", python)
	}
	dir := t.TempDir()
	gen := filepath.Join("..", "original", "testdata", "gen_ckpt.py")
	if out, err := exec.Command(python, gen, golden.Dir(t), dir).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", gen, err, out)
	}
	return dir
}

// runForward compiles and runs m on a batch and returns its outputs.
func runForward(t *testing.T, m *layers.Model, b *layers.Batch, opts layers.Options) map[string]*tensor.Dense {
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

// closeTo fails unless every key of want that must be compared is within
// 1e-5 of the output; it logs the worst error.
func closeTo(t *testing.T, got, want map[string]*tensor.Dense, keys ...string) {
	t.Helper()
	worst := 0.0
	for _, k := range keys {
		g, w := got[k], want[k]
		if g == nil || w == nil {
			t.Errorf("%s: output %v, golden %v", k, g != nil, w != nil)
			continue
		}
		gv, wv := golden.Float64s(g), golden.Float64s(w)
		if msg := golden.Close(gv, wv, g.Shape(), w.Shape(), 1e-5, 0); msg != "" {
			t.Errorf("%s: %s", k, msg)
			continue
		}
		for i := range wv {
			worst = math.Max(worst, math.Abs(gv[i]-wv[i]))
		}
	}
	t.Logf("%v: max abs err %.2g", keys, worst)
}

func goldenBatch(t *testing.T) *layers.Batch {
	in := golden.Load(t, golden.Dir(t), "inputs.npz")
	return &layers.Batch{PixelValues: in["pixel_values"], PixelMask: in["pixel_mask"],
		AudioValues: in["audio_values"], AudioMask: in["audio_mask"]}
}

// TestPickleImports reads python-written torch.save files (one fixture
// run for all subtests).
func TestPickleImports(t *testing.T) {
	fx := pickleFixtures(t)
	t.Run("hub", func(t *testing.T) { testHubPytorchModelBin(t, fx) })
	t.Run("original", func(t *testing.T) { testOriginalCkpt(t, fx) })
}

// testHubPytorchModelBin: the golden weights saved by torch.save under HF
// names, zip and legacy serialization, load strictly — as a hub folder
// (config.json + pytorch_model.bin) and as a bare file with --config —
// bit-identical to the safetensors, and reproduce the golden TvltModel
// forward.
func testHubPytorchModelBin(t *testing.T, fx string) {
	w, c := goldenFiles(t)
	want, _, err := checkpoints.ReadSafetensors(w)
	if err != nil {
		t.Fatal(err)
	}
	fwd := golden.Load(t, golden.Dir(t), "model_forward.npz")
	for _, file := range []string{"pytorch_model.bin", "pytorch_model_legacy.bin"} {
		folder := t.TempDir()
		for src, dst := range map[string]string{filepath.Join(fx, file): hf.PickleFile, c: hf.ConfigFile} {
			buf, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(folder, dst), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for name, load := range map[string]struct {
			path string
			opts hf.LoadOptions
		}{
			"folder": {folder, hf.LoadOptions{Strict: true}},
			"file":   {filepath.Join(fx, file), hf.LoadOptions{Strict: true, Config: c}},
		} {
			t.Run(file+"/"+name, func(t *testing.T) {
				m, rep, err := hf.Load(load.path, hf.FromConfig, load.opts)
				if err != nil {
					t.Fatalf("%v\n%s", err, rep)
				}
				if m.Kind != layers.Pretraining || len(rep.Loaded) != len(want) {
					t.Fatalf("%s with %d tensors loaded, want TvltForPreTraining with %d", m.Kind, len(rep.Loaded), len(want))
				}
				for n, v := range want {
					if !equalFloats(m.Params.Value(n), v) {
						t.Errorf("%s differs from the safetensors", n)
					}
				}
				lenient := load.opts
				lenient.Strict = false // the heads are ignored
				base, _, err := hf.Load(load.path, layers.Base, lenient)
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, runForward(t, base, goldenBatch(t), layers.Options{}), fwd, "last_hidden_state")
			})
		}
	}
}

func equalFloats(a, b *tensor.Dense) bool {
	x, y := golden.Float64s(a), golden.Float64s(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// testOriginalCkpt: original TVLT checkpoints — Lightning files with
// hyper-parameters (pretraining, MOSEI sentiment, VQA) load strictly with
// the config derived from them, bare hub-style files with --config; each
// reproduces the golden forward (pretraining, TvltModel) or the original
// head's logits computed by torch, to 1e-5, also after Save and a reload.
func testOriginalCkpt(t *testing.T, fx string) {
	dir := golden.Dir(t)
	in := golden.Load(t, dir, "inputs.npz")
	rec := golden.Load(t, dir, "pretraining.npz")
	expected, err := checkpoints.ReadNPZ(filepath.Join(fx, "expected.npz"))
	if err != nil {
		t.Fatal(err)
	}
	emoCfg, err := config.Read(filepath.Join(dir, "config_classification.json"))
	if err != nil {
		t.Fatal(err)
	}
	emoCfg.NumLabels, emoCfg.LossType, emoCfg.ID2Label = 6, config.LossMultilabel, nil
	emoCfg.ClassifierPooler, emoCfg.ClassifierLayerNormEps = true, 1e-5
	emoJSON := filepath.Join(t.TempDir(), "emotion.json")
	if buf, err := emoCfg.Bytes(); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(emoJSON, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	_, c := goldenFiles(t)

	pretraining := &layers.Batch{
		PixelValues: in["pixel_values"], PixelMask: in["pixel_mask"],
		AudioValues: in["audio_values"], AudioMask: in["audio_mask"],
		PixelValuesMixed: in["pixel_values_mixed"], PixelMaskMixed: in["pixel_mask_mixed"],
		MatchingLabels:  in["matching_labels"],
		PixelIDsShuffle: rec["pixel_ids_shuffle"], AudioIDsShuffle: rec["audio_ids_shuffle"],
		PixelLenKeep: int(golden.Float64s(rec["pixel_len_keep"])[0]), AudioLenKeep: int(golden.Float64s(rec["audio_len_keep"])[0]),
	}
	for _, tc := range []struct {
		file   string
		kind   layers.Kind
		config string
		check  func(t *testing.T, m *layers.Model)
	}{
		{"pretraining.ckpt", layers.Pretraining, "", func(t *testing.T, m *layers.Model) {
			out := runForward(t, m, pretraining, layers.Options{Train: true})
			closeTo(t, out, rec, "matching_logits", "pixel_logits", "audio_logits", "loss")
		}},
		{"encoder.ckpt", layers.Base, c, func(t *testing.T, m *layers.Model) {
			closeTo(t, runForward(t, m, goldenBatch(t), layers.Options{}), golden.Load(t, dir, "model_forward.npz"), "last_hidden_state")
		}},
		{"mosei.ckpt", layers.Classification, "", logitsCheck(expected, "mosei/logits")},
		{"vqa.ckpt", layers.Classification, "", logitsCheck(expected, "vqa/logits")},
		{"moseiemo.ckpt", layers.Classification, emoJSON, logitsCheck(expected, "moseiemo/logits")},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(fx, tc.file)
			kind := hf.FromConfig
			if tc.config != "" {
				kind = tc.kind
			}
			m, rep, err := hf.Load(path, kind, hf.LoadOptions{Strict: true, Config: tc.config})
			if err != nil {
				t.Fatalf("%v\n%s", err, rep)
			}
			if m.Kind != tc.kind {
				t.Fatalf("loaded as %s, want %s", m.Kind, tc.kind)
			}
			tc.check(t, m)
			// tvlt import then predict: Save, reload strictly, same outputs.
			out := filepath.Join(t.TempDir(), "imported")
			if err := hf.Save(out, m); err != nil {
				t.Fatal(err)
			}
			again, _, err := hf.Load(out, hf.FromConfig, hf.LoadOptions{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, again)
		})
	}

	t.Run("derived config", func(t *testing.T) {
		m, _, err := hf.Load(filepath.Join(fx, "mosei.ckpt"), hf.FromConfig, hf.LoadOptions{Strict: true})
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "imported")
		if err := hf.Save(out, m); err != nil {
			t.Fatal(err)
		}
		buf, err := os.ReadFile(filepath.Join(out, hf.ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]interface{}
		if err := json.Unmarshal(buf, &got); err != nil {
			t.Fatal(err)
		}
		want, err := config.Read(filepath.Join(dir, "config_regression.json"))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]interface{}{
			"architectures": []interface{}{"TvltForAudioVisualClassification"}, "loss_type": "regression", "num_labels": 1.0,
			"id2label": map[string]interface{}{"0": "sentiment"}, "classifier_pooler": true, "classifier_layer_norm_eps": 1e-5,
			"hidden_size": float64(want.HiddenSize), "num_attention_heads": float64(want.NumAttentionHeads),
			"num_frames": float64(want.NumFrames), "spectrogram_length": float64(want.SpectrogramLength),
			"layer_norm_eps": want.LayerNormEps,
		} {
			if b, _ := json.Marshal(got[k]); string(b) != mustJSON(t, v) {
				t.Errorf("config.json %s = %s, want %s", k, b, mustJSON(t, v))
			}
		}
	})

	t.Run("no head count without a config", func(t *testing.T) {
		_, _, err := hf.Load(filepath.Join(fx, "moseiemo.ckpt"), hf.FromConfig, hf.LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), "number of attention heads") || !strings.Contains(err.Error(), "--config") {
			t.Fatalf("got %v, want the head count named and --config suggested", err)
		}
	})

	t.Run("fine-tune from the pretrained checkpoint", func(t *testing.T) {
		// tvlt import --from TVLT.ckpt --model classification --num-labels 1 --loss-type regression
		m, rep, err := hf.Load(filepath.Join(fx, "pretraining.ckpt"), layers.Classification, hf.LoadOptions{
			Overrides: map[string]interface{}{"num_labels": 1, "loss_type": "regression"}, FreshMismatchedHeads: true})
		if err != nil {
			t.Fatalf("%v\n%s", err, rep)
		}
		if m.Config.ClassifierPooler || len(rep.Fresh) != 6 || !strings.HasPrefix(rep.Fresh[0], "classifier.") {
			t.Errorf("pooler %v, fresh %v: want HF's classifier (6 tensors) fresh", m.Config.ClassifierPooler, rep.Fresh)
		}
	})
}

func logitsCheck(expected map[string]*tensor.Dense, key string) func(*testing.T, *layers.Model) {
	return func(t *testing.T, m *layers.Model) {
		t.Helper()
		out := runForward(t, m, goldenBatch(t), layers.Options{})
		closeTo(t, out, map[string]*tensor.Dense{"logits": expected[key]}, "logits")
	}
}

func mustJSON(t *testing.T, v interface{}) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
