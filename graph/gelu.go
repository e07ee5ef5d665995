package graph

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// GELU is the exact erf GELU: 0.5·x·(1+erf(x/√2)), any shape.
func GELU(x *G.Node) (*G.Node, error) {
	s, err := shapeOf(x, "GELU", "x")
	if err != nil {
		return nil, err
	}
	if err := checkFloat(x, "GELU", "x"); err != nil {
		return nil, err
	}
	if s.Dims() == 0 {
		return nil, fmt.Errorf("graph: GELU: x must have rank >= 1, got shape %v", s)
	}
	op := &geluOp{opBase{"GELU"}}
	n, err := G.ApplyOp(op, x)
	if err != nil {
		return nil, fmt.Errorf("graph: GELU: %w", err)
	}
	return n, nil
}

type geluOp struct{ opBase }

func (op *geluOp) Arity() int   { return 1 }
func (op *geluOp) Type() hmType { return fnType(tv(), tv()) }
func (op *geluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *geluOp) DiffWRT(int) []bool                { return []bool{true} }
func (op *geluOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *geluOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&geluGradOp{opBase{"GELUGrad"}}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("graph: GELU grad: %w", err)
	}
	return G.Nodes{dx}, nil
}

func (op *geluOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"x"}, inputs)
	if err != nil {
		return nil, err
	}
	x := ds[0]
	out, _ := outTensor(p, x.Dtype(), x.Shape())
	switch x.Dtype() {
	case tensor.Float32:
		geluFwd(sliceOf[float32](x), sliceOf[float32](out))
	case tensor.Float64:
		geluFwd(sliceOf[float64](x), sliceOf[float64](out))
	default:
		return nil, fmt.Errorf("graph: GELU: unsupported dtype %v", x.Dtype())
	}
	return out, nil
}

// geluGradOp computes dx = g·(Φ(x) + x·φ(x)) from (x, g).
type geluGradOp struct{ opBase }

func (op *geluGradOp) Arity() int   { return 2 }
func (op *geluGradOp) Type() hmType { return fnType(tv(), tv(), tv()) }
func (op *geluGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *geluGradOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *geluGradOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"x", "grad"}, inputs)
	if err != nil {
		return nil, err
	}
	x, g := ds[0], ds[1]
	if x.Shape().TotalSize() != g.Shape().TotalSize() {
		return nil, fmt.Errorf("graph: GELUGrad: x shape %v != grad shape %v", x.Shape(), g.Shape())
	}
	out, _ := outTensor(p, x.Dtype(), x.Shape())
	switch x.Dtype() {
	case tensor.Float32:
		geluBwd(sliceOf[float32](x), sliceOf[float32](g), sliceOf[float32](out))
	case tensor.Float64:
		geluBwd(sliceOf[float64](x), sliceOf[float64](g), sliceOf[float64](out))
	default:
		return nil, fmt.Errorf("graph: GELUGrad: unsupported dtype %v", x.Dtype())
	}
	return out, nil
}

const (
	invSqrt2   = 0.70710678118654752440084436210484903928483593768847
	invSqrt2Pi = 0.39894228040143267793994605993438186847585863116493
)

func geluFwd[T float](x, y []T) {
	if x32, ok := any(x).([]float32); ok {
		geluFwd32(x32, any(y).([]float32))
		return
	}
	parFor(len(x), 20, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(x[i])
			y[i] = T(0.5 * v * (1 + math.Erf(v*invSqrt2)))
		}
	})
}

func geluBwd[T float](x, g, dx []T) {
	if x32, ok := any(x).([]float32); ok {
		geluBwd32(x32, any(g).([]float32), any(dx).([]float32))
		return
	}
	parFor(len(x), 30, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(x[i])
			cdf := 0.5 * (1 + math.Erf(v*invSqrt2))
			pdf := invSqrt2Pi * math.Exp(-0.5*v*v)
			dx[i] = T(float64(g[i]) * (cdf + v*pdf))
		}
	})
}

// geluFwd32 and geluBwd32 use the fast float32 erf/exp (errors of a few float32 ulp, on a par
// with PyTorch's vectorised CPU kernels), vectorised on amd64 (fastmath.go); float64 graphs
// keep math.Erf for exactness.
func geluFwd32(x, y []float32) {
	parFor(len(x), geluCost32(10), func(lo, hi int) { geluFwdSlice(x[lo:hi], y[lo:hi]) })
}

func geluBwd32(x, g, dx []float32) {
	parFor(len(x), geluCost32(15), func(lo, hi int) { geluBwdSlice(x[lo:hi], g[lo:hi], dx[lo:hi]) })
}

// geluCost32 is parFor's cost per element of the float32 GELU kernels: scalar is the scalar
// Go cost; the vector kernels take a fraction of it.
func geluCost32(scalar int) int {
	if simdLevel != simdNone {
		return max(1, scalar/4)
	}
	return scalar
}
