package checkpoints

import (
	"fmt"
	"strings"

	"github.com/sbinet/npyio/npz"
	"gorgonia.org/tensor"
)

// ReadNPZ reads every array of a .npz archive, keeping each array's dtype
// (float32, float64, int64, int32, uint8, bool).
func ReadNPZ(path string) (map[string]*tensor.Dense, error) {
	r, err := npz.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %s: %w", path, err)
	}
	defer r.Close()
	out := make(map[string]*tensor.Dense, len(r.Keys()))
	for _, key := range r.Keys() {
		h := r.Header(key)
		if h == nil {
			return nil, fmt.Errorf("checkpoints: %s: array %q has no header", path, key)
		}
		if h.Descr.Fortran {
			return nil, fmt.Errorf("checkpoints: %s: array %q is Fortran-ordered; only C order is supported", path, key)
		}
		shape := append([]int(nil), h.Descr.Shape...)
		n := 1
		for _, d := range shape {
			n *= d
		}
		var backing interface{}
		switch h.Descr.Type {
		case "<f4", "f4":
			v := make([]float32, 0, n)
			err = r.Read(key, &v)
			backing = v
		case "<f8", "f8":
			v := make([]float64, 0, n)
			err = r.Read(key, &v)
			backing = v
		case "<i8", "i8":
			v := make([]int64, 0, n)
			err = r.Read(key, &v)
			backing = v
		case "<i4", "i4":
			v := make([]int32, 0, n)
			err = r.Read(key, &v)
			backing = v
		case "|u1", "u1":
			v := make([]uint8, 0, n)
			err = r.Read(key, &v)
			backing = v
		case "|b1", "b1":
			v := make([]bool, 0, n)
			err = r.Read(key, &v)
			backing = v
		default:
			return nil, fmt.Errorf("checkpoints: %s: array %q has unsupported dtype %q", path, key, h.Descr.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("checkpoints: %s: array %q: %w", path, key, err)
		}
		if len(shape) == 0 {
			shape = []int{1}
		}
		out[strings.TrimSuffix(key, ".npy")] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing))
	}
	return out, nil
}
