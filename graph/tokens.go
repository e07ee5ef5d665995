package graph

import (
	"fmt"
	"hash/fnv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// check3 validates that n is a float (B,S,D) node.
func check3(n *G.Node, op, arg string) (tensor.Shape, error) {
	s, err := shapeOf(n, op, arg)
	if err != nil {
		return nil, err
	}
	if err := checkFloat(n, op, arg); err != nil {
		return nil, err
	}
	if s.Dims() != 3 {
		return nil, fmt.Errorf("graph: %s: %s must be rank 3 (B,S,D), got shape %v", op, arg, s)
	}
	return s, nil
}

// checkToken validates a (1,1,D) token against model dim d.
func checkToken(tok, ref *G.Node, d int, op, arg string) error {
	ts, err := check3(tok, op, arg)
	if err != nil {
		return err
	}
	if err := checkSameDtype(ref, tok, op, "x", arg); err != nil {
		return err
	}
	if ts[0] != 1 || ts[1] != 1 || ts[2] != d {
		return fmt.Errorf("graph: %s: %s shape %v != (1, 1, %d)", op, arg, ts, d)
	}
	return nil
}

// floatKernel runs f32 or f64 depending on dt.
func floatKernel(dt tensor.Dtype, op string, f32, f64 func()) error {
	switch dt {
	case tensor.Float32:
		f32()
	case tensor.Float64:
		f64()
	default:
		return fmt.Errorf("graph: %s: unsupported dtype %v", op, dt)
	}
	return nil
}

// ---------------------------------------------------------------------------- AddRows

// AddRows adds rows of an embedding table: x (B,L,D), table (1,R,D); out[b,n,:] = x[b,n,:] + table[0,rows[n],:]; len(rows) == L; rows are constants baked into the op.
// Gradient to x (identity) and table (scatter-add over b and n; rows never used get 0).
func AddRows(x, table *G.Node, rows []int) (*G.Node, error) {
	const name = "AddRows"
	xs, err := check3(x, name, "x")
	if err != nil {
		return nil, err
	}
	ts, err := check3(table, name, "table")
	if err != nil {
		return nil, err
	}
	if err := checkSameDtype(x, table, name, "x", "table"); err != nil {
		return nil, err
	}
	if ts[0] != 1 || ts[2] != xs[2] {
		return nil, fmt.Errorf("graph: %s: table shape %v != (1, R, %d) for x shape %v", name, ts, xs[2], xs)
	}
	if len(rows) != xs[1] {
		return nil, fmt.Errorf("graph: %s: len(rows) %d != x sequence length %d (x shape %v)", name, len(rows), xs[1], xs)
	}
	for i, r := range rows {
		if r < 0 || r >= ts[1] {
			return nil, fmt.Errorf("graph: %s: rows[%d] = %d out of range [0, %d) for table shape %v", name, i, r, ts[1], ts)
		}
	}
	// Gorgonia merges nodes whose op hash and children are equal, so the
	// hash must cover the row mapping itself: two tables of the same size
	// added with different mappings (tiled vs repeated) must stay distinct,
	// and so must their gradients taken from the same upstream node.
	op := &addRowsOp{opBase: opBase{fmt.Sprintf("AddRows{L=%d,R=%d,rows=%08x}", len(rows), ts[1], hashInts(rows))}, rows: append([]int(nil), rows...), r: ts[1]}
	n, err := G.ApplyOp(op, x, table)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", name, err)
	}
	return n, nil
}

type addRowsOp struct {
	opBase
	rows []int
	r    int
}

func (op *addRowsOp) Arity() int   { return 2 }
func (op *addRowsOp) Type() hmType { return fnType(tt(3), tt(3), tt(3)) }
func (op *addRowsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *addRowsOp) DiffWRT(int) []bool                { return []bool{true, true} }
func (op *addRowsOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *addRowsOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dt, err := G.ApplyOp(&addRowsGradOp{opBase{"Grad" + op.name}, op}, grad)
	if err != nil {
		return nil, fmt.Errorf("graph: AddRows grad table: %w", err)
	}
	return G.Nodes{grad, dt}, nil
}

func (op *addRowsOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses("AddRows", []string{"x", "table"}, inputs)
	if err != nil {
		return nil, err
	}
	x, tb := ds[0], ds[1]
	xs := x.Shape()
	if xs.Dims() != 3 || xs[1] != len(op.rows) || tb.Shape().TotalSize() != op.r*xs[2] {
		return nil, fmt.Errorf("graph: AddRows: x shape %v / table shape %v do not match the op (L=%d, R=%d)", xs, tb.Shape(), len(op.rows), op.r)
	}
	out, _ := outTensor(p, x.Dtype(), xs)
	return out, floatKernel(x.Dtype(), "AddRows",
		func() {
			addRows(sliceOf[float32](x), sliceOf[float32](tb), sliceOf[float32](out), op.rows, xs[0], xs[2])
		},
		func() {
			addRows(sliceOf[float64](x), sliceOf[float64](tb), sliceOf[float64](out), op.rows, xs[0], xs[2])
		})
}

