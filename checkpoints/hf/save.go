package hf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/layers"
)

// File names of an HF checkpoint folder.
const (
	ConfigFile       = "config.json"
	WeightsFile      = "model.safetensors"
	WeightsIndexFile = "model.safetensors.index.json" // sharded checkpoints
	PickleFile       = "pytorch_model.bin"            // a hub folder's torch.save weights, read by checkpoints/torch
)

// TrainingStateFiles are the files a training checkpoint holds besides the
// weights (train.OptimizerFile and train.TrainerStateFile): Save never
// replaces a folder holding one of them.
var TrainingStateFiles = []string{"optimizer.safetensors", "trainer_state.json"}

// SaveOption changes what Save writes.
type SaveOption func(*saveConfig)

type saveConfig struct {
	f16 bool
}

// F16 stores the weights as IEEE half precision, halving the file (the
// HF classes load it into float32 models).
func F16() SaveOption { return func(c *saveConfig) { c.f16 = true } }

// ConfigBytes returns m's config.json with architectures set to the class
// of m's kind, so from_pretrained builds the class the weights belong to.
func ConfigBytes(m *layers.Model) ([]byte, error) {
	cfg := m.Config
	cfg.Architectures = []string{m.Kind.String()}
	b, err := cfg.Bytes()
	if err != nil {
		return nil, fmt.Errorf("hf: config: %w", err)
	}
	return b, nil
}

// Save writes m as an HF checkpoint folder dir (config.json,
// model.safetensors with metadata {"format": "pt"}, checksums.json),
// atomically: dir afterwards holds the complete new folder or, on error, what
// it held before. An existing dir is replaced only if it is empty or holds
// nothing but the files of its checksums.json, each matching its recorded
// sha256 (a folder Save or the trainer wrote), so a mistyped path cannot
// wipe unrelated files. Weights are stored as F32 (F16 on request)
// whatever the model's float type.
func Save(dir string, m *layers.Model, opts ...SaveOption) error {
	if m == nil || m.Params == nil {
		return fmt.Errorf("hf: save %s: nil model", dir)
	}
	var sc saveConfig
	for _, o := range opts {
		o(&sc)
	}
	if err := replaceable(dir); err != nil {
		return err
	}
	cfg, err := ConfigBytes(m)
	if err != nil {
		return err
	}
	dtype := "F32"
	if sc.f16 {
		dtype = "F16"
	}
	// transformers refuses safetensors files without "format": "pt".
	enc, err := checkpoints.EncodeSafetensorsHeader(m.Params.Tensors(), map[string]string{"format": "pt"}, dtype)
	if err != nil {
		return fmt.Errorf("hf: save %s: %w", dir, err)
	}
	files := map[string]func(io.Writer) error{
		ConfigFile:  func(w io.Writer) error { _, err := io.Copy(w, bytes.NewReader(cfg)); return err },
		WeightsFile: enc.Encode,
	}
	if err := checkpoints.WriteFolder(dir, files); err != nil {
		return fmt.Errorf("hf: save: %w", err)
	}
	return nil
}

// ExportNPZ writes m's weights to path as a .npz archive (one float32 array
// per HF state-dict name) that numpy.load reads; the write is atomic.
func ExportNPZ(path string, m *layers.Model) error {
	if m == nil || m.Params == nil {
		return fmt.Errorf("hf: export %s: nil model", path)
	}
	if err := checkpoints.WriteNPZ(path, m.Params.Tensors()); err != nil {
		return fmt.Errorf("hf: export: %w", err)
	}
	return nil
}

// replaceable refuses to let WriteFolder swap out a folder that holds
// anything a checkpoint write did not record: WriteFolder deletes the
// previous folder whole.
func replaceable(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hf: save: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("hf: save: %s exists and is not a folder", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("hf: save: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	refuse := func(why string) error {
		return fmt.Errorf("hf: save: %s exists and %s; it would be replaced whole, so choose a new folder or remove it first", dir, why)
	}
	// A training checkpoint verifies like any checkpoint folder, but an
	// export or import written over it would drop what --resume needs.
	for _, name := range TrainingStateFiles {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return refuse("holds " + name + ": it is a training checkpoint, whose optimizer and trainer state --resume needs")
		}
	}
	sums, err := checkpoints.ReadChecksums(dir)
	if err != nil {
		return refuse("is not a checkpoint folder (no readable " + checkpoints.ChecksumsFile + ")")
	}
	var stray string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if _, ok := sums.Files[rel]; !ok && rel != checkpoints.ChecksumsFile {
			stray = rel
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("hf: save: %w", err)
	}
	if stray != "" {
		return refuse("holds " + stray + ", which is not part of its checkpoint")
	}
	// The names alone prove nothing: a checksums.json listing an unrelated
	// file would make that file look like part of a checkpoint. Every
	// listed file must match its recorded size and sha256.
	if err := checkpoints.VerifyFolder(dir); err != nil {
		return refuse(fmt.Sprintf("does not verify against its %s (%v)", checkpoints.ChecksumsFile, err))
	}
	return nil
}
