package layers

import (
	"fmt"

	"gorgonia.org/tensor"
)

// Slice returns rows [lo, hi) of every per-example array of b (a copy),
// with the same keep counts and dropout seed: a data-parallel rank's part
// of the global batch, of the global batch's padded shape. LossScales is
// not copied: the caller sets the part's own.
func (b *Batch) Slice(lo, hi int) (*Batch, error) {
	n, err := batchRows(b)
	if err != nil {
		return nil, err
	}
	if lo < 0 || hi > n || lo >= hi {
		return nil, fmt.Errorf("layers: slice [%d, %d) of a batch of %d", lo, hi, n)
	}
	out := &Batch{PixelLenKeep: b.PixelLenKeep, AudioLenKeep: b.AudioLenKeep, DropoutSeed: b.DropoutSeed}
	for _, f := range []struct {
		dst **tensor.Dense
		src *tensor.Dense
	}{
		{&out.PixelValues, b.PixelValues}, {&out.PixelMask, b.PixelMask},
		{&out.AudioValues, b.AudioValues}, {&out.AudioMask, b.AudioMask},
		{&out.PixelValuesMixed, b.PixelValuesMixed}, {&out.PixelMaskMixed, b.PixelMaskMixed},
		{&out.MatchingLabels, b.MatchingLabels},
		{&out.PixelIDsShuffle, b.PixelIDsShuffle}, {&out.AudioIDsShuffle, b.AudioIDsShuffle},
		{&out.Labels, b.Labels},
	} {
		if f.src == nil {
			continue
		}
		if f.src.Shape()[0] != n {
			return nil, fmt.Errorf("layers: slice: an input has %d rows, pixel_values %d", f.src.Shape()[0], n)
		}
		v, err := f.src.Slice(tensor.S(lo, hi))
		if err != nil {
			return nil, fmt.Errorf("layers: slice: %w", err)
		}
		d := v.(*tensor.Dense).Materialize().(*tensor.Dense)
		// A one-row slice loses its first dimension; put it back.
		shape := append([]int{hi - lo}, f.src.Shape()[1:]...)
		if err := d.Reshape(shape...); err != nil {
			return nil, fmt.Errorf("layers: slice: %w", err)
		}
		*f.dst = d
	}
	return out, nil
}

// Rows is the batch's size (its first dimension).
func (b *Batch) Rows() (int, error) { return batchRows(b) }

func batchRows(b *Batch) (int, error) {
	if b == nil || b.PixelValues == nil || b.PixelValues.Dims() == 0 {
		return 0, fmt.Errorf("layers: batch without pixel_values")
	}
	return b.PixelValues.Shape()[0], nil
}
