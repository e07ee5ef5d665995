package dist

import (
	"errors"
	"slices"
	"testing"
)

func TestSingle(t *testing.T) {
	c := Single()
	if c.Rank() != 0 || c.Size() != 1 {
		t.Fatalf("Single: rank %d of %d, want 0 of 1", c.Rank(), c.Size())
	}
	f32 := []float32{1.5, -2, 3}
	f64 := []float64{1e-300, 2, -3}
	if err := c.AllReduceSum(f32); err != nil || !slices.Equal(f32, []float32{1.5, -2, 3}) {
		t.Errorf("AllReduceSum = %v, %v; want unchanged", f32, err)
	}
	if err := c.AllReduceSum64(f64); err != nil || !slices.Equal(f64, []float64{1e-300, 2, -3}) {
		t.Errorf("AllReduceSum64 = %v, %v; want unchanged", f64, err)
	}
	if err := c.Broadcast(f32, 0); err != nil || !slices.Equal(f32, []float32{1.5, -2, 3}) {
		t.Errorf("Broadcast = %v, %v; want unchanged", f32, err)
	}
	if err := c.Broadcast64(f64, 0); err != nil {
		t.Errorf("Broadcast64: %v", err)
	}
	if err := c.Broadcast(f32, 1); err == nil {
		t.Error("Broadcast from root 1 of 1: no error")
	}
	if err := c.Broadcast64(f64, -1); err == nil {
		t.Error("Broadcast64 from root -1: no error")
	}
	in := []byte("runs/a/checkpoint-10")
	out, err := c.BroadcastBytes(in, 0)
	if err != nil || string(out) != "runs/a/checkpoint-10" {
		t.Errorf("BroadcastBytes = %q, %v", out, err)
	}
	out[0] = 'X' // a copy: the caller's bytes stay as they were
	if string(in) != "runs/a/checkpoint-10" {
		t.Errorf("BroadcastBytes aliases its input: %q", in)
	}
	if err := c.Barrier(); err != nil {
		t.Errorf("Barrier: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.AllReduceSum(f32); !errors.Is(err, errClosed) {
		t.Errorf("AllReduceSum after Close = %v, want %v", err, errClosed)
	}
	if err := c.Barrier(); !errors.Is(err, errClosed) {
		t.Errorf("Barrier after Close = %v, want %v", err, errClosed)
	}
}

// TestSingleAgreeOnError: one process's verdict is its own error, unchanged
// (no "rank 0:" prefix), so single-process messages read as before.
func TestSingleAgreeOnError(t *testing.T) {
	c := Single()
	if err := c.AgreeOnError(nil); err != nil {
		t.Errorf("AgreeOnError(nil) = %v", err)
	}
	bad := errors.New("train: step 3: loss is NaN")
	if err := c.AgreeOnError(bad); err != bad {
		t.Errorf("AgreeOnError(bad) = %v, want the same error", err)
	}
	c.Close()
	if err := c.AgreeOnError(bad); !errors.Is(err, bad) || !errors.Is(err, errClosed) {
		t.Errorf("AgreeOnError after Close = %v, want both the local and the closed error", err)
	}
}

func TestRankError(t *testing.T) {
	base := errors.New("bad clip")
	e := &RankError{Rank: 3, Msg: "bad clip", Err: base}
	if e.Error() != "rank 3: bad clip" {
		t.Errorf("Error() = %q", e.Error())
	}
	if !errors.Is(e, base) {
		t.Error("errors.Is(RankError, local) = false on the failing rank")
	}
	if errors.Is(&RankError{Rank: 3, Msg: "bad clip"}, base) {
		t.Error("errors.Is(RankError without Err, local) = true")
	}
}
