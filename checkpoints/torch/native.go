package torch

import "unsafe"

// littleEndian says the machine stores numbers as the file does, so F32,
// F64 and I64 storages can be read straight into the output slice.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// rawBytes returns out's memory as bytes when its elements have the file's
// layout for dtype d (F32 into []float32, F64 into []float64, I64 into
// []int64 on a little-endian machine), else nil.
func rawBytes(out interface{}, d dtype) []byte {
	if !littleEndian {
		return nil
	}
	switch o := out.(type) {
	case []float32:
		if d == dFloat32 && len(o) > 0 {
			return unsafe.Slice((*byte)(unsafe.Pointer(&o[0])), 4*len(o))
		}
	case []float64:
		if d == dFloat64 && len(o) > 0 {
			return unsafe.Slice((*byte)(unsafe.Pointer(&o[0])), 8*len(o))
		}
	case []int64:
		if d == dInt64 && len(o) > 0 {
			return unsafe.Slice((*byte)(unsafe.Pointer(&o[0])), 8*len(o))
		}
	}
	return nil
}
