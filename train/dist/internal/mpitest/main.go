// Command mpitest checks train/dist's MPI communicator across processes;
// mpi_run_test.go builds it with -tags mpi and launches it under mpirun:
//
//	mpirun --allow-run-as-root --oversubscribe -np 2 ./mpitest -mode check
//
// Modes: check (collectives give exact known results; prints "rank R: ok"),
// fail (rank -fail-rank reports an error that every rank agrees on, prints
// it and exits 1, as a trainer would), bench (rank 0 prints one line per
// preset: gradient elements and ms per float32 all-reduce).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/train"
	"github.com/tvlt-go/tvlt/train/dist"
)

func main() {
	mode := flag.String("mode", "check", "check, fail or bench")
	failRank := flag.Int("fail-rank", 1, "fail mode: the rank that fails")
	presets := flag.String("presets", "small,base-reduced", "bench mode: comma-separated presets whose pretraining gradient size to all-reduce")
	reps := flag.Int("reps", 10, "bench mode: all-reduces per preset")
	flag.Parse()

	c, err := dist.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mpitest:", err)
		os.Exit(1)
	}
	switch *mode {
	case "check":
		err = check(c)
	case "fail":
		err = failing(c, *failRank)
	case "bench":
		err = bench(c, strings.Split(*presets, ","), *reps)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Printf("rank %d: error: %v\n", c.Rank(), err)
		os.Exit(1)
	}
	if *mode == "check" {
		fmt.Printf("rank %d: ok\n", c.Rank())
	}
}

// check runs every collective on values whose results are known exactly.
func check(c dist.Comm) error {
	r, n := c.Rank(), c.Size()
	if n < 2 {
		return fmt.Errorf("check: run under mpirun -np 2 or more, got %d process", n)
	}
	if !nilDerefPanics() {
		return errors.New("under mpirun a nil dereference is no longer a Go panic: Open MPI took over SIGSEGV")
	}
	// sum over ranks of (rank+1): every rank's factor.
	factor := n * (n + 1) / 2
	// 10M crosses several of the binding's chunks and ends in a partial one.
	for _, size := range []int{0, 1, 1000, 10_000_000} {
		f32 := make([]float32, size)
		f64 := make([]float64, size)
		for i := range size {
			// Integers: float32 sums stay exact below 2^24, float64 below 2^53.
			f32[i] = float32((i % 4096) * (r + 1))
			f64[i] = float64(i * (r + 1))
		}
		if err := c.AllReduceSum(f32); err != nil {
			return fmt.Errorf("AllReduceSum(%d): %w", size, err)
		}
		if err := c.AllReduceSum64(f64); err != nil {
			return fmt.Errorf("AllReduceSum64(%d): %w", size, err)
		}
		for i := range size {
			if want := float32((i % 4096) * factor); f32[i] != want {
				return fmt.Errorf("AllReduceSum(%d): [%d] = %v, want %v", size, i, f32[i], want)
			}
			if want := float64(i * factor); f64[i] != want {
				return fmt.Errorf("AllReduceSum64(%d): [%d] = %v, want %v", size, i, f64[i], want)
			}
		}
	}
	for root := range n {
		for _, size := range []int{0, 3, 3_000_000} {
			f32 := make([]float32, size)
			f64 := make([]float64, size)
			for i := range size {
				f32[i] = float32(r*1000 + i%1000)
				f64[i] = float64(r*1_000_000_000 + i)
			}
			if err := c.Broadcast(f32, root); err != nil {
				return fmt.Errorf("Broadcast(%d, root %d): %w", size, root, err)
			}
			if err := c.Broadcast64(f64, root); err != nil {
				return fmt.Errorf("Broadcast64(%d, root %d): %w", size, root, err)
			}
			for i := range size {
				if want := float32(root*1000 + i%1000); f32[i] != want {
					return fmt.Errorf("Broadcast(%d, root %d): [%d] = %v, want %v", size, root, i, f32[i], want)
				}
				if want := float64(root*1_000_000_000 + i); f64[i] != want {
					return fmt.Errorf("Broadcast64(%d, root %d): [%d] = %v, want %v", size, root, i, f64[i], want)
				}
			}
		}
		// The other ranks pass something of another length: only root's counts.
		msg := fmt.Sprintf("runs/ck/checkpoint-%d from rank %d", 100*root, r)
		got, err := c.BroadcastBytes([]byte(msg[:len(msg)-r]), root)
		if err != nil {
			return fmt.Errorf("BroadcastBytes(root %d): %w", root, err)
		}
		if want := fmt.Sprintf("runs/ck/checkpoint-%d from rank %d", 100*root, root); string(got) != want[:len(want)-root] {
			return fmt.Errorf("BroadcastBytes(root %d) = %q, want %q", root, got, want[:len(want)-root])
		}
		if got, err := c.BroadcastBytes(nil, root); err != nil || len(got) != 0 {
			return fmt.Errorf("BroadcastBytes(nil, root %d) = %q, %v; want empty", root, got, err)
		}
	}
	if err := checkBarrier(c); err != nil {
		return err
	}
	if err := c.Broadcast(nil, n); err == nil {
		return fmt.Errorf("Broadcast with root %d of %d ranks: no error", n, n)
	}
	return checkAgree(c)
}

