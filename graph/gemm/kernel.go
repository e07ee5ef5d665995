// Copyright the TVLT-Go authors.

package gemm

import (
	"os"
	"runtime"
	"strings"
	"sync/atomic"
)

// microKernel computes the mr×nr product of a packed A panel (mr rows of kc
// values, row stride lda) and a packed B panel (kc rows of nr values) and
// writes C = alpha*AB (load == 0) or C = alpha*AB + beta*C (load != 0) to the
// row-major tile at c with row stride ldc.
type microKernel func(kc int, a, b, c *float32, lda, ldc int, alpha, beta float32, load int)

// kernel is one micro-kernel with the blocking parameters tuned for it.
type kernel struct {
	name   string // as reported by Kernel
	short  string // as accepted by setKernel and TVLT_GEMM
	rank   int    // higher is faster; forcing only ever downgrades
	mr, nr int    // register tile
	kc     int    // k block: a kc×nr B panel stays in L1
	mc     int    // m block: an mc×kc packed A block stays in L2
	nc     int    // n block: a kc×nc packed B block stays in L3
	micro  microKernel
	// Packing helpers: transpose as packTransposedGo, copyRows as packCopyGo
	// (assembly versions for the assembly kernels, so that the "go" kernel
	// runs no assembly at all).
	transpose func(src []float32, lds, r0, nrows, c0, ncols int, dst []float32, ldd int)
	copyRows  func(src []float32, lds, rows, w int, dst []float32)
	// Optional kernels computing only the first shortRows[i] rows of a
	// tile, for the last rows of C.
	short4, short8 microKernel
	shortRows      [2]int
}

// rowsKernel returns the kernel with the fewest rows >= mh and its rows.
func (k *kernel) rowsKernel(mh int) (microKernel, int) {
	switch {
	case k.short4 != nil && mh <= k.shortRows[0]:
		return k.short4, k.shortRows[0]
	case k.short8 != nil && mh <= k.shortRows[1]:
		return k.short8, k.shortRows[1]
	}
	return k.micro, k.mr
}

var (
	active    atomic.Pointer[kernel]
	threadCap atomic.Int64 // 0: GOMAXPROCS
)

func init() {
	k := best(os.Getenv("TVLT_GEMM"))
	active.Store(k)
}

// best returns the fastest available kernel not above the one named (any name
// if empty or unknown).
func best(name string) *kernel {
	name = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "go-")
	limit := 1 << 30
	for _, k := range kernels {
		if k.short == name {
			limit = k.rank
		}
	}
	if name == "go" {
		limit = goKernel.rank
	}
	var pick *kernel
	for _, k := range available() {
		if k.rank <= limit && (pick == nil || k.rank > pick.rank) {
			pick = k
		}
	}
	return pick
}

func current() *kernel { return active.Load() }

// Kernel returns the micro-kernel in use: "go-avx512", "go-avx2" or "go".
func Kernel() string { return current().name }

// availableKernels returns the names of the kernels this machine can run, best first.
func availableKernels() []string {
	av := available()
	names := make([]string, len(av))
	for i, k := range av {
		names[len(av)-1-i] = k.name
	}
	return names
}

// setKernel selects the best available kernel not faster than name ("avx512", "avx2", "go"; unknown: the best) and returns a func restoring the previous one.
func setKernel(name string) (restore func()) {
	prev := active.Swap(best(name))
	return func() { active.Store(prev) }
}

// setThreads sets the number of goroutines a product may use (n <= 0: GOMAXPROCS) and returns a func restoring the previous setting.
func setThreads(n int) (restore func()) {
	if n < 0 {
		n = 0
	}
	prev := threadCap.Swap(int64(n))
	return func() { threadCap.Store(prev) }
}

// threads returns the number of goroutines a large product uses.
func threads() int {
	if n := int(threadCap.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// split divides n into the fewest blocks of at most max, of near-equal size
// rounded up to a multiple of unit.
func split(n, max, unit int) int {
	nb := ceilDiv(n, max)
	s := ceilDiv(ceilDiv(n, nb), unit) * unit
	return s
}

// block computes C[m0:m1, n0:n1] = alpha*op(A)op(B) + beta*C with the
// Goto/BLIS loop nest: n blocks, k blocks (pack B), m blocks (pack A), then
// nr-wide and mr-high tiles.
func (k *kernel) block(buf *workBuf, transA, transB bool, m0, m1, n0, n1, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m0 >= m1 || n0 >= n1 {
		return
	}
	mr, nr := k.mr, k.nr
	kcb := split(kk, k.kc, 1)
	mcb := split(m1-m0, k.mc, mr)
	ncb := split(n1-n0, k.nc, nr)
	buf.ensure(mcb*kcb, kcb*ncb, mr*nr)
	for jc := n0; jc < n1; jc += ncb {
		nc := min(ncb, n1-jc)
		for pc := 0; pc < kk; pc += kcb {
			kc := min(kcb, kk-pc)
			k.packB(transB, b, ldb, pc, kc, jc, nc, nr, buf.b)
			bEff, load := betaFor(pc, beta)
			for ic := m0; ic < m1; ic += mcb {
				mc := min(mcb, m1-ic)
				k.packA(transA, a, lda, ic, mc, pc, kc, mr, buf.a)
				k.macro(buf.a, buf.b, buf.tile, mc, nc, kc, c, ic*ldc+jc, ldc, alpha, bEff, load)
			}
		}
	}
}

// betaFor returns the beta to apply to C for the k block starting at pc, and
// whether C is read at all (0: beta == 0 on the first block, C is overwritten).
func betaFor(pc int, beta float32) (float32, int) {
	switch {
	case pc > 0:
		return 1, 1
	case beta == 0:
		return 0, 0
	}
	return beta, 1
}

// macro runs the micro-kernel over the mc×nc block of C at offset ci0 from
// packed A (panels of mr rows) and packed B (panels of nr columns) of depth kc.
func (k *kernel) macro(ap, bp, tile []float32, mc, nc, kc int, c []float32, ci0, ldc int, alpha, bEff float32, load int) {
	mr, nr := k.mr, k.nr
	for jr := 0; jr < nc; jr += nr {
		nw := min(nr, nc-jr)
		bPanel := &bp[jr*kc]
		for ir := 0; ir < mc; ir += mr {
			mh := min(mr, mc-ir)
			aPanel := &ap[ir*kc]
			ci := ci0 + ir*ldc + jr
			micro, rows := k.micro, mr
			if mh < mr {
				micro, rows = k.rowsKernel(mh)
			}
			if mh == rows && nw == nr {
				micro(kc, aPanel, bPanel, &c[ci], kc, ldc, alpha, bEff, load)
				continue
			}
			micro(kc, aPanel, bPanel, &tile[0], kc, nr, 1, 0, 0)
			for i := 0; i < mh; i++ {
				row := c[ci+i*ldc : ci+i*ldc+nw]
				t := tile[i*nr : i*nr+nw]
				if load == 0 {
					for j := range row {
						row[j] = alpha * t[j]
					}
				} else {
					for j := range row {
						row[j] = alpha*t[j] + bEff*row[j]
					}
				}
			}
		}
	}
}
