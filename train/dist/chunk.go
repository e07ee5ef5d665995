package dist

// maxChunk is the most elements one MPI call moves (4 MiB of float32). MPI
// counts are C ints, so a buffer above 2^31-1 elements has to be split
// anyway; splitting at a few MB is also much faster with Open MPI (see
// mpi.go) and is the bucket size a later overlap of the all-reduce with
// the backward pass would use.
const maxChunk = 1 << 20

// forEachChunk calls f(off, n) for consecutive pieces [off, off+n) of a
// buffer of total elements, each at most max long, stopping at the first
// error. An empty buffer makes no call.
func forEachChunk(total, max int, f func(off, n int) error) error {
	for off := 0; off < total; off += max {
		if err := f(off, min(max, total-off)); err != nil {
			return err
		}
	}
	return nil
}
