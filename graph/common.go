package graph

import (
	"fmt"
	"hash"
	"hash/fnv"
	"runtime"
	"sync"

	gonumblas "gonum.org/v1/gonum/blas/gonum"

	"github.com/chewxy/hm"
	"github.com/tvlt-go/tvlt/graph/gemm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// float is the element type every kernel in this package is written for.
type float interface{ float32 | float64 }

// opBase supplies the Op methods that are identical for every op in this package:
// outputs are always fresh (or preallocated) buffers, never aliases of inputs,
// so the TapeMachine's register reuse can never make an op read its own output.
type opBase struct{ name string }

func (o opBase) ReturnsPtr() bool      { return false }
func (o opBase) CallsExtern() bool     { return false }
func (o opBase) OverwritesInput() int  { return -1 }
func (o opBase) String() string        { return o.name }
func (o opBase) WriteHash(h hash.Hash) { fmt.Fprint(h, o.name) }
func (o opBase) Hashcode() uint32 {
	h := fnv.New32a()
	fmt.Fprint(h, o.name)
	return h.Sum32()
}

// hmType is the type-system type ops report from Type().
type hmType = hm.Type

// tv is the type variable standing for the graph's float dtype (or a tensor of it).
func tv() hm.Type { return hm.TypeVariable('a') }

// tt is a tensor type of the given rank over the type variable 'a' (the graph's float dtype).
func tt(dims int) hm.Type { return G.TensorType{Dims: dims, Of: hm.TypeVariable('a')} }

// ti64 is an Int64 tensor type of the given rank (index inputs).
func ti64(dims int) hm.Type { return G.TensorType{Dims: dims, Of: tensor.Int64} }

// fnType builds an op type from argument types followed by the return type.
func fnType(ts ...hm.Type) hm.Type { return hm.NewFnType(ts...) }

// shapeOf returns the static shape of a node, erroring on nil nodes.
func shapeOf(n *G.Node, op, arg string) (tensor.Shape, error) {
	if n == nil {
		return nil, fmt.Errorf("graph: %s: %s is nil", op, arg)
	}
	return n.Shape(), nil
}

// checkFloat ensures a node holds float32 or float64 values.
func checkFloat(n *G.Node, op, arg string) error {
	dt := n.Dtype()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return fmt.Errorf("graph: %s: %s dtype %v, want float32 or float64", op, arg, dt)
	}
	return nil
}

// checkSameDtype ensures two nodes share a dtype (Gorgonia would otherwise fail with an opaque type error).
func checkSameDtype(a, b *G.Node, op, argA, argB string) error {
	if a.Dtype() != b.Dtype() {
		return fmt.Errorf("graph: %s: %s dtype %v != %s dtype %v", op, argA, a.Dtype(), argB, b.Dtype())
	}
	return nil
}

// check3 validates that n is a float (B,S,D) node.
func check3(n *G.Node, op, arg string) (tensor.Shape, error) {
	s, err := shapeOf(n, op, arg)
	if err != nil {
		return nil, err
	}
	if err := checkFloat(n, op, arg); err != nil {
		return nil, err
	}
	if s.Dims() != 3 {
		return nil, fmt.Errorf("graph: %s: %s must be rank 3 (B,S,D), got shape %v", op, arg, s)
	}
	return s, nil
}

// checkToken validates a (1,1,D) token against model dim d.
func checkToken(tok, ref *G.Node, d int, op, arg string) error {
	ts, err := check3(tok, op, arg)
	if err != nil {
		return err
	}
	if err := checkSameDtype(ref, tok, op, "x", arg); err != nil {
		return err
	}
	if ts[0] != 1 || ts[1] != 1 || ts[2] != d {
		return fmt.Errorf("graph: %s: %s shape %v != (1, 1, %d)", op, arg, ts, d)
	}
	return nil
}

