package hf_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/checkpoints/hf"
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/internal/golden"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// refPython is the interpreter with Debian's torch and numpy
// (apt python3-torch python3-numpy).
const refPython = "/usr/bin/python3"

// refAtol bounds |Go − HF| on every output: Go runs in float64, HF in
// float32 on O(1) values, so HF's float32 rounding (~1e-6) dominates.
const refAtol = 1e-5

// refSmall are the TvltConfig arguments every case shares: 24×24 images in
// 8×8 patches (9 per frame, 2 frames), a 32×32 spectrogram in 4×8 patches
// (8 time × 4 frequency patches), hidden 32, 2 layers, decoder 16.
var refSmall = map[string]interface{}{
	"image_size": 24, "image_patch_size": []int{8, 8}, "num_frames": 2,
	"spectrogram_length": 32, "frequency_length": 32, "audio_patch_size": []int{4, 8},
	"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
	"decoder_hidden_size": 16, "decoder_num_hidden_layers": 1, "decoder_num_attention_heads": 2,
	"decoder_intermediate_size": 32,
}

// refCase is one kind of export: the HF class, its TvltConfig arguments
// beyond refSmall, and whether the export stores F16.
type refCase struct {
	name   string
	kind   layers.Kind
	kwargs map[string]interface{}
	f16    bool
}

var refCases = []refCase{
	{name: "model", kind: layers.Base},
	{name: "pretraining", kind: layers.Pretraining},
	{name: "pretraining_patch_level", kind: layers.Pretraining, kwargs: map[string]interface{}{"audio_mask_type": "patch_level"}},
	{name: "pretraining_mean_pooling", kind: layers.Pretraining, kwargs: map[string]interface{}{"use_mean_pooling": true}},
	{name: "classification", kind: layers.Classification, kwargs: map[string]interface{}{"num_labels": 3, "loss_type": "classification"}},
	{name: "classification_mean_pooling", kind: layers.Classification, kwargs: map[string]interface{}{"num_labels": 3, "use_mean_pooling": true}},
	{name: "regression", kind: layers.Classification, kwargs: map[string]interface{}{"num_labels": 1, "loss_type": "regression"}},
	{name: "classification_f16", kind: layers.Classification, kwargs: map[string]interface{}{"num_labels": 3}, f16: true},
}

// args are the case's TvltConfig keyword arguments.
func (c refCase) args() map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range refSmall {
		out[k] = v
	}
	for k, v := range c.kwargs {
		out[k] = v
	}
	return out
}

// config is the case's config as tvlt-go reads the same arguments.
func (c refCase) config(t *testing.T) config.Config {
	t.Helper()
	b, err := json.Marshal(c.args())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return cfg
}

