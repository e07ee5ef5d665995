package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Linear computes y = x·Wᵀ + b like torch.nn.Linear, for x (..., in) of rank ≥ 2 → (..., out).
//
// The leading dims of x are flattened for one matrix product and restored in the output.
// w is (out, in) or (out, d1, d2, ...) with d1·d2·… == in, so a Conv2d weight (D,C,pH,pW)
// applies directly to patches flattened in (c,y,x) order. b is (out) or nil.
func Linear(x, w, b *G.Node) (*G.Node, error) {
	const name = "Linear"
	xs, err := shapeOf(x, name, "x")
	if err != nil {
		return nil, err
	}
	ws, err := shapeOf(w, name, "weight")
	if err != nil {
		return nil, err
	}
	if err := checkFloat(x, name, "x"); err != nil {
		return nil, err
	}
	if err := checkSameDtype(x, w, name, "x", "weight"); err != nil {
		return nil, err
	}
	if xs.Dims() < 2 {
		return nil, fmt.Errorf("graph: %s: x must have rank >= 2, got shape %v", name, xs)
	}
	if ws.Dims() < 2 {
		return nil, fmt.Errorf("graph: %s: weight must have rank >= 2, got shape %v", name, ws)
	}
	in := xs[xs.Dims()-1]
	wIn := 1
	for _, v := range ws[1:] {
		wIn *= v
	}
	if in != wIn {
		return nil, fmt.Errorf("graph: %s: x last dim %d != weight in-features %d (x shape %v, weight shape %v)", name, in, wIn, xs, ws)
	}
	out := ws[0]
	op := &linearOp{opBase: opBase{fmt.Sprintf("Linear{in=%d,out=%d,bias=%t}", in, out, b != nil)}, xRank: xs.Dims(), wRank: ws.Dims(), hasBias: b != nil}
	children := []*G.Node{x, w}
	if b != nil {
		bs := b.Shape()
		if err := checkSameDtype(x, b, name, "x", "bias"); err != nil {
			return nil, err
		}
		if bs.Dims() != 1 || bs[0] != out {
			return nil, fmt.Errorf("graph: %s: bias shape %v != (%d) for weight shape %v", name, bs, out, ws)
		}
		children = append(children, b)
	}
	n, err := G.ApplyOp(op, children...)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", name, err)
	}
	return n, nil
}

type linearOp struct {
	opBase
	xRank, wRank int
	hasBias      bool
}

func (op *linearOp) Arity() int {
	if op.hasBias {
		return 3
	}
	return 2
}

func (op *linearOp) Type() hmType {
	if op.hasBias {
		return fnType(tt(op.xRank), tt(op.wRank), tt(1), tt(op.xRank))
	}
	return fnType(tt(op.xRank), tt(op.wRank), tt(op.xRank))
}

func (op *linearOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, ws := in[0].(tensor.Shape), in[1].(tensor.Shape)
	s := xs.Clone()
	s[s.Dims()-1] = ws[0]
	return s, nil
}

func (op *linearOp) DiffWRT(n int) []bool {
	r := make([]bool, n)
	for i := range r {
		r[i] = true
	}
	return r
}

func (op *linearOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *linearOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	x, w := inputs[0], inputs[1]
	dx, err := G.ApplyOp(&linearDxOp{opBase{"LinearDx"}, op.xRank, op.wRank}, grad, w)
	if err != nil {
		return nil, fmt.Errorf("graph: Linear grad x: %w", err)
	}
	dw, err := G.ApplyOp(&linearDwOp{opBase{"LinearDw"}, op.xRank, op.wRank, w.Shape().Clone()}, grad, x)
	if err != nil {
		return nil, fmt.Errorf("graph: Linear grad weight: %w", err)
	}
	res := G.Nodes{dx, dw}
	if op.hasBias {
		db, err := G.ApplyOp(&sumLeadingOp{opBase{"SumLeading"}, op.xRank}, grad)
		if err != nil {
			return nil, fmt.Errorf("graph: Linear grad bias: %w", err)
		}
		res = append(res, db)
	}
	return res, nil
}

