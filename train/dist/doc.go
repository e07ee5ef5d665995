// Package dist is the communicator tvlt-go's training loops use for
// synchronous data-parallel training: every process (rank) holds the same
// model, computes gradients on its own slice of each global batch (Shard),
// sums them with the others (AllReduceSum) and takes the same optimizer step.
//
// Three implementations of Comm:
//   - Single: one process, collectives are no-ops; the default, no cgo.
//   - Init: Open MPI through a small cgo binding when built with -tags mpi
//     (run under `mpirun -np N`); without the tag it returns Single, or an
//     error when the environment shows an mpirun launch.
//   - Local: N ranks as goroutines of one process sharing memory, so code
//     written against Comm can be tested with several ranks without MPI.
//
// Collectives are called by every rank in the same order with buffers of
// the same length, as in MPI; a rank that skips one makes the others wait
// forever. AgreeOnError turns one rank's failure into the same error on
// every rank, so the job stops instead of hanging.
package dist
