package torch

import (
	"fmt"
	"math/bits"
)

// maxDims bounds a tensor's rank (torch itself stops at 64).
const maxDims = 64

// rebuildTensor checks _rebuild_tensor*'s (storage, storage_offset, size,
// stride, ...) against the storage and returns the tensor, unread. dt is the
// tensor's dtype for _rebuild_tensor_v3 (which views an untyped storage);
// the others take the storage's.
func rebuildTensor(g *pyGlobal, args []interface{}, dt dtype) (*tensorRef, error) {
	st, ok := args[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("%s: argument 1 is a %s, not a storage", g, typeName(args[0]))
	}
	if dt == dNone {
		dt = st.dtype
	}
	off, ok := args[1].(int64)
	if !ok || off < 0 {
		return nil, fmt.Errorf("%s: storage offset is a %s (want an int >= 0)", g, typeName(args[1]))
	}
	size, err := intTuple(args[2])
	if err != nil {
		return nil, fmt.Errorf("%s: size: %w", g, err)
	}
	stride, err := intTuple(args[3])
	if err != nil {
		return nil, fmt.Errorf("%s: stride: %w", g, err)
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("%s: size %v and stride %v differ in rank", g, size, stride)
	}
	t := &tensorRef{storage: st, dtype: dt, offset: off, size: size, stride: stride}
	if err := t.checkBounds(); err != nil {
		return nil, fmt.Errorf("%s: %w", g, err)
	}
	return t, nil
}

// intTuple reads a size or stride: at most maxDims non-negative ints
// (torch has no negative strides).
func intTuple(v interface{}) ([]int64, error) {
	items, ok := sequence(v)
	if !ok {
		return nil, fmt.Errorf("a %s, not a tuple", typeName(v))
	}
	if len(items) > maxDims {
		return nil, fmt.Errorf("%d dimensions (at most %d)", len(items), maxDims)
	}
	out := make([]int64, len(items))
	for i, it := range items {
		n, ok := it.(int64)
		if !ok {
			return nil, fmt.Errorf("dimension %d is a %s, not an int", i, typeName(it))
		}
		if n < 0 {
			return nil, fmt.Errorf("dimension %d is negative (%d)", i, n)
		}
		out[i] = n
	}
	return out, nil
}

// numel is the tensor's element count; ok is false if it overflows int64.
func (t *tensorRef) numel() (n int64, ok bool) {
	n = 1
	for _, s := range t.size {
		hi, lo := bits.Mul64(uint64(n), uint64(s))
		if hi != 0 || lo > 1<<62 {
			return 0, false
		}
		n = int64(lo)
	}
	return n, true
}

// checkBounds verifies that every element the view reaches lies in its
// storage: offset + sum((size_i - 1) * stride_i) < storage elements, with
// every step overflow-checked.
func (t *tensorRef) checkBounds() error {
	if t.dtype.size() == 0 {
		return fmt.Errorf("tensor of unknown dtype")
	}
	n, ok := t.numel()
	if !ok {
		return fmt.Errorf("size %v has more than 2^62 elements", t.size)
	}
	if n == 0 {
		return nil
	}
	last := uint64(t.offset)
	for i, s := range t.size {
		hi, step := bits.Mul64(uint64(s-1), uint64(t.stride[i]))
		var carry uint64
		last, carry = bits.Add64(last, step, 0)
		if hi != 0 || carry != 0 || last > 1<<62 {
			return fmt.Errorf("size %v stride %v offset %d overflows", t.size, t.stride, t.offset)
		}
	}
	// Storage bytes viewed as elements of the tensor's dtype.
	elems := uint64(t.storage.numel) * uint64(t.storage.dtype.size()) / uint64(t.dtype.size())
	if last >= elems {
		return fmt.Errorf("size %v stride %v offset %d reaches element %d of a storage of %d %s elements", t.size, t.stride, t.offset, last, elems, t.dtype)
	}
	return nil
}

// contiguous reports whether the view is the row-major layout of its size.
func (t *tensorRef) contiguous() bool {
	want := int64(1)
	for i := len(t.size) - 1; i >= 0; i-- {
		if t.size[i] != 1 && t.stride[i] != want {
			return false
		}
		want *= t.size[i]
	}
	return true
}

// span is the number of storage elements from the view's first to its last
// element (checkBounds has bounded it).
func (t *tensorRef) span() int64 {
	last := int64(0)
	for i, s := range t.size {
		last += (s - 1) * t.stride[i]
	}
	return last + 1
}
