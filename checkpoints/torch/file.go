package torch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gorgonia.org/tensor"
)

// File is a loaded PyTorch checkpoint.
type File struct {
	Path string
	// Format is "zip" (torch >= 1.6) or "legacy".
	Format string
	// Tensors is the state dict (for a Lightning .ckpt its "state_dict",
	// for a {"model": ...} checkpoint its "model"): float32 for F32, F16
	// and BF16 tensors, float64 for F64, int64 for every integer type, bool
	// for bool. Scalars have shape [1].
	Tensors map[string]*tensor.Dense
	// DTypes is each tensor's dtype in the file ("float32", "float16",
	// "bfloat16", "float64", "int64", ...).
	DTypes map[string]string
	// Order is the tensor names in file order.
	Order []string
	// HyperParameters is a Lightning checkpoint's hyper_parameters (a dict,
	// AttributeDict or argparse.Namespace), nil for a bare state dict.
	// Values are string, int64, float64, bool, nil, []interface{} (lists,
	// tuples, sets) and map[string]interface{} (dicts, Namespaces);
	// integers beyond int64 are their decimal string.
	HyperParameters map[string]interface{}
	// Extra is the top-level keys read and ignored (epoch, global_step,
	// optimizer_states, ...) in file order; their tensors are never read.
	Extra []string
}

// Read reads a torch.save file (pytorch_model.bin, a Lightning .ckpt)
// without Python, refusing anything in its pickle that a state dict does
// not need.
func Read(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("torch: %s: not a regular file", path)
	}
	return ReadFrom(f, st.Size(), path)
}

// ReadFrom reads a torch.save image of size bytes from r; name is used in
// errors and as File.Path.
func ReadFrom(r io.ReaderAt, size int64, name string) (*File, error) {
	file, err := readFrom(r, size, name)
	if err != nil {
		return nil, fmt.Errorf("torch: %s: %w", name, err)
	}
	return file, nil
}

func readFrom(r io.ReaderAt, size int64, name string) (*File, error) {
	if size < 0 {
		return nil, errors.New("negative size")
	}
	src := newSource(r, size)
	var head [8]byte
	n, err := r.ReadAt(head[:min(int64(len(head)), size)], 0)
	if int64(n) < min(int64(len(head)), size) {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	file := &File{Path: name}
	var obj interface{}
	switch {
	case size < 2:
		return nil, fmt.Errorf("%d bytes is not a PyTorch file", size)
	case bytes.HasPrefix(head[:n], []byte("PK")):
		file.Format = "zip"
		obj, err = loadZip(src)
	case head[0] == 0x80:
		file.Format = "legacy"
		obj, err = loadLegacy(src)
	default:
		return nil, fmt.Errorf("not a PyTorch file (starts with %q; want a zip archive or a pickle)", head[:n])
	}
	if err != nil {
		return nil, err
	}
	if err := file.interpret(src, obj); err != nil {
		return nil, err
	}
	return file, nil
}

// interpret finds the state dict in the unpickled object and reads its
// tensors.
func (file *File) interpret(src *source, obj interface{}) error {
	top, ok := obj.(*pyDict)
	if !ok {
		return fmt.Errorf("the pickled object is a %s, not a dict", typeName(obj))
	}
	sd := top
	if !allTensors(top) {
		var key string
		for _, k := range []string{"state_dict", "model"} {
			if v, ok := top.get(k); ok {
				if d, ok := v.(*pyDict); ok {
					sd, key = d, k
					break
				}
			}
		}
		if key == "" {
			return errors.New("no state dict: the top-level dict has no \"state_dict\" or \"model\" dict and not only tensors")
		}
		for i, k := range top.keys {
			s, _ := k.(string)
			if s == key {
				continue
			}
			if s == "hyper_parameters" {
				hp, err := hyperParameters(top.vals[i])
				if err != nil {
					return err
				}
				file.HyperParameters = hp
				continue
			}
			if _, ok := k.(string); !ok {
				s = fmt.Sprintf("<%s key>", typeName(k))
			}
			file.Extra = append(file.Extra, s)
		}
	}
	file.Tensors = make(map[string]*tensor.Dense, len(sd.keys))
	file.DTypes = make(map[string]string, len(sd.keys))
	for i, k := range sd.keys {
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("state dict key %d is a %s, not a str", i, typeName(k))
		}
		t, ok := sd.vals[i].(*tensorRef)
		if !ok {
			return fmt.Errorf("state dict entry %s is a %s, not a tensor", printable(name), typeName(sd.vals[i]))
		}
		d, err := src.materialize(t)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", printable(name), err)
		}
		file.Tensors[name] = d
		file.DTypes[name] = t.dtype.String()
		file.Order = append(file.Order, name)
	}
	return nil
}

// allTensors reports whether d is a non-empty dict of tensors.
func allTensors(d *pyDict) bool {
	for _, v := range d.vals {
		if _, ok := v.(*tensorRef); !ok {
			return false
		}
	}
	return len(d.vals) > 0
}

// hyperParameters converts Lightning's hyper_parameters to plain values.
func hyperParameters(v interface{}) (map[string]interface{}, error) {
	switch v.(type) {
	case *pyDict, *pyNamespace:
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("hyper_parameters is a %s, not a dict or argparse.Namespace", typeName(v))
	}
	p, err := newPlainConverter("hyper_parameters").convert(v)
	if err != nil {
		return nil, err
	}
	return p.(map[string]interface{}), nil
}
