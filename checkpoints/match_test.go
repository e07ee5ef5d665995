package checkpoints_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"gorgonia.org/tensor"
)

func zeros(shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
}

func TestMatchReport(t *testing.T) {
	expected := map[string][]int{"a": {2}, "b": {3}, "c": {4, 3}, "d": {5}, "s": {}}
	loaded := map[string]*tensor.Dense{"c": zeros(3, 4), "d": zeros(5), "x": zeros(1), "s": zeros(1)}
	r := checkpoints.Match(expected, loaded)
	if !reflect.DeepEqual(r.Loaded, []string{"d", "s"}) || !reflect.DeepEqual(r.Missing, []string{"a", "b"}) ||
		!reflect.DeepEqual(r.Unexpected, []string{"x"}) || len(r.Mismatched) != 1 ||
		!reflect.DeepEqual(r.Mismatched[0], checkpoints.Mismatch{Name: "c", Got: []int{3, 4}, Expected: []int{4, 3}}) {
		t.Fatalf("report %+v", r)
	}
	want := "checkpoints: 2 missing tensors: a, b; 1 mis-shaped: c has [3 4], model expects [4 3]"
	if err := r.Err(); err == nil || err.Error() != want {
		t.Fatalf("Err() = %v, want %q", err, want)
	}
	if err := r.ErrStrict(); err == nil || !strings.HasSuffix(err.Error(), "; 1 unexpected tensor: x") {
		t.Fatalf("ErrStrict() = %v", err)
	}
	s := r.String()
	for _, w := range []string{"loaded 2, missing 2, mis-shaped 1, unexpected 1", "missing (initialised fresh): b", "mis-shaped: c has [3 4], model expects [4 3]", "unexpected (ignored): x"} {
		if !strings.Contains(s, w) {
			t.Errorf("String() lacks %q:\n%s", w, s)
		}
	}
	if r.OK() {
		t.Error("OK() with missing tensors")
	}
	ok := checkpoints.Match(map[string][]int{"d": {5}}, map[string]*tensor.Dense{"d": zeros(5), "extra": zeros(1)})
	if !ok.OK() || ok.Err() != nil || ok.ErrStrict() == nil {
		t.Fatalf("unexpected-only report: %+v %v", ok, ok.Err())
	}
}

func TestMatchErrLimitsList(t *testing.T) {
	expected := map[string][]int{}
	for i := 0; i < 15; i++ {
		expected[string(rune('a'+i))] = []int{1}
	}
	err := checkpoints.Match(expected, nil).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "checkpoints: 15 missing tensors: a, b, c, d, e, f, g, h, i, j, ... (5 more)") {
		t.Fatalf("Err() = %v", err)
	}
}
