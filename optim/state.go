package optim

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Key prefixes of the exported moments, as in torch's AdamW state.
const (
	ExpAvgPrefix   = "exp_avg/"
	ExpAvgSqPrefix = "exp_avg_sq/"
)

// State is AdamW's checkpointable state: the step count and both moments of
// every parameter, keyed "exp_avg/<name>" and "exp_avg_sq/<name>", with the
// parameter's shape under the same key (for writing safetensors/npz).
type State struct {
	Step    int
	Tensors map[string][]float32
	Shapes  map[string][]int
}

// State exports the optimizer state. The slices alias the optimizer's own
// buffers (no copy of what can be hundreds of MB): write them out before the
// next Step, or copy them.
func (o *AdamW) State() State {
	s := State{
		Step:    o.step,
		Tensors: make(map[string][]float32, 2*len(o.params)),
		Shapes:  make(map[string][]int, 2*len(o.params)),
	}
	for i, p := range o.params {
		shape := append([]int(nil), p.Shape...)
		s.Tensors[ExpAvgPrefix+p.Name] = o.m[i]
		s.Tensors[ExpAvgSqPrefix+p.Name] = o.v[i]
		s.Shapes[ExpAvgPrefix+p.Name] = shape
		s.Shapes[ExpAvgSqPrefix+p.Name] = shape
	}
	return s
}

// LoadState copies a state exported by State (possibly via a file) into the
// optimizer. Every parameter must have both moments with its element count
// (and its shape, when Shapes is given); keys for parameters the optimizer
// does not hold are rejected, so a checkpoint of a different model cannot be
// loaded by accident. Nothing is changed when an error is returned.
func (o *AdamW) LoadState(s State) error {
	if s.Step < 0 {
		return fmt.Errorf("optim: LoadState: negative step %d", s.Step)
	}
	known := make(map[string]bool, 2*len(o.params))
	for _, p := range o.params {
		for _, prefix := range []string{ExpAvgPrefix, ExpAvgSqPrefix} {
			key := prefix + p.Name
			known[key] = true
			data, ok := s.Tensors[key]
			if !ok {
				return fmt.Errorf("optim: LoadState: missing %q", key)
			}
			if len(data) != len(p.Value) {
				return fmt.Errorf("optim: LoadState: %q has %d elements, parameter %v needs %d", key, len(data), p.Shape, len(p.Value))
			}
			if shape, ok := s.Shapes[key]; ok && !slices.Equal(squeeze(shape), squeeze(p.Shape)) {
				return fmt.Errorf("optim: LoadState: %q has shape %v, parameter has %v", key, shape, p.Shape)
			}
		}
	}
	var extra []string
	for key := range s.Tensors {
		if !known[key] {
			extra = append(extra, key)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		count := len(extra)
		if count > 5 {
			extra = append(extra[:5], "...")
		}
		return fmt.Errorf("optim: LoadState: %d unexpected entries (%s)", count, strings.Join(extra, ", "))
	}
	for i, p := range o.params {
		copy(o.m[i], s.Tensors[ExpAvgPrefix+p.Name])
		copy(o.v[i], s.Tensors[ExpAvgSqPrefix+p.Name])
	}
	o.step = s.Step
	return nil
}

// squeeze treats a scalar stored as () or (1,) alike, as npz files do.
func squeeze(shape []int) []int {
	if len(shape) == 0 {
		return []int{1}
	}
	return shape
}
