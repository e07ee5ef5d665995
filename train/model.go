package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tvlt-go/tvlt/checkpoints/hf"
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// File names inside run and checkpoint folders.
const (
	ConfigFile       = "config.json"
	ModelFile        = "model.safetensors"
	OptimizerFile    = "optimizer.safetensors"
	TrainerStateFile = "trainer_state.json"
	MetricsFile      = "metrics.jsonl"
)

// Presets lists the built-in model sizes by name.
var Presets = []string{"tiny", "small", "base-reduced", "base"}

// Preset returns a named model configuration:
//   - tiny: the golden test config (hidden 32, 2 layers, 32x32 images with 8x8
//     patches, 2 frames, 64x32 spectrogram with 8x8 patches), for tests;
//   - small: 3.3M parameters (hidden 192, 6 layers; decoder 96, 2 layers)
//     on 4 frames of 32x32 and a 64x32 spectrogram, both with 16x16 patches
//     (the demo set's shapes): ~0.65 s per pretraining step of 8 clips on
//     2 cores with Gorgonia's pure-Go BLAS, so a few hundred steps take
//     minutes;
//   - base-reduced: the reference's base widths with num_frames 1 and
//     spectrogram_length 256;
//   - base: the reference defaults (TvltConfig()).
func Preset(name string) (config.Config, error) {
	c := config.Default()
	switch name {
	case "tiny":
		c.ImageSize = [2]int{32, 32}
		c.ImagePatchSize = [2]int{8, 8}
		c.AudioPatchSize = [2]int{8, 8}
		c.NumFrames = 2
		c.SpectrogramLength = 64
		c.FrequencyLength = 32
		c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 32, 2, 4, 64
		c.DecoderHiddenSize, c.DecoderNumHiddenLayers, c.DecoderNumAttentionHeads, c.DecoderIntermediateSize = 16, 1, 2, 32
	case "small":
		c.ImageSize = [2]int{32, 32}
		c.ImagePatchSize = [2]int{16, 16}
		c.AudioPatchSize = [2]int{16, 16}
		c.NumFrames = 4
		c.SpectrogramLength = 64
		c.FrequencyLength = 32
		c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 192, 6, 6, 768
		c.DecoderHiddenSize, c.DecoderNumHiddenLayers, c.DecoderNumAttentionHeads, c.DecoderIntermediateSize = 96, 2, 4, 384
	case "base-reduced":
		c.NumFrames = 1
		c.SpectrogramLength = 256
	case "base":
	default:
		return config.Config{}, fmt.Errorf("train: unknown preset %q (want %s)", name, strings.Join(Presets, ", "))
	}
	if err := c.Validate(); err != nil {
		return config.Config{}, fmt.Errorf("train: preset %s: %w", name, err)
	}
	return c, nil
}

// NewModel builds a freshly initialised float32 model. Embeddings, CLS and
// mask tokens start from N(0, 0.02) as in the original TVLT (HF leaves them
// at zero, which slows early training).
func NewModel(kind layers.Kind, cfg config.Config, seed uint64) (*layers.Model, error) {
	cfg.Architectures = []string{kind.String()}
	m, err := layers.New(kind, cfg, tensor.Float32, graph.InitOptions{Seed: seed, EmbeddingStd: 0.02})
	if err != nil {
		return nil, fmt.Errorf("train: building %s: %w", kind, err)
	}
	return m, nil
}

// ResolveModelDir accepts a run folder or a checkpoint folder and returns the
// folder holding config.json and model.safetensors. A run folder without a
// final model (a run that was stopped) resolves to its newest checkpoint.
func ResolveModelDir(dir string) (string, error) {
	if fileExists(filepath.Join(dir, ModelFile)) && fileExists(filepath.Join(dir, ConfigFile)) {
		return dir, nil
	}
	ck, err := ListCheckpoints(dir)
	if err != nil {
		return "", err
	}
	if len(ck) == 0 {
		hasModel, hasConfig := fileExists(filepath.Join(dir, ModelFile)), fileExists(filepath.Join(dir, ConfigFile))
		switch {
		case hasModel && !hasConfig:
			return "", fmt.Errorf("train: %s: %s is missing (the folder holds %s but no model config)", dir, ConfigFile, ModelFile)
		case hasConfig && !hasModel:
			return "", fmt.Errorf("train: %s: %s is missing (the folder holds %s but no weights)", dir, ModelFile, ConfigFile)
		}
		return "", fmt.Errorf("train: %s: neither %s + %s nor a checkpoint-* folder", dir, ConfigFile, ModelFile)
	}
	// The newest checkpoint holding a model (an interrupted prune of an
	// older version could leave one without).
	for i := len(ck) - 1; i >= 0; i-- {
		if fileExists(filepath.Join(ck[i].Dir, ModelFile)) && fileExists(filepath.Join(ck[i].Dir, ConfigFile)) {
			return ck[i].Dir, nil
		}
	}
	return "", fmt.Errorf("train: %s: no %s, and none of its checkpoint-* folders holds %s and %s", dir, ModelFile, ModelFile, ConfigFile)
}

