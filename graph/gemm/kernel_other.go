// Copyright the TVLT-Go authors.

//go:build !amd64 || purego

package gemm

var kernels = []*kernel{goKernel}

// available lists the kernels this build runs, worst first.
func available() []*kernel { return kernels }

func packTransposed(src []float32, lds, r0, nrows, c0, ncols int, dst []float32, ldd int) {
	packTransposedGo(src, lds, r0, nrows, c0, ncols, dst, ldd)
}

func packCopy(src []float32, lds, rows, w int, dst []float32) { packCopyGo(src, lds, rows, w, dst) }
