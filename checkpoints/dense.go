package checkpoints

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// denseData returns t's elements in C order as a fresh or shared slice
// (never a strided view) together with its shape, so writers can stream the
// values without caring whether t was sliced or transposed.
func denseData(t *tensor.Dense) (data interface{}, shape []int, err error) {
	if t == nil {
		return nil, nil, fmt.Errorf("nil tensor")
	}
	if t.IsMaterializable() || t.RequiresIterator() {
		m, ok := t.Materialize().(*tensor.Dense)
		if !ok {
			return nil, nil, fmt.Errorf("cannot materialize %v view", t.Shape())
		}
		t = m
	}
	shape = append([]int{}, t.Shape()...)
	if t.IsScalar() {
		// A scalar Dense returns its value from Data(); wrap it so callers
		// always see a slice.
		v := t.Get(0)
		switch x := v.(type) {
		case float32:
			data = []float32{x}
		case float64:
			data = []float64{x}
		case int64:
			data = []int64{x}
		case int32:
			data = []int32{x}
		case int:
			data = []int{x}
		case uint8:
			data = []uint8{x}
		case bool:
			data = []bool{x}
		default:
			return nil, nil, fmt.Errorf("unsupported dtype %v", t.Dtype())
		}
		return data, shape[:0], nil
	}
	data = t.Data()
	n := 1
	for _, d := range shape {
		n *= d
	}
	var got int
	switch x := data.(type) {
	case []float32:
		got = len(x)
	case []float64:
		got = len(x)
	case []int64:
		got = len(x)
	case []int32:
		got = len(x)
	case []int:
		got = len(x)
	case []uint8:
		got = len(x)
	case []bool:
		got = len(x)
	default:
		return nil, nil, fmt.Errorf("unsupported dtype %v", t.Dtype())
	}
	if got != n {
		return nil, nil, fmt.Errorf("shape %v needs %d values but the tensor holds %d", shape, n, got)
	}
	return data, shape, nil
}

// float32ToHalf converts to IEEE 754 binary16 with round-to-nearest-even,
// the same rounding numpy and PyTorch use, so F16 exports match theirs.
func float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if mant != 0 {
			m := uint16(mant >> 13)
			if m == 0 {
				m = 1 // keep NaN a NaN
			}
			return sign | 0x7c00 | m | 0x200
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f { // overflow to infinity
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal or zero in half precision
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & ((1 << shift) - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the correct rounding
	}
	return sign | uint16(r)
}

// halfToFloat32 converts an IEEE 754 binary16 value exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: normalise the mantissa
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// bfloat16ToFloat32 is exact: bfloat16 is the top half of a float32.
func bfloat16ToFloat32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// ErrNonFinite is wrapped by loaders that find NaN or ±Inf weights.
var ErrNonFinite = errors.New("non-finite weight")

// CheckFinite returns an error naming the tensor, the first non-finite
// value and its flat index if t holds NaN or ±Inf; integer tensors pass.
// The error wraps ErrNonFinite.
func CheckFinite(name string, t *tensor.Dense) error {
	data, _, err := denseData(t)
	if err != nil {
		return fmt.Errorf("tensor %s: %w", name, err)
	}
	bad := func(i int, v float64) error {
		return fmt.Errorf("tensor %s holds %v at index %d: %w", name, v, i, ErrNonFinite)
	}
	switch d := data.(type) {
	case []float32:
		for i, v := range d {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return bad(i, f)
			}
		}
	case []float64:
		for i, v := range d {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return bad(i, v)
			}
		}
	}
	return nil
}
