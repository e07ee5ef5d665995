package layers

import (
	"slices"
	"testing"

	"gorgonia.org/tensor"
)

// TestBatchSlice cuts rows out of a batch, one row included (which a
// tensor slice would squeeze), keeping shapes, values and keep counts.
func TestBatchSlice(t *testing.T) {
	pix := make([]float32, 3*2*3*2*2)
	for i := range pix {
		pix[i] = float32(i)
	}
	b := &Batch{
		PixelValues:     tensor.New(tensor.WithShape(3, 2, 3, 2, 2), tensor.WithBacking(pix)),
		PixelMask:       tensor.New(tensor.WithShape(3, 4), tensor.WithBacking(make([]float32, 12))),
		PixelIDsShuffle: tensor.New(tensor.WithShape(3, 4), tensor.WithBacking([]int64{0, 1, 2, 3, 3, 2, 1, 0, 1, 0, 3, 2})),
		Labels:          tensor.New(tensor.WithShape(3), tensor.WithBacking([]int64{5, 6, 7})),
		PixelLenKeep:    1, DropoutSeed: 9,
	}
	for _, tc := range []struct{ lo, hi int }{{0, 1}, {1, 2}, {2, 3}, {0, 2}, {1, 3}, {0, 3}} {
		p, err := b.Slice(tc.lo, tc.hi)
		if err != nil {
			t.Fatal(err)
		}
		n := tc.hi - tc.lo
		if got := p.PixelValues.Shape(); !slices.Equal(got, []int{n, 2, 3, 2, 2}) {
			t.Fatalf("[%d,%d) pixel_values %v", tc.lo, tc.hi, got)
		}
		if got := p.Labels.Shape(); !slices.Equal(got, []int{n}) {
			t.Fatalf("[%d,%d) labels %v", tc.lo, tc.hi, got)
		}
		if got := p.PixelIDsShuffle.Shape(); !slices.Equal(got, []int{n, 4}) {
			t.Fatalf("[%d,%d) ids %v", tc.lo, tc.hi, got)
		}
		if !slices.Equal(p.Labels.Data().([]int64), []int64{5, 6, 7}[tc.lo:tc.hi]) ||
			!slices.Equal(p.PixelIDsShuffle.Data().([]int64), b.PixelIDsShuffle.Data().([]int64)[4*tc.lo:4*tc.hi]) ||
			!slices.Equal(p.PixelValues.Data().([]float32), pix[24*tc.lo:24*tc.hi]) {
			t.Fatalf("[%d,%d) values differ", tc.lo, tc.hi)
		}
		if p.PixelLenKeep != 1 || p.DropoutSeed != 9 || p.AudioValues != nil {
			t.Fatalf("[%d,%d) keep %d seed %d audio %v", tc.lo, tc.hi, p.PixelLenKeep, p.DropoutSeed, p.AudioValues)
		}
	}
	for _, bad := range [][2]int{{-1, 1}, {2, 2}, {0, 4}} {
		if _, err := b.Slice(bad[0], bad[1]); err == nil {
			t.Errorf("slice %v of 3 rows accepted", bad)
		}
	}
}
