package graph

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LayerNorm normalises x over its last axis: (x−mean)/sqrt(var_biased+eps)·gamma+beta.
// x has any rank ≥ 1 with last dim D; gamma and beta are (D).
func LayerNorm(x, gamma, beta *G.Node, eps float64) (*G.Node, error) {
	const name = "LayerNorm"
	xs, err := shapeOf(x, name, "x")
	if err != nil {
		return nil, err
	}
	gs, err := shapeOf(gamma, name, "gamma")
	if err != nil {
		return nil, err
	}
	bs, err := shapeOf(beta, name, "beta")
	if err != nil {
		return nil, err
	}
	if err := checkFloat(x, name, "x"); err != nil {
		return nil, err
	}
	if err := checkSameDtype(x, gamma, name, "x", "gamma"); err != nil {
		return nil, err
	}
	if err := checkSameDtype(x, beta, name, "x", "beta"); err != nil {
		return nil, err
	}
	if xs.Dims() < 1 {
		return nil, fmt.Errorf("graph: %s: x must have rank >= 1, got shape %v", name, xs)
	}
	d := xs[xs.Dims()-1]
	if gs.Dims() != 1 || gs[0] != d {
		return nil, fmt.Errorf("graph: %s: gamma shape %v != (%d) for x shape %v", name, gs, d, xs)
	}
	if bs.Dims() != 1 || bs[0] != d {
		return nil, fmt.Errorf("graph: %s: beta shape %v != (%d) for x shape %v", name, bs, d, xs)
	}
	if eps < 0 || math.IsNaN(eps) {
		return nil, fmt.Errorf("graph: %s: eps %v must be >= 0", name, eps)
	}
	op := &layerNormOp{opBase: opBase{fmt.Sprintf("LayerNorm{eps=%g}", eps)}, eps: eps, rank: xs.Dims()}
	n, err := G.ApplyOp(op, x, gamma, beta)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", name, err)
	}
	return n, nil
}

type layerNormOp struct {
	opBase
	eps  float64
	rank int
}

func (op *layerNormOp) Arity() int { return 3 }
func (op *layerNormOp) Type() hmType {
	return fnType(tt(op.rank), tt(1), tt(1), tt(op.rank))
}
func (op *layerNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *layerNormOp) DiffWRT(int) []bool                { return []bool{true, true, true} }
func (op *layerNormOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *layerNormOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	x, gamma := inputs[0], inputs[1]
	dx, err := G.ApplyOp(&layerNormDxOp{opBase{fmt.Sprintf("LayerNormDx{eps=%g}", op.eps)}, op.eps, op.rank}, x, gamma, grad)
	if err != nil {
		return nil, fmt.Errorf("graph: LayerNorm grad x: %w", err)
	}
	dg, err := G.ApplyOp(&layerNormDgammaOp{opBase{fmt.Sprintf("LayerNormDgamma{eps=%g}", op.eps)}, op.eps, op.rank}, x, grad)
	if err != nil {
		return nil, fmt.Errorf("graph: LayerNorm grad gamma: %w", err)
	}
	db, err := G.ApplyOp(&sumLeadingOp{opBase{"SumLeading"}, op.rank}, grad)
	if err != nil {
		return nil, fmt.Errorf("graph: LayerNorm grad beta: %w", err)
	}
	return G.Nodes{dx, dg, db}, nil
}

func (op *layerNormOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"x", "gamma", "beta"}, inputs)
	if err != nil {
		return nil, err
	}
	x, gm, bt := ds[0], ds[1], ds[2]
	d := x.Shape()[x.Shape().Dims()-1]
	if gm.Shape().TotalSize() != d || bt.Shape().TotalSize() != d {
		return nil, fmt.Errorf("graph: LayerNorm: gamma %v / beta %v do not match x %v", gm.Shape(), bt.Shape(), x.Shape())
	}
	out, _ := outTensor(p, x.Dtype(), x.Shape())
	switch x.Dtype() {
	case tensor.Float32:
		lnFwd(sliceOf[float32](x), sliceOf[float32](gm), sliceOf[float32](bt), sliceOf[float32](out), d, op.eps)
	case tensor.Float64:
		lnFwd(sliceOf[float64](x), sliceOf[float64](gm), sliceOf[float64](bt), sliceOf[float64](out), d, op.eps)
	default:
		return nil, fmt.Errorf("graph: LayerNorm: unsupported dtype %v", x.Dtype())
	}
	return out, nil
}

