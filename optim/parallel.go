package optim

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// chunkElems is the work unit handed to one goroutine: large enough to
// amortise scheduling, small enough (128 KiB per float32 slice) to balance
// 2 cores over parameters of very different sizes.
const chunkElems = 1 << 15

// serialBelow is the total size under which goroutines cost more than they
// save.
const serialBelow = 1 << 16

// span is a contiguous element range of one parameter.
type span struct{ param, lo, hi int }

// makeSpans cuts every parameter into chunks of at most chunkElems elements,
// in parameter order, so that per-span results can be combined in a fixed,
// schedule-independent order.
func makeSpans(params []Param) ([]span, int) {
	var spans []span
	total := 0
	for i, p := range params {
		n := len(p.Value)
		total += n
		for lo := 0; lo < n; lo += chunkElems {
			hi := lo + chunkElems
			if hi > n {
				hi = n
			}
			spans = append(spans, span{i, lo, hi})
		}
	}
	return spans, total
}

// pool runs fn over every span on up to GOMAXPROCS goroutines. It is reused
// across steps so that a step allocates nothing.
type pool struct {
	spans []span
	total int
	fn    func(i int, s span)
	next  atomic.Int64
	wg    sync.WaitGroup
}

// run processes all spans and returns when every one is done.
func (p *pool) run() {
	workers := runtime.GOMAXPROCS(0)
	if workers > len(p.spans) {
		workers = len(p.spans)
	}
	if workers <= 1 || p.total < serialBelow {
		for i, s := range p.spans {
			p.fn(i, s)
		}
		return
	}
	p.next.Store(0)
	p.wg.Add(workers)
	for w := 1; w < workers; w++ {
		go p.work()
	}
	p.work()
	p.wg.Wait()
}

func (p *pool) work() {
	defer p.wg.Done()
	for {
		i := int(p.next.Add(1) - 1)
		if i >= len(p.spans) {
			return
		}
		p.fn(i, p.spans[i])
	}
}
