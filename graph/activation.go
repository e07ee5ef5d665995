package graph

import (
	"fmt"
	"math"
	"sort"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Activation applies the activation HF's transformers calls name in its ACT2FN table (what
// TvltIntermediate applies for config.hidden_act), elementwise on a node of any rank >= 1:
//
//	gelu, gelu_python        exact erf GELU (the GELU op)
//	gelu_new,                0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³)))
//	gelu_pytorch_tanh        (the same formula: torch's gelu(approximate="tanh"))
//	gelu_fast                0.5·x·(1+tanh(0.7978845608·x·(1+0.044715·x²)))
//	quick_gelu               x·σ(1.702·x)
//	silu, swish              x·σ(x)
//	relu, relu6              max(x, 0), min(max(x, 0), 6)
//	sigmoid, tanh            σ(x), tanh(x)
//
// Unknown names are an error listing the supported ones.
func Activation(x *G.Node, name string) (*G.Node, error) {
	if name == "gelu" || name == "gelu_python" {
		return GELU(x)
	}
	a, ok := activations[name]
	if !ok {
		return nil, fmt.Errorf("graph: Activation: unknown activation %q (supported: %s)", name, strings.Join(activationNames(), ", "))
	}
	what := "Activation(" + name + ")"
	s, err := shapeOf(x, what, "x")
	if err != nil {
		return nil, err
	}
	if err := checkFloat(x, what, "x"); err != nil {
		return nil, err
	}
	if s.Dims() == 0 {
		return nil, fmt.Errorf("graph: %s: x must have rank >= 1, got shape %v", what, s)
	}
	// The op name carries the activation name: Gorgonia hashes ops by name, so two
	// activations of one node never merge into one.
	n, err := G.ApplyOp(&actOp{opBase{what}, a}, x)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", what, err)
	}
	return n, nil
}

type actKind int

const (
	actReLU     actKind = iota // max(x, 0)
	actReLU6                   // min(max(x, 0), 6)
	actGELUTanh                // x·σ(2c·(x+0.044715·x³)) = 0.5·x·(1+tanh(c·(x+0.044715·x³)))
	actSiLU                    // x·σ(c·x)
	actSigmoid                 // σ(x)
	actTanh                    // tanh(x)
)

// activation is one elementwise activation: its kind and constant c (the tanh-GELU scale or
// the SiLU slope).
type activation struct {
	kind actKind
	c    float64
}

const (
	sqrt2OverPi = 0.79788456080286535587989211986876373695171726232987 // √(2/π)
	geluCubic   = 0.044715
)

// activations holds every ACT2FN name except the exact GELU ones (the GELU op).
var activations = map[string]activation{
	"gelu_new":          {actGELUTanh, sqrt2OverPi},
	"gelu_pytorch_tanh": {actGELUTanh, sqrt2OverPi},
	"gelu_fast":         {actGELUTanh, 0.7978845608},
	"quick_gelu":        {actSiLU, 1.702},
	"silu":              {actSiLU, 1},
	"swish":             {actSiLU, 1},
	"relu":              {actReLU, 0},
	"relu6":             {actReLU6, 0},
	"sigmoid":           {actSigmoid, 0},
	"tanh":              {actTanh, 0},
}

