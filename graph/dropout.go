package graph

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Dropout is torch's inverted dropout: each element of x is zeroed with
// probability p and the rest are scaled by 1/(1−p); any shape.
//
// The keep mask is not drawn from a generator but hashed from (seed, site,
// element index): seed is an Int64 (1) input fed each training step, site
// a constant telling the dropout sites of one graph apart. The same seed
// gives the same mask on any machine, thread count or resume point, the
// gradient (which reuses the mask) checks numerically, and no mask is ever
// stored.
func Dropout(x, seed *G.Node, p float64, site uint64) (*G.Node, error) {
	if err := checkFloat(x, "Dropout", "x"); err != nil {
		return nil, err
	}
	if err := checkDropout("Dropout", seed, p); err != nil {
		return nil, err
	}
	op := &dropoutOp{opBase{fmt.Sprintf("Dropout{p=%v,site=%d}", p, site)}, dropMask{p: p, site: site}}
	n, err := G.ApplyOp(op, x, seed)
	if err != nil {
		return nil, fmt.Errorf("graph: Dropout: %w", err)
	}
	return n, nil
}

func checkDropout(op string, seed *G.Node, p float64) error {
	if !(p >= 0 && p < 1) {
		return fmt.Errorf("graph: %s: probability %v outside [0, 1)", op, p)
	}
	if seed == nil || seed.Dtype() != tensor.Int64 || seed.Shape().TotalSize() != 1 {
		return fmt.Errorf("graph: %s: seed must be an Int64 tensor of one element", op)
	}
	return nil
}

// dropMask decides which elements a dropout site keeps.
type dropMask struct {
	p    float64
	site uint64
}

// scale is the factor kept elements are multiplied by.
func (m dropMask) scale() float64 { return 1 / (1 - m.p) }

// threshold is the hashed 53-bit value at or above which an element is kept.
func (m dropMask) threshold() uint64 { return uint64(math.Ceil(m.p * (1 << 53))) }

// keep reports whether element i survives for this seed.
func (m dropMask) keep(seed uint64, i int, threshold uint64) bool {
	return mix(seed^mix(m.site+0x9e3779b97f4a7c15)+uint64(i)*0xbf58476d1ce4e5b9)>>11 >= threshold
}

// mix is splitmix64's finaliser: a bijection whose output bits each depend
// on every input bit.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// apply writes out[i] = x[i]·scale where kept and 0 elsewhere, on all cores.
func applyDrop[T float](x, out []T, m dropMask, seed uint64) {
	th, s := m.threshold(), T(m.scale())
	parFor(len(x), 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if m.keep(seed, i, th) {
				out[i] = x[i] * s
			} else {
				out[i] = 0
			}
		}
	})
}

// seedOf reads the step's seed from its Int64 (1) tensor.
func seedOf(v G.Value, op string) (uint64, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return 0, fmt.Errorf("graph: %s: seed is %T, want an Int64 tensor", op, v)
	}
	ids, err := int64sOf(d, op, "seed")
	if err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, fmt.Errorf("graph: %s: seed has %d elements, want 1", op, len(ids))
	}
	return uint64(ids[0]), nil
}

type dropoutOp struct {
	opBase
	m dropMask
}

func (op *dropoutOp) Arity() int   { return 2 }
func (op *dropoutOp) Type() hmType { return fnType(tv(), ti64(1), tv()) }
func (op *dropoutOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *dropoutOp) DiffWRT(int) []bool                { return []bool{true, false} }
func (op *dropoutOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// SymDiff is the same mask on the output gradient: dx = dy·mask·scale.
func (op *dropoutOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&dropoutOp{opBase{op.name + "Grad"}, op.m}, grad, inputs[1])
	if err != nil {
		return nil, fmt.Errorf("graph: Dropout grad: %w", err)
	}
	return G.Nodes{dx, nil}, nil
}

func (op *dropoutOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("graph: %s: got %d inputs, want 2", op.name, len(inputs))
	}
	x, err := denseOf(inputs[0], op.name, "x")
	if err != nil {
		return nil, err
	}
	seed, err := seedOf(inputs[1], op.name)
	if err != nil {
		return nil, err
	}
	out, _ := outTensor(p, x.Dtype(), x.Shape())
	return out, floatKernel(x.Dtype(), op.name,
		func() { applyDrop(sliceOf[float32](x), sliceOf[float32](out), op.m, seed) },
		func() { applyDrop(sliceOf[float64](x), sliceOf[float64](out), op.m, seed) })
}
