package hf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// FromConfig asks Load for the kind named by the config's architectures
// (guessed from the tensor names when the config names none).
const FromConfig layers.Kind = -1

// LoadOptions tunes Load. The zero value loads a float32 model from a
// folder, with fresh heads initialised from seed 0.
type LoadOptions struct {
	// Config is a config.json to use instead of the folder's; required
	// for a bare weights file.
	Config string
	// Overrides replaces config.json keys before the model is built, with
	// JSON values, e.g. {"num_labels": 3, "loss_type": "classification"}.
	// Overriding num_labels without id2label drops the file's labels.
	Overrides map[string]interface{}
	// Dtype is the model's float type: tensor.Float32 (default) or Float64.
	Dtype tensor.Dtype
	// Init seeds the parameters the checkpoint does not provide.
	Init graph.InitOptions
	// Strict refuses fresh or ignored tensors: the checkpoint must be
	// exactly the requested kind.
	Strict bool
	// FreshMismatchedHeads initialises head tensors whose checkpoint shape
	// differs (a classifier with another num_labels) instead of failing.
	// Mis-shaped encoder tensors are always an error.
	FreshMismatchedHeads bool
	// AllowNonFinite loads tensors holding NaN or ±Inf, for forensics;
	// by default such a tensor is an error naming it (wrapping
	// checkpoints.ErrNonFinite), since the model would compute NaN.
	AllowNonFinite bool
}

// Report says how a checkpoint filled a model. Names in Loaded and Fresh
// are the model's; Ignored names are the checkpoint's.
type Report struct {
	Source       string      // the weights path read
	Kind         layers.Kind // the model built
	SourcePrefix string      // encoder prefix found in the checkpoint ("" or "tvlt.")
	Loaded       []string    // model tensors filled from the checkpoint
	Fresh        []string    // model tensors initialised fresh (seeded)
	Ignored      []string    // checkpoint tensors the model does not use
	// Match is the raw comparison in model names, with checkpoint
	// tensors renamed to the model's encoder prefix.
	Match checkpoints.Report
}

// String lists every name, one per line, under a one-line summary.
func (r *Report) String() string {
	if r == nil {
		return "<nil report>"
	}
	var b strings.Builder
	b.WriteString(r.Summary())
	b.WriteByte('\n')
	for _, m := range r.Match.Mismatched {
		fmt.Fprintf(&b, "  mis-shaped: %s\n", m)
	}
	for _, n := range r.Fresh {
		fmt.Fprintf(&b, "  initialised fresh: %s\n", n)
	}
	for _, n := range r.Ignored {
		fmt.Fprintf(&b, "  ignored: %s\n", n)
	}
	return b.String()
}

// Summary is the report's first line: counts and the prefix move.
func (r *Report) Summary() string {
	if r == nil {
		return "<nil report>"
	}
	s := fmt.Sprintf("%s -> %s: %d loaded, %d initialised fresh, %d ignored", r.Source, r.Kind, len(r.Loaded), len(r.Fresh), len(r.Ignored))
	if tp := r.Kind.EncoderPrefix(); r.SourcePrefix != tp {
		s += fmt.Sprintf(" (encoder prefix %q -> %q)", r.SourcePrefix, tp)
	}
	return s
}

