package dist

import "fmt"

// Comm is a group of processes training one model together. Every rank
// must call each collective in the same order with the same length; buffers
// are updated in place. A Comm is safe for use by one goroutine at a time
// per rank (the MPI one also serialises concurrent callers).
type Comm interface {
	// Rank is this process's index in [0, Size()).
	Rank() int
	// Size is the number of processes.
	Size() int
	// AllReduceSum replaces buf on every rank by the element-wise sum of
	// every rank's buf.
	AllReduceSum(buf []float32) error
	// AllReduceSum64 is AllReduceSum for float64 (float64 models, and exact
	// sums of counts and losses).
	AllReduceSum64(buf []float64) error
	// Broadcast copies root's buf into every rank's buf.
	Broadcast(buf []float32, root int) error
	// Broadcast64 is Broadcast for float64.
	Broadcast64(buf []float64, root int) error
	// BroadcastBytes returns root's b on every rank (the other ranks' b is
	// ignored: the length travels too), e.g. a checkpoint path.
	BroadcastBytes(b []byte, root int) ([]byte, error)
	// Barrier returns once every rank has called it.
	Barrier() error
	// AgreeOnError gives every rank the same verdict: nil when every rank
	// passed nil, else a *RankError naming the lowest failing rank and its
	// message (with one rank, local itself). Every rank must call it, also
	// the ones that have no error, so one rank's failure stops all of them.
	AgreeOnError(local error) error
	// Close releases the communicator (MPI_Finalize). Later calls fail;
	// closing twice is a no-op.
	Close() error
}

// RankError is AgreeOnError's verdict when some rank failed: the lowest
// failing rank and the text of its error.
type RankError struct {
	Rank int    // the lowest rank whose local error was not nil
	Msg  string // that error's Error()
	// Err is the local error on the rank that failed (so errors.Is and
	// errors.As see it there); nil on the other ranks, which only have Msg.
	Err error
}

// Error reads "rank R: message".
func (e *RankError) Error() string { return fmt.Sprintf("rank %d: %s", e.Rank, e.Msg) }

// Unwrap returns the local error on the failing rank, nil elsewhere.
func (e *RankError) Unwrap() error { return e.Err }

// checkRoot validates a broadcast root against the group size.
func checkRoot(root, size int) error {
	if root < 0 || root >= size {
		return fmt.Errorf("dist: broadcast root %d out of range [0, %d)", root, size)
	}
	return nil
}
