package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SliceSeq returns x[:, from:to, :] for x (B,S,D), shape (B,to−from,D); the gradient is
// zero outside [from, to).
func SliceSeq(x *G.Node, from, to int) (*G.Node, error) {
	const name = "SliceSeq"
	xs, err := check3(x, name, "x")
	if err != nil {
		return nil, err
	}
	if from < 0 || to > xs[1] || from >= to {
		return nil, fmt.Errorf("graph: %s: range [%d, %d) invalid for x shape %v", name, from, to, xs)
	}
	n, err := G.ApplyOp(newSliceSeqOp(from, to), x)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", name, err)
	}
	return n, nil
}

func newSliceSeqOp(from, to int) *sliceSeqOp {
	return &sliceSeqOp{opBase{fmt.Sprintf("SliceSeq{%d:%d}", from, to)}, from, to}
}

type sliceSeqOp struct {
	opBase
	from, to int
}

func (op *sliceSeqOp) Arity() int   { return 1 }
func (op *sliceSeqOp) Type() hmType { return fnType(tt(3), tt(3)) }
func (op *sliceSeqOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{s[0], op.to - op.from, s[2]}, nil
}
func (op *sliceSeqOp) DiffWRT(int) []bool                { return []bool{true} }
func (op *sliceSeqOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *sliceSeqOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	s := inputs[0].Shape()[1]
	dx, err := G.ApplyOp(&padSeqOp{opBase{fmt.Sprintf("PadSeq{%d:%d/%d}", op.from, op.to, s)}, op.from, op.to, s}, grad)
	if err != nil {
		return nil, fmt.Errorf("graph: SliceSeq grad: %w", err)
	}
	return G.Nodes{dx}, nil
}

func (op *sliceSeqOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"x"}, inputs)
	if err != nil {
		return nil, err
	}
	x := ds[0]
	s := x.Shape()
	if s.Dims() != 3 || op.to > s[1] {
		return nil, fmt.Errorf("graph: %s: x shape %v too short", op.name, s)
	}
	l := op.to - op.from
	out, _ := outTensor(p, x.Dtype(), tensor.Shape{s[0], l, s[2]})
	return out, floatKernel(x.Dtype(), op.name,
		func() { seqCopy(sliceOf[float32](x), sliceOf[float32](out), s[0], s[1], l, s[2], op.from, 0) },
		func() { seqCopy(sliceOf[float64](x), sliceOf[float64](out), s[0], s[1], l, s[2], op.from, 0) })
}

// seqCopy copies n positions per batch from src (B,ls,D) at srcOff to dst (B,ld,D) at dstOff.
func seqCopy[T float](src, dst []T, b, ls, n, d, srcOff, dstOff int) {
	ld := len(dst) / (b * d)
	for bi := 0; bi < b; bi++ {
		copy(dst[(bi*ld+dstOff)*d:(bi*ld+dstOff+n)*d], src[(bi*ls+srcOff)*d:(bi*ls+srcOff+n)*d])
	}
}

// padSeqOp places a (B,to−from,D) gradient at [from,to) of a zero (B,S,D) tensor.
type padSeqOp struct {
	opBase
	from, to, s int
}

func (op *padSeqOp) Arity() int   { return 1 }
func (op *padSeqOp) Type() hmType { return fnType(tt(3), tt(3)) }
func (op *padSeqOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	g := in[0].(tensor.Shape)
	return tensor.Shape{g[0], op.s, g[2]}, nil
}
func (op *padSeqOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *padSeqOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"grad"}, inputs)
	if err != nil {
		return nil, err
	}
	g := ds[0]
	gs := g.Shape()
	l := op.to - op.from
	if gs.Dims() != 3 || gs[1] != l {
		return nil, fmt.Errorf("graph: %s: grad shape %v != (B, %d, D)", op.name, gs, l)
	}
	out, _ := outTensor(p, g.Dtype(), tensor.Shape{gs[0], op.s, gs[2]})
	return out, floatKernel(g.Dtype(), op.name,
		func() {
			o := sliceOf[float32](out)
			clear(o)
			seqCopy(sliceOf[float32](g), o, gs[0], l, l, gs[2], 0, op.from)
		},
		func() {
			o := sliceOf[float64](out)
			clear(o)
			seqCopy(sliceOf[float64](g), o, gs[0], l, l, gs[2], 0, op.from)
		})
}