// TestHFReferenceAcceptsExports checks every kind of export against HF's own
// TVLT code (../shared/reference, run by Debian's torch), both ways: each
// tvlt-go export loads into the matching HF class with
// load_state_dict(strict=True) from TvltConfig(**config.json) and gives
// Go's outputs, and each HF model saved as save_pretrained would (config.json
// from TvltConfig.to_dict, model.safetensors) loads into tvlt-go strictly
// and gives HF's outputs. Pretraining replays the masks HF drew.
func TestHFReferenceAcceptsExports(t *testing.T) {
	if out, err := exec.Command(refPython, "-c", "import torch, numpy").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import torch and numpy (%v: %s); CI installs python3-torch python3-numpy", refPython, err, out)
	}
	root, err := golden.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(root, "..", "shared", "reference")
	if _, err := os.Stat(filepath.Join(ref, "hftvlt")); err != nil {
		t.Fatalf("HF's reference code: %v (the tests expect ../shared/reference beside the repository)", err)
	}
	work := t.TempDir()
	in := refInputs(t, work)

	var cases []map[string]interface{}
	for i, c := range refCases {
		seed := 100 + i
		cases = append(cases, map[string]interface{}{"name": c.name, "class": c.kind.String(), "seed": seed, "kwargs": c.args()})
		m, err := layers.New(c.kind, c.config(t), tensor.Float64, graph.InitOptions{Seed: uint64(seed)})
		if err != nil {
			t.Fatal(err)
		}
		refPerturb(m, uint64(seed))
		var opts []hf.SaveOption
		if c.f16 {
			opts = append(opts, hf.F16())
		}
		if err := hf.Save(filepath.Join(work, "go", c.name), m, opts...); err != nil {
			t.Fatal(err)
		}
	}
	refWriteJSON(t, filepath.Join(work, "cases.json"), map[string]interface{}{"cases": cases})

	cmd := exec.Command(refPython, filepath.Join("testdata", "hf_reference.py"), ref, work)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("HF reference: %v\n%s", err, out)
	}
	var report map[string]struct {
		GoTensors         int      `json:"go_tensors"`
		GoDtypes          []string `json:"go_dtypes"`
		GoAudioMaskType   string   `json:"go_audio_mask_type"`
		PyTensors         int      `json:"py_tensors"`
		PatchLevelForward string   `json:"patch_level_forward"`
	}
	buf, err := os.ReadFile(filepath.Join(work, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf, &report); err != nil {
		t.Fatal(err)
	}

	var worstGo, worstPy float64
	for _, c := range refCases {
		t.Run(c.name, func(t *testing.T) {
			rep := report[c.name]
			want := c.config(t)
			shapes, err := layers.ParamShapes(c.kind, want)
			if err != nil {
				t.Fatal(err)
			}
			wantDtype := "F32"
			if c.f16 {
				wantDtype = "F16"
			}
			if rep.GoTensors != len(shapes) || strings.Join(rep.GoDtypes, ",") != wantDtype {
				t.Errorf("HF loaded %d tensors of %v from the export, want %d of %s", rep.GoTensors, rep.GoDtypes, len(shapes), wantDtype)
			}
			if want.AudioMaskType == "patch-level" {
				// The export says "patch_level" (what TvltConfig accepts);
				// HF's own forward then fails, as the README documents.
				if rep.GoAudioMaskType != "patch_level" || !strings.Contains(rep.PatchLevelForward, "UnboundLocalError") {
					t.Errorf("exported audio_mask_type %q, HF's forward with it: %q; want \"patch_level\" and HF's UnboundLocalError",
						rep.GoAudioMaskType, rep.PatchLevelForward)
				}
			}

			// tvlt-go → HF: Go reruns its own export (the stored float32 or
			// float16 weights) in float64.
			gm, _, err := hf.Load(filepath.Join(work, "go", c.name), c.kind, hf.LoadOptions{Strict: true, Dtype: tensor.Float64})
			if err != nil {
				t.Fatal(err)
			}
			worstGo = math.Max(worstGo, refCompare(t, "go->hf", gm, in, filepath.Join(work, "out", c.name+".go.npz")))

			// HF → tvlt-go: the folder HF's side saved, config and all.
			pm, prep, err := hf.Load(filepath.Join(work, "py", c.name), hf.FromConfig, hf.LoadOptions{Strict: true, Dtype: tensor.Float64})
			if err != nil {
				t.Fatalf("import HF's save: %v\n%s", err, prep)
			}
			if pm.Kind != c.kind || len(prep.Loaded) != rep.PyTensors || rep.PyTensors != len(shapes) {
				t.Errorf("HF's save imported as %v with %d tensors (HF saved %d); want %v, %d", pm.Kind, len(prep.Loaded), rep.PyTensors, c.kind, len(shapes))
			}
			got := pm.Config
			got.Extra, got.Architectures = nil, nil
			gb, _ := got.Bytes()
			wb, _ := want.Bytes()
			if string(gb) != string(wb) {
				t.Errorf("HF's config.json reads as\n%s\nwant\n%s", gb, wb)
			}
			worstPy = math.Max(worstPy, refCompare(t, "hf->go", pm, in, filepath.Join(work, "out", c.name+".py.npz")))
		})
	}
	t.Logf("max |Go - HF|: %.3g on tvlt-go's exports, %.3g on HF's saves (tolerance %g)", worstGo, worstPy, refAtol)
}

// refInputs writes inputs.npz (float32, as HF reads it) and returns the same
// values as float64 tensors for Go: two clips, the second padded (one real
// frame of two, 20 real spectrogram rows of 32), a mixed video whose second
// clip is a mismatch, and labels for every head.
func refInputs(t *testing.T, work string) map[string]*tensor.Dense {
	t.Helper()
	rng := rand.New(rand.NewPCG(14, 1))
	uniform := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.Float64()*2 - 1)
		}
		return v
	}
	const b, frames, np, ta, fp = 2, 2, 9, 8, 4
	frame := 3 * 24 * 24
	pixels := uniform(b * frames * frame)
	clear(pixels[(frames+1)*frame:]) // clip 1, frame 1 is padding
	pmask := ones(b * frames * np)
	clear(pmask[(frames+1)*np:])
	audio := uniform(b * 32 * 32)
	clear(audio[32*32+20*32:]) // clip 1: rows 20.. are padding
	amask := ones(b * ta * fp)
	clear(amask[ta*fp+5*fp:])
	mixed := append(append([]float32(nil), pixels[:frames*frame]...), uniform(frames*frame)...)
	f32 := map[string]*tensor.Dense{
		"pixel_values":       tensor.New(tensor.WithShape(b, frames, 3, 24, 24), tensor.WithBacking(pixels)),
		"pixel_mask":         tensor.New(tensor.WithShape(b, frames*np), tensor.WithBacking(pmask)),
		"audio_values":       tensor.New(tensor.WithShape(b, 1, 32, 32), tensor.WithBacking(audio)),
		"audio_mask":         tensor.New(tensor.WithShape(b, ta*fp), tensor.WithBacking(amask)),
		"pixel_values_mixed": tensor.New(tensor.WithShape(b, frames, 3, 24, 24), tensor.WithBacking(mixed)),
		"pixel_mask_mixed":   tensor.New(tensor.WithShape(b, frames*np), tensor.WithBacking(ones(b*frames*np))),
		"matching_labels":    tensor.New(tensor.WithShape(b, 1), tensor.WithBacking([]float32{1, 0})),
		"regression_labels":  tensor.New(tensor.WithShape(b, 1), tensor.WithBacking([]float32{0.7, -1.3})),
	}
	out := map[string]*tensor.Dense{"classification_labels": tensor.New(tensor.WithShape(b), tensor.WithBacking([]int64{2, 0}))}
	files := map[string]*tensor.Dense{"classification_labels": out["classification_labels"]}
	for k, v := range f32 {
		files[k] = v
		out[k] = tensor.New(tensor.WithShape(v.Shape().Clone()...), tensor.WithBacking(graph.Float64s(v)))
	}
	if err := checkpoints.WriteNPZ(filepath.Join(work, "inputs.npz"), files); err != nil {
		t.Fatal(err)
	}
	return out
}