// rowStats returns the mean and 1/sqrt(var+eps) of one row, accumulating in float64
// so float32 rows of thousands of elements keep full precision.
func rowStats[T float](row []T, eps float64) (mean, rstd float64) {
	var s float64
	for _, v := range row {
		s += float64(v)
	}
	mean = s / float64(len(row))
	var q float64
	for _, v := range row {
		c := float64(v) - mean
		q += c * c
	}
	return mean, 1 / math.Sqrt(q/float64(len(row))+eps)
}

func lnFwd[T float](x, gamma, beta, y []T, d int, eps float64) {
	rows := len(x) / d
	parFor(rows, 4*d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
			mean, rstd := rowStats(xr, eps)
			m, s := T(mean), T(rstd)
			for j, v := range xr {
				yr[j] = (v-m)*s*gamma[j] + beta[j]
			}
		}
	})
}

// layerNormDxOp computes the input gradient from (x, gamma, dy):
// dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = dy·gamma.
type layerNormDxOp struct {
	opBase
	eps  float64
	rank int
}

func (op *layerNormDxOp) Arity() int { return 3 }
func (op *layerNormDxOp) Type() hmType {
	return fnType(tt(op.rank), tt(1), tt(op.rank), tt(op.rank))
}
func (op *layerNormDxOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *layerNormDxOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *layerNormDxOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"x", "gamma", "grad"}, inputs)
	if err != nil {
		return nil, err
	}
	x, gm, dy := ds[0], ds[1], ds[2]
	d := x.Shape()[x.Shape().Dims()-1]
	if gm.Shape().TotalSize() != d || dy.Shape().TotalSize() != x.Shape().TotalSize() {
		return nil, fmt.Errorf("graph: LayerNormDx: shapes x %v gamma %v grad %v disagree", x.Shape(), gm.Shape(), dy.Shape())
	}
	out, _ := outTensor(p, x.Dtype(), x.Shape())
	switch x.Dtype() {
	case tensor.Float32:
		lnDx(sliceOf[float32](x), sliceOf[float32](gm), sliceOf[float32](dy), sliceOf[float32](out), d, op.eps)
	case tensor.Float64:
		lnDx(sliceOf[float64](x), sliceOf[float64](gm), sliceOf[float64](dy), sliceOf[float64](out), d, op.eps)
	default:
		return nil, fmt.Errorf("graph: LayerNormDx: unsupported dtype %v", x.Dtype())
	}
	return out, nil
}

func lnDx[T float](x, gamma, dy, dx []T, d int, eps float64) {
	rows := len(x) / d
	parFor(rows, 8*d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, gr, or := x[r*d:(r+1)*d], dy[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			mean, rstd := rowStats(xr, eps)
			var sg, sgx float64
			for j, v := range xr {
				g := float64(gr[j]) * float64(gamma[j])
				sg += g
				sgx += g * (float64(v) - mean) * rstd
			}
			mg, mgx := sg/float64(d), sgx/float64(d)
			for j, v := range xr {
				xh := (float64(v) - mean) * rstd
				g := float64(gr[j]) * float64(gamma[j])
				or[j] = T(rstd * (g - mg - xh*mgx))
			}
		}
	})
}

// layerNormDgammaOp computes dgamma = Σ_rows dy·x̂ from (x, dy).
type layerNormDgammaOp struct {
	opBase
	eps  float64
	rank int
}