// LoadModel reads a model folder (run or checkpoint: config.json +
// model.safetensors, checksums verified when recorded). The kind comes from
// the config's architectures (guessed from the tensor names when absent).
// Weights holding NaN or ±Inf are an error naming the tensor (wrapping
// checkpoints.ErrNonFinite); LoadModelWith can allow them.
func LoadModel(dir string) (*layers.Model, error) {
	return LoadModelWith(dir, ModelLoadOptions{})
}

// ModelLoadOptions tune LoadModelWith.
type ModelLoadOptions struct {
	// AllowNonFinite loads weights holding NaN or ±Inf, for forensic use
	// (eval/predict/export --allow-nonfinite).
	AllowNonFinite bool
}

// LoadModelWith is LoadModel with options.
func LoadModelWith(dir string, o ModelLoadOptions) (*layers.Model, error) {
	dir, err := ResolveModelDir(dir)
	if err != nil {
		return nil, err
	}
	m, _, err := hf.Load(dir, hf.FromConfig, hf.LoadOptions{Strict: true, AllowNonFinite: o.AllowNonFinite})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return m, nil
}

// InitReport says what InitFrom did with each parameter.
type InitReport struct {
	Source  string   // the folder the weights came from
	Loaded  []string // target names filled from the source
	Fresh   []string // target names the source lacks (or has with another shape): kept as initialised
	Ignored []string // source names the target does not use
}

// String summarises the report in one line.
func (r InitReport) String() string {
	s := fmt.Sprintf("init from %s: %d loaded, %d fresh, %d ignored", r.Source, len(r.Loaded), len(r.Fresh), len(r.Ignored))
	if len(r.Fresh) > 0 {
		s += " (fresh: " + Abbreviate(r.Fresh, 4) + ")"
	}
	return s
}

// Abbreviate joins the first n names and counts the rest:
// "a, b, ... 3 more".
func Abbreviate(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", ... %d more", len(names)-n)
}

// InitFrom loads the weights of another model folder into m, through
// hf.Load with m's own config: encoder parameters are matched across the
// TvltModel ("") and "tvlt." prefixes, heads by their full name. Heads the
// source lacks, or has with another shape (a classifier with a different
// num_labels), keep m's initialisation; an encoder tensor with another shape
// is an error, since the configs then disagree.
func InitFrom(m *layers.Model, dir string) (InitReport, error) {
	dir, err := ResolveModelDir(dir)
	if err != nil {
		return InitReport{}, err
	}
	cfg, err := m.Config.Bytes()
	if err != nil {
		return InitReport{}, fmt.Errorf("train: init: %w", err)
	}
	var overrides map[string]interface{}
	if err := json.Unmarshal(cfg, &overrides); err != nil {
		return InitReport{}, fmt.Errorf("train: init: %w", err)
	}
	src, rep, err := hf.Load(dir, m.Kind, hf.LoadOptions{Overrides: overrides, Dtype: m.Params.Dtype(), FreshMismatchedHeads: true})
	if err != nil {
		return InitReport{}, fmt.Errorf("train: init: %w", err)
	}
	out := InitReport{Source: dir, Loaded: rep.Loaded, Fresh: rep.Fresh, Ignored: rep.Ignored}
	tensors := map[string]*tensor.Dense{}
	for _, name := range rep.Loaded {
		tensors[name] = src.Params.Value(name)
	}
	if err := m.Params.Load(tensors); err != nil {
		return out, fmt.Errorf("train: init: %s: %w", dir, err)
	}
	return out, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