func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// refPerturb shifts every parameter by N(0, 0.05): HF's init leaves biases
// at 0, LayerNorms at 1/0 and embeddings at 0, which would hide a swapped or
// dropped tensor.
func refPerturb(m *layers.Model, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	for _, name := range m.Params.Names() {
		for i, v := range m.Params.Value(name).Data().([]float64) {
			m.Params.Value(name).Data().([]float64)[i] = v + 0.05*rng.NormFloat64()
		}
	}
}

func refWriteJSON(t *testing.T, path string, v interface{}) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// refCompare runs m on the inputs (replaying the permutations HF recorded
// for pretraining) and compares every output HF wrote; it returns the
// largest difference.
func refCompare(t *testing.T, dir string, m *layers.Model, in map[string]*tensor.Dense, path string) float64 {
	t.Helper()
	want, err := checkpoints.ReadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	b := &layers.Batch{PixelValues: in["pixel_values"], PixelMask: in["pixel_mask"], AudioValues: in["audio_values"], AudioMask: in["audio_mask"]}
	switch {
	case m.Kind == layers.Pretraining:
		b.PixelValuesMixed, b.PixelMaskMixed, b.MatchingLabels = in["pixel_values_mixed"], in["pixel_mask_mixed"], in["matching_labels"]
		b.PixelIDsShuffle, b.AudioIDsShuffle = want["pixel_ids_shuffle"], want["audio_ids_shuffle"]
		b.PixelLenKeep = int(graph.Float64s(want["pixel_len_keep"])[0])
		b.AudioLenKeep = int(graph.Float64s(want["audio_len_keep"])[0])
		// HF's keep counts are random_masking's; Go derives the same ones.
		c := m.Config
		if lp, la := b.PixelIDsShuffle.Shape()[1], b.AudioIDsShuffle.Shape()[1]; c.PixelLenKeep(lp) != b.PixelLenKeep || c.AudioLenKeep(la) != b.AudioLenKeep {
			t.Errorf("%s: HF kept %d of %d pixel and %d of %d audio tokens; config says %d and %d",
				dir, b.PixelLenKeep, lp, b.AudioLenKeep, la, c.PixelLenKeep(lp), c.AudioLenKeep(la))
		}
	case m.Kind == layers.Classification && m.Config.LossType == config.LossRegression:
		b.Labels = in["regression_labels"]
	case m.Kind == layers.Classification:
		b.Labels = in["classification_labels"]
	}
	p, err := m.Compile(b, layers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(b)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for _, key := range sortedKeys(want) {
		if strings.HasSuffix(key, "_ids_shuffle") || strings.HasSuffix(key, "_len_keep") {
			continue // inputs of the replay
		}
		got, ok := res.Outputs[key]
		if !ok {
			t.Errorf("%s: %s: HF's output not produced by Go", dir, key)
			continue
		}
		g, w := graph.Float64s(got), graph.Float64s(want[key])
		atol := refAtol
		if strings.HasSuffix(key, "_label_masks") {
			atol = 0 // which tokens were removed: exact
		}
		if msg := golden.Close(g, w, got.Shape(), want[key].Shape(), atol, 0); msg != "" {
			t.Errorf("%s: %s: %s", dir, key, msg)
			continue
		}
		for i := range g {
			worst = math.Max(worst, math.Abs(g[i]-w[i]))
		}
	}
	return worst
}
