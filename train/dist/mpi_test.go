//go:build mpi

package dist

import (
	"errors"
	"slices"
	"testing"
)

var nilInt *int

// nilDerefPanics reports whether a nil dereference is still recovered as a
// Go panic (Go's SIGSEGV handler in place).
func nilDerefPanics() (panicked bool) {
	defer func() { panicked = recover() != nil }()
	_ = *nilInt
	return false
}

// TestMPISingleton: `go test -tags mpi` runs in one process, an MPI
// singleton: every collective must work with size 1, through MPI. MPI can be
// initialised once per process, so this is the package's only Init.
func TestMPISingleton(t *testing.T) {
	if !Built {
		t.Fatal("Built = false under -tags mpi")
	}
	c, err := Init()
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	if c.Rank() != 0 || c.Size() != 1 {
		t.Fatalf("singleton: rank %d of %d, want 0 of 1", c.Rank(), c.Size())
	}
	if !nilDerefPanics() {
		t.Error("after MPI_Init a nil dereference is no longer a Go panic: Open MPI took over SIGSEGV")
	}
	// Above maxChunk, so the chunked path runs too.
	big := make([]float32, 2*maxChunk+5)
	big64 := make([]float64, 2*maxChunk+5)
	for i := range big {
		big[i], big64[i] = float32(i%1000)-500, float64(i)*0.5
	}
	want, want64 := slices.Clone(big), slices.Clone(big64)
	if err := c.AllReduceSum(big); err != nil || !slices.Equal(big, want) {
		t.Errorf("AllReduceSum: %v, or values changed", err)
	}
	if err := c.AllReduceSum64(big64); err != nil || !slices.Equal(big64, want64) {
		t.Errorf("AllReduceSum64: %v, or values changed", err)
	}
	if err := c.AllReduceSum(nil); err != nil {
		t.Errorf("AllReduceSum(nil): %v", err)
	}
	if err := c.Broadcast(big, 0); err != nil || !slices.Equal(big, want) {
		t.Errorf("Broadcast: %v, or values changed", err)
	}
	if err := c.Broadcast64(big64[:3], 0); err != nil {
		t.Errorf("Broadcast64: %v", err)
	}
	if err := c.Broadcast(big, 1); err == nil {
		t.Error("Broadcast from root 1 of 1: no error")
	}
	if b, err := c.BroadcastBytes([]byte("ck/checkpoint-20"), 0); err != nil || string(b) != "ck/checkpoint-20" {
		t.Errorf("BroadcastBytes = %q, %v", b, err)
	}
	if b, err := c.BroadcastBytes(nil, 0); err != nil || len(b) != 0 {
		t.Errorf("BroadcastBytes(nil) = %q, %v", b, err)
	}
	if err := c.Barrier(); err != nil {
		t.Errorf("Barrier: %v", err)
	}
	if err := c.AgreeOnError(nil); err != nil {
		t.Errorf("AgreeOnError(nil) = %v", err)
	}
	bad := errors.New("NaN loss")
	if err := c.AgreeOnError(bad); err != bad {
		t.Errorf("AgreeOnError(bad) = %v, want the local error itself", err)
	}
	if d, err := TimeAllReduce(c, 1000, 3); err != nil || d <= 0 {
		t.Errorf("TimeAllReduce = %v, %v", d, err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Barrier(); !errors.Is(err, errClosed) {
		t.Errorf("Barrier after Close = %v, want %v", err, errClosed)
	}
	if _, err := Init(); err == nil {
		t.Error("second Init: no error")
	}
}
