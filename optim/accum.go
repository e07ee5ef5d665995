package optim

import "fmt"

// Accumulator sums the gradients of several micro-batches into its own
// buffers, because Gorgonia overwrites the gradient tensors on every
// backward pass instead of adding to them as torch does.
//
// Scaling convention: each micro-batch's gradient is that of its own mean
// loss, and Add weights it by the micro-batch's number of samples; Write
// divides by the total, giving exactly the gradient of the mean loss over
// all samples even when the last micro-batch is smaller.
type Accumulator struct {
	names   []string
	sums    [][]float32
	samples int
	// current Add call, for the worker pool
	cur    []Param
	weight float32
	write  bool
	pool   pool
}

// NewAccumulator creates zeroed buffers shaped like params.
func NewAccumulator(params []Param) (*Accumulator, error) {
	if err := checkParams(params); err != nil {
		return nil, err
	}
	a := &Accumulator{names: make([]string, len(params)), sums: make([][]float32, len(params))}
	for i, p := range params {
		a.names[i] = p.Name
		a.sums[i] = make([]float32, len(p.Grad))
	}
	a.pool.spans, a.pool.total = makeSpans(params)
	a.pool.fn = a.addSpan
	return a, nil
}

// Samples is the number of samples accumulated since the last Write/Reset.
func (a *Accumulator) Samples() int { return a.samples }

// Reset drops everything accumulated.
func (a *Accumulator) Reset() {
	for _, s := range a.sums {
		clear(s)
	}
	a.samples = 0
}

// Add accumulates samples × the current gradients of params (the gradient of
// a micro-batch's mean loss over samples examples).
func (a *Accumulator) Add(params []Param, samples int) error {
	if samples <= 0 {
		return fmt.Errorf("optim: accumulator: micro-batch of %d samples", samples)
	}
	if err := a.match(params); err != nil {
		return err
	}
	a.cur, a.weight = params, float32(samples)
	a.pool.run()
	a.cur = nil
	a.samples += samples
	return nil
}

// Write stores the accumulated mean gradient into params' Grad slices and
// resets the accumulator.
func (a *Accumulator) Write(params []Param) error {
	if a.samples == 0 {
		return fmt.Errorf("optim: accumulator: Write with nothing accumulated")
	}
	if err := a.match(params); err != nil {
		return err
	}
	a.cur, a.write = params, true
	a.pool.run()
	a.cur, a.write = nil, false
	a.samples = 0
	return nil
}

// addSpan adds one span (or, when writing, moves its mean out and zeroes
// the buffer).
func (a *Accumulator) addSpan(_ int, s span) {
	g := a.cur[s.param].Grad[s.lo:s.hi]
	sum := a.sums[s.param][s.lo:s.hi]
	if a.write {
		n := float32(a.samples)
		for i, x := range sum {
			g[i] = x / n
			sum[i] = 0
		}
		return
	}
	w := a.weight
	for i := range g {
		sum[i] += w * g[i]
	}
}

func (a *Accumulator) match(params []Param) error {
	if len(params) != len(a.names) {
		return fmt.Errorf("optim: accumulator: %d parameters, expected %d", len(params), len(a.names))
	}
	for i, p := range params {
		if p.Name != a.names[i] || len(p.Grad) != len(a.sums[i]) {
			return fmt.Errorf("optim: accumulator: parameter %d is %s with %d gradient elements, expected %s with %d", i, p.Name, len(p.Grad), a.names[i], len(a.sums[i]))
		}
	}
	return nil
}
