package original

import (
	"fmt"
	"slices"

	"gorgonia.org/tensor"
)

// floats returns t's elements in C order (a copy only when t is a view).
// The renames only cut and join whole rows, so float32 and float64 are
// carried through unchanged rather than converted.
func floats(t *tensor.Dense) (interface{}, error) {
	if t == nil {
		return nil, fmt.Errorf("nil tensor")
	}
	if t.IsMaterializable() || t.RequiresIterator() {
		m, ok := t.Materialize().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("cannot materialize a %v view", t.Shape())
		}
		t = m
	}
	switch d := t.Data().(type) {
	case []float32, []float64:
		return d, nil
	case float32:
		return []float32{d}, nil
	case float64:
		return []float64{d}, nil
	}
	return nil, fmt.Errorf("dtype %v (want float32 or float64)", t.Dtype())
}

// elems is the element count of shape.
func elems(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// block returns elements [lo, hi) of t's C-order data as a new tensor of
// shape (hi-lo must equal the shape's size).
func block(t *tensor.Dense, lo, hi int, shape ...int) (*tensor.Dense, error) {
	data, err := floats(t)
	if err != nil {
		return nil, err
	}
	if hi-lo != elems(shape) {
		return nil, fmt.Errorf("block of %d elements cannot have shape %v", hi-lo, shape)
	}
	switch d := data.(type) {
	case []float32:
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(slices.Clone(d[lo:hi]))), nil
	default:
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(slices.Clone(d.([]float64)[lo:hi]))), nil
	}
}

// concat joins the C-order data of ts, then zeros up to shape's size: the
// fused qkv rows, or a position table padded to the original's row count.
func concat(shape []int, ts ...*tensor.Dense) (*tensor.Dense, error) {
	n := elems(shape)
	var f32 []float32
	var f64 []float64
	for i, t := range ts {
		data, err := floats(t)
		if err != nil {
			return nil, err
		}
		switch d := data.(type) {
		case []float32:
			if i > 0 && f32 == nil {
				return nil, fmt.Errorf("cannot join float64 and float32 tensors")
			}
			if f32 == nil {
				f32 = make([]float32, 0, n)
			}
			f32 = append(f32, d...)
		case []float64:
			if i > 0 && f64 == nil {
				return nil, fmt.Errorf("cannot join float32 and float64 tensors")
			}
			if f64 == nil {
				f64 = make([]float64, 0, n)
			}
			f64 = append(f64, d...)
		}
	}
	if len(f32)+len(f64) > n {
		return nil, fmt.Errorf("%d elements do not fit shape %v", len(f32)+len(f64), shape)
	}
	if f64 != nil {
		f64 = append(f64, make([]float64, n-len(f64))...)
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f64)), nil
	}
	f32 = append(f32, make([]float32, n-len(f32))...)
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f32)), nil
}

// shapeOf is t's shape as a plain slice (numpy scalars are (1,) here too).
func shapeOf(t *tensor.Dense) []int {
	if t == nil {
		return nil
	}
	s := []int(t.Shape().Clone())
	if len(s) == 0 {
		return []int{1}
	}
	return s
}
