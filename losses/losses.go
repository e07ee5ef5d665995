// Package losses holds TVLT's training objectives as Gorgonia ops: masked
// patch regression for MAE, BCE-with-logits for vision-audio matching,
// cross-entropy and MSE for fine-tuning, soft BCE for multi-label and VQA
// answer classification. Each returns a scalar node whose
// gradient flows into the prediction only.
package losses

import (
	"fmt"
	"hash"
	"math"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MAE is the reference's masked-autoencoder loss: per patch, the mean over
// the patch's values of the squared error; then the sum over batch and
// patches weighted by labelMask (1 = removed real patch) divided by the sum
// of labelMask — one mean over all removed real patches of the batch.
// pred and target are (B, L, K), labelMask (B, L). Unlike the reference
// (NaN), a batch with no removed real patch gives loss 0 and zero gradient.
func MAE(pred, target, labelMask *G.Node) (*G.Node, error) {
	ps, ts, ms := pred.Shape(), target.Shape(), labelMask.Shape()
	if ps.Dims() != 3 || !slices.Equal(ps, ts) || ms.Dims() != 2 || ms[0] != ps[0] || ms[1] != ps[1] {
		return nil, fmt.Errorf("losses: MAE: prediction %v, target %v and label mask %v do not fit (want (B,L,K), (B,L,K), (B,L))", ps, ts, ms)
	}
	return apply(maeKernel{}, pred, target, labelMask)
}

type maeKernel struct{}

func (maeKernel) name() string   { return "MAELoss" }
func (maeKernel) hash(hash.Hash) {}
func (maeKernel) forward(in []tensor.Tensor, v [][]float64) (float64, error) {
	p, t, m := v[0], v[1], v[2]
	k := in[0].Shape()[2]
	var num, den float64
	for n, w := range m {
		if w == 0 {
			continue
		}
		var e float64
		for j := n * k; j < (n+1)*k; j++ {
			d := p[j] - t[j]
			e += d * d
		}
		num += e / float64(k) * w
		den += w
	}
	if den == 0 {
		return 0, nil
	}
	return num / den, nil
}
func (maeKernel) backward(in []tensor.Tensor, v [][]float64, g float64, out []float64) error {
	p, t, m := v[0], v[1], v[2]
	k := in[0].Shape()[2]
	var den float64
	for _, w := range m {
		den += w
	}
	if den == 0 {
		return nil
	}
	for n, w := range m {
		if w == 0 {
			continue
		}
		s := g * 2 * w / (float64(k) * den)
		for j := n * k; j < (n+1)*k; j++ {
			out[j] = s * (p[j] - t[j])
		}
	}
	return nil
}

// BCEWithLogits is torch's BCEWithLogitsLoss with mean reduction over every
// element; logits and labels have the same shape (matching: (B, 1)).
// Labels may be soft (any value in [0, 1]); multi-label classification
// uses it on (B, num_labels).
func BCEWithLogits(logits, labels *G.Node) (*G.Node, error) {
	if !slices.Equal(logits.Shape(), labels.Shape()) {
		return nil, fmt.Errorf("losses: BCEWithLogits: logits %v and labels %v differ in shape", logits.Shape(), labels.Shape())
	}
	return apply(bceKernel{scale: 1}, logits, labels)
}

// VQA is the ViLT/TVLT VQA objective on answer logits (B, A) against soft
// answer scores (B, A): BCEWithLogits with mean reduction times the number
// of answers A (binary_cross_entropy_with_logits(logits, targets) *
// targets.shape[1]), i.e. the BCE summed over the answers and averaged
// over the batch.
func VQA(logits, targets *G.Node) (*G.Node, error) {
	ls := logits.Shape()
	if ls.Dims() != 2 || !slices.Equal(ls, targets.Shape()) {
		return nil, fmt.Errorf("losses: VQA: logits %v and targets %v do not fit (want (B,A) and (B,A))", ls, targets.Shape())
	}
	return apply(bceKernel{scale: float64(ls[1])}, logits, targets)
}

// bceKernel is the mean BCE-with-logits times scale (1 for BCEWithLogits).
type bceKernel struct{ scale float64 }

func (k bceKernel) name() string {
	if k.scale != 1 {
		return "VQABCE"
	}
	return "BCEWithLogits"
}
func (k bceKernel) hash(h hash.Hash) {
	if k.scale != 1 {
		fmt.Fprintf(h, "scale:%v", k.scale)
	}
}
func (k bceKernel) forward(in []tensor.Tensor, v [][]float64) (float64, error) {
	x, y := v[0], v[1]
	var s float64
	for i := range x {
		// max(x,0) − x·y + log(1 + exp(−|x|)) is the overflow-free form.
		s += math.Max(x[i], 0) - x[i]*y[i] + math.Log1p(math.Exp(-math.Abs(x[i])))
	}
	return s / float64(len(x)) * k.scale, nil
}
func (k bceKernel) backward(in []tensor.Tensor, v [][]float64, g float64, out []float64) error {
	x, y := v[0], v[1]
	for i := range x {
		out[i] = g * (sigmoid(x[i]) - y[i]) / float64(len(x)) * k.scale
	}
	return nil
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// CrossEntropy is torch's CrossEntropyLoss (mean over the batch) of logits
// (B, C) against class indices labels (B) of dtype Int64.
func CrossEntropy(logits, labels *G.Node) (*G.Node, error) {
	ls, ys := logits.Shape(), labels.Shape()
	if ls.Dims() != 2 || ys.Dims() != 1 || ys[0] != ls[0] {
		return nil, fmt.Errorf("losses: CrossEntropy: logits %v and labels %v do not fit (want (B,C) and (B))", ls, ys)
	}
	if labels.Dtype() != tensor.Int64 {
		return nil, fmt.Errorf("losses: CrossEntropy: labels must be Int64 class indices, got %v", labels.Dtype())
	}
	return apply(ceKernel{}, logits, labels)
}

type ceKernel struct{}

func (ceKernel) name() string   { return "CrossEntropy" }
func (ceKernel) hash(hash.Hash) {}

func (ceKernel) rows(in []tensor.Tensor, v [][]float64) ([]float64, []int64, int, int, error) {
	x := v[0]
	y, ok := in[1].Data().([]int64)
	if !ok {
		return nil, nil, 0, 0, fmt.Errorf("losses: CrossEntropy: labels are %T, want []int64", in[1].Data())
	}
	b, c := in[0].Shape()[0], in[0].Shape()[1]
	for i, l := range y {
		if l < 0 || int(l) >= c {
			return nil, nil, 0, 0, fmt.Errorf("losses: CrossEntropy: label %d of example %d is outside [0, %d)", l, i, c)
		}
	}
	return x, y, b, c, nil
}

func logSumExp(row []float64) float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, v)
	}
	var s float64
	for _, v := range row {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

func (k ceKernel) forward(in []tensor.Tensor, v [][]float64) (float64, error) {
	x, y, b, c, err := k.rows(in, v)
	if err != nil {
		return 0, err
	}
	var s float64
	for i := 0; i < b; i++ {
		row := x[i*c : (i+1)*c]
		s += logSumExp(row) - row[y[i]]
	}
	return s / float64(b), nil
}
func (k ceKernel) backward(in []tensor.Tensor, v [][]float64, g float64, out []float64) error {
	x, y, b, c, err := k.rows(in, v)
	if err != nil {
		return err
	}
	for i := 0; i < b; i++ {
		row := x[i*c : (i+1)*c]
		lse := logSumExp(row)
		for j := range row {
			p := math.Exp(row[j] - lse)
			if int64(j) == y[i] {
				p--
			}
			out[i*c+j] = g * p / float64(b)
		}
	}
	return nil
}

// MSE is torch's MSELoss (mean over all elements). Unlike the reference,
// prediction and target must have the same shape: (B,1) against (B,) is an
// error here instead of a silent (B,B) broadcast.
func MSE(pred, target *G.Node) (*G.Node, error) {
	if !slices.Equal(pred.Shape(), target.Shape()) {
		return nil, fmt.Errorf("losses: MSE: prediction %v and target %v differ in shape", pred.Shape(), target.Shape())
	}
	return apply(mseKernel{}, pred, target)
}

type mseKernel struct{}

func (mseKernel) name() string   { return "MSE" }
func (mseKernel) hash(hash.Hash) {}
func (mseKernel) forward(in []tensor.Tensor, v [][]float64) (float64, error) {
	p, t := v[0], v[1]
	var s float64
	for i := range p {
		d := p[i] - t[i]
		s += d * d
	}
	return s / float64(len(p)), nil
}
func (mseKernel) backward(in []tensor.Tensor, v [][]float64, g float64, out []float64) error {
	p, t := v[0], v[1]
	for i := range p {
		out[i] = g * 2 * (p[i] - t[i]) / float64(len(p))
	}
	return nil
}

// WeightedSum is Σ weights[i]·terms[i], nil terms skipped, as Sum; a
// weight of exactly 1 adds its term as it is (Sum's graph and bits), and a
// weight of 0 keeps the term in the graph (its value is still computed and
// can be read) with a zero gradient into it.
func WeightedSum(weights []float64, terms ...*G.Node) (*G.Node, error) {
	if len(weights) != len(terms) {
		return nil, fmt.Errorf("losses: WeightedSum: %d weights for %d terms", len(weights), len(terms))
	}
	scaled := make([]*G.Node, len(terms))
	for i, t := range terms {
		if t == nil || weights[i] == 1 {
			scaled[i] = t
			continue
		}
		if math.IsNaN(weights[i]) || math.IsInf(weights[i], 0) {
			return nil, fmt.Errorf("losses: WeightedSum: weight %d is %v", i, weights[i])
		}
		var w *G.Node
		if t.Dtype() == tensor.Float32 {
			w = G.NewConstant(float32(weights[i]))
		} else {
			w = G.NewConstant(weights[i])
		}
		var err error
		if scaled[i], err = G.Mul(w, t); err != nil {
			return nil, fmt.Errorf("losses: WeightedSum: %w", err)
		}
	}
	return Sum(scaled...)
}

// Sum adds the given scalar loss terms, skipping nil ones, so a pretraining
// run can enable matching, MAE or both (the reference crashes without
// matching). At least one term must be present.
func Sum(terms ...*G.Node) (*G.Node, error) {
	var total *G.Node
	for _, t := range terms {
		if t == nil {
			continue
		}
		if total == nil {
			total = t
			continue
		}
		var err error
		if total, err = G.Add(total, t); err != nil {
			return nil, fmt.Errorf("losses: Sum: %w", err)
		}
	}
	if total == nil {
		return nil, fmt.Errorf("losses: Sum: no loss terms (enable at least one task)")
	}
	return total, nil
}
