package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

func dense(v []float32, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

func ints64(v []int64, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// ModelBatch converts a data.Batch (from the loader or data.Processor) into
// the model's input. Matching and MAE inputs are passed only when the model
// has those tasks enabled, and labels only for fine-tuning models; a batch
// whose clips have no labels at all (LabelNone, inference) gets no label
// tensor. The tensors share b's slices.
func ModelBatch(b *data.Batch, m *layers.Model) (*layers.Batch, error) {
	return modelBatch(b, m, false)
}

// toLayers is ModelBatch for training and evaluation, where every clip of a
// fine-tuning batch must carry a label.
func toLayers(b *data.Batch, m *layers.Model) (*layers.Batch, error) {
	return modelBatch(b, m, true)
}

func modelBatch(b *data.Batch, m *layers.Model, needLabels bool) (*layers.Batch, error) {
	if b == nil || m == nil {
		return nil, fmt.Errorf("train: ModelBatch needs a batch and a model")
	}
	c := m.Config
	B := b.Size()
	lb := &layers.Batch{
		PixelValues: dense(b.PixelValues, b.PixelShape[:]...),
		PixelMask:   dense(b.PixelMask, b.PixelMaskShape[:]...),
		AudioValues: dense(b.AudioValues, b.AudioShape[:]...),
		AudioMask:   dense(b.AudioMask, b.AudioMaskShape[:]...),
	}
	switch m.Kind {
	case layers.Pretraining:
		if c.TaskMatching && b.PixelValuesMixed != nil {
			if len(b.MatchingLabels) != B {
				return nil, fmt.Errorf("train: batch has mixed pixel values but %d matching labels for %d clips", len(b.MatchingLabels), B)
			}
			lb.PixelValuesMixed = dense(b.PixelValuesMixed, b.PixelShape[:]...)
			lb.PixelMaskMixed = dense(b.PixelMaskMixed, b.PixelMaskShape[:]...)
			lb.MatchingLabels = dense(b.MatchingLabels, B, 1)
		}
		if c.TaskMAE && (b.PixelIDsShuffle != nil) != (b.AudioIDsShuffle != nil) {
			return nil, fmt.Errorf("train: the MAE pass needs both pixel and audio permutations (mask_pixel and mask_audio), the batch has only one")
		}
		if c.TaskMAE && b.PixelIDsShuffle != nil {
			lb.PixelIDsShuffle = ints64(b.PixelIDsShuffle, B, len(b.PixelIDsShuffle)/B)
			lb.AudioIDsShuffle = ints64(b.AudioIDsShuffle, B, len(b.AudioIDsShuffle)/B)
			lb.PixelLenKeep, lb.AudioLenKeep = b.PixelLenKeep, b.AudioLenKeep
		}
	case layers.Classification:
		if !needLabels && unlabeled(b) {
			break
		}
		y, err := labelTensor(b, c)
		if err != nil {
			return nil, err
		}
		lb.Labels = y
	}
	return lb, nil
}

// unlabeled says no clip of b has a label.
func unlabeled(b *data.Batch) bool {
	for _, l := range b.Labels {
		if l.Kind != data.LabelNone {
			return false
		}
	}
	return true
}

// labelTensor builds Int64 (B) class ids or float (B, num_labels) targets.
func labelTensor(b *data.Batch, c config.Config) (*tensor.Dense, error) {
	B := b.Size()
	if c.LossType == config.LossMultilabel || c.LossType == config.LossVQA {
		return softTargets(b, c)
	}
	if c.LossType == "regression" {
		y := make([]float32, 0, B*c.NumLabels)
		for i, l := range b.Labels {
			switch {
			case l.Kind == data.LabelScore && c.NumLabels == 1:
				y = append(y, float32(l.Score))
			case l.Kind == data.LabelMulti && len(l.Multi) == c.NumLabels:
				for _, v := range l.Multi {
					y = append(y, float32(v))
				}
			default:
				return nil, fmt.Errorf("train: clip %s: regression needs a score (or %d numbers) as label, got a %s label", b.IDs[i], c.NumLabels, l.Kind)
			}
		}
		return dense(y, B, c.NumLabels), nil
	}
	y := make([]int64, B)
	for i, l := range b.Labels {
		if l.Kind != data.LabelClass {
			// One non-integer label turns all of a manifest's labels into
			// scores: blame a clip of the batch whose score is fractional
			// if there is one, else say the culprit is elsewhere.
			for j, lj := range b.Labels {
				if lj.Kind == data.LabelScore && lj.Score != math.Trunc(lj.Score) {
					return nil, fmt.Errorf("train: clip %s: classification needs an integer class label, got %v", b.IDs[j], lj.Score)
				}
			}
			if l.Kind == data.LabelScore {
				return nil, fmt.Errorf("train: clip %s: classification needs an integer class label, got a score label (a non-integer label elsewhere in the manifest makes all its labels scores)", b.IDs[i])
			}
			return nil, fmt.Errorf("train: clip %s: classification needs an integer class label, got a %s label", b.IDs[i], l.Kind)
		}
		if l.Class < 0 || l.Class >= c.NumLabels {
			return nil, fmt.Errorf("train: clip %s: class %d is outside [0, num_labels=%d); set --num-labels", b.IDs[i], l.Class, c.NumLabels)
		}
		y[i] = int64(l.Class)
	}
	return ints64(y, B), nil
}

// retrievalBatch turns B clips into B·(1+k) matching pairs with in-batch
// negatives: rows 0..B-1 are the true (audio i, video i) pairs, and block
// j = 1..k (rows j·B .. j·B+B-1) pairs audio i with the video of clip
// (i+r_j) mod B for k distinct shifts r_j in [1, B) drawn from (seed, step)
// — each a derangement, so every negative is a different clip of the same
// batch and every clip gets k different negatives (1 ≤ k ≤ B-1). The first
// shift is the same draw for every k, so k = 1 is the 2B-row batch of
// one shift.
func retrievalBatch(b *data.Batch, seed uint64, step, k int) (*layers.Batch, error) {
	B := b.Size()
	if B < 2 {
		return nil, fmt.Errorf("train: retrieval needs batches of at least 2 clips for in-batch negatives, got %d", B)
	}
	if k < 1 || k > B-1 {
		return nil, fmt.Errorf("train: retrieval: %d negatives per clip, want 1..%d (batch size - 1: in-batch negatives are the other clips)", k, B-1)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5e7a11+uint64(step)))
	shifts := make([]int, 0, k)
	for len(shifts) < k {
		if r := 1 + rng.IntN(B-1); !slices.Contains(shifts, r) {
			shifts = append(shifts, r)
		}
	}
	rows := B * (1 + k)
	vid := b.PixelShape[1] * b.PixelShape[2] * b.PixelShape[3] * b.PixelShape[4]
	pm := b.PixelMaskShape[1]
	aud := b.AudioShape[1] * b.AudioShape[2] * b.AudioShape[3]
	am := b.AudioMaskShape[1]
	pix := make([]float32, rows*vid)
	pmask := make([]float32, rows*pm)
	au := make([]float32, rows*aud)
	amask := make([]float32, rows*am)
	labels := make([]float32, rows)
	for row := 0; row < rows; row++ {
		a, v := row%B, row%B
		if j := row / B; j > 0 {
			v = (a + shifts[j-1]) % B
		} else {
			labels[row] = 1
		}
		copy(pix[row*vid:], b.PixelValues[v*vid:(v+1)*vid])
		copy(pmask[row*pm:], b.PixelMask[v*pm:(v+1)*pm])
		copy(au[row*aud:], b.AudioValues[a*aud:(a+1)*aud])
		copy(amask[row*am:], b.AudioMask[a*am:(a+1)*am])
	}
	ps := b.PixelShape
	as := b.AudioShape
	return matchingBatch(pix, pmask, au, amask, labels,
		[]int{rows, ps[1], ps[2], ps[3], ps[4]}, []int{rows, pm}, []int{rows, as[1], as[2], as[3]}, []int{rows, am}), nil
}

// matchingBatch assembles a matching-only pretraining input; the video is
// given as both the (unused) MAE view and the matching view.
func matchingBatch(pix, pmask, au, amask, labels []float32, ps, pms, as, ams []int) *layers.Batch {
	return &layers.Batch{
		PixelValues:      dense(pix, ps...),
		PixelMask:        dense(pmask, pms...),
		AudioValues:      dense(au, as...),
		AudioMask:        dense(amask, ams...),
		PixelValuesMixed: dense(append([]float32(nil), pix...), ps...),
		PixelMaskMixed:   dense(append([]float32(nil), pmask...), pms...),
		MatchingLabels:   dense(labels, ps[0], 1),
	}
}
