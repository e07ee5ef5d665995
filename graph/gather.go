package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Gather picks tokens of x (B,L,D) by index: out[b,i,:] = x[b, ids[b,i], :], shape (B,K,D).
// ids is a (B,K) Int64 node bound per step and is not differentiated; the gradient
// scatter-adds into x.
func Gather(x, ids *G.Node) (*G.Node, error) {
	const name = "Gather"
	xs, err := check3(x, name, "x")
	if err != nil {
		return nil, err
	}
	is, err := checkIDs(ids, xs[0], name, "ids")
	if err != nil {
		return nil, err
	}
	op := &gatherOp{opBase: opBase{"Gather"}, l: xs[1]}
	n, err := G.ApplyOp(op, x, ids)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w (x shape %v, ids shape %v)", name, err, xs, is)
	}
	return n, nil
}

type gatherOp struct {
	opBase
	l int
}

func (op *gatherOp) Arity() int   { return 2 }
func (op *gatherOp) Type() hmType { return fnType(tt(3), ti64(2), tt(3)) }
func (op *gatherOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	xs, is := in[0].(tensor.Shape), in[1].(tensor.Shape)
	return tensor.Shape{xs[0], is[1], xs[2]}, nil
}
func (op *gatherOp) DiffWRT(int) []bool                { return []bool{true, false} }
func (op *gatherOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *gatherOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&gatherGradOp{opBase{"GatherGrad"}, op.l}, inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("graph: Gather grad x: %w", err)
	}
	return G.Nodes{dx, nil}, nil
}

func (op *gatherOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses("Gather", []string{"x", "ids"}, inputs)
	if err != nil {
		return nil, err
	}
	x := ds[0]
	xs := x.Shape()
	ids, k, err := loadIDs(ds[1], xs[0], xs[1], "Gather", "ids")
	if err != nil {
		return nil, err
	}
	out, _ := outTensor(p, x.Dtype(), tensor.Shape{xs[0], k, xs[2]})
	return out, floatKernel(x.Dtype(), "Gather",
		func() { gather(sliceOf[float32](x), sliceOf[float32](out), ids, xs[0], xs[1], k, xs[2]) },
		func() { gather(sliceOf[float64](x), sliceOf[float64](out), ids, xs[0], xs[1], k, xs[2]) })
}

func gather[T float](x, out []T, ids []int64, b, l, k, d int) {
	for bi := 0; bi < b; bi++ {
		for i := 0; i < k; i++ {
			src := (bi*l + int(ids[bi*k+i])) * d
			copy(out[(bi*k+i)*d:(bi*k+i+1)*d], x[src:src+d])
		}
	}
}

// gatherGradOp scatter-adds a (B,K,D) gradient into (B,L,D) from (ids, grad).
type gatherGradOp struct {
	opBase
	l int
}

func (op *gatherGradOp) Arity() int   { return 2 }
func (op *gatherGradOp) Type() hmType { return fnType(ti64(2), tt(3), tt(3)) }
func (op *gatherGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	gs := in[1].(tensor.Shape)
	return tensor.Shape{gs[0], op.l, gs[2]}, nil
}
func (op *gatherGradOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *gatherGradOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses("GatherGrad", []string{"ids", "grad"}, inputs)
	if err != nil {
		return nil, err
	}
	g := ds[1]
	gs := g.Shape()
	ids, k, err := loadIDs(ds[0], gs[0], op.l, "GatherGrad", "ids")
	if err != nil {
		return nil, err
	}
	if gs.Dims() != 3 || gs[1] != k {
		return nil, fmt.Errorf("graph: GatherGrad: grad shape %v != (B, %d, D)", gs, k)
	}
	out, _ := outTensor(p, g.Dtype(), tensor.Shape{gs[0], op.l, gs[2]})
	return out, floatKernel(g.Dtype(), "GatherGrad",
		func() { gatherGrad(sliceOf[float32](g), sliceOf[float32](out), ids, gs[0], op.l, k, gs[2]) },
		func() { gatherGrad(sliceOf[float64](g), sliceOf[float64](out), ids, gs[0], op.l, k, gs[2]) })
}

func gatherGrad[T float](g, out []T, ids []int64, b, l, k, d int) {
	clear(out)
	for bi := 0; bi < b; bi++ {
		for i := 0; i < k; i++ {
			dst := (bi*l + int(ids[bi*k+i])) * d
			or, gr := out[dst:dst+d], g[(bi*k+i)*d:(bi*k+i+1)*d]
			for j := range or {
				or[j] += gr[j]
			}
		}
	}
}
