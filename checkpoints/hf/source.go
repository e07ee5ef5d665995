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

// openSource reads the weights at path: a .safetensors or .npz file, or a
// folder holding model.safetensors or a sharded index.
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
		case strings.HasSuffix(path, ".bin") || strings.HasSuffix(path, ".pt") || strings.HasSuffix(path, ".pth"):
			err = fmt.Errorf("hf: %s: PyTorch pickles are not read; %s", path, convertHint)
		default:
			err = fmt.Errorf("hf: %s: unknown weights format (want .safetensors or .npz)", path)
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
		err = fmt.Errorf("hf: %s holds %s only: PyTorch pickles are not read; %s", path, PickleFile, convertHint)
	default:
		err = fmt.Errorf("hf: %s: neither %s nor %s", path, WeightsFile, WeightsIndexFile)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// convertHint tells users holding a pickle how to get safetensors.
const convertHint = `convert it with: python3 -c "import torch, safetensors.torch as s; ` +
	`s.save_file({k: v.contiguous() for k, v in torch.load('pytorch_model.bin', map_location='cpu').items()}, 'model.safetensors', {'format': 'pt'})"`

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
