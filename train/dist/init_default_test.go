//go:build !mpi

package dist

import (
	"strings"
	"testing"
)

func TestInitWithoutMPI(t *testing.T) {
	for _, v := range launcherSizeVars {
		t.Setenv(v, "")
	}
	c, err := Init()
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	if c.Rank() != 0 || c.Size() != 1 || Built {
		t.Errorf("Init without -tags mpi: rank %d of %d, Built %v; want 0 of 1, false", c.Rank(), c.Size(), Built)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestInitUnderMpirunWithoutMPI: a default build launched by mpirun must
// refuse, not train N independent copies.
func TestInitUnderMpirunWithoutMPI(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	c, err := Init()
	if err == nil {
		t.Fatalf("Init under OMPI_COMM_WORLD_SIZE=2 = %v, want an error", c)
	}
	for _, want := range []string{"2 MPI processes", "OMPI_COMM_WORLD_SIZE=2", "-tags mpi"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