// Load builds a model of the given kind (or FromConfig) from an HF
// checkpoint: a folder with config.json and model.safetensors (or a sharded
// index, or pytorch_model.bin), or a bare .safetensors / .npz / torch.save
// file with opts.Config. An original TVLT checkpoint (.ckpt) needs no
// config: its own is derived (checkpoints/original). Files listed
// in a checksums.json beside them are verified first, and a tensor holding
// NaN or ±Inf is an error naming it unless opts.AllowNonFinite. Encoder
// tensors are moved between the "" and "tvlt." prefixes as the kinds
// require; heads the checkpoint lacks are initialised fresh and heads the
// model lacks are ignored, as listed in the report. Missing or unexpected encoder tensors
// and mis-shaped tensors are errors naming each tensor with both shapes;
// the report is returned with them.
func Load(path string, kind layers.Kind, opts LoadOptions) (*layers.Model, *Report, error) {
	dtype := opts.Dtype
	if dtype.Type == nil {
		dtype = tensor.Float32
	}
	if dtype != tensor.Float32 && dtype != tensor.Float64 {
		return nil, nil, fmt.Errorf("hf: load %s: dtype %v not supported (want Float32 or Float64)", path, dtype)
	}
	cfgPath := opts.Config
	if cfgPath == "" {
		st, err := os.Stat(path)
		if err != nil {
			return nil, nil, fmt.Errorf("hf: %w", err)
		}
		switch {
		case st.IsDir():
			cfgPath = filepath.Join(path, ConfigFile)
		case !isTorchFile(path):
			return nil, nil, fmt.Errorf("hf: load %s: a bare weights file needs a config.json: pass it with --config", path)
		}
	}
	// A torch file, or a folder holding only pytorch_model.bin, without a
	// config may be an original TVLT checkpoint, which carries its own.
	derive := cfgPath == "" || opts.Config == "" && !exists(cfgPath) && exists(filepath.Join(path, PickleFile)) &&
		!exists(filepath.Join(path, WeightsFile)) && !exists(filepath.Join(path, WeightsIndexFile))
	var cfg config.Config
	if !derive {
		var err error
		if cfg, err = readConfig(cfgPath, opts.Overrides); err != nil {
			return nil, nil, err
		}
	}
	src, err := openSource(path)
	if err != nil {
		return nil, nil, err
	}
	defer src.close()
	if derive {
		if src.original == nil {
			return nil, nil, fmt.Errorf("hf: load %s: HF-named PyTorch weights need a config.json: pass it with --config", path)
		}
		buf, err := src.originalConfig()
		if err != nil {
			return nil, nil, err
		}
		if cfg, err = parseConfig(buf, src.path, opts.Overrides); err != nil {
			return nil, nil, err
		}
	}
	if err := src.convertOriginal(cfg); err != nil {
		return nil, nil, err
	}

	if kind == FromConfig {
		if kind, err = kindOf(cfg, src); err != nil {
			return nil, nil, fmt.Errorf("hf: load %s: %w", path, err)
		}
	}
	cfg.Architectures = []string{kind.String()}
	expected, err := layers.ParamShapes(kind, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("hf: load %s: %w", path, err)
	}
	plan, rep, err := planLoad(expected, src, kind, opts)
	rep.Source = src.path
	if err != nil {
		return nil, rep, fmt.Errorf("hf: load %s into %s: %w", path, kind, err)
	}

	m, err := layers.New(kind, cfg, dtype, opts.Init)
	if err != nil {
		return nil, rep, fmt.Errorf("hf: load %s: %w", path, err)
	}
	// One tensor at a time: the checkpoint is never held in memory whole.
	for _, target := range rep.Loaded {
		t, err := src.read(plan[target], dtype)
		if err != nil {
			return nil, rep, err
		}
		if !opts.AllowNonFinite {
			if err := checkpoints.CheckFinite(plan[target], t); err != nil {
				return nil, rep, fmt.Errorf("hf: load %s: %w (the checkpoint is damaged or its training diverged)", src.path, err)
			}
		}
		if err := m.Params.Load(map[string]*tensor.Dense{target: t}); err != nil {
			return nil, rep, fmt.Errorf("hf: load %s: %w", path, err)
		}
	}
	return m, rep, nil
}

