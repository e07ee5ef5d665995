package original

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// withPooler adds a drawn original pooler to an HF classification state
// dict and switches the config to the original's head.
func withPooler(cfg config.Config, w map[string]*tensor.Dense) (config.Config, map[string]*tensor.Dense) {
	out := map[string]*tensor.Dense{}
	for k, v := range w {
		out[k] = v
	}
	d := cfg.HiddenSize
	wt, b := make([]float32, d*d), make([]float32, d)
	for i := range wt {
		wt[i] = float32(0.2 * math.Sin(float64(3*i+1)))
	}
	for i := range b {
		b[i] = float32(0.1 * math.Cos(float64(5*i+2)))
	}
	out["classifier.pooler.dense.weight"] = tensor.New(tensor.WithShape(d, d), tensor.WithBacking(wt))
	out["classifier.pooler.dense.bias"] = tensor.New(tensor.WithShape(d), tensor.WithBacking(b))
	cfg.ClassifierPooler, cfg.ClassifierLayerNormEps = true, ClassifierEps
	return cfg, out
}

type hfCase struct {
	name string
	kind layers.Kind
	cfg  config.Config
	w    map[string]*tensor.Dense
}

// hfCases are the golden HF models in every form the original has.
func hfCases(t *testing.T) []hfCase {
	pcfg, pw := goldenHF(t, "config.json", "weights.safetensors", false)
	bcfg, bw := goldenHF(t, "config.json", "weights.safetensors", true)
	rcfg, rw := goldenHF(t, "config_regression.json", "weights_regression.safetensors", false)
	rcfg, rw = withPooler(rcfg, rw)
	vcfg, vw := goldenHF(t, "config_classification.json", "weights_classification.safetensors", false)
	vcfg, vw = withPooler(vcfg, vw)
	vcfg.LossType = config.LossVQA
	return []hfCase{
		{"pretraining", layers.Pretraining, pcfg, pw},
		{"base", layers.Base, bcfg, bw},
		{"mosei-regression", layers.Classification, rcfg, rw},
		{"vqa", layers.Classification, vcfg, vw},
	}
}

// TestRoundTripIdentity: FromHF then ToHF (with HyperParameters as the
// Lightning hyper-parameters) gives back every golden tensor bit for bit
// and a config equal to the golden one in every field the class uses.
func TestRoundTripIdentity(t *testing.T) {
	for _, c := range hfCases(t) {
		t.Run(c.name, func(t *testing.T) {
			orig, err := FromHF(c.cfg, c.w)
			if err != nil {
				t.Fatal(err)
			}
			d, w := c.cfg.HiddenSize, c.cfg.NumHiddenLayers
			for n, want := range map[string][]int{
				"cls_token":                {1, 1, d},
				"temporal_embed":           {1, max(MaxFrames, c.cfg.NumFrames), d},
				"pos_embed_a":              {1, max(MaxAudioPatches, c.cfg.MaxTimePatches()), d},
				"blocks.0.attn.qkv.weight": {3 * d, d},
				"blocks.0.attn.qkv.bias":   {3 * d},
			} {
				if got := shapeOf(orig[n]); !equalShape(got, want) {
					t.Errorf("%s: shape %v, want %v", n, got, want)
				}
			}
			if n := w - 1; orig["blocks."+itoa(n)+".norm1.weight"] == nil || orig["blocks."+itoa(n+1)+".norm1.weight"] != nil {
				t.Errorf("want blocks 0..%d", n)
			}
			hp, err := HyperParameters(c.cfg, c.kind)
			if err != nil {
				t.Fatal(err)
			}
			// As a Lightning checkpoint: the module prefix, a metric state.
			ckpt := map[string]*tensor.Dense{"val_mosei_loss.total": tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{3}))}
			for k, v := range orig {
				ckpt[LightningPrefix+k] = v
			}
			cfg, back, err := ToHF(ckpt, map[string]interface{}{"config": hp, "model_type": "transformer"})
			if err != nil {
				t.Fatal(err)
			}
			sameTensors(t, "ToHF(FromHF(golden))", back, c.w)
			sameConfig(t, cfg, c.cfg, c.kind)
		})
	}
}

// sameConfig compares the config.json fields a class uses.
func sameConfig(t *testing.T, got, want config.Config, kind layers.Kind) {
	t.Helper()
	g, w := configFields(t, got), configFields(t, want)
	for k := range w {
		skip := k == "id2label" || k == "label2id" || k == "architectures"
		if kind != layers.Pretraining {
			skip = skip || strings.HasPrefix(k, "decoder_") || strings.HasPrefix(k, "task_") || strings.Contains(k, "mask_")
		}
		if kind != layers.Classification {
			skip = skip || k == "num_labels" || k == "loss_type"
		}
		if !skip && !reflect.DeepEqual(g[k], w[k]) {
			t.Errorf("config %s = %v, want %v", k, g[k], w[k])
		}
	}
	if len(got.Architectures) != 1 || got.Architectures[0] != kind.String() {
		t.Errorf("architectures %v, want [%s]", got.Architectures, kind)
	}
}