var nilInt *int

// nilDerefPanics reports whether a nil dereference is still recovered as a
// Go panic (Go's SIGSEGV handler in place, not Open MPI's).
func nilDerefPanics() (panicked bool) {
	defer func() { panicked = recover() != nil }()
	_ = *nilInt
	return false
}

// checkBarrier holds the last rank back 300 ms: nobody may leave the
// barrier before it arrives (half of it allows for the ranks leaving the
// first barrier apart on a loaded machine).
func checkBarrier(c dist.Comm) error {
	const hold = 300 * time.Millisecond
	if err := c.Barrier(); err != nil {
		return fmt.Errorf("Barrier: %w", err)
	}
	start := time.Now()
	if c.Rank() == c.Size()-1 {
		time.Sleep(hold)
	}
	if err := c.Barrier(); err != nil {
		return fmt.Errorf("Barrier: %w", err)
	}
	if waited := time.Since(start); waited < hold/2 {
		return fmt.Errorf("Barrier: left after %v while rank %d slept %v", waited, c.Size()-1, hold)
	}
	return nil
}

// checkAgree: no error, one failing rank, every rank failing.
func checkAgree(c dist.Comm) error {
	r, n := c.Rank(), c.Size()
	if err := c.AgreeOnError(nil); err != nil {
		return fmt.Errorf("AgreeOnError(nil everywhere) = %v", err)
	}
	errClip := errors.New("decoding clip demo/clip-7.mp4: bad frame")
	var local error
	if r == 1 {
		local = errClip
	}
	err := c.AgreeOnError(local)
	var re *dist.RankError
	if !errors.As(err, &re) || re.Rank != 1 || re.Msg != errClip.Error() || err.Error() != "rank 1: "+errClip.Error() {
		return fmt.Errorf("AgreeOnError(rank 1 fails) = %v, want rank 1: %v", err, errClip)
	}
	if (r == 1) != errors.Is(err, errClip) {
		return fmt.Errorf("AgreeOnError(rank 1 fails): errors.Is(local) = %v on rank %d", errors.Is(err, errClip), r)
	}
	err = c.AgreeOnError(fmt.Errorf("NaN loss on rank %d", r))
	if want := "rank 0: NaN loss on rank 0"; err == nil || err.Error() != want {
		return fmt.Errorf("AgreeOnError(all %d fail) = %v, want %s", n, err, want)
	}
	return nil
}

// failing is a training step where rank failRank hits a bad clip: every
// rank agrees on the error and returns it, so the job exits non-zero.
func failing(c dist.Comm, failRank int) error {
	var local error
	if c.Rank() == failRank {
		local = errors.New("decoding clip demo/clip-7.mp4: bad frame")
	}
	return c.AgreeOnError(local)
}

// bench times float32 all-reduces of each preset's pretraining gradient
// size (its parameter count).
func bench(c dist.Comm, presets []string, reps int) error {
	for _, p := range presets {
		cfg, err := train.Preset(p)
		if err != nil {
			return err
		}
		shapes, err := layers.ParamShapes(layers.Pretraining, cfg)
		if err != nil {
			return fmt.Errorf("preset %s: %w", p, err)
		}
		elems := 0
		for _, s := range shapes {
			k := 1
			for _, d := range s {
				k *= d
			}
			elems += k
		}
		d, err := dist.TimeAllReduce(c, elems, reps)
		if err != nil {
			return fmt.Errorf("preset %s: %w", p, err)
		}
		if c.Rank() == 0 {
			fmt.Printf("allreduce preset=%s elems=%d MB=%.1f ranks=%d ms=%.2f\n", p, elems, float64(elems)*4/1e6, c.Size(), float64(d)/1e6)
		}
	}
	return nil
}
