// Copyright the TVLT-Go authors.

//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

//go:generate go run genkernels.go

// kernel12x32avx512 is the AVX-512 micro-kernel: 12 rows × 2 ZMM (32 floats), 24 accumulators.
//
//go:noescape
func kernel12x32avx512(kc int, a, b, c *float32, lda, ldc int, alpha, beta float32, load int)

// kernel6x16avx2 is the AVX2+FMA micro-kernel: 6 rows × 2 YMM (16 floats), 12 accumulators.
//
//go:noescape
func kernel6x16avx2(kc int, a, b, c *float32, lda, ldc int, alpha, beta float32, load int)

// Shorter variants of the kernels above for the last rows of C.
//
//go:noescape
func kernel8x32avx512(kc int, a, b, c *float32, lda, ldc int, alpha, beta float32, load int)

//go:noescape
func kernel4x32avx512(kc int, a, b, c *float32, lda, ldc int, alpha, beta float32, load int)

//go:noescape
func kernel4x16avx2(kc int, a, b, c *float32, lda, ldc int, alpha, beta float32, load int)

//go:noescape
func kernel2x16avx2(kc int, a, b, c *float32, lda, ldc int, alpha, beta float32, load int)

var (
	avx512Kernel = &kernel{name: "go-avx512", short: "avx512", rank: 2, mr: 12, nr: 32, kc: 256, mc: 336, nc: 1024, micro: kernel12x32avx512,
		transpose: packTransposed, copyRows: packCopy,
		short4: kernel4x32avx512, short8: kernel8x32avx512, shortRows: [2]int{4, 8}}
	avx2Kernel = &kernel{name: "go-avx2", short: "avx2", rank: 1, mr: 6, nr: 16, kc: 256, mc: 336, nc: 1024, micro: kernel6x16avx2,
		transpose: packTransposed, copyRows: packCopy,
		short4: kernel2x16avx2, short8: kernel4x16avx2, shortRows: [2]int{2, 4}}
	kernels = []*kernel{avx512Kernel, avx2Kernel, goKernel}
)

// available lists the kernels this CPU runs, worst first.
func available() []*kernel {
	ks := []*kernel{goKernel}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx512Kernel)
	}
	return ks
}

// transpose8 sets dst[c*ldd+r] = src[r*lds+c] for r < 8, c < ncols&^3 (AVX).
//
//go:noescape
func transpose8(src *float32, lds int, dst *float32, ldd int, ncols int)

// copyRows copies rows rows of nv*8 floats, row stride lds, to dst packed (AVX).
//
//go:noescape
func copyRows(src *float32, lds int, dst *float32, rows int, nv int)

var hasAVX = cpu.X86.HasAVX

// packCopy sets dst[r*w+c] = src[r*lds+c] for r < rows, c < w.
func packCopy(src []float32, lds, rows, w int, dst []float32) {
	if rows == 0 {
		return
	}
	if !hasAVX || w%8 != 0 {
		packCopyGo(src, lds, rows, w, dst)
		return
	}
	_ = src[(rows-1)*lds+w-1]
	_ = dst[rows*w-1]
	copyRows(&src[0], lds, &dst[0], rows, w/8)
}

// packTransposed sets dst[c*ldd+r] = src[(r0+r)*lds+c0+c] for r < nrows,
// c < ncols, eight rows at a time with AVX.
func packTransposed(src []float32, lds, r0, nrows, c0, ncols int, dst []float32, ldd int) {
	if !hasAVX || ncols < 4 {
		packTransposedGo(src, lds, r0, nrows, c0, ncols, dst, ldd)
		return
	}
	r := 0
	c4 := ncols &^ 3
	for ; r+8 <= nrows; r += 8 {
		base := (r0+r)*lds + c0
		// Bounds: the last element read and written must exist.
		_ = src[base+7*lds+ncols-1]
		_ = dst[(ncols-1)*ldd+r+7]
		transpose8(&src[base], lds, &dst[r], ldd, c4)
		if c4 < ncols {
			packTransposedGo(src, lds, r0+r, 8, c0+c4, ncols-c4, dst[c4*ldd+r:], ldd)
		}
	}
	if r < nrows {
		packTransposedGo(src, lds, r0+r, nrows-r, c0, ncols, dst[r:], ldd)
	}
}
