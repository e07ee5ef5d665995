// Copyright the TVLT-Go authors.

package gemm

import (
	"sync"
	"unsafe"
)

// workBuf holds one goroutine's packing buffers, reused across calls.
type workBuf struct {
	a, b, tile []float32
}

// freeBufs holds the buffers of calling goroutines between calls. Unlike a
// sync.Pool it is not emptied by garbage collections, so steady-state calls
// allocate nothing; it holds at most one buffer per concurrent caller.
var freeBufs struct {
	sync.Mutex
	list []*workBuf
}

func getBuf() *workBuf {
	freeBufs.Lock()
	defer freeBufs.Unlock()
	if n := len(freeBufs.list); n > 0 {
		b := freeBufs.list[n-1]
		freeBufs.list = freeBufs.list[:n-1]
		return b
	}
	return new(workBuf)
}

func putBuf(b *workBuf) {
	freeBufs.Lock()
	freeBufs.list = append(freeBufs.list, b)
	freeBufs.Unlock()
}

// ensure grows the buffers to hold na, nb and nt floats, 64-byte aligned.
func (w *workBuf) ensure(na, nb, nt int) {
	w.a = grow(w.a, na)
	w.b = grow(w.b, nb)
	w.tile = grow(w.tile, nt)
}

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	raw := make([]float32, n+16)
	off := 0
	if r := uintptr(unsafe.Pointer(&raw[0])) % 64; r != 0 {
		off = int(64-r) / 4
	}
	return raw[off : off+n : off+n]
}

// packA copies op(A)[i0:i0+mc, p0:p0+kc] into dst as ceil(mc/mr) panels of
// mr rows, each row kc contiguous values; rows past mc are zero.
func (k *kernel) packA(trans bool, a []float32, lda, i0, mc, p0, kc, mr int, dst []float32) {
	rows := ceilDiv(mc, mr) * mr
	if !trans {
		for i := 0; i < mc; i++ {
			copy(dst[i*kc:(i+1)*kc], a[(i0+i)*lda+p0:])
		}
	} else {
		k.transpose(a, lda, p0, kc, i0, mc, dst, kc)
	}
	clear(dst[mc*kc : rows*kc])
}

// packB copies op(B)[p0:p0+kc, j0:j0+nc] into dst as ceil(nc/nr) panels of
// kc rows of nr contiguous values; columns past nc are zero.
func (k *kernel) packB(trans bool, b []float32, ldb, p0, kc, j0, nc, nr int, dst []float32) {
	for jp := 0; jp < nc; jp += nr {
		w := min(nr, nc-jp)
		panel := dst[jp*kc : jp*kc+kc*nr]
		if !trans {
			src := b[p0*ldb+j0+jp:]
			if w == nr {
				k.copyRows(src, ldb, kc, nr, panel)
			} else {
				for p := 0; p < kc; p++ {
					row := panel[p*nr : p*nr+nr]
					copy(row, src[p*ldb:p*ldb+w])
					clear(row[w:])
				}
			}
			continue
		}
		// op(B)[p, j] = b[j*ldb+p]: rows of b become columns of the panel.
		k.transpose(b, ldb, j0+jp, w, p0, kc, panel, nr)
		if w < nr {
			for p := 0; p < kc; p++ {
				clear(panel[p*nr+w : p*nr+nr])
			}
		}
	}
}

// packTransposedGo sets dst[c*ldd+r] = src[(r0+r)*lds+c0+c] for r < nrows,
// c < ncols, eight source rows at a time so that dst is written in runs.
func packTransposedGo(src []float32, lds, r0, nrows, c0, ncols int, dst []float32, ldd int) {
	r := 0
	for ; r+8 <= nrows; r += 8 {
		base := (r0+r)*lds + c0
		s0 := src[base : base+ncols]
		s1 := src[base+lds : base+lds+ncols]
		s2 := src[base+2*lds : base+2*lds+ncols]
		s3 := src[base+3*lds : base+3*lds+ncols]
		s4 := src[base+4*lds : base+4*lds+ncols]
		s5 := src[base+5*lds : base+5*lds+ncols]
		s6 := src[base+6*lds : base+6*lds+ncols]
		s7 := src[base+7*lds : base+7*lds+ncols]
		for c := range s0 {
			d := dst[c*ldd+r : c*ldd+r+8]
			d[0], d[1], d[2], d[3] = s0[c], s1[c], s2[c], s3[c]
			d[4], d[5], d[6], d[7] = s4[c], s5[c], s6[c], s7[c]
		}
	}
	for ; r < nrows; r++ {
		base := (r0+r)*lds + c0
		for c, v := range src[base : base+ncols] {
			dst[c*ldd+r] = v
		}
	}
}

// packCopyGo sets dst[r*w+c] = src[r*lds+c] for r < rows, c < w.
func packCopyGo(src []float32, lds, rows, w int, dst []float32) {
	for r := 0; r < rows; r++ {
		copy(dst[r*w:r*w+w], src[r*lds:r*lds+w])
	}
}
