// Copyright the TVLT-Go authors.

package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// parallelMin is the product size m*n*k below which one goroutine does all
// the work: handing work to another goroutine costs microseconds.
const parallelMin = 96 * 96 * 96

// maxShared bounds, in floats, the operand a goroutine packs whole for a
// dynamically shared product (see task); beyond it products are split
// statically. A variable for tests.
var maxShared = 1 << 22

// job is one unit of work for a worker goroutine: a share of a task, or a
// fixed rectangle of C.
type job struct {
	t *task // if non-nil, the rest is unused

	k              *kernel
	transA, transB bool
	m0, m1, n0, n1 int
	kk             int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	wg             *sync.WaitGroup
}

var (
	jobs      = make(chan job, 64)
	workersMu sync.Mutex
	workers   int
	wgPool    = sync.Pool{New: func() any { return new(sync.WaitGroup) }}
)

// ensureWorkers starts background goroutines until there are n of them.
func ensureWorkers(n int) {
	workersMu.Lock()
	for workers < n {
		workers++
		go worker()
	}
	workersMu.Unlock()
}

// spinFor is how long a worker keeps polling for work after a job before it
// blocks: products tend to come in runs (layer after layer, head after head)
// and waking a blocked goroutine on another core can take 20-200µs, longer
// than a whole attention product.
const spinFor = 200 * time.Microsecond

// worker runs jobs for good, with its own packing buffers.
func worker() {
	buf := new(workBuf)
	for j := range jobs {
		for {
			j.do(buf)
			// Poll for the next job for a while, yielding to any other
			// goroutine that wants this core.
			var ok bool
			deadline := time.Now().Add(spinFor)
			for !ok && time.Now().Before(deadline) {
				select {
				case j = <-jobs:
					ok = true
				default:
					runtime.Gosched()
				}
			}
			if !ok {
				break
			}
		}
	}
}

// do runs j on a worker and signals its completion.
func (j *job) do(buf *workBuf) {
	if j.t != nil {
		j.t.work(buf)
		j.t.wg.Done()
		return
	}
	j.run(buf)
	j.wg.Done()
}

// run computes j's rectangle of C using buf for packing.
func (j *job) run(buf *workBuf) {
	j.k.block(buf, j.transA, j.transB, j.m0, j.m1, j.n0, j.n1, j.kk, j.alpha, j.a, j.lda, j.b, j.ldb, j.beta, j.c, j.ldc)
}

// runHere runs j on the calling goroutine with a buffer from the free list.
func (j *job) runHere() {
	buf := getBuf()
	j.run(buf)
	putBuf(buf)
}

