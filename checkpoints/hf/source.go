package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/checkpoints/original"
	"github.com/tvlt-go/tvlt/checkpoints/torch"
	"github.com/tvlt-go/tvlt/config"
	"gorgonia.org/tensor"
)

// source is a state dict whose tensors are read on demand, so a large
// checkpoint is never held in memory next to the model it fills.
type source struct {
	path     string
	shapes   map[string][]int
	files    map[string]*checkpoints.SafetensorsFile // per tensor (shards)
	arrays   map[string]*tensor.Dense                // npz
	metadata map[string]string
	open     []*checkpoints.SafetensorsFile
	// original holds a torch file's state dict in the original TVLT
	// repository's names, with its Lightning hyper-parameters, until
	// convertOriginal renames it for the model's config.
	original map[string]*tensor.Dense
	hyper    map[string]interface{}
}

func (s *source) close() {
	for _, f := range s.open {
		f.Close()
	}
}

// read returns one tensor converted to dt.
func (s *source) read(name string, dt tensor.Dtype) (*tensor.Dense, error) {
	if f, ok := s.files[name]; ok {
		if dt == tensor.Float64 {
			return f.Float64(name)
		}
		return f.Float32(name)
	}
	t, ok := s.arrays[name]
	if !ok {
		return nil, fmt.Errorf("hf: %s: no tensor %s", s.path, name)
	}
	switch t.Dtype() {
	case tensor.Float32, tensor.Float64:
		return t, nil
	}
	return nil, fmt.Errorf("hf: %s: tensor %s has dtype %v, want float32 or float64", s.path, name, t.Dtype())
}