func addRows[T float](x, table, out []T, rows []int, b, d int) {
	l := len(rows)
	for bi := 0; bi < b; bi++ {
		for n, r := range rows {
			o := (bi*l + n) * d
			xr, tr, or := x[o:o+d], table[r*d:(r+1)*d], out[o:o+d]
			for j := range or {
				or[j] = xr[j] + tr[j]
			}
		}
	}
}

// addRowsGradOp scatter-adds the (B,L,D) gradient into a (1,R,D) table gradient.
type addRowsGradOp struct {
	opBase
	fwd *addRowsOp
}

func (op *addRowsGradOp) Arity() int   { return 1 }
func (op *addRowsGradOp) Type() hmType { return fnType(tt(3), tt(3)) }
func (op *addRowsGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{1, op.fwd.r, s[2]}, nil
}
func (op *addRowsGradOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *addRowsGradOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses("AddRowsGrad", []string{"grad"}, inputs)
	if err != nil {
		return nil, err
	}
	g := ds[0]
	gs := g.Shape()
	if gs.Dims() != 3 || gs[1] != len(op.fwd.rows) {
		return nil, fmt.Errorf("graph: AddRowsGrad: grad shape %v does not match L=%d", gs, len(op.fwd.rows))
	}
	out, _ := outTensor(p, g.Dtype(), tensor.Shape{1, op.fwd.r, gs[2]})
	return out, floatKernel(g.Dtype(), "AddRowsGrad",
		func() { addRowsGrad(sliceOf[float32](g), sliceOf[float32](out), op.fwd.rows, gs[0], gs[2]) },
		func() { addRowsGrad(sliceOf[float64](g), sliceOf[float64](out), op.fwd.rows, gs[0], gs[2]) })
}

func addRowsGrad[T float](g, out []T, rows []int, b, d int) {
	clear(out)
	l := len(rows)
	for bi := 0; bi < b; bi++ {
		for n, r := range rows {
			gr, or := g[(bi*l+n)*d:(bi*l+n+1)*d], out[r*d:(r+1)*d]
			for j := range or {
				or[j] += gr[j]
			}
		}
	}
}

// ---------------------------------------------------------------------------- Gather

// Gather picks tokens: x (B,L,D), ids (B,K) Int64 node (an input bound per step; non-differentiable) → (B,K,D), out[b,i,:] = x[b, ids[b,i], :]. Gradient scatter-adds into x.
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

// checkIDs validates a (B, K) Int64 index node.
func checkIDs(ids *G.Node, b int, op, arg string) (tensor.Shape, error) {
	s, err := shapeOf(ids, op, arg)
	if err != nil {
		return nil, err
	}
	if ids.Dtype() != tensor.Int64 {
		return nil, fmt.Errorf("graph: %s: %s dtype %v, want int64", op, arg, ids.Dtype())
	}
	if s.Dims() != 2 || s[0] != b {
		return nil, fmt.Errorf("graph: %s: %s shape %v != (%d, K)", op, arg, s, b)
	}
	return s, nil
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

// loadIDs validates runtime indices against [0, limit).
func loadIDs(t *tensor.Dense, b, limit int, op, arg string) ([]int64, int, error) {
	ids, err := int64sOf(t, op, arg)
	if err != nil {
		return nil, 0, err
	}
	s := t.Shape()
	if s.Dims() != 2 || s[0] != b {
		return nil, 0, fmt.Errorf("graph: %s: %s shape %v != (%d, K)", op, arg, s, b)
	}
	for i, v := range ids {
		if v < 0 || v >= int64(limit) {
			return nil, 0, fmt.Errorf("graph: %s: %s[%d, %d] = %d out of range [0, %d)", op, arg, i/s[1], i%s[1], v, limit)
		}
	}
	return ids, s[1], nil
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

// ---------------------------------------------------------------------------- Unshuffle

// Unshuffle is MAE's un-shuffling with mask tokens: kept (B,K,D), token (1,1,D), idsRestore (B,L) Int64 node →
// full (B,L,D) with full[b,j,:] = kept[b,r,:] if r := idsRestore[b,j] < K, else token[0,0,:]. Gradients to kept and token.
// Indices must lie in [0, L) (as in MAE, where idsRestore is a permutation); others make Do fail.
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

// ---------------------------------------------------------------------------- ConcatTokens / SliceSeq

// ConcatTokens builds [token, parts[0], parts[1], ...] along the sequence: token (1,1,D) broadcast over the batch, parts (B,Li,D) → (B, 1+ΣLi, D). token may be nil (plain concat). Gradients to all.
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

// SliceSeq returns x[:, from:to, :] for x (B,S,D) → (B,to−from,D) with gradient (zeros elsewhere).
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

// hashInts fingerprints an index list for op hashes.
func hashInts(v []int) uint32 {
	h := fnv.New32a()
	var b [8]byte
	for _, x := range v {
		for i := range b {
			b[i] = byte(uint64(x) >> (8 * i))
		}
		h.Write(b[:])
	}
	return h.Sum32()
}