// checkIDs validates a (B, K) Int64 index node.
func checkIDs(ids *G.Node, b int, op, arg string) (tensor.Shape, error) {
	s, err := shapeOf(ids, op, arg)
	if err != nil {
		return nil, err
	}
	if ids.Dtype() != tensor.Int64 {
		return nil, fmt.Errorf("graph: %s: %s dtype %v, want int64", op, arg, ids.Dtype())
	}
	if s.Dims() != 2 || s[0] != b {
		return nil, fmt.Errorf("graph: %s: %s shape %v != (%d, K)", op, arg, s, b)
	}
	return s, nil
}

// denseOf unwraps a runtime Value into a contiguous *tensor.Dense.
func denseOf(v G.Value, op, arg string) (*tensor.Dense, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("graph: %s: %s: expected *tensor.Dense, got %T", op, arg, v)
	}
	if d.RequiresIterator() {
		m, ok := d.Materialize().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("graph: %s: %s: cannot materialise view", op, arg)
		}
		d = m
	}
	return d, nil
}

// denses unwraps all inputs with denseOf after checking there is one per name; names
// label the inputs in error messages. Shapes and dtypes are left to the caller.
func denses(op string, names []string, inputs []G.Value) ([]*tensor.Dense, error) {
	if len(inputs) != len(names) {
		return nil, fmt.Errorf("graph: %s: got %d inputs, want %d", op, len(inputs), len(names))
	}
	out := make([]*tensor.Dense, len(inputs))
	for i, v := range inputs {
		d, err := denseOf(v, op, names[i])
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// outTensor returns prealloc when it fits (shape and dtype), else a fresh zeroed tensor.
// Callers must overwrite every element of a reused buffer (it holds the previous run's data).
func outTensor(prealloc G.Value, dt tensor.Dtype, shape tensor.Shape) (*tensor.Dense, bool) {
	if p, ok := prealloc.(*tensor.Dense); ok && p != nil && p.Dtype() == dt && p.Shape().Eq(shape) && !p.RequiresIterator() && !p.IsView() {
		return p, true
	}
	return tensor.New(tensor.WithShape(shape.Clone()...), tensor.Of(dt)), false
}

// sliceOf returns a dense tensor's backing slice as []T.
func sliceOf[T float](d *tensor.Dense) []T {
	if d.IsScalar() {
		return nil
	}
	return d.Data().([]T)
}

// floatKernel runs f32 or f64 depending on dt.
func floatKernel(dt tensor.Dtype, op string, f32, f64 func()) error {
	switch dt {
	case tensor.Float32:
		f32()
	case tensor.Float64:
		f64()
	default:
		return fmt.Errorf("graph: %s: unsupported dtype %v", op, dt)
	}
	return nil
}

// int64sOf returns an Int64 tensor's data.
func int64sOf(d *tensor.Dense, op, arg string) ([]int64, error) {
	if d.Dtype() != tensor.Int64 {
		return nil, fmt.Errorf("graph: %s: %s dtype %v, want int64", op, arg, d.Dtype())
	}
	return d.Data().([]int64), nil
}

// loadIDs validates runtime indices against [0, limit).
func loadIDs(t *tensor.Dense, b, limit int, op, arg string) ([]int64, int, error) {
	ids, err := int64sOf(t, op, arg)
	if err != nil {
		return nil, 0, err
	}
	s := t.Shape()
	if s.Dims() != 2 || s[0] != b {
		return nil, 0, fmt.Errorf("graph: %s: %s shape %v != (%d, K)", op, arg, s, b)
	}
	for i, v := range ids {
		if v < 0 || v >= int64(limit) {
			return nil, 0, fmt.Errorf("graph: %s: %s[%d, %d] = %d out of range [0, %d)", op, arg, i/s[1], i%s[1], v, limit)
		}
	}
	return ids, s[1], nil
}

// matmul computes C = alpha·op(A)·op(B) + beta·C with the registered BLAS: the pure-Go
// GEMM called directly by default, or a cgo BLAS (OpenBLAS) installed with G.Use.
func matmul[T float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	gemmFlops.Add(2 * int64(m) * int64(n) * int64(k))
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	if k == 0 {
		// BLAS requires lda >= 1 etc. even when k is 0; scale C by hand.
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0 // also clears NaNs left in a reused buffer
				} else {
					row[j] *= beta
				}
			}
		}
		return
	}
	if tA && slowTransposedA[T]() {
		// Gonum's pure-Go GEMM is markedly slower with a transposed A (e.g. 1.4 s vs 1.0 s
		// for the 3072x768x588 weight gradient); a blocked transpose costs a few ms.
		// Cgo BLAS libraries handle transposes natively, so this only applies to gonum.
		buf := getScratch[T](m * k)
		transposeInto(*buf, a, k, m, lda)
		matmul(false, tB, m, n, k, alpha, *buf, k, b, ldb, beta, c, ldc)
		putScratch(buf)
		return
	}
	switch av := any(a).(type) {
	case []float32:
		if isGemmBLAS() {
			gemm.Sgemm(tA, tB, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
			return
		}
		G.WhichBLAS().Sgemm(ta, tb, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		G.WhichBLAS().Dgemm(ta, tb, m, n, k, float64(alpha), av, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// parallelMinWork is the number of scalar operations below which splitting work
// across goroutines costs more than it saves.
const parallelMinWork = 1 << 15

// parFor runs body over [0,n) split into contiguous chunks, one goroutine per CPU,
// when n·costPerItem is large enough; otherwise it runs inline.
func parFor(n, costPerItem int, body func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 || n*costPerItem < parallelMinWork {
		if n > 0 {
			body(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			body(lo, hi)
		}(lo, hi)
	}
	wg.Wait()
}

// numWorkers is the number of goroutines parallel kernels split work into.
func numWorkers() int { return max(1, runtime.GOMAXPROCS(0)) }

// slowTransposedA reports whether the registered BLAS runs a transposed A
// through gonum's pure-Go GEMM: gonum's Dgemm/Sgemm, and the Dgemm the
// pure-Go GEMM inherits from gonum (float64 graphs).
func slowTransposedA[T float]() bool {
	switch G.WhichBLAS().(type) {
	case gonumblas.Implementation, *gonumblas.Implementation:
		return true
	case gemm.Implementation, *gemm.Implementation:
		var z T
		_, f64 := any(z).(float64)
		return f64
	}
	return false
}

var (
	scratch32 = sync.Pool{New: func() any { return new([]float32) }}
	scratch64 = sync.Pool{New: func() any { return new([]float64) }}
)

// getScratch returns a pooled buffer of length n (contents undefined).
func getScratch[T float](n int) *[]T {
	var p *[]T
	switch any(p).(type) {
	case *[]float32:
		p = any(scratch32.Get()).(*[]T)
	default:
		p = any(scratch64.Get()).(*[]T)
	}
	if cap(*p) < n {
		*p = make([]T, n)
	}
	*p = (*p)[:n]
	return p
}

func putScratch[T float](p *[]T) {
	switch v := any(p).(type) {
	case *[]float32:
		scratch32.Put(v)
	case *[]float64:
		scratch64.Put(v)
	}
}

// transposeInto writes the (rows × cols) matrix src (row stride lds) transposed into dst
// as a contiguous (cols × rows) matrix, in cache-sized tiles.
func transposeInto[T float](dst, src []T, rows, cols, lds int) {
	const tile = 32
	nt := (rows + tile - 1) / tile
	parFor(nt, tile*cols, func(lo, hi int) {
		for i0 := lo * tile; i0 < min(hi*tile, rows); i0 += tile {
			i1 := min(i0+tile, rows)
			for j0 := 0; j0 < cols; j0 += tile {
				j1 := min(j0+tile, cols)
				for i := i0; i < i1; i++ {
					row := src[i*lds+j0 : i*lds+j1]
					for j, v := range row {
						dst[(j0+j)*rows+i] = v
					}
				}
			}
		}
	})
}