// names lists the tensors sorted.
func (s *source) names() []string {
	out := make([]string, 0, len(s.shapes))
	for n := range s.shapes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// verifyIfRecorded checks file against the checksums.json of its folder
// when that manifest exists and lists it. A manifest that exists but
// cannot be read is an error: a damaged folder must not load silently.
func verifyIfRecorded(path string) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if _, err := os.Stat(filepath.Join(dir, checkpoints.ChecksumsFile)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	sums, err := checkpoints.ReadChecksums(dir)
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	if _, ok := sums.Files[name]; !ok {
		return nil
	}
	if err := checkpoints.VerifyFile(dir, name); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	return nil
}

// openSafetensors adds one safetensors file's tensors to s.
func (s *source) addSafetensors(path string, only map[string]bool) error {
	if err := verifyIfRecorded(path); err != nil {
		return err
	}
	f, err := checkpoints.OpenSafetensors(path)
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	s.open = append(s.open, f)
	if s.metadata == nil {
		s.metadata = f.Metadata()
	}
	for _, info := range f.Tensors() {
		if only != nil && !only[info.Name] {
			continue
		}
		if _, dup := s.shapes[info.Name]; dup {
			return fmt.Errorf("hf: %s: tensor %s appears in two shards", path, info.Name)
		}
		s.shapes[info.Name] = append([]int(nil), info.Shape...)
		s.files[info.Name] = f
	}
	return nil
}

// openSource reads the weights at path: a .safetensors, .npz or torch.save
// (.bin, .pt, .pth, .ckpt) file, or a folder holding model.safetensors, a
// sharded index or pytorch_model.bin.
func openSource(path string) (*source, error) {
	s := &source{path: path, shapes: map[string][]int{}, files: map[string]*checkpoints.SafetensorsFile{}}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	if !st.IsDir() {
		switch {
		case strings.HasSuffix(path, ".safetensors"):
			err = s.addSafetensors(path, nil)
		case strings.HasSuffix(path, ".npz"):
			err = s.addNPZ(path)
		case isTorchFile(path):
			err = s.addTorch(path)
		default:
			err = fmt.Errorf("hf: %s: unknown weights format (want .safetensors, .npz, or a PyTorch .bin/.pt/.pth/.ckpt)", path)
		}
		if err != nil {
			s.close()
			return nil, err
		}
		return s, nil
	}
	single := filepath.Join(path, WeightsFile)
	index := filepath.Join(path, WeightsIndexFile)
	switch {
	case exists(single):
		err = s.addSafetensors(single, nil)
	case exists(index):
		err = s.addIndex(index)
	case exists(filepath.Join(path, PickleFile)):
		err = s.addTorch(filepath.Join(path, PickleFile))
	default:
		err = fmt.Errorf("hf: %s: neither %s, %s nor %s", path, WeightsFile, WeightsIndexFile, PickleFile)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// isTorchFile reports whether path names a torch.save file by its extension.
func isTorchFile(path string) bool {
	switch filepath.Ext(path) {
	case ".bin", ".pt", ".pth", ".ckpt":
		return true
	}
	return false
}

// addTorch reads a torch.save file (checkpoints/torch: no code runs). A
// state dict in the original TVLT repository's names is kept aside for
// convertOriginal, which needs the model's config.
func (s *source) addTorch(path string) error {
	if err := verifyIfRecorded(path); err != nil {
		return err
	}
	f, err := torch.Read(path)
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	if original.IsOriginal(f.Order) {
		s.original, s.hyper = f.Tensors, f.HyperParameters
		return nil
	}
	s.arrays = f.Tensors
	for n, t := range f.Tensors {
		s.shapes[n] = []int(t.Shape().Clone())
	}
	return nil
}

// originalConfig is the config derived from an original checkpoint's
// shapes and hyper-parameters, as config.json bytes.
func (s *source) originalConfig() ([]byte, error) {
	shapes := make(map[string][]int, len(s.original))
	for n, t := range s.original {
		shapes[n] = []int(t.Shape().Clone())
	}
	cfg, _, err := original.DeriveConfig(shapes, s.hyper)
	if err != nil {
		return nil, fmt.Errorf("hf: %s: %w (pass a config.json with --config)", s.path, err)
	}
	return cfg.Bytes()
}

// convertOriginal renames an original checkpoint's tensors to HF's for a
// model of config cfg (see original.ConvertFor).
func (s *source) convertOriginal(cfg config.Config) error {
	if s.original == nil {
		return nil
	}
	hf, _, err := original.ConvertFor(cfg, s.original, s.hyper)
	if err != nil {
		return fmt.Errorf("hf: %s: %w", s.path, err)
	}
	s.original, s.arrays = nil, hf
	for n, t := range hf {
		s.shapes[n] = []int(t.Shape().Clone())
	}
	return nil
}

// addIndex reads a sharded checkpoint: {"weight_map": {name: shard file}}.
func (s *source) addIndex(index string) error {
	if err := verifyIfRecorded(index); err != nil {
		return err
	}
	buf, err := os.ReadFile(index)
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(buf, &idx); err != nil {
		return fmt.Errorf("hf: %s: %w", index, err)
	}
	if len(idx.WeightMap) == 0 {
		return fmt.Errorf("hf: %s: empty weight_map", index)
	}
	shards := map[string]map[string]bool{}
	for name, file := range idx.WeightMap {
		if file != filepath.Base(file) || file == "" || file == "." || file == ".." {
			return fmt.Errorf("hf: %s: shard %q of %s is not a file name in the folder", index, file, name)
		}
		if shards[file] == nil {
			shards[file] = map[string]bool{}
		}
		shards[file][name] = true
	}
	files := make([]string, 0, len(shards))
	for f := range shards {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		if err := s.addSafetensors(filepath.Join(filepath.Dir(index), f), shards[f]); err != nil {
			return err
		}
	}
	for name, file := range idx.WeightMap {
		if _, ok := s.shapes[name]; !ok {
			return fmt.Errorf("hf: %s: %s lists %s in %s, which lacks it", index, name, file, file)
		}
	}
	return nil
}

// addNPZ reads a whole .npz archive (one array per HF name).
func (s *source) addNPZ(path string) error {
	if err := verifyIfRecorded(path); err != nil {
		return err
	}
	arrays, err := checkpoints.ReadNPZ(path)
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	s.arrays = arrays
	for n, t := range arrays {
		s.shapes[n] = []int(t.Shape().Clone())
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
