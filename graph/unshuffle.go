package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Unshuffle is MAE's un-shuffling with mask tokens: it returns full (B,L,D) with
// full[b,j,:] = kept[b,r,:] if r := idsRestore[b,j] < K, else token[0,0,:].
// kept is (B,K,D), token (1,1,D) and idsRestore a (B,L) Int64 node; kept and token receive
// gradients. An index outside [0, L) makes Do fail; in MAE idsRestore is a permutation.
func Unshuffle(kept, token, idsRestore *G.Node) (*G.Node, error) {
	const name = "Unshuffle"
	ks, err := check3(kept, name, "kept")
	if err != nil {
		return nil, err
	}
	if err := checkToken(token, kept, ks[2], name, "token"); err != nil {
		return nil, err
	}
	is, err := checkIDs(idsRestore, ks[0], name, "idsRestore")
	if err != nil {
		return nil, err
	}
	if ks[1] > is[1] {
		return nil, fmt.Errorf("graph: %s: kept length %d > idsRestore length %d (kept shape %v, idsRestore shape %v)", name, ks[1], is[1], ks, is)
	}
	op := &unshuffleOp{opBase: opBase{fmt.Sprintf("Unshuffle{K=%d}", ks[1])}, k: ks[1]}
	n, err := G.ApplyOp(op, kept, token, idsRestore)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", name, err)
	}
	return n, nil
}

type unshuffleOp struct {
	opBase
	k int
}

func (op *unshuffleOp) Arity() int   { return 3 }
func (op *unshuffleOp) Type() hmType { return fnType(tt(3), tt(3), ti64(2), tt(3)) }
func (op *unshuffleOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ks, is := in[0].(tensor.Shape), in[2].(tensor.Shape)
	return tensor.Shape{ks[0], is[1], ks[2]}, nil
}
func (op *unshuffleOp) DiffWRT(int) []bool                { return []bool{true, true, false} }
func (op *unshuffleOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *unshuffleOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dk, err := G.ApplyOp(&unshuffleGradOp{opBase{fmt.Sprintf("UnshuffleDkept{K=%d}", op.k)}, op.k, false}, inputs[2], grad)
	if err != nil {
		return nil, fmt.Errorf("graph: Unshuffle grad kept: %w", err)
	}
	dt, err := G.ApplyOp(&unshuffleGradOp{opBase{fmt.Sprintf("UnshuffleDtoken{K=%d}", op.k)}, op.k, true}, inputs[2], grad)
	if err != nil {
		return nil, fmt.Errorf("graph: Unshuffle grad token: %w", err)
	}
	return G.Nodes{dk, dt, nil}, nil
}

func (op *unshuffleOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses("Unshuffle", []string{"kept", "token", "idsRestore"}, inputs)
	if err != nil {
		return nil, err
	}
	kept, tok := ds[0], ds[1]
	ks := kept.Shape()
	l := ds[2].Shape()[ds[2].Shape().Dims()-1]
	ids, _, err := loadIDs(ds[2], ks[0], l, "Unshuffle", "idsRestore")
	if err != nil {
		return nil, err
	}
	if ks[1] != op.k || tok.Shape().TotalSize() != ks[2] {
		return nil, fmt.Errorf("graph: Unshuffle: kept shape %v / token shape %v do not match K=%d", ks, tok.Shape(), op.k)
	}
	out, _ := outTensor(p, kept.Dtype(), tensor.Shape{ks[0], l, ks[2]})
	return out, floatKernel(kept.Dtype(), "Unshuffle",
		func() {
			unshuffle(sliceOf[float32](kept), sliceOf[float32](tok), sliceOf[float32](out), ids, ks[0], op.k, l, ks[2])
		},
		func() {
			unshuffle(sliceOf[float64](kept), sliceOf[float64](tok), sliceOf[float64](out), ids, ks[0], op.k, l, ks[2])
		})
}

func unshuffle[T float](kept, tok, out []T, ids []int64, b, k, l, d int) {
	for bi := 0; bi < b; bi++ {
		for j := 0; j < l; j++ {
			r := int(ids[bi*l+j])
			dst := out[(bi*l+j)*d : (bi*l+j+1)*d]
			if r < k {
				copy(dst, kept[(bi*k+r)*d:(bi*k+r+1)*d])
			} else {
				copy(dst, tok)
			}
		}
	}
}

// unshuffleGradOp computes either dkept (B,K,D) or dtoken (1,1,D) from (idsRestore, grad).
type unshuffleGradOp struct {
	opBase
	k     int
	token bool
}

func (op *unshuffleGradOp) Arity() int   { return 2 }
func (op *unshuffleGradOp) Type() hmType { return fnType(ti64(2), tt(3), tt(3)) }
func (op *unshuffleGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	gs := in[1].(tensor.Shape)
	if op.token {
		return tensor.Shape{1, 1, gs[2]}, nil
	}
	return tensor.Shape{gs[0], op.k, gs[2]}, nil
}
func (op *unshuffleGradOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *unshuffleGradOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"idsRestore", "grad"}, inputs)
	if err != nil {
		return nil, err
	}
	g := ds[1]
	gs := g.Shape()
	ids, l, err := loadIDs(ds[0], gs[0], gs[1], op.name, "idsRestore")
	if err != nil {
		return nil, err
	}
	if gs.Dims() != 3 || gs[1] != l {
		return nil, fmt.Errorf("graph: %s: grad shape %v != (B, %d, D)", op.name, gs, l)
	}
	shape := tensor.Shape{gs[0], op.k, gs[2]}
	if op.token {
		shape = tensor.Shape{1, 1, gs[2]}
	}
	out, _ := outTensor(p, g.Dtype(), shape)
	return out, floatKernel(g.Dtype(), op.name,
		func() {
			unshuffleGrad(sliceOf[float32](g), sliceOf[float32](out), ids, gs[0], op.k, l, gs[2], op.token)
		},
		func() {
			unshuffleGrad(sliceOf[float64](g), sliceOf[float64](out), ids, gs[0], op.k, l, gs[2], op.token)
		})
}

func unshuffleGrad[T float](g, out []T, ids []int64, b, k, l, d int, token bool) {
	clear(out)
	for bi := 0; bi < b; bi++ {
		for j := 0; j < l; j++ {
			r := int(ids[bi*l+j])
			var dst []T
			switch {
			case r < k && !token:
				dst = out[(bi*k+r)*d : (bi*k+r+1)*d]
			case r >= k && token:
				dst = out
			default:
				continue
			}
			gr := g[(bi*l+j)*d : (bi*l+j+1)*d]
			for c := range dst {
				dst[c] += gr[c]
			}
		}
	}
}
