package graph

import (
	"fmt"
	"hash/fnv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AddRows adds rows of an embedding table to x: out[b,n,:] = x[b,n,:] + table[0,rows[n],:].
// x is (B,L,D), table (1,R,D) and len(rows) == L; rows are constants baked into the op.
// The gradient passes to x unchanged and scatter-adds into table over b and n (rows never
// used get 0).
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