func (op *linearOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	names := []string{"x", "weight"}
	if op.hasBias {
		names = append(names, "bias")
	}
	ds, err := denses(op.name, names, inputs)
	if err != nil {
		return nil, err
	}
	x, w := ds[0], ds[1]
	xs := x.Shape()
	in := xs[xs.Dims()-1]
	out := w.Shape()[0]
	if w.Shape().TotalSize() != out*in {
		return nil, fmt.Errorf("graph: Linear: x shape %v does not match weight shape %v", xs, w.Shape())
	}
	os := xs.Clone()
	os[os.Dims()-1] = out
	y, _ := outTensor(p, x.Dtype(), os)
	n := xs.TotalSize() / max(in, 1)
	switch x.Dtype() {
	case tensor.Float32:
		var b []float32
		if op.hasBias {
			b = sliceOf[float32](ds[2])
		}
		linearFwd(sliceOf[float32](x), sliceOf[float32](w), b, sliceOf[float32](y), n, in, out)
	case tensor.Float64:
		var b []float64
		if op.hasBias {
			b = sliceOf[float64](ds[2])
		}
		linearFwd(sliceOf[float64](x), sliceOf[float64](w), b, sliceOf[float64](y), n, in, out)
	default:
		return nil, fmt.Errorf("graph: Linear: unsupported dtype %v", x.Dtype())
	}
	return y, nil
}

func linearFwd[T float](x, w, b, y []T, n, in, out int) {
	var beta T
	if b != nil {
		beta = 1
		for r := 0; r < n; r++ {
			copy(y[r*out:(r+1)*out], b)
		}
	}
	// y(n,out) = x(n,in)·w(out,in)ᵀ (+ y holding the broadcast bias)
	matmul(false, true, n, out, in, 1, x, in, w, in, beta, y, out)
}

// linearDxOp computes dx(n,in) = dy(n,out)·W(out,in) from (dy, W).
type linearDxOp struct {
	opBase
	xRank, wRank int
}

func (op *linearDxOp) Arity() int   { return 2 }
func (op *linearDxOp) Type() hmType { return fnType(tt(op.xRank), tt(op.wRank), tt(op.xRank)) }
func (op *linearDxOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	gs, ws := in[0].(tensor.Shape), in[1].(tensor.Shape)
	s := gs.Clone()
	s[s.Dims()-1] = ws.TotalSize() / ws[0]
	return s, nil
}
func (op *linearDxOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *linearDxOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"grad", "weight"}, inputs)
	if err != nil {
		return nil, err
	}
	g, w := ds[0], ds[1]
	out := w.Shape()[0]
	in := w.Shape().TotalSize() / out
	gs := g.Shape()
	if gs[gs.Dims()-1] != out {
		return nil, fmt.Errorf("graph: LinearDx: grad shape %v does not match weight shape %v", gs, w.Shape())
	}
	n := gs.TotalSize() / out
	xs := gs.Clone()
	xs[xs.Dims()-1] = in
	dx, _ := outTensor(p, g.Dtype(), xs)
	switch g.Dtype() {
	case tensor.Float32:
		matmul(false, false, n, in, out, 1, sliceOf[float32](g), out, sliceOf[float32](w), in, 0, sliceOf[float32](dx), in)
	case tensor.Float64:
		matmul(false, false, n, in, out, 1, sliceOf[float64](g), out, sliceOf[float64](w), in, 0, sliceOf[float64](dx), in)
	default:
		return nil, fmt.Errorf("graph: LinearDx: unsupported dtype %v", g.Dtype())
	}
	return dx, nil
}

// linearDwOp computes dW(out,in) = dy(n,out)ᵀ·x(n,in) from (dy, x), shaped like the weight.
type linearDwOp struct {
	opBase
	xRank, wRank int
	wShape       tensor.Shape
}

func (op *linearDwOp) Arity() int   { return 2 }
func (op *linearDwOp) Type() hmType { return fnType(tt(op.xRank), tt(op.xRank), tt(op.wRank)) }
func (op *linearDwOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return op.wShape.Clone(), nil
}
func (op *linearDwOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *linearDwOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"grad", "x"}, inputs)
	if err != nil {
		return nil, err
	}
	g, x := ds[0], ds[1]
	gs, xs := g.Shape(), x.Shape()
	out, in := gs[gs.Dims()-1], xs[xs.Dims()-1]
	n := gs.TotalSize() / max(out, 1)
	if out != op.wShape[0] || in*out != op.wShape.TotalSize() || xs.TotalSize() != n*in {
		return nil, fmt.Errorf("graph: LinearDw: grad shape %v, x shape %v do not match weight shape %v", gs, xs, op.wShape)
	}
	dw, _ := outTensor(p, g.Dtype(), op.wShape)
	switch g.Dtype() {
	case tensor.Float32:
		matmul(true, false, out, in, n, 1, sliceOf[float32](g), out, sliceOf[float32](x), in, 0, sliceOf[float32](dw), in)
	case tensor.Float64:
		matmul(true, false, out, in, n, 1, sliceOf[float64](g), out, sliceOf[float64](x), in, 0, sliceOf[float64](dw), in)
	default:
		return nil, fmt.Errorf("graph: LinearDw: unsupported dtype %v", g.Dtype())
	}
	return dw, nil
}
