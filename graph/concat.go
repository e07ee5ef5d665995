package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ConcatTokens builds [token, parts[0], parts[1], ...] along the sequence: (B, 1+ΣLi, D).
// token (1,1,D) is broadcast over the batch, or nil for a plain concatenation of the parts
// (B,Li,D). The token and every part receive gradients.
func ConcatTokens(token *G.Node, parts ...*G.Node) (*G.Node, error) {
	const name = "ConcatTokens"
	if len(parts) == 0 {
		return nil, fmt.Errorf("graph: %s: no parts", name)
	}
	ps, err := check3(parts[0], name, "parts[0]")
	if err != nil {
		return nil, err
	}
	b, d := ps[0], ps[2]
	lens := make([]int, len(parts))
	for i, p := range parts {
		arg := fmt.Sprintf("parts[%d]", i)
		s, err := check3(p, name, arg)
		if err != nil {
			return nil, err
		}
		if err := checkSameDtype(parts[0], p, name, "parts[0]", arg); err != nil {
			return nil, err
		}
		if s[0] != b || s[2] != d {
			return nil, fmt.Errorf("graph: %s: %s shape %v != (%d, L, %d) of parts[0] shape %v", name, arg, s, b, d, ps)
		}
		lens[i] = s[1]
	}
	children := append([]*G.Node(nil), parts...)
	if token != nil {
		if err := checkToken(token, parts[0], d, name, "token"); err != nil {
			return nil, err
		}
		children = append([]*G.Node{token}, parts...)
	}
	op := &concatOp{opBase: opBase{fmt.Sprintf("ConcatTokens{token=%t,lens=%v}", token != nil, lens)}, token: token != nil, lens: lens}
	n, err := G.ApplyOp(op, children...)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", name, err)
	}
	return n, nil
}

type concatOp struct {
	opBase
	token bool
	lens  []int
}

func (op *concatOp) Arity() int {
	if op.token {
		return len(op.lens) + 1
	}
	return len(op.lens)
}

func (op *concatOp) Type() hmType {
	ts := make([]hmType, op.Arity()+1)
	for i := range ts {
		ts[i] = tt(3)
	}
	return fnType(ts...)
}

func (op *concatOp) total() int {
	t := 0
	if op.token {
		t = 1
	}
	for _, l := range op.lens {
		t += l
	}
	return t
}

func (op *concatOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[len(in)-1].(tensor.Shape)
	return tensor.Shape{s[0], op.total(), s[2]}, nil
}

func (op *concatOp) DiffWRT(n int) []bool {
	r := make([]bool, n)
	for i := range r {
		r[i] = true
	}
	return r
}

func (op *concatOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *concatOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	var res G.Nodes
	off := 0
	if op.token {
		dt, err := G.ApplyOp(&seqSumOp{opBase{"SeqSum{0}"}, 0}, grad)
		if err != nil {
			return nil, fmt.Errorf("graph: ConcatTokens grad token: %w", err)
		}
		res = append(res, dt)
		off = 1
	}
	for i, l := range op.lens {
		dp, err := G.ApplyOp(newSliceSeqOp(off, off+l), grad)
		if err != nil {
			return nil, fmt.Errorf("graph: ConcatTokens grad parts[%d]: %w", i, err)
		}
		res = append(res, dp)
		off += l
	}
	return res, nil
}

func (op *concatOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	names := make([]string, 0, len(inputs))
	if op.token {
		names = append(names, "token")
	}
	for i := range op.lens {
		names = append(names, fmt.Sprintf("parts[%d]", i))
	}
	ds, err := denses("ConcatTokens", names, inputs)
	if err != nil {
		return nil, err
	}
	last := ds[len(ds)-1].Shape()
	b, d, total := last[0], last[2], op.total()
	parts := ds
	if op.token {
		parts = ds[1:]
		if ds[0].Shape().TotalSize() != d {
			return nil, fmt.Errorf("graph: ConcatTokens: token shape %v != (1, 1, %d)", ds[0].Shape(), d)
		}
	}
	for i, pt := range parts {
		s := pt.Shape()
		if s.Dims() != 3 || s[0] != b || s[1] != op.lens[i] || s[2] != d || pt.Dtype() != ds[0].Dtype() {
			return nil, fmt.Errorf("graph: ConcatTokens: parts[%d] shape %v != (%d, %d, %d)", i, s, b, op.lens[i], d)
		}
	}
	out, _ := outTensor(p, ds[0].Dtype(), tensor.Shape{b, total, d})
	return out, floatKernel(out.Dtype(), "ConcatTokens",
		func() { concatKernel[float32](ds, out, op.token, b, total, d) },
		func() { concatKernel[float64](ds, out, op.token, b, total, d) })
}

func concatKernel[T float](ds []*tensor.Dense, outT *tensor.Dense, token bool, b, total, d int) {
	out := sliceOf[T](outT)
	for bi := 0; bi < b; bi++ {
		pos := 0
		for i, t := range ds {
			src := sliceOf[T](t)
			if token && i == 0 {
				copy(out[(bi*total)*d:(bi*total+1)*d], src)
				pos = 1
				continue
			}
			l := t.Shape()[1]
			copy(out[(bi*total+pos)*d:(bi*total+pos+l)*d], src[bi*l*d:(bi+1)*l*d])
			pos += l
		}
	}
}

// seqSumOp sums grad[:, pos, :] over the batch into (1,1,D): the broadcast token's gradient.
type seqSumOp struct {
	opBase
	pos int
}

func (op *seqSumOp) Arity() int   { return 1 }
func (op *seqSumOp) Type() hmType { return fnType(tt(3), tt(3)) }
func (op *seqSumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{1, 1, s[2]}, nil
}
func (op *seqSumOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *seqSumOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"grad"}, inputs)
	if err != nil {
		return nil, err
	}
	g := ds[0]
	s := g.Shape()
	if s.Dims() != 3 || op.pos >= s[1] {
		return nil, fmt.Errorf("graph: %s: grad shape %v has no position %d", op.name, s, op.pos)
	}
	out, _ := outTensor(p, g.Dtype(), tensor.Shape{1, 1, s[2]})
	return out, floatKernel(g.Dtype(), op.name,
		func() { seqSum(sliceOf[float32](g), sliceOf[float32](out), op.pos, s[0], s[1], s[2]) },
		func() { seqSum(sliceOf[float64](g), sliceOf[float64](out), op.pos, s[0], s[1], s[2]) })
}

func seqSum[T float](g, out []T, pos, b, l, d int) {
	clear(out)
	for bi := 0; bi < b; bi++ {
		row := g[(bi*l+pos)*d : (bi*l+pos+1)*d]
		for j := range out {
			out[j] += row[j]
		}
	}
}
