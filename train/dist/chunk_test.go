package dist

import (
	"errors"
	"slices"
	"testing"
)

func TestForEachChunk(t *testing.T) {
	tests := []struct {
		total, max int
		want       [][2]int
	}{
		{0, 4, nil},
		{1, 4, [][2]int{{0, 1}}},
		{4, 4, [][2]int{{0, 4}}},
		{10, 4, [][2]int{{0, 4}, {4, 4}, {8, 2}}},
		{12, 4, [][2]int{{0, 4}, {4, 4}, {8, 4}}},
	}
	for _, tt := range tests {
		var got [][2]int
		err := forEachChunk(tt.total, tt.max, func(off, n int) error {
			got = append(got, [2]int{off, n})
			return nil
		})
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("forEachChunk(%d, %d) = %v, %v; want %v", tt.total, tt.max, got, err, tt.want)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := forEachChunk(10, 4, func(off, n int) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("forEachChunk with a failing call: %v after %d calls, want stop after 1", err, calls)
	}
	// MPI counts are C ints: the chunk must fit one.
	if maxChunk > 1<<31-1 || maxChunk < 1 {
		t.Errorf("maxChunk %d does not fit a C int", maxChunk)
	}
}
