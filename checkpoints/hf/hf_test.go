package hf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
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

// goldenFiles returns the golden pretraining weights and their config.
func goldenFiles(t *testing.T) (weights, config string) {
	dir := golden.Dir(t)
	return filepath.Join(dir, "weights.safetensors"), filepath.Join(dir, "config.json")
}

// rawTensors reads every tensor's stored bytes and header entry.
func rawTensors(t *testing.T, path string) (map[string][]byte, map[string]checkpoints.TensorInfo) {
	t.Helper()
	f, err := checkpoints.OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw := map[string][]byte{}
	info := map[string]checkpoints.TensorInfo{}
	for _, ti := range f.Tensors() {
		b, err := f.RawBytes(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		raw[ti.Name] = b
		info[ti.Name] = ti
	}
	return raw, info
}

func sortedKeys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// importGolden loads the golden pretraining weights as an import would.
func importGolden(t *testing.T, kind layers.Kind, opts hf.LoadOptions) (*layers.Model, *hf.Report) {
	t.Helper()
	w, c := goldenFiles(t)
	opts.Config = c
	m, rep, err := hf.Load(w, kind, opts)
	if err != nil {
		t.Fatalf("load golden as %v: %v\n%s", kind, err, rep)
	}
	return m, rep
}

func TestGoldenImportExportByteIdentical(t *testing.T) {
	w, _ := goldenFiles(t)
	_, wantTensors, wantParams := goldenExpect(t, golden.Dir(t), "config.json", layers.Pretraining)
	m, rep := importGolden(t, hf.FromConfig, hf.LoadOptions{Strict: true})
	if m.Kind != layers.Pretraining || len(rep.Loaded) != wantTensors || len(rep.Fresh) != 0 || len(rep.Ignored) != 0 {
		t.Fatalf("import: kind %v, %d loaded, %d fresh, %d ignored; want TvltForPreTraining, %d, 0, 0", m.Kind, len(rep.Loaded), len(rep.Fresh), len(rep.Ignored), wantTensors)
	}
	run := filepath.Join(t.TempDir(), "run")
	if err := hf.Save(run, m); err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.VerifyFolder(run); err != nil {
		t.Fatal(err)
	}
	// export: the run folder back to an HF folder
	m2, _, err := hf.Load(run, hf.FromConfig, hf.LoadOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export")
	if err := hf.Save(out, m2); err != nil {
		t.Fatal(err)
	}
	wantRaw, wantInfo := rawTensors(t, w)
	gotRaw, gotInfo := rawTensors(t, filepath.Join(out, hf.WeightsFile))
	if !reflect.DeepEqual(sortedKeys(gotRaw), sortedKeys(wantRaw)) {
		t.Fatalf("exported names differ:\n got %v\nwant %v", sortedKeys(gotRaw), sortedKeys(wantRaw))
	}
	nbytes := 0
	for name, want := range wantRaw {
		gi, wi := gotInfo[name], wantInfo[name]
		if gi.Dtype != wi.Dtype || !reflect.DeepEqual(gi.Shape, wi.Shape) {
			t.Errorf("%s: %s %v, want %s %v", name, gi.Dtype, gi.Shape, wi.Dtype, wi.Shape)
		}
		if !bytes.Equal(gotRaw[name], want) {
			t.Errorf("%s: stored bytes differ from the golden file", name)
		}
		nbytes += len(want)
	}
	if nbytes != wantParams*4 {
		t.Errorf("compared %d bytes, want %d (%d float32 parameters, from config.json)", nbytes, wantParams*4, wantParams)
	}
	f, err := checkpoints.OpenSafetensors(filepath.Join(out, hf.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata()["format"] != "pt" {
		t.Errorf("metadata %v lacks format=pt, which transformers requires", f.Metadata())
	}
	// The config survives both hops with every value.
	want, err := config.Read(filepath.Join(golden.Dir(t), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.Read(filepath.Join(out, hf.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	wb, _ := want.Bytes()
	gb, _ := got.Bytes()
	if !bytes.Equal(wb, gb) {
		t.Errorf("exported config differs:\n%s\nwant\n%s", gb, wb)
	}
}

func TestExportNPZ(t *testing.T) {
	w, _ := goldenFiles(t)
	m, _ := importGolden(t, hf.FromConfig, hf.LoadOptions{})
	p := filepath.Join(t.TempDir(), "weights.npz")
	if err := hf.ExportNPZ(p, m); err != nil {
		t.Fatal(err)
	}
	arrays, err := checkpoints.ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := checkpoints.ReadSafetensors(w)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sortedKeys(arrays), sortedKeys(want)) {
		t.Fatalf("npz names differ:\n got %v\nwant %v", sortedKeys(arrays), sortedKeys(want))
	}
	for name, wt := range want {
		a := arrays[name]
		if a.Dtype() != tensor.Float32 || !reflect.DeepEqual([]int(a.Shape()), []int(wt.Shape())) {
			t.Errorf("%s: %v %v, want float32 %v", name, a.Dtype(), a.Shape(), wt.Shape())
			continue
		}
		if !reflect.DeepEqual(a.Data(), wt.Data()) {
			t.Errorf("%s: values differ", name)
		}
	}

	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skipf("skipping the numpy half: %s cannot import numpy (%v); install python3-numpy", py, err)
	}
	// numpy reads the archive; the reference bytes come straight from the
	// golden safetensors file, parsed independently of our reader.
	script := `
import json, struct, sys, numpy as np
z = np.load(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
header.pop("__metadata__", None)
bad = []
for name, h in header.items():
    a = z[name]
    b, e = h["data_offsets"]
    if a.dtype != np.float32 or list(a.shape) != h["shape"] or a.tobytes() != data[b:e]:
        bad.append(name)
print(json.dumps({"n": len(z.files), "ref": len(header), "bad": bad}))
`
	out, err := exec.Command(py, "-c", script, p, w).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	var res struct {
		N, Ref int
		Bad    []string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	_, wantN, _ := goldenExpect(t, golden.Dir(t), "config.json", layers.Pretraining)
	if res.N != wantN || res.Ref != wantN || len(res.Bad) != 0 {
		t.Fatalf("numpy: %d arrays, %d reference tensors, differing %v; want %d, %d, none", res.N, res.Ref, res.Bad, wantN, wantN)
	}
}

// names filters a kind's parameter names.
func names(t *testing.T, kind layers.Kind, keep func(string) bool) []string {
	t.Helper()
	cfg, err := config.Read(filepath.Join(golden.Dir(t), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	shapes, err := layers.ParamShapes(kind, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for n := range shapes {
		if keep(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// tensorNames lists a safetensors file's tensor names, sorted.
func tensorNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := checkpoints.OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	for _, ti := range f.Tensors() {
		out = append(out, ti.Name)
	}
	sort.Strings(out)
	return out
}

// splitEncoder splits sorted names into the tvlt.* ones and the rest.
func splitEncoder(ns []string) (encoder, rest []string) {
	for _, n := range ns {
		if enc(n) {
			encoder = append(encoder, n)
		} else {
			rest = append(rest, n)
		}
	}
	return encoder, rest
}

// setConfig reads one of the golden set's config files.
func setConfig(t *testing.T, name string) config.Config {
	t.Helper()
	cfg, err := config.Read(filepath.Join(golden.Dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// paramShapes is layers.ParamShapes for a config changed from the set's.
func paramShapes(t *testing.T, kind layers.Kind, cfg config.Config) map[string][]int {
	t.Helper()
	s, err := layers.ParamShapes(kind, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// misShaped is Load's mis-shaped error for a checkpoint of config from
// loaded into a model of config to: ": N mis-shaped: " and every tensor
// whose shape differs, by model name, with the checkpoint name and both
// shapes. It also returns the model names.
func misShaped(t *testing.T, kind layers.Kind, from, to config.Config, srcPrefix string) (string, []string) {
	t.Helper()
	have, want := paramShapes(t, kind, from), paramShapes(t, kind, to)
	var ns, entries []string
	for _, n := range sortedKeys(want) {
		h, ok := have[n]
		if !ok || reflect.DeepEqual(h, want[n]) {
			continue
		}
		src := n
		if kind == layers.Base && srcPrefix != "" {
			src = srcPrefix + n + " (as " + n + ")"
		}
		ns = append(ns, n)
		entries = append(entries, fmt.Sprintf("%s has %v, model expects %v", src, h, want[n]))
	}
	return fmt.Sprintf(": %d mis-shaped: %s", len(entries), strings.Join(entries, "; ")), ns
}

// withPrefix returns the sorted names starting with prefix.
func withPrefix(shapes map[string][]int, prefix string) []string {
	var out []string
	for _, n := range sortedKeys(shapes) {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

func all(string) bool            { return true }
func enc(n string) bool          { return strings.HasPrefix(n, "tvlt.") }
func notEnc(n string) bool       { return !strings.HasPrefix(n, "tvlt.") }
func isClassifier(n string) bool { return strings.HasPrefix(n, "classifier.") }

func TestCrossKindLoading(t *testing.T) {
	w, c := goldenFiles(t)
	src, _, err := checkpoints.ReadSafetensors(w)
	if err != nil {
		t.Fatal(err)
	}
	// A TvltModel checkpoint: the golden encoder without prefix.
	base := filepath.Join(t.TempDir(), "base")
	mb, _ := importGolden(t, layers.Base, hf.LoadOptions{})
	if err := hf.Save(base, mb); err != nil {
		t.Fatal(err)
	}
	// A classification checkpoint built from the golden encoder.
	cls := filepath.Join(t.TempDir(), "cls")
	mc, _ := importGolden(t, layers.Classification, hf.LoadOptions{Init: graph.InitOptions{Seed: 9}})
	if err := hf.Save(cls, mc); err != nil {
		t.Fatal(err)
	}
	strip := func(ns []string) []string {
		out := make([]string, len(ns))
		for i, n := range ns {
			out[i] = strings.TrimPrefix(n, "tvlt.")
		}
		return out
	}
	encNames := names(t, layers.Pretraining, enc) // the tvlt.* names
	pretrainHeads := names(t, layers.Pretraining, notEnc)
	classifier := names(t, layers.Classification, isClassifier)
	// The name sets, derived from the set's config, are exactly the
	// TvltModel's names under "tvlt.", the weights file's tvlt.* and other
	// tensors, and the classification model's names outside its encoder
	// (and the classification weights file's, when the set has one).
	dir := golden.Dir(t)
	baseShapes, _, _ := goldenExpect(t, dir, "config.json", layers.Base)
	var wantEnc []string
	for n := range baseShapes {
		wantEnc = append(wantEnc, "tvlt."+n)
	}
	sort.Strings(wantEnc)
	fileEnc, fileHeads := splitEncoder(sortedKeys(src))
	clsShapes, _, _ := goldenExpect(t, dir, "config.json", layers.Classification)
	var wantCls []string
	for n := range clsShapes {
		if _, ok := baseShapes[strings.TrimPrefix(n, "tvlt.")]; !ok || !enc(n) {
			wantCls = append(wantCls, n)
		}
	}
	sort.Strings(wantCls)
	if !reflect.DeepEqual(encNames, wantEnc) || !reflect.DeepEqual(encNames, fileEnc) ||
		!reflect.DeepEqual(pretrainHeads, fileHeads) || !reflect.DeepEqual(classifier, wantCls) {
		t.Fatalf("name sets: %d encoder %v, %d pretraining heads %v, %d classifier %v\nwant %d %v (file: %d %v), %d %v, %d %v",
			len(encNames), encNames, len(pretrainHeads), pretrainHeads, len(classifier), classifier,
			len(wantEnc), wantEnc, len(fileEnc), fileEnc, len(fileHeads), fileHeads, len(wantCls), wantCls)
	}
	if golden.Has(dir, "weights_classification.safetensors") {
		_, fileCls := splitEncoder(tensorNames(t, filepath.Join(dir, "weights_classification.safetensors")))
		if !reflect.DeepEqual(classifier, fileCls) {
			t.Fatalf("classifier names %v, weights_classification.safetensors holds %v", classifier, fileCls)
		}
	}
	cases := []struct {
		name    string
		from    string
		config  string
		kind    layers.Kind
		prefix  string // source prefix found
		loaded  []string
		fresh   []string
		ignored []string
	}{
		{"pretraining->base", w, c, layers.Base, "tvlt.", strip(encNames), nil, pretrainHeads},
		{"pretraining->classification", w, c, layers.Classification, "tvlt.", encNames, classifier, pretrainHeads},
		{"pretraining->pretraining", w, c, layers.Pretraining, "tvlt.", names(t, layers.Pretraining, all), nil, nil},
		{"base->pretraining", base, "", layers.Pretraining, "", encNames, pretrainHeads, nil},
		{"base->classification", base, "", layers.Classification, "", encNames, classifier, nil},
		{"classification->base", cls, "", layers.Base, "tvlt.", strip(encNames), nil, classifier},
		{"classification->pretraining", cls, "", layers.Pretraining, "tvlt.", encNames, pretrainHeads, classifier},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, rep, err := hf.Load(tc.from, tc.kind, hf.LoadOptions{Config: tc.config, Init: graph.InitOptions{Seed: 5}})
			if err != nil {
				t.Fatalf("%v\n%s", err, rep)
			}
			if m.Kind != tc.kind || rep.Kind != tc.kind || rep.SourcePrefix != tc.prefix {
				t.Fatalf("kind %v/%v prefix %q, want %v %q", m.Kind, rep.Kind, rep.SourcePrefix, tc.kind, tc.prefix)
			}
			for _, l := range []struct {
				what      string
				got, want []string
			}{{"loaded", rep.Loaded, tc.loaded}, {"fresh", rep.Fresh, tc.fresh}, {"ignored", rep.Ignored, tc.ignored}} {
				if len(l.got) != len(l.want) || (len(l.want) > 0 && !reflect.DeepEqual(l.got, l.want)) {
					t.Errorf("%s: %d names %v\nwant %d %v", l.what, len(l.got), l.got, len(l.want), l.want)
				}
			}
			// Loaded encoder tensors carry the golden values; fresh ones
			// are exactly what a seed-5 model of the kind starts with.
			fresh, err := layers.New(tc.kind, m.Config, tensor.Float32, graph.InitOptions{Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range rep.Loaded {
				if !strings.HasPrefix(n, "tvlt.") && tc.kind != layers.Base {
					continue
				}
				want := src["tvlt."+strings.TrimPrefix(n, "tvlt.")]
				if !reflect.DeepEqual(m.Params.Value(n).Data(), want.Data()) {
					t.Errorf("%s: loaded values differ from the golden encoder", n)
				}
			}
			for _, n := range rep.Fresh {
				if !reflect.DeepEqual(m.Params.Value(n).Data(), fresh.Params.Value(n).Data()) {
					t.Errorf("%s: fresh values are not the seeded initialisation", n)
				}
			}
			s := rep.String()
			wantHead := tc.kind.String() + ": " + itoa(len(tc.loaded)) + " loaded, " + itoa(len(tc.fresh)) + " initialised fresh, " + itoa(len(tc.ignored)) + " ignored"
			if !strings.Contains(s, wantHead) || strings.Count(s, "\n") != 1+len(tc.fresh)+len(tc.ignored) {
				t.Errorf("report text:\n%s\nwant summary %q and one line per fresh/ignored name", s, wantHead)
			}
		})
	}
	// The classifier saved above came back unchanged (heads by full name).
	m, _, err := hf.Load(cls, layers.Classification, hf.LoadOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range classifier {
		if !reflect.DeepEqual(m.Params.Value(n).Data(), mc.Params.Value(n).Data()) {
			t.Errorf("%s: classifier not restored", n)
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestStrictRefusesFreshAndIgnored(t *testing.T) {
	w, c := goldenFiles(t)
	// Fresh: the classifier the config gives a classification model;
	// ignored: the weights file's tensors outside the encoder.
	fresh := names(t, layers.Classification, isClassifier)
	_, ignored := splitEncoder(tensorNames(t, w))
	if len(fresh) == 0 || len(ignored) == 0 {
		t.Fatalf("%d classifier names, %d pretraining head tensors in %s; want some of each", len(fresh), len(ignored), w)
	}
	wantFresh := fmt.Sprintf("strict: %d tensors would be initialised fresh: %s", len(fresh), strings.Join(fresh, ", "))
	wantIgnored := fmt.Sprintf("strict: %d checkpoint tensors would be ignored: %s", len(ignored), strings.Join(ignored, ", "))
	_, _, err := hf.Load(w, layers.Classification, hf.LoadOptions{Config: c, Strict: true})
	if err == nil || !strings.Contains(err.Error(), wantFresh) || !strings.Contains(err.Error(), wantIgnored) {
		t.Fatalf("strict load into another kind: %v\nwant %q and %q", err, wantFresh, wantIgnored)
	}
}

func TestCorruptedWeightsDetectedByChecksum(t *testing.T) {
	m, _ := importGolden(t, hf.FromConfig, hf.LoadOptions{})
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
		want   string
	}{
		{"bit flip in tensor data", func(b []byte) []byte { b[len(b)-5] ^= 0x10; return b }, "does not match"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }, "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ck")
			if err := hf.Save(dir, m); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, hf.WeightsFile)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, tc.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{dir, p} { // folder and bare file (config given)
				_, _, err = hf.Load(path, hf.FromConfig, hf.LoadOptions{Config: filepath.Join(dir, hf.ConfigFile)})
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), hf.WeightsFile) {
					t.Errorf("load %s: %v; want an error naming %s containing %q", path, err, hf.WeightsFile, tc.want)
				}
			}
		})
	}
	// A damaged config.json is caught too.
	dir := filepath.Join(t.TempDir(), "ck")
	if err := hf.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, hf.ConfigFile)
	b, _ := os.ReadFile(cp)
	frames := []byte(fmt.Sprintf(`"num_frames": %d`, m.Config.NumFrames))
	if !bytes.Contains(b, frames) {
		t.Fatalf("saved config.json lacks %s:\n%s", frames, b)
	}
	edited := []byte(fmt.Sprintf(`"num_frames": %d`, m.Config.NumFrames+1))
	if err := os.WriteFile(cp, bytes.Replace(b, frames, edited, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := hf.Load(dir, hf.FromConfig, hf.LoadOptions{}); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("edited config.json: %v, want a checksum error", err)
	}
}

func TestMisShapedAndMissingTensors(t *testing.T) {
	w, c := goldenFiles(t)
	dir := golden.Dir(t)
	clsW, clsC := filepath.Join(dir, "weights_classification.safetensors"), filepath.Join(dir, "config_classification.json")
	cfg := setConfig(t, "config.json")
	L := cfg.NumHiddenLayers

	// Another intermediate size: per layer, the intermediate weight and
	// bias and the output weight are mis-shaped, with the file's shapes.
	inter := cfg
	inter.IntermediateSize = cfg.IntermediateSize * 3 / 4
	if inter.IntermediateSize < 1 || inter.IntermediateSize == cfg.IntermediateSize {
		inter.IntermediateSize = cfg.IntermediateSize + 1
	}
	interWant, interNames := misShaped(t, layers.Pretraining, cfg, inter, "")
	var wantInterNames []string
	for l := 0; l < L; l++ {
		p := fmt.Sprintf("tvlt.encoder.layer.%d.", l)
		wantInterNames = append(wantInterNames, p+"intermediate.dense.bias", p+"intermediate.dense.weight", p+"output.dense.weight")
	}
	sort.Strings(wantInterNames)
	if !reflect.DeepEqual(interNames, wantInterNames) {
		t.Fatalf("intermediate_size %d -> %d changes %v, want the %d tensors %v", cfg.IntermediateSize, inter.IntermediateSize, interNames, 3*L, wantInterNames)
	}
	interSize := fmt.Sprintf("tvlt.encoder.layer.0.intermediate.dense.weight has %v, model expects %v",
		[]int{cfg.IntermediateSize, cfg.HiddenSize}, []int{inter.IntermediateSize, cfg.HiddenSize})
	outSize := fmt.Sprintf("tvlt.encoder.layer.%d.output.dense.weight has %v, model expects %v",
		L-1, []int{cfg.HiddenSize, cfg.IntermediateSize}, []int{cfg.HiddenSize, inter.IntermediateSize})

	// Another hidden size for a TvltModel read from the prefixed file.
	hidden := cfg
	hidden.HiddenSize = cfg.HiddenSize / 2
	if hidden.HiddenSize < 1 {
		hidden.HiddenSize = 2 * cfg.HiddenSize
	}
	hidden.NumAttentionHeads = 1
	for h := max(1, cfg.NumAttentionHeads/2); h >= 1; h-- {
		if hidden.HiddenSize%h == 0 {
			hidden.NumAttentionHeads = h
			break
		}
	}
	hiddenWant, _ := misShaped(t, layers.Base, cfg, hidden, "tvlt.")
	cls := fmt.Sprintf("tvlt.cls_embedding (as cls_embedding) has %v, model expects %v",
		[]int{1, 1, cfg.HiddenSize}, []int{1, 1, hidden.HiddenSize})

	// Fewer and more encoder layers: one layer's tensors too many or too few.
	fewer, more := cfg, cfg
	fewer.NumHiddenLayers, more.NumHiddenLayers = L-1, L+1
	fewerWant, fewerSkip := "", "the golden set's model has a single encoder layer"
	if L > 1 {
		fewerSkip = ""
		extra := withPrefix(paramShapes(t, layers.Pretraining, cfg), fmt.Sprintf("tvlt.encoder.layer.%d.", L-1))
		fewerWant = fmt.Sprintf("%d encoder tensors the model lacks (config and weights disagree): %s", len(extra), strings.Join(extra, ", "))
	}
	lacking := withPrefix(paramShapes(t, layers.Classification, more), fmt.Sprintf("tvlt.encoder.layer.%d.", L))
	moreWant := fmt.Sprintf("%d encoder tensors missing from the checkpoint: %s", len(lacking), strings.Join(lacking, ", "))
	perLayer := len(withPrefix(paramShapes(t, layers.Pretraining, cfg), "tvlt.encoder.layer.0."))
	if len(lacking) != perLayer || perLayer == 0 {
		t.Fatalf("a layer more adds %d tensors, want the %d of a layer", len(lacking), perLayer)
	}

	// Another num_labels for the classification checkpoint.
	hasCls := golden.Has(dir, "weights_classification.safetensors") && golden.Has(dir, "config_classification.json")
	var labelsWant []string
	var clsCfg config.Config
	newLabels := 0
	clsSkip := "the golden set lacks weights_classification.safetensors or config_classification.json"
	if hasCls {
		clsSkip = ""
		clsCfg = setConfig(t, "config_classification.json")
		newLabels = clsCfg.NumLabels + 2
		relabelled := clsCfg
		relabelled.NumLabels, relabelled.ID2Label = newLabels, nil
		_, ns := misShaped(t, layers.Classification, clsCfg, relabelled, "")
		if want := []string{"classifier.3.bias", "classifier.3.weight"}; !reflect.DeepEqual(ns, want) {
			t.Fatalf("num_labels %d -> %d changes %v, want %v", clsCfg.NumLabels, newLabels, ns, want)
		}
		head := paramShapes(t, layers.Classification, clsCfg)["classifier.3.weight"][1]
		labelsWant = []string{
			fmt.Sprintf("classifier.3.weight has %v, model expects %v", []int{clsCfg.NumLabels, head}, []int{newLabels, head}),
			fmt.Sprintf("classifier.3.bias has %v, model expects %v", []int{clsCfg.NumLabels}, []int{newLabels}),
		}
	}

	cases := []struct {
		name      string
		from      string
		config    string
		kind      layers.Kind
		overrides map[string]interface{}
		want      []string
		skip      string // why the set cannot run the case
	}{
		{"encoder intermediate size", w, c, layers.Pretraining, map[string]interface{}{"intermediate_size": inter.IntermediateSize},
			[]string{interWant, interSize, outSize}, ""},
		{"renamed encoder tensor", w, c, layers.Base, map[string]interface{}{"hidden_size": hidden.HiddenSize, "num_attention_heads": hidden.NumAttentionHeads},
			[]string{hiddenWant, cls}, ""},
		{"classifier with another num_labels", clsW, clsC, layers.Classification, map[string]interface{}{"num_labels": newLabels},
			labelsWant, clsSkip},
		{"fewer encoder layers", w, c, layers.Pretraining, map[string]interface{}{"num_hidden_layers": L - 1},
			[]string{fewerWant}, fewerSkip},
		{"more encoder layers", w, c, layers.Classification, map[string]interface{}{"num_hidden_layers": L + 1},
			[]string{moreWant}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			m, rep, err := hf.Load(tc.from, tc.kind, hf.LoadOptions{Config: tc.config, Overrides: tc.overrides})
			if err == nil || m != nil {
				t.Fatalf("loaded without error")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q\nlacks %q", err, s)
				}
			}
			if rep == nil {
				t.Errorf("no report with the error")
			}
		})
	}
	if hasCls {
		// Fresh mismatched heads: the classifier is re-initialised for
		// newLabels labels; every other tensor of the file is loaded.
		m, rep, err := hf.Load(clsW, layers.Classification, hf.LoadOptions{
			Config: clsC, Overrides: map[string]interface{}{"num_labels": newLabels, "loss_type": "regression"},
			FreshMismatchedHeads: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		wantFresh := []string{"classifier.3.bias", "classifier.3.weight"}
		wantLoaded := len(tensorNames(t, clsW)) - len(wantFresh)
		if !reflect.DeepEqual(rep.Fresh, wantFresh) || !reflect.DeepEqual(rep.Ignored, wantFresh) || len(rep.Loaded) != wantLoaded {
			t.Errorf("fresh %v ignored %v loaded %d; want %v twice and %d", rep.Fresh, rep.Ignored, len(rep.Loaded), wantFresh, wantLoaded)
		}
		if m.Config.NumLabels != newLabels || m.Config.LossType != "regression" || len(m.Config.ID2Label) != 0 {
			t.Errorf("overrides not in force: num_labels %d (want %d), loss %q, id2label %v", m.Config.NumLabels, newLabels, m.Config.LossType, m.Config.ID2Label)
		}
	} else {
		t.Log("skipping the fresh-mismatched-heads part: " + clsSkip)
	}
	// Mis-shaped encoder tensors are never re-initialised.
	_, _, err := hf.Load(w, layers.Pretraining, hf.LoadOptions{Config: c, Overrides: map[string]interface{}{"intermediate_size": inter.IntermediateSize}, FreshMismatchedHeads: true})
	if err == nil {
		t.Error("FreshMismatchedHeads re-initialised an encoder tensor")
	}
}

func TestMissingEncoderTensorInFile(t *testing.T) {
	w, c := goldenFiles(t)
	ts, meta, err := checkpoints.ReadSafetensors(w)
	if err != nil {
		t.Fatal(err)
	}
	// The final LayerNorm's bias, or, in a set whose config has none
	// (use_mean_pooling), the last encoder layer's closing LayerNorm bias.
	cfg := setConfig(t, "config.json")
	base := paramShapes(t, layers.Base, cfg)
	victim := "layernorm.bias"
	if _, ok := base[victim]; !ok {
		victim = fmt.Sprintf("encoder.layer.%d.layernorm_after.bias", cfg.NumHiddenLayers-1)
	}
	if _, ok := base[victim]; !ok {
		t.Fatalf("the config's TvltModel has no %s", victim)
	}
	if _, ok := ts["tvlt."+victim]; !ok {
		t.Fatalf("%s lacks tvlt.%s", w, victim)
	}
	delete(ts, "tvlt."+victim)
	p := filepath.Join(t.TempDir(), "partial.safetensors")
	if err := checkpoints.WriteSafetensors(p, ts, meta); err != nil {
		t.Fatal(err)
	}
	_, _, err = hf.Load(p, layers.Base, hf.LoadOptions{Config: c})
	if want := "1 encoder tensors missing from the checkpoint: " + victim; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error containing %q", err, want)
	}
}

// hubConfig writes the golden set's model the way ZinengTang/tvlt-base's
// config is written: pre-release keys (ignored by the class, kept and
// written back), decoder heads other than the set's (and the default's),
// eps 1e-12, one label, no TvltConfig sizes for the keys that were renamed
// (the set's other TvltConfig keys only where they differ from the
// defaults). It returns the JSON, the set's config and the decoder heads.
func hubConfig(t *testing.T) ([]byte, config.Config, int) {
	t.Helper()
	dir := golden.Dir(t)
	cfg := setConfig(t, "config.json")
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var set, def map[string]json.RawMessage
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	db, err := config.Default().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(db, &def); err != nil {
		t.Fatal(err)
	}
	sameJSON := func(a, b json.RawMessage) bool {
		var x, y interface{}
		return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
	}
	always := map[string]bool{"architectures": true, "model_type": true, "image_size": true, "spectrogram_length": true,
		"frequency_length": true, "image_patch_size": true, "audio_patch_size": true, "num_frames": true,
		"hidden_size": true, "num_hidden_layers": true, "num_attention_heads": true, "intermediate_size": true,
		"decoder_hidden_size": true, "decoder_num_hidden_layers": true, "decoder_intermediate_size": true, "use_mean_pooling": true}
	hub := map[string]interface{}{}
	for k, v := range set {
		switch {
		case k == "num_labels" || k == "id2label" || k == "label2id" || k == "layer_norm_eps" || k == "decoder_num_attention_heads":
		case always[k] || !sameJSON(v, def[k]):
			hub[k] = v
		}
	}
	heads := 0
	for _, d := range append(seq(2, cfg.DecoderHiddenSize), 1) { // head dims, smallest first but 1 last
		if h := cfg.DecoderHiddenSize / d; cfg.DecoderHiddenSize%d == 0 && h != cfg.DecoderNumAttentionHeads && h != config.Default().DecoderNumAttentionHeads {
			heads = h
			break
		}
	}
	if heads == 0 {
		t.Fatalf("no decoder head count for decoder_hidden_size %d other than the set's %d and the default's", cfg.DecoderHiddenSize, cfg.DecoderNumAttentionHeads)
	}
	for k, v := range map[string]interface{}{
		"audio_size": cfg.SpectrogramLength, "feature_size": cfg.FrequencyLength, "pixel_size": cfg.ImageSize[0],
		"pixel_patch_size": cfg.ImagePatchSize[0], "num_pixel_channels": cfg.NumImageChannels, "norm_pix_loss": true,
		"decoder_num_attention_heads": heads, "layer_norm_eps": 1e-12,
		"id2label": map[string]string{"0": "LABEL_0"}, "label2id": map[string]int{"LABEL_0": 0},
		"model_type": "tvlt", "transformers_version": "4.27.0.dev0",
	} {
		hub[k] = v
	}
	out, err := json.MarshalIndent(hub, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out, cfg, heads
}

// seq returns lo, lo+1, ..., hi.
func seq(lo, hi int) []int {
	var out []int
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

func TestHubStyleFolder(t *testing.T) {
	w, _ := goldenFiles(t)
	hub := filepath.Join(t.TempDir(), "tvlt-base")
	if err := os.Mkdir(hub, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(w)
	if err != nil {
		t.Fatal(err)
	}
	// A hub snapshot: no checksums.json, the weights as published.
	if err := os.WriteFile(filepath.Join(hub, hf.WeightsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	hubJSON, cfg, heads := hubConfig(t)
	if err := os.WriteFile(filepath.Join(hub, hf.ConfigFile), hubJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(where string, c config.Config) {
		t.Helper()
		if c.LayerNormEps != 1e-12 || c.DecoderNumAttentionHeads != heads || c.NumLabels != 1 || c.NumFrames != cfg.NumFrames || c.HiddenSize != cfg.HiddenSize {
			t.Errorf("%s: eps %g, decoder heads %d, labels %d, frames %d, hidden %d; want 1e-12, %d, 1, %d, %d",
				where, c.LayerNormEps, c.DecoderNumAttentionHeads, c.NumLabels, c.NumFrames, c.HiddenSize, heads, cfg.NumFrames, cfg.HiddenSize)
		}
	}
	m, rep, err := hf.Load(hub, hf.FromConfig, hf.LoadOptions{Strict: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, rep)
	}
	check("hub", m.Config)
	run := filepath.Join(t.TempDir(), "run")
	if err := hf.Save(run, m); err != nil {
		t.Fatal(err)
	}
	m2, _, err := hf.Load(run, hf.FromConfig, hf.LoadOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	check("re-imported", m2.Config)
	var back map[string]interface{}
	cb, _ := os.ReadFile(filepath.Join(run, hf.ConfigFile))
	if err := json.Unmarshal(cb, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"audio_size", "feature_size", "pixel_size", "pixel_patch_size", "num_pixel_channels", "norm_pix_loss", "transformers_version"} {
		if _, ok := back[k]; !ok {
			t.Errorf("hub key %s not written back", k)
		}
	}
	if back["layer_norm_eps"] != 1e-12 || back["decoder_num_attention_heads"] != float64(heads) {
		t.Errorf("written config: eps %v, decoder heads %v; want 1e-12, %d", back["layer_norm_eps"], back["decoder_num_attention_heads"], heads)
	}
	// Fine-tuning the hub encoder: labels and loss overridden at load.
	mc, rep, err := hf.Load(hub, layers.Classification, hf.LoadOptions{Overrides: map[string]interface{}{"num_labels": 3, "loss_type": "classification"}})
	if err != nil {
		t.Fatal(err)
	}
	// Fresh: the classifier the set's config gives a classification
	// model; ignored: the weights file's tensors outside the encoder.
	wantFresh := names(t, layers.Classification, isClassifier)
	_, wantIgnored := splitEncoder(tensorNames(t, w))
	if mc.Config.NumLabels != 3 || mc.Config.LayerNormEps != 1e-12 || len(rep.Fresh) != len(wantFresh) || len(rep.Ignored) != len(wantIgnored) ||
		!reflect.DeepEqual(rep.Fresh, wantFresh) || !reflect.DeepEqual(rep.Ignored, wantIgnored) {
		t.Errorf("classification from hub: labels %d eps %g, %d fresh %v, %d ignored %v; want 3, 1e-12, %d %v, %d %v",
			mc.Config.NumLabels, mc.Config.LayerNormEps, len(rep.Fresh), rep.Fresh, len(rep.Ignored), rep.Ignored,
			len(wantFresh), wantFresh, len(wantIgnored), wantIgnored)
	}
	three := cfg
	three.NumLabels, three.ID2Label = 3, nil
	wantShape := paramShapes(t, layers.Classification, three)["classifier.3.weight"]
	if wantShape[0] != 3 {
		t.Fatalf("config's classifier.3.weight for 3 labels is %v", wantShape)
	}
	if got := mc.Params.Value("classifier.3.weight").Shape(); !reflect.DeepEqual([]int(got), wantShape) {
		t.Errorf("classifier shape %v, want %v", got, wantShape)
	}
}

func TestExportSetsArchitectures(t *testing.T) {
	for _, kind := range []layers.Kind{layers.Base, layers.Pretraining, layers.Classification} {
		t.Run(kind.String(), func(t *testing.T) {
			m, _ := importGolden(t, kind, hf.LoadOptions{})
			dir := filepath.Join(t.TempDir(), "out")
			if err := hf.Save(dir, m, hf.F16()); err != nil {
				t.Fatal(err)
			}
			var cfg struct {
				Architectures []string `json:"architectures"`
				ModelType     string   `json:"model_type"`
			}
			b, _ := os.ReadFile(filepath.Join(dir, hf.ConfigFile))
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Architectures, []string{kind.String()}) || cfg.ModelType != "tvlt" {
				t.Errorf("architectures %v model_type %q, want [%s] tvlt", cfg.Architectures, cfg.ModelType, kind)
			}
			_, info := rawTensors(t, filepath.Join(dir, hf.WeightsFile))
			shapes, _ := layers.ParamShapes(kind, m.Config)
			if !reflect.DeepEqual(sortedKeys(info), sortedKeys(shapes)) {
				t.Errorf("names %v, want %v", sortedKeys(info), sortedKeys(shapes))
			}
			for n, ti := range info {
				if ti.Dtype != "F16" || !reflect.DeepEqual(ti.Shape, shapes[n]) {
					t.Errorf("%s: %s %v, want F16 %v", n, ti.Dtype, ti.Shape, shapes[n])
				}
			}
			// F16 loads back within half-precision rounding, by kind.
			back, _, err := hf.Load(dir, hf.FromConfig, hf.LoadOptions{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if back.Kind != kind {
				t.Errorf("reloaded as %v", back.Kind)
			}
			for _, n := range m.Params.Names() {
				a, b := m.Params.Value(n).Data().([]float32), back.Params.Value(n).Data().([]float32)
				for i := range a {
					if d := a[i] - b[i]; d > 1e-3*abs(a[i])+1e-7 || -d > 1e-3*abs(a[i])+1e-7 {
						t.Fatalf("%s[%d]: %g after F16, was %g", n, i, b[i], a[i])
					}
				}
			}
		})
	}
}

func abs(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

func TestSaveFloat64(t *testing.T) {
	m, _ := importGolden(t, hf.FromConfig, hf.LoadOptions{Dtype: tensor.Float64})
	if m.Params.Dtype() != tensor.Float64 {
		t.Fatalf("dtype %v", m.Params.Dtype())
	}
	w, _ := goldenFiles(t)
	src, _, _ := checkpoints.ReadSafetensors(w)
	for n, s := range src {
		a, b := m.Params.Value(n).Data().([]float64), s.Data().([]float32)
		for i := range a {
			if a[i] != float64(b[i]) {
				t.Fatalf("%s[%d] %v != %v", n, i, a[i], b[i])
			}
		}
	}
	dir := filepath.Join(t.TempDir(), "ck")
	if err := hf.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	sums, err := checkpoints.ReadChecksums(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(sums.Files); !reflect.DeepEqual(got, []string{"config.json", "model.safetensors"}) {
		t.Errorf("checksums list %v", got)
	}
	// The float64 model exports the same float32 bytes as the golden file.
	wantRaw, _ := rawTensors(t, w)
	gotRaw, _ := rawTensors(t, filepath.Join(dir, hf.WeightsFile))
	for n := range wantRaw {
		if !bytes.Equal(wantRaw[n], gotRaw[n]) {
			t.Errorf("%s: float64 model exported different bytes", n)
		}
	}
}

func TestShardedFolder(t *testing.T) {
	w, c := goldenFiles(t)
	ts, _, err := checkpoints.ReadSafetensors(w)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	shards := [2]map[string]*tensor.Dense{{}, {}}
	weightMap := map[string]string{}
	for n, v := range ts {
		i := 0
		if strings.HasPrefix(n, "tvlt.") {
			i = 1
		}
		shards[i][n] = v
		weightMap[n] = []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[i]
	}
	for i, s := range shards {
		if err := checkpoints.WriteSafetensors(filepath.Join(dir, []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[i]), s, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
	}
	_, wantTensors, wantParams := goldenExpect(t, golden.Dir(t), "config.json", layers.Pretraining)
	idx, _ := json.Marshal(map[string]interface{}{"metadata": map[string]int{"total_size": wantParams * 4}, "weight_map": weightMap})
	if err := os.WriteFile(filepath.Join(dir, hf.WeightsIndexFile), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	m, rep, err := hf.Load(dir, layers.Pretraining, hf.LoadOptions{Config: c, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Loaded) != wantTensors {
		t.Fatalf("%d loaded, want %d", len(rep.Loaded), wantTensors)
	}
	for n, v := range ts {
		if !reflect.DeepEqual(m.Params.Value(n).Data(), v.Data()) {
			t.Errorf("%s differs", n)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	w, c := goldenFiles(t)
	pickle := t.TempDir()
	if err := os.WriteFile(filepath.Join(pickle, hf.PickleFile), []byte("not read"), 0o644); err != nil {
		t.Fatal(err)
	}
	hubJSON, _, _ := hubConfig(t)
	if err := os.WriteFile(filepath.Join(pickle, hf.ConfigFile), hubJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		opts hf.LoadOptions
		want string
	}{
		{"bare file without config", w, hf.LoadOptions{}, "needs a config.json"},
		{"pickle folder", pickle, hf.LoadOptions{}, "not a PyTorch file"},
		{"pickle file", filepath.Join(pickle, hf.PickleFile), hf.LoadOptions{Config: c}, "not a PyTorch file"},
		{"missing", filepath.Join(pickle, "nope"), hf.LoadOptions{Config: c}, "no such file"},
		{"bad override", w, hf.LoadOptions{Config: c, Overrides: map[string]interface{}{"loss_type": "ranking"}}, `loss_type "ranking"`},
		{"int model", w, hf.LoadOptions{Config: c, Dtype: tensor.Int}, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := hf.Load(tc.path, hf.FromConfig, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestSaveRefusesToReplaceForeignFolder(t *testing.T) {
	m, _ := importGolden(t, hf.FromConfig, hf.LoadOptions{})
	root := t.TempDir()
	// A run folder: final weights plus logs and checkpoints.
	run := filepath.Join(root, "run")
	if err := os.MkdirAll(filepath.Join(run, "checkpoint-10"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "metrics.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := hf.Save(run, m); err == nil || !strings.Contains(err.Error(), "not a checkpoint folder") {
		t.Fatalf("replacing a run folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(run, "metrics.jsonl")); err != nil {
		t.Fatal("run folder damaged")
	}
	// A checkpoint folder with a stray file is not replaced either.
	ck := filepath.Join(root, "ck")
	if err := hf.Save(ck, m); err != nil {
		t.Fatal(err)
	}
	if err := hf.Save(ck, m); err != nil {
		t.Fatalf("re-saving a checkpoint folder: %v", err)
	}
	if err := os.WriteFile(filepath.Join(ck, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := hf.Save(ck, m); err == nil || !strings.Contains(err.Error(), "holds notes.txt") {
		t.Fatalf("replacing a folder with a stray file: %v", err)
	}
	// An empty folder is fine.
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := hf.Save(empty, m); err != nil {
		t.Fatal(err)
	}
}

func TestSaveRelativeName(t *testing.T) {
	m, _ := importGolden(t, hf.FromConfig, hf.LoadOptions{})
	t.Chdir(t.TempDir())
	if err := hf.Save("out", m); err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.VerifyFolder("out"); err != nil {
		t.Fatal(err)
	}
}