// planLoad maps checkpoint names onto the model's and applies the policy;
// it returns target name -> source name for every tensor to load.
func planLoad(expected map[string][]int, src *source, kind layers.Kind, opts LoadOptions) (map[string]string, *Report, error) {
	tp := kind.EncoderPrefix()
	sp := ""
	for n := range src.shapes {
		if strings.HasPrefix(n, layers.EncoderPrefix) {
			sp = layers.EncoderPrefix
			break
		}
	}
	rep := &Report{Kind: kind, SourcePrefix: sp}
	plan := map[string]string{}   // target -> source
	srcEnc := map[string]bool{}   // source names that belong to the encoder
	renamed := map[string][]int{} // shapes under target names
	for _, n := range src.names() {
		target := n
		if rest, ok := strings.CutPrefix(n, sp); ok {
			target = tp + rest
			srcEnc[n] = true
		}
		if prev, dup := plan[target]; dup {
			return nil, rep, fmt.Errorf("checkpoint tensors %s and %s both map to %s", prev, n, target)
		}
		plan[target] = n
		renamed[target] = src.shapes[n]
	}
	rep.Match = checkpoints.MatchShapes(expected, renamed)

	isEnc := func(target string) bool { return strings.HasPrefix(target, tp) && (tp != "" || !layers.IsHead(target)) }
	var errs []string
	var missingEnc, unexpectedEnc []string
	var mismatched []string
	for _, n := range rep.Match.Missing {
		if isEnc(n) {
			missingEnc = append(missingEnc, n)
			continue
		}
		rep.Fresh = append(rep.Fresh, n)
	}
	for _, mm := range rep.Match.Mismatched {
		if opts.FreshMismatchedHeads && !isEnc(mm.Name) {
			rep.Fresh = append(rep.Fresh, mm.Name)
			rep.Ignored = append(rep.Ignored, plan[mm.Name])
			continue
		}
		name := plan[mm.Name]
		if name != mm.Name {
			name += " (as " + mm.Name + ")"
		}
		mismatched = append(mismatched, fmt.Sprintf("%s has %v, model expects %v", name, mm.Got, mm.Expected))
	}
	for _, target := range rep.Match.Unexpected {
		n := plan[target]
		if srcEnc[n] && (sp != "" || !layers.IsHead(n)) {
			unexpectedEnc = append(unexpectedEnc, n)
			continue
		}
		rep.Ignored = append(rep.Ignored, n)
	}
	rep.Loaded = append(rep.Loaded, rep.Match.Loaded...)
	sort.Strings(rep.Fresh)
	sort.Strings(rep.Ignored)
	if n := len(mismatched); n > 0 {
		errs = append(errs, fmt.Sprintf("%d mis-shaped: %s", n, strings.Join(mismatched, "; ")))
	}
	if n := len(missingEnc); n > 0 {
		errs = append(errs, fmt.Sprintf("%d encoder tensors missing from the checkpoint: %s", n, strings.Join(missingEnc, ", ")))
	}
	if n := len(unexpectedEnc); n > 0 {
		errs = append(errs, fmt.Sprintf("%d encoder tensors the model lacks (config and weights disagree): %s", n, strings.Join(unexpectedEnc, ", ")))
	}
	if opts.Strict {
		if len(rep.Fresh) > 0 {
			errs = append(errs, fmt.Sprintf("strict: %d tensors would be initialised fresh: %s", len(rep.Fresh), strings.Join(rep.Fresh, ", ")))
		}
		if len(rep.Ignored) > 0 {
			errs = append(errs, fmt.Sprintf("strict: %d checkpoint tensors would be ignored: %s", len(rep.Ignored), strings.Join(rep.Ignored, ", ")))
		}
	}
	if len(rep.Loaded) == 0 && len(errs) == 0 {
		errs = append(errs, "no tensor of the model found in the checkpoint")
	}
	if len(errs) > 0 {
		return nil, rep, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return plan, rep, nil
}

// kindOf picks the kind from the config's architectures, else from the
// tensor names.
func kindOf(cfg config.Config, src *source) (layers.Kind, error) {
	if len(cfg.Architectures) > 0 {
		return layers.KindFromArchitecture(cfg.Architectures[0])
	}
	hasPrefix, hasClassifier := false, false
	for n := range src.shapes {
		hasPrefix = hasPrefix || strings.HasPrefix(n, layers.EncoderPrefix)
		hasClassifier = hasClassifier || strings.HasPrefix(n, "classifier.")
	}
	switch {
	case !hasPrefix:
		return layers.Base, nil
	case hasClassifier:
		return layers.Classification, nil
	}
	return layers.Pretraining, nil
}

// readConfig reads config.json with overrides applied before parsing, so
// the overridden config is validated as a whole.
func readConfig(path string, overrides map[string]interface{}) (config.Config, error) {
	if filepath.Base(path) == ConfigFile {
		if err := verifyIfRecorded(path); err != nil {
			return config.Config{}, err
		}
	}
	buf, err := os.ReadFile(path)
	if err != nil {
		return config.Config{}, fmt.Errorf("hf: %w", err)
	}
	return parseConfig(buf, path, overrides)
}

// parseConfig parses config.json bytes read from path, overrides applied.
func parseConfig(buf []byte, path string, overrides map[string]interface{}) (config.Config, error) {
	if len(overrides) > 0 {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(buf, &raw); err != nil {
			return config.Config{}, fmt.Errorf("hf: %s: invalid JSON: %w", path, err)
		}
		_, setsLabels := overrides["id2label"]
		if _, ok := overrides["num_labels"]; ok && !setsLabels {
			delete(raw, "id2label")
			delete(raw, "label2id")
		}
		keys := make([]string, 0, len(overrides))
		for k := range overrides {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, err := json.Marshal(overrides[k])
			if err != nil {
				return config.Config{}, fmt.Errorf("hf: override %s: %w", k, err)
			}
			raw[k] = v
		}
		var err error
		if buf, err = json.Marshal(raw); err != nil {
			return config.Config{}, fmt.Errorf("hf: %s: %w", path, err)
		}
	}
	cfg, err := config.Parse(buf)
	if err != nil {
		return config.Config{}, fmt.Errorf("hf: config %s: %w", path, err)
	}
	return cfg, nil
}
