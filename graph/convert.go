package graph

import "gorgonia.org/tensor"

// Float64s reads any numeric tensor (float32/64, int32/64, uint8, bool, or
// a scalar) as float64: the data itself for float64, a copy otherwise; nil
// for other element types. Host-side code (input preparation, losses,
// tests) uses it to work in one precision whatever the model's dtype.
func Float64s(t tensor.Tensor) []float64 {
	switch d := t.Data().(type) {
	case []float64:
		return d
	case []float32:
		return widen(d)
	case []int64:
		return widen(d)
	case []int32:
		return widen(d)
	case []int:
		return widen(d)
	case []uint8:
		return widen(d)
	case []bool:
		out := make([]float64, len(d))
		for i, x := range d {
			if x {
				out[i] = 1
			}
		}
		return out
	case float32:
		return []float64{float64(d)}
	case float64:
		return []float64{d}
	case int64:
		return []float64{float64(d)}
	}
	return nil
}

func widen[T float32 | int64 | int32 | int | uint8](d []T) []float64 {
	return widenInto(nil, d)
}

// Float64sInto is Float64s into buf's storage (grown when too small), so a
// training step's host-side reads allocate nothing after the first; float64
// data is returned itself, without a copy.
func Float64sInto(buf []float64, t tensor.Tensor) []float64 {
	switch d := t.Data().(type) {
	case []float32:
		return widenInto(buf, d)
	case []int64:
		return widenInto(buf, d)
	}
	return Float64s(t)
}

func widenInto[T float32 | int64 | int32 | int | uint8](buf []float64, d []T) []float64 {
	if cap(buf) < len(d) {
		buf = make([]float64, len(d))
	}
	out := buf[:len(d)]
	for i, x := range d {
		out[i] = float64(x)
	}
	return out
}