// activationNames lists every name Activation accepts, sorted.
func activationNames() []string {
	names := []string{"gelu", "gelu_python"}
	for n := range activations {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// cost is parFor's per-element cost estimate.
func (a activation) cost() int {
	if a.kind == actReLU || a.kind == actReLU6 {
		return 1
	}
	return 15
}

type actOp struct {
	opBase
	act activation
}

func (op *actOp) Arity() int   { return 1 }
func (op *actOp) Type() hmType { return fnType(tv(), tv()) }
func (op *actOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *actOp) DiffWRT(int) []bool                { return []bool{true} }
func (op *actOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *actOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	gradName := strings.Replace(op.name, "Activation(", "ActivationGrad(", 1)
	dx, err := G.ApplyOp(&actGradOp{opBase{gradName}, op.act}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", gradName, err)
	}
	return G.Nodes{dx}, nil
}

func (op *actOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"x"}, inputs)
	if err != nil {
		return nil, err
	}
	x := ds[0]
	out, _ := outTensor(p, x.Dtype(), x.Shape())
	err = floatKernel(x.Dtype(), op.name,
		func() { actFwd(op.act, sliceOf[float32](x), sliceOf[float32](out), exp32) },
		func() { actFwd(op.act, sliceOf[float64](x), sliceOf[float64](out), math.Exp) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// actGradOp computes dx = g·f'(x) from (x, g).
type actGradOp struct {
	opBase
	act activation
}

func (op *actGradOp) Arity() int   { return 2 }
func (op *actGradOp) Type() hmType { return fnType(tv(), tv(), tv()) }
func (op *actGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *actGradOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *actGradOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"x", "grad"}, inputs)
	if err != nil {
		return nil, err
	}
	x, g := ds[0], ds[1]
	if x.Shape().TotalSize() != g.Shape().TotalSize() {
		return nil, fmt.Errorf("graph: %s: x shape %v != grad shape %v", op.name, x.Shape(), g.Shape())
	}
	if x.Dtype() != g.Dtype() {
		return nil, fmt.Errorf("graph: %s: x dtype %v != grad dtype %v", op.name, x.Dtype(), g.Dtype())
	}
	out, _ := outTensor(p, x.Dtype(), x.Shape())
	err = floatKernel(x.Dtype(), op.name,
		func() { actBwd(op.act, sliceOf[float32](x), sliceOf[float32](g), sliceOf[float32](out), exp32) },
		func() { actBwd(op.act, sliceOf[float64](x), sliceOf[float64](g), sliceOf[float64](out), math.Exp) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sigmoidPair returns σ(z) and 1−σ(z), each to full relative precision (no cancellation in
// 1−σ, no overflow of exp): exp is exp32 for float32 and math.Exp for float64.
func sigmoidPair[T float](z T, exp func(T) T) (s, r T) {
	if z >= 0 {
		e := exp(-z)
		s = 1 / (1 + e)
		return s, e * s
	}
	e := exp(z)
	r = 1 / (1 + e)
	return e * r, r
}

// actFwd writes a(x) into y. NaNs propagate; no element of y is left unwritten.
func actFwd[T float](a activation, x, y []T, exp func(T) T) {
	c := T(a.c)
	parFor(len(x), a.cost(), func(lo, hi int) {
		xs, ys := x[lo:hi], y[lo:hi]
		switch a.kind {
		case actReLU:
			for i, v := range xs {
				if v <= 0 {
					v = 0
				}
				ys[i] = v
			}
		case actReLU6:
			for i, v := range xs {
				if v <= 0 {
					v = 0
				} else if v >= 6 {
					v = 6
				}
				ys[i] = v
			}
		case actGELUTanh:
			// 0.5·(1+tanh(u)) = σ(2u): no cancellation near −∞, and exp's overflow gives 0.
			for i, v := range xs {
				u := c * (v + geluCubic*v*v*v)
				ys[i] = v / (1 + exp(-2*u))
			}
		case actSiLU:
			for i, v := range xs {
				ys[i] = v / (1 + exp(-c*v))
			}
		case actSigmoid:
			for i, v := range xs {
				ys[i] = 1 / (1 + exp(-v))
			}
		case actTanh:
			for i, v := range xs {
				ys[i] = T(math.Tanh(float64(v)))
			}
		}
	})
}

// actBwd writes g·a'(x) into dx. ReLU and ReLU6 pass the gradient strictly inside their
// linear range (PyTorch's threshold_backward and hardtanh_backward).
func actBwd[T float](a activation, x, g, dx []T, exp func(T) T) {
	c := T(a.c)
	parFor(len(x), a.cost(), func(lo, hi int) {
		xs, gs, ds := x[lo:hi], g[lo:hi], dx[lo:hi]
		switch a.kind {
		case actReLU:
			for i, v := range xs {
				if v > 0 {
					ds[i] = gs[i]
				} else {
					ds[i] = 0
				}
			}
		case actReLU6:
			for i, v := range xs {
				if v > 0 && v < 6 {
					ds[i] = gs[i]
				} else {
					ds[i] = 0
				}
			}
		case actGELUTanh:
			// y = x·σ(2u), u = c·(x+k·x³): y' = σ(2u) + x·2σ(2u)(1−σ(2u))·c·(1+3k·x²).
			for i, v := range xs {
				v2 := v * v
				s, r := sigmoidPair(2*c*(v+geluCubic*v2*v), exp)
				d := s
				if sr := s * r; sr != 0 { // skip when saturated: c·(1+3k·x²) may overflow
					d += 2 * v * sr * c * (1 + 3*geluCubic*v2)
				}
				ds[i] = gs[i] * d
			}
		case actSiLU:
			// y = x·σ(cx): y' = σ(cx) + c·x·σ(cx)(1−σ(cx)).
			for i, v := range xs {
				s, r := sigmoidPair(c*v, exp)
				ds[i] = gs[i] * (s + c*v*s*r)
			}
		case actSigmoid:
			for i, v := range xs {
				s, r := sigmoidPair(v, exp)
				ds[i] = gs[i] * s * r
			}
		case actTanh:
			for i, v := range xs {
				t := T(math.Tanh(float64(v)))
				ds[i] = gs[i] * (1 - t*t)
			}
		}
	})
}
