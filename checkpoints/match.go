package checkpoints

import (
	"fmt"
	"slices"
	"sort"
)

// Mismatch is a tensor present on both sides with different shapes.
type Mismatch struct {
	Name     string
	Got      []int // shape in the checkpoint
	Expected []int // shape the model expects
}

// Report says how a loaded state dict matches what a model expects. All
// name lists are sorted.
type Report struct {
	Loaded     []string   // present with the expected shape
	Missing    []string   // expected but absent from the checkpoint
	Unexpected []string   // in the checkpoint but not expected (ignored)
	Mismatched []Mismatch // present with another shape
}

// MatchShapes compares a model's expected parameter shapes with the shapes
// of a checkpoint's tensors (read from its header, before any tensor data),
// treating a scalar and a one-element vector as equal.
func MatchShapes(expected, got map[string][]int) Report {
	var r Report
	for name, want := range expected {
		have, ok := got[name]
		if !ok {
			r.Missing = append(r.Missing, name)
			continue
		}
		if !equalShape(have, want) {
			r.Mismatched = append(r.Mismatched, Mismatch{Name: name, Got: append([]int(nil), have...), Expected: append([]int(nil), want...)})
			continue
		}
		r.Loaded = append(r.Loaded, name)
	}
	for name := range got {
		if _, ok := expected[name]; !ok {
			r.Unexpected = append(r.Unexpected, name)
		}
	}
	sort.Strings(r.Loaded)
	sort.Strings(r.Missing)
	sort.Strings(r.Unexpected)
	sort.Slice(r.Mismatched, func(a, b int) bool { return r.Mismatched[a].Name < r.Mismatched[b].Name })
	return r
}

// equalShape treats a scalar and a one-element vector as equal, because the
// readers return scalars with shape [1].
func equalShape(a, b []int) bool {
	if len(a) == 0 {
		a = []int{1}
	}
	if len(b) == 0 {
		b = []int{1}
	}
	return slices.Equal(a, b)
}

// String describes the mismatch: "<name> has <got>, model expects <expected>".
func (m Mismatch) String() string {
	return fmt.Sprintf("%s has %v, model expects %v", m.Name, m.Got, m.Expected)
}
