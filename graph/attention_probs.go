package graph

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AttentionProbs returns the attention probabilities softmax(Q_h·K_hᵀ/sqrt(dh) + keyBias)
// of every head as (B, heads, S, S), with exactly the numerics of Attention (same kernel,
// same uniform rows when every key is masked). It exists to look at a model (attention
// maps), so it is forward-only: asking for its gradient is an error.
func AttentionProbs(q, k, keyBias *G.Node, heads int) (*G.Node, error) {
	const name = "AttentionProbs"
	children, err := attentionInputs(name, []*G.Node{q, k}, keyBias, heads)
	if err != nil {
		return nil, err
	}
	op := &attnProbsOp{
		opBase:  opBase{fmt.Sprintf("AttentionProbs{heads=%d,bias=%t}", heads, keyBias != nil)},
		heads:   heads,
		hasBias: keyBias != nil,
	}
	n, err := G.ApplyOp(op, children...)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", name, err)
	}
	return n, nil
}

type attnProbsOp struct {
	opBase
	heads   int
	hasBias bool
}

func (op *attnProbsOp) Arity() int {
	if op.hasBias {
		return 3
	}
	return 2
}

func (op *attnProbsOp) Type() hmType {
	if op.hasBias {
		return fnType(tt(3), tt(3), tt(2), tt(4))
	}
	return fnType(tt(3), tt(3), tt(4))
}

func (op *attnProbsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || s.Dims() != 3 {
		return nil, fmt.Errorf("graph: AttentionProbs: q shape %v is not (B,S,D)", in[0])
	}
	return tensor.Shape{s[0], op.heads, s[1], s[1]}, nil
}

// DiffWRT is all false: the probabilities are for inspection, never trained through.
func (op *attnProbsOp) DiffWRT(n int) []bool { return make([]bool, n) }

func (op *attnProbsOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return nil, errors.New("graph: AttentionProbs is forward-only (no gradient)")
}

func (op *attnProbsOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *attnProbsOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	names := []string{"q", "k"}
	if op.hasBias {
		names = append(names, "keyBias")
	}
	ds, err := denses(op.name, names, inputs)
	if err != nil {
		return nil, err
	}
	qs := ds[0].Shape()
	if qs.Dims() != 3 || !ds[1].Shape().Eq(qs) {
		return nil, fmt.Errorf("graph: %s: q %v and k %v must share a (B,S,D) shape", op.name, qs, ds[1].Shape())
	}
	dm := attnDims{b: qs[0], s: qs[1], d: qs[2], h: op.heads, dh: qs[2] / op.heads}
	if op.hasBias && ds[2].Shape().TotalSize() != dm.b*dm.s {
		return nil, fmt.Errorf("graph: %s: keyBias shape %v != (%d, %d)", op.name, ds[2].Shape(), dm.b, dm.s)
	}
	for _, t := range ds[1:] {
		if t.Dtype() != ds[0].Dtype() {
			return nil, fmt.Errorf("graph: %s: mixed dtypes %v and %v", op.name, ds[0].Dtype(), t.Dtype())
		}
	}
	// biasOf expects the bias at index 3 (after q, k, v); v is unused here.
	ins := []*tensor.Dense{ds[0], ds[1], nil}
	if op.hasBias {
		ins = append(ins, ds[2])
	}
	out, _ := outTensor(p, ds[0].Dtype(), tensor.Shape{dm.b, dm.h, dm.s, dm.s})
	switch out.Dtype() {
	case tensor.Float32:
		probsForward(ins, sliceOf[float32](out), dm)
	case tensor.Float64:
		probsForward(ins, sliceOf[float64](out), dm)
	default:
		return nil, fmt.Errorf("graph: AttentionProbs: unsupported dtype %v", out.Dtype())
	}
	return out, nil
}

func probsForward[T float](ins []*tensor.Dense, out []T, dm attnDims) {
	q, k := sliceOf[T](ins[0]), sliceOf[T](ins[1])
	bias := biasOf[T](ins)
	ss := dm.s * dm.s
	kt := make([]T, dm.s*dm.dh)
	for item := 0; item < dm.b*dm.h; item++ {
		attnProbs(q, k, bias, out[item*ss:(item+1)*ss], kt, item/dm.h, item%dm.h, 0, dm.s, dm)
	}
}
