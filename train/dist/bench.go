package dist

import (
	"fmt"
	"time"
)

// TimeAllReduce returns the mean wall time of one float32 AllReduceSum of n
// elements over reps calls, after one untimed call (which sets up MPI's
// connections) and a barrier, so every rank starts together. Every rank must
// call it with the same n and reps; each returns its own mean, which agree
// closely since the all-reduce synchronises the ranks.
func TimeAllReduce(c Comm, n, reps int) (time.Duration, error) {
	if n < 0 || reps < 1 {
		return 0, fmt.Errorf("dist: TimeAllReduce: need n >= 0 and reps >= 1, got n=%d reps=%d", n, reps)
	}
	// Zeros stay zeros under summation: no overflow to Inf, no denormals,
	// whatever reps is.
	buf := make([]float32, n)
	if err := c.AllReduceSum(buf); err != nil {
		return 0, fmt.Errorf("dist: TimeAllReduce: warm-up: %w", err)
	}
	if err := c.Barrier(); err != nil {
		return 0, fmt.Errorf("dist: TimeAllReduce: %w", err)
	}
	start := time.Now()
	for range reps {
		if err := c.AllReduceSum(buf); err != nil {
			return 0, fmt.Errorf("dist: TimeAllReduce: %w", err)
		}
	}
	return time.Since(start) / time.Duration(reps), nil
}
