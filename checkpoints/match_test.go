package checkpoints_test

import (
	"reflect"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
)

func TestMatchReport(t *testing.T) {
	expected := map[string][]int{"a": {2}, "b": {3}, "c": {4, 3}, "d": {5}, "s": {}}
	got := map[string][]int{"c": {3, 4}, "d": {5}, "x": {1}, "s": {1}}
	r := checkpoints.MatchShapes(expected, got)
	if !reflect.DeepEqual(r.Loaded, []string{"d", "s"}) || !reflect.DeepEqual(r.Missing, []string{"a", "b"}) ||
		!reflect.DeepEqual(r.Unexpected, []string{"x"}) || len(r.Mismatched) != 1 ||
		!reflect.DeepEqual(r.Mismatched[0], checkpoints.Mismatch{Name: "c", Got: []int{3, 4}, Expected: []int{4, 3}}) {
		t.Fatalf("report %+v", r)
	}
	if s, want := r.Mismatched[0].String(), "c has [3 4], model expects [4 3]"; s != want {
		t.Fatalf("Mismatch.String() = %q, want %q", s, want)
	}
	ok := checkpoints.MatchShapes(map[string][]int{"d": {5}}, map[string][]int{"d": {5}, "extra": {1}})
	if len(ok.Missing) != 0 || len(ok.Mismatched) != 0 || !reflect.DeepEqual(ok.Unexpected, []string{"extra"}) {
		t.Fatalf("unexpected-only report: %+v", ok)
	}
}
