//go:build !mpi

package dist

import "fmt"

// Built reports whether this binary carries the MPI binding (-tags mpi).
const Built = false

// Init returns Single(): this binary was built without -tags mpi. Launched
// by mpirun with more than one process it is an error instead, since every
// rank would otherwise train alone on the whole data set.
func Init() (Comm, error) {
	if n, v := envLaunchedSize(); n > 1 {
		return nil, fmt.Errorf("dist: launched as one of %d MPI processes (%s=%d) but built without MPI support: rebuild with `go build -tags mpi` (needs Open MPI: apt-get install libopenmpi-dev)", n, v, n)
	}
	return Single(), nil
}
