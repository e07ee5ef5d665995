package checkpoints

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"gorgonia.org/tensor"
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

// Match compares a model's expected parameter shapes with loaded tensors.
func Match(expected map[string][]int, loaded map[string]*tensor.Dense) Report {
	got := make(map[string][]int, len(loaded))
	for name, d := range loaded {
		if d != nil {
			got[name] = []int(d.Shape().Clone())
		}
	}
	return MatchShapes(expected, got)
}

// MatchShapes is Match on shapes alone, so a loader can plan from a file's
// header before reading any tensor.
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

// OK reports whether every expected tensor was loaded with its shape.
func (r Report) OK() bool { return len(r.Missing) == 0 && len(r.Mismatched) == 0 }

// errListLimit caps how many names Err spells out; String lists them all.
const errListLimit = 10

// Err returns nil when every expected tensor loaded, otherwise an error
// naming the missing and mis-shaped tensors with both shapes. Unexpected
// tensors are not an error (heads of another model are dropped on purpose);
// use ErrStrict to refuse them too.
func (r Report) Err() error {
	return r.err(false)
}

// ErrStrict is Err that also fails on unexpected tensors.
func (r Report) ErrStrict() error {
	return r.err(true)
}

func (r Report) err(strict bool) error {
	var parts []string
	if n := len(r.Missing); n > 0 {
		parts = append(parts, fmt.Sprintf("%d missing %s: %s", n, plural(n, "tensor", "tensors"), limitList(r.Missing)))
	}
	if n := len(r.Mismatched); n > 0 {
		items := make([]string, len(r.Mismatched))
		for i, m := range r.Mismatched {
			items[i] = m.String()
		}
		parts = append(parts, fmt.Sprintf("%d mis-shaped: %s", n, limitList(items)))
	}
	if n := len(r.Unexpected); strict && n > 0 {
		parts = append(parts, fmt.Sprintf("%d unexpected %s: %s", n, plural(n, "tensor", "tensors"), limitList(r.Unexpected)))
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("checkpoints: %s", strings.Join(parts, "; "))
}

// String describes the mismatch in the error's words.
func (m Mismatch) String() string {
	return fmt.Sprintf("%s has %v, model expects %v", m.Name, m.Got, m.Expected)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func limitList(items []string) string {
	if len(items) <= errListLimit {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:errListLimit], ", ") + fmt.Sprintf(", ... (%d more)", len(items)-errListLimit)
}

// String is a multi-line human summary listing every name.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "loaded %d, missing %d, mis-shaped %d, unexpected %d\n", len(r.Loaded), len(r.Missing), len(r.Mismatched), len(r.Unexpected))
	for _, n := range r.Missing {
		fmt.Fprintf(&b, "  missing (initialised fresh): %s\n", n)
	}
	for _, m := range r.Mismatched {
		fmt.Fprintf(&b, "  mis-shaped: %s\n", m)
	}
	for _, n := range r.Unexpected {
		fmt.Fprintf(&b, "  unexpected (ignored): %s\n", n)
	}
	return b.String()
}
