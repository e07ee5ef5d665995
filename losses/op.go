package losses

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	"github.com/tvlt-go/tvlt/graph"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A loss is a scalar function of a prediction (the only differentiable
// input) and constant inputs (targets, weights). Each loss supplies its
// forward value and the gradient with respect to the prediction; lossOp and
// lossGradOp wrap them as Gorgonia ops so every loss shares one tested
// plumbing.
type kernel interface {
	name() string
	// forward returns the loss; in[0] is the prediction and v[i] is in[i]
	// read as float64.
	forward(in []tensor.Tensor, v [][]float64) (float64, error)
	// backward writes dLoss/dPrediction scaled by g into out (same shape as in[0]).
	backward(in []tensor.Tensor, v [][]float64, g float64, out []float64) error
	hash(h hash.Hash)
}

type lossOp struct {
	k     kernel
	types []hm.Type // input types
	host  hostBufs
}

// hostBufs keep a loss node's float64 reads of its inputs (and its
// gradient) between runs, so a training step allocates none of them again.
type hostBufs struct {
	v   [][]float64
	out []float64
}

// read returns every input as float64, reusing the buffers of the last run.
func (h *hostBufs) read(in []tensor.Tensor) [][]float64 {
	if len(h.v) != len(in) {
		h.v = make([][]float64, len(in))
	}
	for i, t := range in {
		h.v[i] = graph.Float64sInto(h.v[i], t)
	}
	return h.v
}

func (op *lossOp) Arity() int { return len(op.types) }
func (op *lossOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(append(append([]hm.Type{}, op.types...), a)...)
}
func (op *lossOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (op *lossOp) ReturnsPtr() bool                               { return false }
func (op *lossOp) CallsExtern() bool                              { return false }
func (op *lossOp) OverwritesInput() int                           { return -1 }
func (op *lossOp) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "loss:%s:", op.k.name()); op.k.hash(h) }
func (op *lossOp) Hashcode() uint32                               { return hashOf(op) }
func (op *lossOp) String() string                                 { return op.k.name() }

func (op *lossOp) Do(vals ...G.Value) (G.Value, error) {
	in, err := tensors(op.k.name(), vals)
	if err != nil {
		return nil, err
	}
	v, err := op.k.forward(in, op.host.read(in))
	if err != nil {
		return nil, err
	}
	if in[0].Dtype() == tensor.Float32 {
		return G.NewF32(float32(v)), nil
	}
	return G.NewF64(v), nil
}

func (op *lossOp) DiffWRT(n int) []bool {
	out := make([]bool, n)
	out[0] = true
	return out
}

func (op *lossOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	gop := &lossGradOp{k: op.k, types: op.types}
	args := append(append(G.Nodes{}, inputs...), grad)
	d, err := G.ApplyOp(gop, args...)
	if err != nil {
		return nil, err
	}
	out := make(G.Nodes, len(inputs))
	out[0] = d
	return out, nil
}

type lossGradOp struct {
	k     kernel
	types []hm.Type
	host  hostBufs
}

func (op *lossGradOp) Arity() int { return len(op.types) + 1 }
func (op *lossGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := append(append([]hm.Type{}, op.types...), a, op.types[0])
	return hm.NewFnType(ts...)
}
func (op *lossGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("losses: %s grad: prediction has no shape", op.k.name())
	}
	return s.Clone(), nil
}
func (op *lossGradOp) ReturnsPtr() bool     { return false }
func (op *lossGradOp) CallsExtern() bool    { return false }
func (op *lossGradOp) OverwritesInput() int { return -1 }
func (op *lossGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "lossgrad:%s:", op.k.name())
	op.k.hash(h)
}
func (op *lossGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *lossGradOp) String() string   { return op.k.name() + "Grad" }

func (op *lossGradOp) Do(vals ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vals...) }

// UsePreallocDo writes the gradient into prealloc when it fits.
func (op *lossGradOp) UsePreallocDo(prealloc G.Value, vals ...G.Value) (G.Value, error) {
	in, err := tensors(op.k.name(), vals[:len(vals)-1])
	if err != nil {
		return nil, err
	}
	g, err := scalar(vals[len(vals)-1])
	if err != nil {
		return nil, fmt.Errorf("losses: %s grad: %w", op.k.name(), err)
	}
	pred := in[0]
	n := pred.Shape().TotalSize()
	if cap(op.host.out) < n {
		op.host.out = make([]float64, n)
	}
	out := op.host.out[:n]
	clear(out)
	if err := op.k.backward(in, op.host.read(in), g, out); err != nil {
		return nil, err
	}
	res, ok := prealloc.(*tensor.Dense)
	if !ok || res == nil || res.Dtype() != pred.Dtype() || !res.Shape().Eq(pred.Shape()) || res.IsView() {
		res = tensor.New(tensor.Of(pred.Dtype()), tensor.WithShape(pred.Shape().Clone()...))
	}
	switch d := res.Data().(type) {
	case []float32:
		for i, x := range out {
			d[i] = float32(x)
		}
	case []float64:
		copy(d, out)
	}
	return res, nil
}

func hashOf(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func tensors(name string, vals []G.Value) ([]tensor.Tensor, error) {
	out := make([]tensor.Tensor, len(vals))
	for i, v := range vals {
		t, ok := v.(tensor.Tensor)
		if !ok {
			return nil, fmt.Errorf("losses: %s: input %d is %T, want a tensor", name, i, v)
		}
		out[i] = t
	}
	return out, nil
}

func scalar(v G.Value) (float64, error) {
	switch x := v.(type) {
	case *G.F32:
		return float64(*x), nil
	case *G.F64:
		return float64(*x), nil
	case tensor.Tensor:
		if x.Shape().TotalSize() != 1 {
			return 0, fmt.Errorf("gradient has shape %v, want a scalar", x.Shape())
		}
		return graph.Float64s(x)[0], nil
	}
	return 0, fmt.Errorf("gradient is %T, want a scalar", v)
}

func tensorType(dims int, of hm.Type) hm.Type { return G.TensorType{Dims: dims, Of: of} }

func apply(k kernel, inputs ...*G.Node) (*G.Node, error) {
	types := make([]hm.Type, len(inputs))
	a := hm.TypeVariable('a')
	for i, n := range inputs {
		of := hm.Type(a)
		if dt := n.Dtype(); dt == tensor.Int64 || dt == tensor.Int {
			of = dt
		}
		types[i] = tensorType(n.Shape().Dims(), of)
	}
	return G.ApplyOp(&lossOp{k: k, types: types}, inputs...)
}