func (op *layerNormDgammaOp) Arity() int   { return 2 }
func (op *layerNormDgammaOp) Type() hmType { return fnType(tt(op.rank), tt(op.rank), tt(1)) }
func (op *layerNormDgammaOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{s[s.Dims()-1]}, nil
}
func (op *layerNormDgammaOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *layerNormDgammaOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"x", "grad"}, inputs)
	if err != nil {
		return nil, err
	}
	x, dy := ds[0], ds[1]
	d := x.Shape()[x.Shape().Dims()-1]
	if dy.Shape().TotalSize() != x.Shape().TotalSize() {
		return nil, fmt.Errorf("graph: LayerNormDgamma: x shape %v != grad shape %v", x.Shape(), dy.Shape())
	}
	out, _ := outTensor(p, x.Dtype(), tensor.Shape{d})
	switch x.Dtype() {
	case tensor.Float32:
		lnDgamma(sliceOf[float32](x), sliceOf[float32](dy), sliceOf[float32](out), d, op.eps)
	case tensor.Float64:
		lnDgamma(sliceOf[float64](x), sliceOf[float64](dy), sliceOf[float64](out), d, op.eps)
	default:
		return nil, fmt.Errorf("graph: LayerNormDgamma: unsupported dtype %v", x.Dtype())
	}
	return out, nil
}

func lnDgamma[T float](x, dy, dg []T, d int, eps float64) {
	rows := len(x) / d
	acc := reduceRows(rows, d, 4*d, func(r int, acc []float64) {
		xr, gr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d]
		mean, rstd := rowStats(xr, eps)
		for j, v := range xr {
			acc[j] += float64(gr[j]) * (float64(v) - mean) * rstd
		}
	})
	for j := range dg {
		dg[j] = T(acc[j])
	}
}

// reduceRows accumulates per-row contributions into a float64 vector of length d,
// in parallel with one private accumulator per chunk, summed at the end.
func reduceRows(rows, d, costPerRow int, add func(r int, acc []float64)) []float64 {
	nw := numWorkers()
	if rows*costPerRow < parallelMinWork {
		nw = 1
	}
	nw = max(1, min(nw, rows))
	parts := make([][]float64, nw)
	for i := range parts {
		parts[i] = make([]float64, d)
	}
	chunk := (rows + nw - 1) / max(nw, 1)
	parFor(nw, parallelMinWork, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			for r := w * chunk; r < min(rows, (w+1)*chunk); r++ {
				add(r, parts[w])
			}
		}
	})
	for w := 1; w < nw; w++ {
		for j, v := range parts[w] {
			parts[0][j] += v
		}
	}
	return parts[0]
}

// sumLeadingOp sums a (..., D) tensor over all leading axes into (D): the bias gradient
// of LayerNorm's beta and Linear's b.
type sumLeadingOp struct {
	opBase
	rank int
}

func (op *sumLeadingOp) Arity() int   { return 1 }
func (op *sumLeadingOp) Type() hmType { return fnType(tt(op.rank), tt(1)) }
func (op *sumLeadingOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{s[s.Dims()-1]}, nil
}
func (op *sumLeadingOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *sumLeadingOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"grad"}, inputs)
	if err != nil {
		return nil, err
	}
	g := ds[0]
	d := g.Shape()[g.Shape().Dims()-1]
	out, _ := outTensor(p, g.Dtype(), tensor.Shape{d})
	switch g.Dtype() {
	case tensor.Float32:
		sumLeading(sliceOf[float32](g), sliceOf[float32](out), d)
	case tensor.Float64:
		sumLeading(sliceOf[float64](g), sliceOf[float64](out), d)
	default:
		return nil, fmt.Errorf("graph: SumLeading: unsupported dtype %v", g.Dtype())
	}
	return out, nil
}

func sumLeading[T float](g, out []T, d int) {
	acc := reduceRows(len(g)/d, d, d, func(r int, acc []float64) {
		for j, v := range g[r*d : (r+1)*d] {
			acc[j] += float64(v)
		}
	})
	for j := range out {
		out[j] = T(acc[j])
	}
}
