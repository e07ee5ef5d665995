package train

import (
	"fmt"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/optim"
	"github.com/tvlt-go/tvlt/train/dist"
)

// replica is one rank of a data-parallel run (Options.Comm with more than
// one process). Every rank loads the same global batch (Size × BatchSize
// clips, with the negatives and masks one process would draw for it), runs
// its contiguous share, and scales each task loss by its share of the
// global normaliser (examples, or removed real patches for MAE), so the
// sum of the ranks' gradients is the single-process gradient of the
// global batch; then every rank takes the same AdamW step.
type replica struct {
	comm dist.Comm
	flat []float32 // the gradients of every parameter, end to end
}

func newReplica(c dist.Comm) *replica {
	if c == nil || c.Size() <= 1 {
		return nil
	}
	return &replica{comm: c}
}

// primary reports whether this process logs and writes files: rank 0, or
// the only process.
func (r *replica) primary() bool { return r == nil || r.comm.Rank() == 0 }

// size is the number of processes (1 without a replica).
func (r *replica) size() int {
	if r == nil {
		return 1
	}
	return r.comm.Size()
}

// share cuts this rank's part out of the global batch and sets its loss
// scales: removed real patches (pixel and audio MAE) or rows (matching,
// classification) of the part over those of the whole batch.
func (r *replica) share(lb *layers.Batch) (*layers.Batch, error) {
	rows, err := lb.Rows()
	if err != nil {
		return nil, err
	}
	lo, hi, err := dist.Shard(rows, r.comm.Rank(), r.comm.Size())
	if err != nil {
		return nil, err
	}
	part, err := lb.Slice(lo, hi)
	if err != nil {
		return nil, err
	}
	rowShare := float64(hi-lo) / float64(rows)
	part.LossScales = map[string]float64{MetricLoss: rowShare, MetricMatchingLoss: rowShare}
	for name, pixel := range map[string]bool{MetricPixelMAELoss: true, MetricAudioMAELoss: false} {
		s := 0.0
		if all := removedReal(lb, pixel); all > 0 {
			s = removedReal(part, pixel) / all
		}
		part.LossScales[name] = s
	}
	return part, nil
}

// removedReal counts the real tokens a batch's MAE permutations remove
// (the MAE loss's normaliser).
func removedReal(b *layers.Batch, pixel bool) float64 {
	ids, mask, keep := b.AudioIDsShuffle, b.AudioMask, b.AudioLenKeep
	if pixel {
		ids, mask, keep = b.PixelIDsShuffle, b.PixelMask, b.PixelLenKeep
	}
	if ids == nil {
		return 0
	}
	l := ids.Shape()[1]
	var real []float32
	if mask != nil {
		for _, v := range graph.Float64s(mask) {
			real = append(real, float32(v))
		}
	}
	flat, _ := ids.Data().([]int64)
	_, n := config.RemovedShare(flat, l, keep, real)
	return float64(n)
}

// reduceGrads sums the ranks' gradients in place (one flat buffer).
func (r *replica) reduceGrads(params []optim.Param) error {
	n := 0
	for _, p := range params {
		n += len(p.Grad)
	}
	if len(r.flat) != n {
		r.flat = make([]float32, n)
	}
	off := 0
	for _, p := range params {
		off += copy(r.flat[off:], p.Grad)
	}
	if err := r.comm.AllReduceSum(r.flat); err != nil {
		return fmt.Errorf("train: all-reduce of gradients: %w", err)
	}
	off = 0
	for _, p := range params {
		off += copy(p.Grad, r.flat[off:off+len(p.Grad)])
	}
	return nil
}

// broadcastModel gives every rank rank 0's weights, so a run starts (and
// resumes) from one model even if the ranks built or read theirs apart.
func (r *replica) broadcastModel(m *layers.Model) error {
	for _, name := range m.Params.Names() {
		v, ok := m.Params.Value(name).Data().([]float32)
		if !ok {
			return fmt.Errorf("train: data-parallel training needs float32 parameters, %s is %v", name, m.Params.Value(name).Dtype())
		}
		if err := r.comm.Broadcast(v, 0); err != nil {
			return fmt.Errorf("train: broadcasting %s: %w", name, err)
		}
	}
	return nil
}

// reduceStats sums the named values over the ranks (each rank holds its
// share of the global value: a scaled loss, a count). Keys a rank lacks
// are left out: every rank runs the same task, so they lack the same.
func (r *replica) reduceStats(vals map[string]float64, names []string) error {
	var keys []string
	for _, k := range names {
		if _, ok := vals[k]; ok {
			keys = append(keys, k)
		}
	}
	buf := make([]float64, len(keys))
	for i, k := range keys {
		buf[i] = vals[k]
	}
	if err := r.comm.AllReduceSum64(buf); err != nil {
		return fmt.Errorf("train: all-reduce of metrics: %w", err)
	}
	for i, k := range keys {
		vals[k] = buf[i]
	}
	return nil
}
