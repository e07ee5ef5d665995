package torch

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"gorgonia.org/tensor"
)

// chunk is the reading buffer of contiguous tensors: a tensor is decoded
// from the file a chunk at a time, so the file's bytes are never held whole
// next to the decoded values.
const chunk = 1 << 20

// source reads tensors out of the file within an allocation budget.
type source struct {
	r    io.ReaderAt
	size int64
	// budget is what decoding may still allocate: 8 × the file size (F16 and
	// BF16 double to float32, uint8 grows 8 × to int64, and a few views may
	// repeat a storage) plus 16 MiB. A file whose views repeat one storage
	// many times is refused instead of multiplying memory.
	budget  int64
	scratch []byte
}

func newSource(r io.ReaderAt, size int64) *source {
	return &source{r: r, size: size, budget: 8*size + 16<<20}
}

// charge takes count × size bytes from the budget (overflow-safe: count
// may be up to 2^62).
func (s *source) charge(count, size int64, what string) error {
	if count > s.budget/size {
		return fmt.Errorf("%s needs %d × %d more bytes, past the budget of 8 × the %d byte file (views repeating one storage?)", what, count, size, s.size)
	}
	s.budget -= count * size
	return nil
}

// outSize is the element size of the Go type a dtype decodes to.
func outSize(d dtype) (int64, bool) {
	switch d {
	case dFloat32, dFloat16, dBFloat16:
		return 4, true
	case dFloat64, dInt64, dInt32, dInt16, dInt8, dUint8:
		return 8, true
	case dBool:
		return 1, true
	}
	return 0, false
}

// storageStart is the file offset of element 0 of t's storage.
func storageStart(st *storageRef) (int64, error) {
	root := st
	if st.root != nil {
		root = st.root
	}
	if !root.located {
		return 0, fmt.Errorf("storage %s has no data in the file", printable(root.key))
	}
	return root.fileOff + st.elemOff*st.dtype.size(), nil
}

// materialize reads and decodes a tensor: float32 for F32/F16/BF16, float64
// for F64, int64 for every integer type, bool for bool.
func (s *source) materialize(t *tensorRef) (*tensor.Dense, error) {
	osz, ok := outSize(t.dtype)
	if !ok {
		return nil, fmt.Errorf("dtype %s is not supported", t.dtype)
	}
	n, _ := t.numel() // checkBounds has bounded it
	if n == 0 {
		return nil, fmt.Errorf("size %v has no elements, which a tensor.Dense cannot hold", t.size)
	}
	start, err := storageStart(t.storage)
	if err != nil {
		return nil, err
	}
	es := t.dtype.size()
	start += t.offset * es
	if err := s.charge(n, osz, "decoding its values"); err != nil {
		return nil, err
	}
	out := makeOut(t.dtype, int(n))
	if t.contiguous() {
		if err := s.readInto(out, start, n, t.dtype); err != nil {
			return nil, err
		}
	} else {
		span := t.span()
		if err := s.charge(span, es, "reading its strided view"); err != nil {
			return nil, err
		}
		if err := s.charge(n, es, "gathering its strided view"); err != nil {
			return nil, err
		}
		src := make([]byte, span*es)
		if err := readAt(s.r, src, start); err != nil {
			return nil, err
		}
		decode(out, 0, gather(src, t, n, es), t.dtype)
	}
	shape := make([]int, len(t.size))
	for i, d := range t.size {
		shape[i] = int(d)
	}
	if len(shape) == 0 {
		// Like the npz and safetensors readers: scalars have shape [1].
		shape = []int{1}
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(out)), nil
}

// readInto decodes n contiguous elements at file offset start.
func (s *source) readInto(out interface{}, start, n int64, d dtype) error {
	es := d.size()
	if raw := rawBytes(out, d); raw != nil {
		// Same layout as the file: one read, no decoding pass.
		return readAt(s.r, raw, start)
	}
	if int64(len(s.scratch)) < min(n*es, chunk) {
		s.scratch = make([]byte, min(n*es, chunk))
	}
	per := int64(len(s.scratch)) / es
	for done := int64(0); done < n; {
		k := min(per, n-done)
		buf := s.scratch[:k*es]
		if err := readAt(s.r, buf, start+done*es); err != nil {
			return err
		}
		decode(out, int(done), buf, d)
		done += k
	}
	return nil
}

// readAt fills buf from offset off (io.ReaderAt may report io.EOF with a
// full read at the end of the file).
func readAt(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at %d: %w", len(buf), off, err)
}

// gather copies the view's elements out of src (the storage from the view's
// first element on) in row-major order.
func gather(src []byte, t *tensorRef, n, es int64) []byte {
	dst := make([]byte, 0, n*es)
	idx := make([]int64, len(t.size))
	pos := int64(0)
	for i := int64(0); i < n; i++ {
		dst = append(dst, src[pos*es:(pos+1)*es]...)
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			pos += t.stride[d]
			if idx[d] < t.size[d] {
				break
			}
			pos -= idx[d] * t.stride[d]
			idx[d] = 0
		}
	}
	return dst
}

func makeOut(d dtype, n int) interface{} {
	switch d {
	case dFloat32, dFloat16, dBFloat16:
		return make([]float32, n)
	case dFloat64:
		return make([]float64, n)
	case dBool:
		return make([]bool, n)
	}
	return make([]int64, n)
}

// decode converts little-endian elements of type d from src into out[at:].
func decode(out interface{}, at int, src []byte, d dtype) {
	le := binary.LittleEndian
	switch d {
	case dFloat32:
		o := out.([]float32)[at:]
		for i := range len(src) / 4 {
			o[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case dFloat16:
		o := out.([]float32)[at:]
		for i := range len(src) / 2 {
			o[i] = halfToFloat32(le.Uint16(src[2*i:]))
		}
	case dBFloat16:
		o := out.([]float32)[at:]
		for i := range len(src) / 2 {
			o[i] = bfloat16ToFloat32(le.Uint16(src[2*i:]))
		}
	case dFloat64:
		o := out.([]float64)[at:]
		for i := range len(src) / 8 {
			o[i] = math.Float64frombits(le.Uint64(src[8*i:]))
		}
	case dInt64:
		o := out.([]int64)[at:]
		for i := range len(src) / 8 {
			o[i] = int64(le.Uint64(src[8*i:]))
		}
	case dInt32:
		o := out.([]int64)[at:]
		for i := range len(src) / 4 {
			o[i] = int64(int32(le.Uint32(src[4*i:])))
		}
	case dInt16:
		o := out.([]int64)[at:]
		for i := range len(src) / 2 {
			o[i] = int64(int16(le.Uint16(src[2*i:])))
		}
	case dInt8:
		o := out.([]int64)[at:]
		for i, b := range src {
			o[i] = int64(int8(b))
		}
	case dUint8:
		o := out.([]int64)[at:]
		for i, b := range src {
			o[i] = int64(b)
		}
	case dBool:
		o := out.([]bool)[at:]
		for i, b := range src {
			o[i] = b != 0
		}
	}
}