func configFields(t *testing.T, c config.Config) map[string]interface{} {
	t.Helper()
	buf, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(buf, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestPythonTwin: the fixture generator's inverse mapping is FromHF's:
// each python-written original state dict survives ToHF then FromHF bit
// for bit, and the golden pretraining weights through FromHF equal the
// python file tensor for tensor.
func TestPythonTwin(t *testing.T) {
	for _, name := range []string{"pretraining", "encoder", "mosei", "moseiemo", "vqa"} {
		t.Run(name, func(t *testing.T) {
			ckpt, hp := fixture(t, name)
			cfg, hf := convertFixture(t, name, ckpt, hp)
			orig, err := FromHF(cfg, hf)
			if err != nil {
				t.Fatal(err)
			}
			plain, _, errs := normalize(ckpt)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			sameTensors(t, "FromHF(ToHF(python))", orig, plain)
		})
	}
	pcfg, pw := goldenHF(t, "config.json", "weights.safetensors", false)
	orig, err := FromHF(pcfg, pw)
	if err != nil {
		t.Fatal(err)
	}
	ckpt, _ := fixture(t, "pretraining")
	plain, _, _ := normalize(ckpt)
	sameTensors(t, "FromHF(golden) vs python", orig, plain)
}

// hubConfig is the config a user gives with a published-style fixture
// (no hyper-parameters, so head counts are not in the file).
func hubConfig(t *testing.T, name string) config.Config {
	t.Helper()
	switch name {
	case "encoder":
		cfg, _ := goldenHF(t, "config.json", "weights.safetensors", true)
		cfg.Architectures = nil
		return cfg
	case "moseiemo":
		cfg, w := goldenHF(t, "config_classification.json", "weights_classification.safetensors", false)
		cfg, _ = withPooler(cfg, w)
		cfg.NumLabels, cfg.LossType, cfg.ID2Label = len(Emotions), config.LossMultilabel, nil
		return cfg
	}
	t.Fatalf("no hub config for %s", name)
	return config.Config{}
}

// convertFixture is ToHF, or Convert with hubConfig for a fixture without
// hyper-parameters.
func convertFixture(t *testing.T, name string, ckpt map[string]*tensor.Dense, hp map[string]interface{}) (config.Config, map[string]*tensor.Dense) {
	t.Helper()
	if hp == nil {
		cfg := hubConfig(t, name)
		hf, _, err := Convert(cfg, ckpt)
		if err != nil {
			t.Fatal(err)
		}
		return cfg, hf
	}
	cfg, hf, err := ToHF(ckpt, hp)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, hf
}

// TestCkptMatchesNPZ: the .ckpt files torch.Read parses hold what the
// generator's numpy twins hold, and ToHF converts both alike: the
// Lightning wrapper (prefix, optimizer state, hyper-parameters as int64
// and nested dicts) and the published bare state dict.
func TestCkptMatchesNPZ(t *testing.T) {
	for _, name := range []string{"pretraining", "encoder", "mosei", "moseiemo", "vqa"} {
		t.Run(name, func(t *testing.T) {
			ck, ckHP := fixture(t, name)
			np, npHP := fixtureNPZ(t, name)
			sameTensors(t, name+".ckpt vs .npz", ck, np)
			if (ckHP == nil) != (npHP == nil) {
				t.Fatalf("hyper-parameters in the .ckpt: %v, in the json: %v", ckHP != nil, npHP != nil)
			}
			if ckHP == nil {
				return
			}
			a, _ := convertFixture(t, name, ck, ckHP)
			b, _ := convertFixture(t, name, np, npHP)
			if !reflect.DeepEqual(configFields(t, a), configFields(t, b)) {
				t.Errorf("configs differ:\n%v\n%v", configFields(t, a), configFields(t, b))
			}
		})
	}
}

// TestConvertFor: a loader's conversion cuts the tables to the model's
// config but keeps the checkpoint's heads, so that head differences are
// the loader's to judge; without derivable heads the config is used as is.
func TestConvertFor(t *testing.T) {
	ckpt, hp := fixtureNPZ(t, "mosei")
	cfg, _ := convertFixture(t, "mosei", ckpt, hp)
	model := cfg
	model.NumLabels, model.ClassifierPooler, model.NumFrames, model.ID2Label = 3, false, 1, nil
	hf, kind, err := ConvertFor(model, ckpt, hp)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.HiddenSize
	for n, want := range map[string][]int{
		"tvlt.pixel_embeddings.temporal_embed": {1, 1, d},
		"classifier.3.weight":                  {1, 2 * d},
		"classifier.pooler.dense.weight":       {d, d},
	} {
		if got := shapeOf(hf[n]); kind != layers.Classification || !equalShape(got, want) {
			t.Errorf("%s %s: shape %v, want %v", kind, n, got, want)
		}
	}
	emo, _ := fixtureNPZ(t, "moseiemo")
	wrong := hubConfig(t, "moseiemo")
	wrong.NumLabels = 2
	if _, _, err := ConvertFor(wrong, emo, nil); err == nil || !strings.Contains(err.Error(), "classifier.3.weight") {
		t.Errorf("no hyper-parameters, a config with 2 labels for 6 outputs: got %v, want classifier.3.weight named", err)
	}
}