// sgemm computes the product on one goroutine or shares it among Threads().
func sgemm(k *kernel, transA, transB bool, m, n, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	nt := threads()
	if m*n*kk < parallelMin {
		nt = 1
	}
	if nt > 1 && shareDynamically(k, nt, transA, transB, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	tm, tn := 1, 1
	if nt > 1 {
		tm, tn = grid(k, nt, m, n, kk)
	}
	if tm*tn == 1 {
		j := job{k: k, transA: transA, transB: transB, m1: m, n1: n, kk: kk, alpha: alpha, beta: beta,
			a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc}
		j.runHere()
		return
	}
	ensureWorkers(tm*tn - 1)
	wg := wgPool.Get().(*sync.WaitGroup)
	mt, nt2 := ceilDiv(m, k.mr), ceilDiv(n, k.nr)
	var first job
	for i := 0; i < tm; i++ {
		m0, m1 := min(m, i*mt/tm*k.mr), min(m, (i+1)*mt/tm*k.mr)
		for jn := 0; jn < tn; jn++ {
			n0, n1 := min(n, jn*nt2/tn*k.nr), min(n, (jn+1)*nt2/tn*k.nr)
			j := job{k: k, transA: transA, transB: transB, m0: m0, m1: m1, n0: n0, n1: n1, kk: kk,
				alpha: alpha, beta: beta, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, wg: wg}
			if i == 0 && jn == 0 {
				first = j
				continue
			}
			if m0 == m1 || n0 == n1 {
				continue
			}
			wg.Add(1)
			jobs <- j
		}
	}
	first.runHere()
	wg.Wait()
	wgPool.Put(wg)
}

// grid picks tm×tn = nt rectangles minimising the estimated time of the
// slowest one: its multiply-adds (whole tiles, edges included) plus its
// packing, where splitting along m repacks B and splitting along n repacks A.
func grid(k *kernel, nt, m, n, kk int) (tm, tn int) {
	mt, ntl := ceilDiv(m, k.mr), ceilDiv(n, k.nr)
	bestCost := -1.0
	for d := 1; d <= nt; d++ {
		if nt%d != 0 {
			continue
		}
		dm, dn := d, nt/d
		if dm > mt || dn > ntl {
			continue
		}
		rows := float64(ceilDiv(mt, dm) * k.mr)
		cols := float64(ceilDiv(ntl, dn) * k.nr)
		// A is packed once per n block of a rectangle, B once.
		nBlocks := float64(ceilDiv(int(cols), k.nc))
		cost := rows*cols*float64(kk) + 8*float64(kk)*(rows*nBlocks+cols)
		if bestCost < 0 || cost < bestCost {
			bestCost, tm, tn = cost, dm, dn
		}
	}
	if bestCost < 0 {
		return 1, 1
	}
	return tm, tn
}

// task is a product shared dynamically: C is cut along n (or m) into more
// chunks than goroutines, and each goroutine claims chunks until none is
// left, so that a goroutine slowed down (by other processes on its core, a
// garbage collection) does not hold the others up. Each goroutine packs the
// operand that every chunk needs, A (or B), whole and once, on its first
// claim; each chunk packs its own columns of B (or rows of A).
type task struct {
	k              *kernel
	transA, transB bool
	m, n, kk       int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	alongN         bool
	chunk, chunks  int // chunk width (or height), a multiple of nr (mr)
	next           atomic.Int64
	wg             sync.WaitGroup
}

var freeTasks struct {
	sync.Mutex
	list []*task
}

// shareDynamically runs the product as a task on nt goroutines if it can be
// cut into enough chunks with a whole operand of at most maxShared floats,
// and reports whether it did.
func shareDynamically(k *kernel, nt int, transA, transB bool, m, n, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	mt, ntl := ceilDiv(m, k.mr), ceilDiv(n, k.nr)
	kPad := ceilDiv(kk, split(kk, k.kc, 1)) * split(kk, k.kc, 1)
	// Cut along n when A (m×k) is the smaller operand to pack whole.
	alongN := mt*k.mr <= ntl*k.nr
	if alongN && (ntl < 2*nt || mt*k.mr*kPad > maxShared) {
		alongN = false
	}
	var tiles, unit, limit int
	if alongN {
		tiles, unit, limit = ntl, k.nr, k.nc
	} else {
		if mt < 2*nt || ntl*k.nr*kPad > maxShared {
			return false
		}
		tiles, unit, limit = mt, k.mr, k.mc
	}
	// About four chunks per goroutine, of at least two tiles.
	per := max(ceilDiv(tiles, 4*nt), min(2, tiles/nt))
	per = min(per, limit/unit)
	freeTasks.Lock()
	var t *task
	if n := len(freeTasks.list); n > 0 {
		t = freeTasks.list[n-1]
		freeTasks.list = freeTasks.list[:n-1]
	} else {
		t = new(task)
	}
	freeTasks.Unlock()
	t.k, t.transA, t.transB, t.m, t.n, t.kk = k, transA, transB, m, n, kk
	t.alpha, t.beta, t.a, t.b, t.c, t.lda, t.ldb, t.ldc = alpha, beta, a, b, c, lda, ldb, ldc
	t.alongN, t.chunk, t.chunks = alongN, per*unit, ceilDiv(tiles, per)
	t.next.Store(0)
	helpers := min(nt, t.chunks) - 1
	ensureWorkers(helpers)
	t.wg.Add(helpers)
	for i := 0; i < helpers; i++ {
		jobs <- job{t: t}
	}
	buf := getBuf()
	t.work(buf)
	putBuf(buf)
	t.wg.Wait()
	t.a, t.b, t.c = nil, nil, nil
	freeTasks.Lock()
	freeTasks.list = append(freeTasks.list, t)
	freeTasks.Unlock()
	return true
}

// work claims and computes chunks of t until none is left.
func (t *task) work(buf *workBuf) {
	k := t.k
	mr, nr := k.mr, k.nr
	kcb := split(t.kk, k.kc, 1)
	nkb := ceilDiv(t.kk, kcb)
	mPad, nPad := ceilDiv(t.m, mr)*mr, ceilDiv(t.n, nr)*nr
	packed := false
	for {
		i := int(t.next.Add(1) - 1)
		if i >= t.chunks {
			return
		}
		if t.alongN {
			// A packed whole: k block q holds mPad rows of kc values.
			if !packed {
				buf.ensure(nkb*mPad*kcb, kcb*t.chunk, mr*nr)
				for q, pc := 0, 0; pc < t.kk; q, pc = q+1, pc+kcb {
					k.packA(t.transA, t.a, t.lda, 0, t.m, pc, min(kcb, t.kk-pc), mr, buf.a[q*mPad*kcb:])
				}
				packed = true
			}
			n0 := i * t.chunk
			nc := min(t.chunk, t.n-n0)
			mcb := split(t.m, k.mc, mr)
			for q, pc := 0, 0; pc < t.kk; q, pc = q+1, pc+kcb {
				kc := min(kcb, t.kk-pc)
				k.packB(t.transB, t.b, t.ldb, pc, kc, n0, nc, nr, buf.b)
				bEff, load := betaFor(pc, t.beta)
				ap := buf.a[q*mPad*kcb:]
				for ic := 0; ic < t.m; ic += mcb {
					k.macro(ap[ic*kc:], buf.b, buf.tile, min(mcb, t.m-ic), nc, kc, t.c, ic*t.ldc+n0, t.ldc, t.alpha, bEff, load)
				}
			}
			continue
		}
		// B packed whole: k block q holds nPad columns of kc values.
		if !packed {
			buf.ensure(kcb*t.chunk, nkb*nPad*kcb, mr*nr)
			for q, pc := 0, 0; pc < t.kk; q, pc = q+1, pc+kcb {
				k.packB(t.transB, t.b, t.ldb, pc, min(kcb, t.kk-pc), 0, t.n, nr, buf.b[q*nPad*kcb:])
			}
			packed = true
		}
		m0 := i * t.chunk
		mc := min(t.chunk, t.m-m0)
		ncb := split(t.n, k.nc, nr)
		for jc := 0; jc < t.n; jc += ncb {
			nc := min(ncb, t.n-jc)
			for q, pc := 0, 0; pc < t.kk; q, pc = q+1, pc+kcb {
				kc := min(kcb, t.kk-pc)
				k.packA(t.transA, t.a, t.lda, m0, mc, pc, kc, mr, buf.a)
				bEff, load := betaFor(pc, t.beta)
				k.macro(buf.a, buf.b[q*nPad*kcb+jc*kc:], buf.tile, mc, nc, kc, t.c, m0*t.ldc+jc, t.ldc, t.alpha, bEff, load)
			}
		}
	}
}
