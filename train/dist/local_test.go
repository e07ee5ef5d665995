package dist

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// onRanks runs f on every rank of a Local group of n, each in its own
// goroutine, and returns each rank's error.
func onRanks(t *testing.T, n int, f func(c Comm) error) []error {
	t.Helper()
	cs, err := Local(n)
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r, c := range cs {
		wg.Go(func() { errs[r] = f(c) })
	}
	wg.Wait()
	return errs
}

func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

func TestLocalAllReduce(t *testing.T) {
	const n = 3
	noErrors(t, onRanks(t, n, func(c Comm) error {
		r := c.Rank()
		if c.Size() != n {
			return fmt.Errorf("size %d", c.Size())
		}
		f32 := []float32{float32(r), 1, float32(10 * r)}
		f64 := []float64{float64(r) * 0.5, -1}
		for range 2 { // the group is reusable
			if err := c.AllReduceSum(f32); err != nil {
				return err
			}
			if err := c.AllReduceSum64(f64); err != nil {
				return err
			}
		}
		// After one sum: {3, 3, 30}; after the second, 3 times that.
		if want := []float32{9, 9, 90}; fmt.Sprint(f32) != fmt.Sprint(want) {
			return fmt.Errorf("AllReduceSum twice = %v, want %v", f32, want)
		}
		if want := []float64{4.5, -9}; fmt.Sprint(f64) != fmt.Sprint(want) {
			return fmt.Errorf("AllReduceSum64 twice = %v, want %v", f64, want)
		}
		return c.AllReduceSum(nil)
	}))
}

func TestLocalBroadcast(t *testing.T) {
	noErrors(t, onRanks(t, 3, func(c Comm) error {
		r := c.Rank()
		f32 := []float32{float32(r), float32(r)}
		f64 := []float64{float64(r) + 0.25}
		if err := c.Broadcast(f32, 2); err != nil {
			return err
		}
		if err := c.Broadcast64(f64, 1); err != nil {
			return err
		}
		b, err := c.BroadcastBytes([]byte(strings.Repeat("x", r)), 2)
		if err != nil {
			return err
		}
		if fmt.Sprint(f32) != "[2 2]" || f64[0] != 1.25 || string(b) != "xx" {
			return fmt.Errorf("got %v %v %q, want [2 2] [1.25] \"xx\"", f32, f64, b)
		}
		if err := c.Broadcast(f32, 3); err == nil {
			return errors.New("root 3 of 3: no error")
		}
		return c.Barrier()
	}))
}

// TestLocalLengthMismatch: MPI would hang; Local fails on every rank alike.
func TestLocalLengthMismatch(t *testing.T) {
	errs := onRanks(t, 2, func(c Comm) error {
		return c.AllReduceSum(make([]float32, 2+c.Rank()))
	})
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "rank 1 has 3 elements, rank 0 has 2") {
			t.Errorf("rank %d: %v, want the length mismatch", r, err)
		}
	}
}

func TestLocalBarrier(t *testing.T) {
	const hold = 100 * time.Millisecond
	noErrors(t, onRanks(t, 2, func(c Comm) error {
		// Line up first, so both clocks start together (give or take the
		// scheduler: hence hold/2 below, still far above a barrier that
		// does not wait).
		if err := c.Barrier(); err != nil {
			return err
		}
		start := time.Now()
		if c.Rank() == 1 {
			time.Sleep(hold)
		}
		if err := c.Barrier(); err != nil {
			return err
		}
		if d := time.Since(start); d < hold/2 {
			return fmt.Errorf("left the barrier after %v, before rank 1 (%v)", d, hold)
		}
		return nil
	}))
}

func TestLocalAgreeOnError(t *testing.T) {
	bad := errors.New("data: clip-7.mp4: bad frame")
	tests := []struct {
		name    string
		failing map[int]error
		want    string // every rank's error; "" = nil
	}{
		{"none", nil, ""},
		{"rank 1", map[int]error{1: bad}, "rank 1: data: clip-7.mp4: bad frame"},
		{"ranks 2 and 1", map[int]error{2: errors.New("NaN"), 1: bad}, "rank 1: data: clip-7.mp4: bad frame"},
		{"rank 0", map[int]error{0: errors.New("")}, "rank 0: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := onRanks(t, 3, func(c Comm) error {
				err := c.AgreeOnError(tt.failing[c.Rank()])
				if tt.want == "" {
					return err
				}
				var re *RankError
				if !errors.As(err, &re) || err.Error() != tt.want {
					return fmt.Errorf("got %v, want %s", err, tt.want)
				}
				if local := tt.failing[c.Rank()]; re.Rank == c.Rank() && re.Err != local {
					return fmt.Errorf("failing rank: Err = %v, want its local error", re.Err)
				} else if re.Rank != c.Rank() && re.Err != nil {
					return fmt.Errorf("Err = %v on a rank that did not fail", re.Err)
				}
				return nil
			})
			noErrors(t, errs)
		})
	}
}

func TestLocalInvalid(t *testing.T) {
	if _, err := Local(0); err == nil {
		t.Error("Local(0): no error")
	}
	cs, _ := Local(1)
	cs[0].Close()
	if err := cs[0].AllReduceSum(nil); !errors.Is(err, errClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestTimeAllReduce(t *testing.T) {
	if _, err := TimeAllReduce(Single(), 10, 0); err == nil {
		t.Error("reps 0: no error")
	}
	if _, err := TimeAllReduce(Single(), -1, 1); err == nil {
		t.Error("n -1: no error")
	}
	noErrors(t, onRanks(t, 2, func(c Comm) error {
		d, err := TimeAllReduce(c, 1000, 3)
		if err == nil && d <= 0 {
			err = fmt.Errorf("duration %v", d)
		}
		return err
	}))
	c := Single()
	c.Close()
	if _, err := TimeAllReduce(c, 10, 1); !errors.Is(err, errClosed) {
		t.Errorf("closed comm: %v", err)
	}
}
