package checkpoints

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"gorgonia.org/tensor"
)

// ReadSafetensors reads every tensor of a safetensors file as float32,
// keyed by name, together with the header's __metadata__.
func ReadSafetensors(path string) (map[string]*tensor.Dense, map[string]string, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoints: %w", err)
	}
	if len(buf) < 8 {
		return nil, nil, fmt.Errorf("checkpoints: %s: file too short for a safetensors header", path)
	}
	n := binary.LittleEndian.Uint64(buf[:8])
	if n > uint64(len(buf)-8) {
		return nil, nil, fmt.Errorf("checkpoints: %s: header length %d beyond file size %d", path, n, len(buf))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(buf[8:8+n], &raw); err != nil {
		return nil, nil, fmt.Errorf("checkpoints: %s: header: %w", path, err)
	}
	data := buf[8+n:]
	out := make(map[string]*tensor.Dense, len(raw))
	var meta map[string]string
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("checkpoints: %s: __metadata__: %w", path, err)
			}
			continue
		}
		var info struct {
			Dtype   string   `json:"dtype"`
			Shape   []int    `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &info); err != nil {
			return nil, nil, fmt.Errorf("checkpoints: %s: tensor %q: %w", path, name, err)
		}
		if info.Dtype != "F32" {
			return nil, nil, fmt.Errorf("checkpoints: %s: tensor %q: dtype %q not supported", path, name, info.Dtype)
		}
		count := 1
		for _, d := range info.Shape {
			count *= d
		}
		b, e := info.Offsets[0], info.Offsets[1]
		if b < 0 || e < b || e > int64(len(data)) || e-b != int64(4*count) {
			return nil, nil, fmt.Errorf("checkpoints: %s: tensor %q: offsets [%d,%d) do not fit shape %v in %d data bytes", path, name, b, e, info.Shape, len(data))
		}
		vals := make([]float32, count)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[b+int64(4*i):]))
		}
		shape := info.Shape
		if len(shape) == 0 {
			shape = []int{1}
		}
		out[name] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(vals))
	}
	return out, meta, nil
}
