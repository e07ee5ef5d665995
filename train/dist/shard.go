package dist

import "fmt"

// Shard returns the rank's slice [start, end) of a global batch of n
// examples split over size ranks: contiguous, disjoint, covering [0, n),
// in rank order. When size divides n (training: the global batch is size x
// the per-rank --batch-size) every rank gets n/size examples; otherwise
// (evaluation's last batch) the first n%size ranks get one more, and a rank
// may get none when n < size.
//
// Contiguous slices in rank order are what makes the sum of the ranks'
// gradients equal the single-process gradient of the whole batch: rank r's
// examples are exactly examples start..end-1 of the batch one process would
// see, so concatenating the ranks' per-example results in rank order
// (a gather) rebuilds the one-process order too, and per-batch draws keyed by
// the example's position (matching negatives, MAE masks) can be made for
// the global batch and sliced the same way.
func Shard(n, rank, size int) (start, end int, err error) {
	if size < 1 {
		return 0, 0, fmt.Errorf("dist: shard: size %d < 1", size)
	}
	if rank < 0 || rank >= size {
		return 0, 0, fmt.Errorf("dist: shard: rank %d out of range [0, %d)", rank, size)
	}
	if n < 0 {
		return 0, 0, fmt.Errorf("dist: shard: negative batch size %d", n)
	}
	q, r := n/size, n%size
	start = rank*q + min(rank, r)
	end = start + q
	if rank < r {
		end++
	}
	return start, end, nil
}
