package dist

import (
	"fmt"
	"sync"
)

// Local returns n communicators that are the ranks of one in-process group,
// each to be driven by its own goroutine: collectives meet at a shared-memory
// barrier. Sums add the ranks' values in rank order, so results are
// deterministic. It lets code written against Comm run several ranks in a
// test without MPI.
func Local(n int) ([]Comm, error) {
	if n < 1 {
		return nil, fmt.Errorf("dist: Local: %d ranks (want >= 1)", n)
	}
	g := &group{n: n, slots: make([]any, n)}
	g.cond = sync.NewCond(&g.mu)
	cs := make([]Comm, n)
	for r := range cs {
		cs[r] = &localComm{g: g, rank: r}
	}
	return cs, nil
}

// group is the state the ranks of a Local group share.
type group struct {
	n       int
	mu      sync.Mutex
	cond    *sync.Cond
	arrived int
	gen     uint64
	slots   []any // slots[r] is rank r's operand of the current collective
}

// barrier blocks until all n ranks have called it (reusable: a generation
// counter tells one round from the next).
func (g *group) barrier() {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen := g.gen
	g.arrived++
	if g.arrived == g.n {
		g.arrived = 0
		g.gen++
		g.cond.Broadcast()
		return
	}
	for gen == g.gen {
		g.cond.Wait()
	}
}

// exchange publishes v as this rank's operand, runs read once every rank has
// published (read may look at every slot), then waits until every rank has
// finished reading, so the slots can be reused by the next collective.
// Every rank sees the same slots, so a check that fails fails on all ranks.
func (g *group) exchange(rank int, v any, read func(slots []any) error) error {
	g.slots[rank] = v
	g.barrier()
	err := read(g.slots)
	g.barrier()
	return err
}

type localComm struct {
	g      *group
	rank   int
	closed bool
}

func (c *localComm) Rank() int { return c.rank }
func (c *localComm) Size() int { return c.g.n }

func (c *localComm) check() error {
	if c.closed {
		return errClosed
	}
	return nil
}

// sameLen fails, identically on every rank, when the ranks' operands differ
// in length: MPI would hang or corrupt memory there.
func sameLen[T any](slots []any, op string) error {
	want := len(slots[0].([]T))
	for r, s := range slots {
		if got := len(s.([]T)); got != want {
			return fmt.Errorf("dist: %s: rank %d has %d elements, rank 0 has %d", op, r, got, want)
		}
	}
	return nil
}

func allReduceLocal[T float32 | float64](c *localComm, buf []T, op string) error {
	if err := c.check(); err != nil {
		return err
	}
	var sum []T
	err := c.g.exchange(c.rank, buf, func(slots []any) error {
		if err := sameLen[T](slots, op); err != nil {
			return err
		}
		sum = make([]T, len(buf))
		for _, s := range slots {
			for i, v := range s.([]T) {
				sum[i] += v
			}
		}
		return nil
	})
	if err == nil {
		copy(buf, sum) // after the second barrier: nobody reads buf any more
	}
	return err
}

func (c *localComm) AllReduceSum(buf []float32) error {
	return allReduceLocal(c, buf, "AllReduceSum")
}

func (c *localComm) AllReduceSum64(buf []float64) error {
	return allReduceLocal(c, buf, "AllReduceSum64")
}

func broadcastLocal[T float32 | float64](c *localComm, buf []T, root int, op string) error {
	if err := c.check(); err != nil {
		return err
	}
	if err := checkRoot(root, c.g.n); err != nil {
		return err
	}
	return c.g.exchange(c.rank, buf, func(slots []any) error {
		if err := sameLen[T](slots, op); err != nil {
			return err
		}
		if c.rank != root {
			copy(buf, slots[root].([]T))
		}
		return nil
	})
}

func (c *localComm) Broadcast(buf []float32, root int) error {
	return broadcastLocal(c, buf, root, "Broadcast")
}

func (c *localComm) Broadcast64(buf []float64, root int) error {
	return broadcastLocal(c, buf, root, "Broadcast64")
}

func (c *localComm) BroadcastBytes(b []byte, root int) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := checkRoot(root, c.g.n); err != nil {
		return nil, err
	}
	var out []byte
	err := c.g.exchange(c.rank, b, func(slots []any) error {
		out = append([]byte(nil), slots[root].([]byte)...)
		return nil
	})
	return out, err
}

func (c *localComm) Barrier() error {
	if err := c.check(); err != nil {
		return err
	}
	c.g.barrier()
	return nil
}

func (c *localComm) allReduceMin(v int) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	var m int
	err := c.g.exchange(c.rank, v, func(slots []any) error {
		m = slots[0].(int)
		for _, s := range slots[1:] {
			m = min(m, s.(int))
		}
		return nil
	})
	return m, err
}

func (c *localComm) AgreeOnError(local error) error { return agreeOnError(c, local) }

func (c *localComm) Close() error { c.closed = true; return nil }
