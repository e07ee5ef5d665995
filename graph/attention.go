package graph

import (
	"fmt"
	"math"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// maskedBias is the key-bias level at or below which a key counts as masked: such a bias
// swallows any realistic score (float32 min is −3.4e38), so a batch element whose keys are
// all masked attends uniformly and its output no longer depends on q or k.
const maskedBias = -1e30

// Attention is multi-head scaled dot-product attention over q, k, v (B,S,D), returning (B,S,D).
//
// heads divides D (an error otherwise); head h uses columns [h·dh, (h+1)·dh), dh = D/heads.
// Its scores are Q_h·K_hᵀ / sqrt(dh) + keyBias[b, key]: divided by sqrt(dh) as the PyTorch
// model does, not multiplied by the inverse, which rounds differently. keyBias (B,S) is
// additive and optional (nil); masked keys carry a large negative bias such as float32's
// minimum, −3.4028234663852886e38. P is the softmax of the scores over keys, max-subtracted,
// so a row whose scores are all −Inf becomes uniform instead of NaN; head h's output is
// P·V_h, and the heads are concatenated back.
//
// q, k and v receive gradients, keyBias does not. One backward kernel computes all three
// into a packed (3,B,S,D) tensor that cheap selection ops split, because they share P and
// the score gradient; the kernel reuses P from the forward pass when it can.
//
// When every key of a batch element is masked (bias ≤ −1e30) the scores are absorbed by the
// bias, so that element's output is the mean of its values and q, k receive zero gradient
// from it (the exact derivative of what is computed).
func Attention(q, k, v, keyBias *G.Node, heads int) (*G.Node, error) {
	return PackedAttention(q, k, v, keyBias, heads, AttentionOptions{})
}

// AttentionOptions are the optional parts of PackedAttention.
type AttentionOptions struct {
	// Segments are the lengths of the sequences packed end to end in q, k
	// and v (summing to S); each attends only to itself, with its part of
	// keyBias. Packing lets the token-wise layers around attention (Linear,
	// LayerNorm) run once over several sequences. nil: one sequence.
	Segments []int
	// DropoutProb drops attention probabilities after the softmax, torch's
	// attention_probs dropout, with masks hashed from DropoutSeed (an Int64
	// (1) input fed each step) and DropoutSite as in Dropout.
	DropoutProb float64
	DropoutSeed *G.Node
	DropoutSite uint64
}

// PackedAttention is Attention with AttentionOptions: packed sequences and
// dropout of the attention probabilities.
func PackedAttention(q, k, v, keyBias *G.Node, heads int, opts AttentionOptions) (*G.Node, error) {
	children, err := attentionInputs("Attention", []*G.Node{q, k, v}, keyBias, heads)
	if err != nil {
		return nil, err
	}
	segments := opts.Segments
	if segments != nil {
		total := 0
		for _, n := range segments {
			if n < 1 {
				return nil, fmt.Errorf("graph: Attention: segment lengths %v must be positive", segments)
			}
			total += n
		}
		if total != q.Shape()[1] {
			return nil, fmt.Errorf("graph: Attention: segment lengths %v sum to %d, not the sequence length %d", segments, total, q.Shape()[1])
		}
		if len(segments) == 1 {
			segments = nil
		}
	}
	name := fmt.Sprintf("Attention{heads=%d,bias=%t}", heads, keyBias != nil)
	if segments != nil {
		name = fmt.Sprintf("Attention{heads=%d,bias=%t,segments=%v}", heads, keyBias != nil, segments)
	}
	op := &attnOp{
		opBase:  opBase{name},
		heads:   heads,
		hasBias: keyBias != nil,
		segs:    append([]int(nil), segments...),
		state:   &attnState{},
	}
	if opts.DropoutProb != 0 {
		if err := checkDropout("Attention", opts.DropoutSeed, opts.DropoutProb); err != nil {
			return nil, err
		}
		op.drop = &dropMask{p: opts.DropoutProb, site: opts.DropoutSite}
		op.name += fmt.Sprintf("{dropout=%v,site=%d}", opts.DropoutProb, opts.DropoutSite)
		children = append(children, opts.DropoutSeed)
	}
	n, err := G.ApplyOp(op, children...)
	if err != nil {
		return nil, fmt.Errorf("graph: Attention: %w", err)
	}
	return n, nil
}

// attnState carries the softmax probabilities from the forward kernel to the backward
// kernel of the same node, saving one S×S GEMM and softmax per head in the backward pass.
// The stash is only trusted if it was produced for the very output buffer the backward op
// receives; otherwise the backward kernel recomputes the probabilities.
type attnState struct {
	mu     sync.Mutex
	keep   bool // set once a gradient exists, so forward-only graphs keep no stash
	p32    []float32
	p64    []float64
	outPtr uintptr // address of the output buffer the stash belongs to
}

type attnOp struct {
	opBase
	heads   int
	hasBias bool
	segs    []int     // packed sequence lengths; nil: one sequence
	drop    *dropMask // attention-probability dropout, with a seed input last; nil: none
	state   *attnState
}

func (op *attnOp) Arity() int { return len(op.inputTypes()) }

// inputTypes are q, k, v, then keyBias and the dropout seed when present.
func (op *attnOp) inputTypes() []hmType {
	ts := []hmType{tt(3), tt(3), tt(3)}
	if op.hasBias {
		ts = append(ts, tt(2))
	}
	if op.drop != nil {
		ts = append(ts, ti64(1))
	}
	return ts
}

func (op *attnOp) Type() hmType { return fnType(append(op.inputTypes(), tt(3))...) }

func (op *attnOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *attnOp) DiffWRT(n int) []bool {
	r := make([]bool, n)
	for i := 0; i < n && i < 3; i++ {
		r[i] = true
	}
	return r
}

func (op *attnOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *attnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	op.state.mu.Lock()
	op.state.keep = true
	op.state.mu.Unlock()
	children := append(append(G.Nodes{}, inputs...), output, grad)
	gop := &attnGradOp{opBase: opBase{fmt.Sprintf("AttentionGrad{heads=%d,bias=%t}", op.heads, op.hasBias)}, fwd: op}
	packed, err := G.ApplyOp(gop, children...)
	if err != nil {
		return nil, fmt.Errorf("graph: Attention grad: %w", err)
	}
	res := make(G.Nodes, len(inputs))
	for i := 0; i < 3; i++ {
		if res[i], err = G.ApplyOp(&pickOp{opBase{fmt.Sprintf("Pick{%d}", i)}, i}, packed); err != nil {
			return nil, fmt.Errorf("graph: Attention grad pick %d: %w", i, err)
		}
	}
	return res, nil
}

// attnDims holds the runtime sizes shared by the kernels: s is the packed
// length (the batch stride), segs the packed sequences' lengths (nil: one).
type attnDims struct {
	b, s, d, h, dh int
	segs           []int
	drop           *dropMask // nil: no dropout
	seed           uint64
}

// dropped writes the probabilities p (n×n) after dropout into pd; base is
// the index of p's first element among the op's probabilities.
func dropped[T float](pd, p []T, dm attnDims, base int) {
	th, s := dm.drop.threshold(), T(dm.drop.scale())
	for i, v := range p {
		if dm.drop.keep(dm.seed, base+i, th) {
			pd[i] = v * s
		} else {
			pd[i] = 0
		}
	}
}

// segments lists the packed sequences as (first token, length).
func (dm attnDims) segments() [][2]int {
	if dm.segs == nil {
		return [][2]int{{0, dm.s}}
	}
	out := make([][2]int, len(dm.segs))
	lo := 0
	for i, n := range dm.segs {
		out[i] = [2]int{lo, n}
		lo += n
	}
	return out
}

// probsPerItem is the number of attention probabilities of one (batch, head):
// Σ n² over the segments.
func (dm attnDims) probsPerItem() int {
	t := 0
	for _, sg := range dm.segments() {
		t += sg[1] * sg[1]
	}
	return t
}

func (op *attnOp) unpack(name string, inputs []G.Value, extra ...string) ([]*tensor.Dense, []*tensor.Dense, attnDims, error) {
	names := []string{"q", "k", "v"}
	if op.hasBias {
		names = append(names, "keyBias")
	}
	if op.drop != nil {
		names = append(names, "seed")
	}
	nIn := len(names)
	names = append(names, extra...)
	ds, err := denses(name, names, inputs)
	if err != nil {
		return nil, nil, attnDims{}, err
	}
	qs := ds[0].Shape()
	if qs.Dims() != 3 || !ds[1].Shape().Eq(qs) || !ds[2].Shape().Eq(qs) {
		return nil, nil, attnDims{}, fmt.Errorf("graph: %s: q %v, k %v, v %v must share a (B,S,D) shape", name, qs, ds[1].Shape(), ds[2].Shape())
	}
	dm := attnDims{b: qs[0], s: qs[1], d: qs[2], h: op.heads, dh: qs[2] / op.heads, segs: op.segs, drop: op.drop}
	if op.drop != nil {
		if dm.seed, err = seedOf(ds[nIn-1], name); err != nil {
			return nil, nil, attnDims{}, err
		}
	}
	if op.hasBias && ds[3].Shape().TotalSize() != dm.b*dm.s {
		return nil, nil, attnDims{}, fmt.Errorf("graph: %s: keyBias shape %v != (%d, %d)", name, ds[3].Shape(), dm.b, dm.s)
	}
	for _, t := range ds[1:] {
		if t.Dtype() != ds[0].Dtype() && t.Dtype() != tensor.Int64 {
			return nil, nil, attnDims{}, fmt.Errorf("graph: %s: mixed dtypes %v and %v", name, ds[0].Dtype(), t.Dtype())
		}
	}
	if op.drop != nil {
		return ds[:nIn-1], ds[nIn:], dm, nil // the seed is read into dm
	}
	return ds[:nIn], ds[nIn:], dm, nil
}

func (op *attnOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ins, _, dm, err := op.unpack(op.name, inputs)
	if err != nil {
		return nil, err
	}
	out, _ := outTensor(p, ins[0].Dtype(), ins[0].Shape())
	op.state.mu.Lock()
	defer op.state.mu.Unlock()
	switch out.Dtype() {
	case tensor.Float32:
		var stash []float32
		if op.state.keep {
			op.state.p32 = growTo(op.state.p32, dm.b*dm.h*dm.probsPerItem())
			stash = op.state.p32
		}
		attnForward(ins, sliceOf[float32](out), stash, dm)
	case tensor.Float64:
		var stash []float64
		if op.state.keep {
			op.state.p64 = growTo(op.state.p64, dm.b*dm.h*dm.probsPerItem())
			stash = op.state.p64
		}
		attnForward(ins, sliceOf[float64](out), stash, dm)
	default:
		return nil, fmt.Errorf("graph: Attention: unsupported dtype %v", out.Dtype())
	}
	op.state.outPtr = 0
	if op.state.keep {
		op.state.outPtr = firstByte(out)
	}
	return out, nil
}

// firstByte identifies a tensor's backing buffer (Go's GC does not move heap objects).
func firstByte(d *tensor.Dense) uintptr { return d.Uintptr() }

func growTo[T float](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// biasOf returns the key bias data (B,S), or nil without one.
func biasOf[T float](ins []*tensor.Dense) []T {
	if len(ins) < 4 {
		return nil
	}
	return sliceOf[T](ins[3])
}

// allMasked reports whether every key of a bias row is masked.
func allMasked[T float](brow []T) bool {
	if brow == nil {
		return false
	}
	for _, v := range brow {
		if float64(v) > maskedBias {
			return false
		}
	}
	return true
}

// transposeHead writes the strided head block src (n rows of dh, row stride D) to dst as
// a contiguous (dh, n) matrix: GEMMs run faster on it than on the strided transpose.
func transposeHead[T float](dst, src []T, n int, dm attnDims) {
	for i := 0; i < n; i++ {
		row := src[i*dm.d : i*dm.d+dm.dh]
		for c, v := range row {
			dst[c*n+i] = v
		}
	}
}

// attnProbs fills p (n×n) with softmax((Q_h·K_hᵀ)/sqrt(dh) + bias) for one (batch, head)
// of the sequence of n tokens starting at token lo; kt is (dh·n) scratch.
func attnProbs[T float](q, k, bias, p, kt []T, b, h, lo, n int, dm attnDims) {
	off := (b*dm.s+lo)*dm.d + h*dm.dh
	transposeHead(kt, k[off:], n, dm)
	matmul(false, false, n, n, dm.dh, 1, q[off:], dm.d, kt, n, 0, p, n)
	scale := T(math.Sqrt(float64(dm.dh)))
	var brow []T
	if bias != nil {
		brow = bias[b*dm.s+lo : b*dm.s+lo+n]
	}
	attnRows(n, 12*n, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			softmaxScores(p[i*n:(i+1)*n], brow, scale)
		}
	})
}

// softmaxScores turns raw scores into probabilities: row/scale + bias, max-subtracted
// softmax; a row whose scores are all −Inf becomes uniform.
func softmaxScores[T float](row, brow []T, scale T) {
	mx := T(math.Inf(-1))
	for j := range row {
		v := row[j] / scale
		if brow != nil {
			v += brow[j]
		}
		row[j] = v
		if v > mx {
			mx = v
		}
	}
	if math.IsInf(float64(mx), -1) {
		u := 1 / T(len(row))
		for j := range row {
			row[j] = u
		}
		return
	}
	softmaxRow(row, mx)
}

// attnRows splits one (batch, head) item's row loop across goroutines. Items themselves
// run one after another: every GEMM is already multi-threaded (gonum and OpenBLAS alike), and
// also running items concurrently oversubscribed the two cores (never faster in interleaved
// measurements with gonum, up to 2x slower).
func attnRows(n, cost int, body func(lo, hi int)) { parFor(n, cost, body) }

// softmaxRow replaces row with exp(row−mx)/Σexp(row−mx).
func softmaxRow[T float](row []T, mx T) {
	var sum float64
	if r32, ok := any(row).([]float32); ok {
		sum = expSubSum(r32, float32(mx))
	} else {
		for j, v := range row {
			e := T(math.Exp(float64(v - mx)))
			row[j] = e
			sum += float64(e)
		}
	}
	inv := T(1 / sum)
	if r32, ok := any(row).([]float32); ok {
		scaleSlice(r32, float32(inv))
		return
	}
	for j := range row {
		row[j] *= inv
	}
}

func attnForward[T float](ins []*tensor.Dense, out, stash []T, dm attnDims) {
	q, k, v := sliceOf[T](ins[0]), sliceOf[T](ins[1]), sliceOf[T](ins[2])
	bias := biasOf[T](ins)
	per := dm.probsPerItem()
	kt := make([]T, dm.s*dm.dh)
	var scratch, pd []T
	if stash == nil {
		scratch = make([]T, per)
	}
	if dm.drop != nil {
		pd = make([]T, per)
	}
	for item := 0; item < dm.b*dm.h; item++ {
		b, h := item/dm.h, item%dm.h
		p := scratch
		if stash != nil {
			p = stash[item*per : (item+1)*per]
		}
		base := item * per
		for _, sg := range dm.segments() {
			lo, n := sg[0], sg[1]
			attnProbs(q, k, bias, p[:n*n], kt, b, h, lo, n, dm)
			probs := p[:n*n]
			if dm.drop != nil {
				dropped(pd[:n*n], probs, dm, base)
				probs = pd[:n*n]
			}
			off := (b*dm.s+lo)*dm.d + h*dm.dh
			matmul(false, false, n, dm.dh, n, 1, probs, n, v[off:], dm.d, 0, out[off:], dm.d)
			p = p[n*n:]
			base += n * n
		}
	}
}

// attnGradOp computes the packed gradients (3,B,S,D) = (dq, dk, dv) from
// (q, k, v, [keyBias], out, dOut).
type attnGradOp struct {
	opBase
	fwd *attnOp
}

func (op *attnGradOp) Arity() int { return op.fwd.Arity() + 2 }
func (op *attnGradOp) Type() hmType {
	return fnType(append(op.fwd.inputTypes(), tt(3), tt(3), tt(4))...)
}
func (op *attnGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{3, s[0], s[1], s[2]}, nil
}
func (op *attnGradOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *attnGradOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ins, extra, dm, err := op.fwd.unpack(op.name, inputs, "output", "grad")
	if err != nil {
		return nil, err
	}
	outv, dout := extra[0], extra[1]
	if dout.Shape().TotalSize() != dm.b*dm.s*dm.d {
		return nil, fmt.Errorf("graph: AttentionGrad: grad shape %v != q shape %v", dout.Shape(), ins[0].Shape())
	}
	res, _ := outTensor(p, ins[0].Dtype(), tensor.Shape{3, dm.b, dm.s, dm.d})
	st := op.fwd.state
	st.mu.Lock()
	defer st.mu.Unlock()
	valid := st.outPtr != 0 && st.outPtr == firstByte(outv)
	switch res.Dtype() {
	case tensor.Float32:
		var stash []float32
		if valid && len(st.p32) == dm.b*dm.h*dm.probsPerItem() {
			stash = st.p32
		}
		attnBackward(ins, sliceOf[float32](dout), stash, sliceOf[float32](res), dm)
	case tensor.Float64:
		var stash []float64
		if valid && len(st.p64) == dm.b*dm.h*dm.probsPerItem() {
			stash = st.p64
		}
		attnBackward(ins, sliceOf[float64](dout), stash, sliceOf[float64](res), dm)
	default:
		return nil, fmt.Errorf("graph: AttentionGrad: unsupported dtype %v", res.Dtype())
	}
	return res, nil
}

func attnBackward[T float](ins []*tensor.Dense, dout, stash, res []T, dm attnDims) {
	q, k, v := sliceOf[T](ins[0]), sliceOf[T](ins[1]), sliceOf[T](ins[2])
	bias := biasOf[T](ins)
	total := dm.b * dm.s * dm.d
	dq, dk, dv := res[:total], res[total:2*total], res[2*total:]
	per := dm.probsPerItem()
	tbuf := make([]T, dm.s*dm.dh)
	dpBuf := make([]T, per)
	var pbuf, pdBuf []T
	if stash == nil {
		pbuf = make([]T, per)
	}
	if dm.drop != nil {
		pdBuf = make([]T, per)
	}
	scale := T(math.Sqrt(float64(dm.dh)))
	for item := 0; item < dm.b*dm.h; item++ {
		b, h := item/dm.h, item%dm.h
		pAll := pbuf
		if stash != nil {
			pAll = stash[item*per : (item+1)*per]
		}
		base := item * per
		for _, sg := range dm.segments() {
			lo, n := sg[0], sg[1]
			off := (b*dm.s+lo)*dm.d + h*dm.dh
			p, dp := pAll[:n*n], dpBuf[:n*n]
			pAll = pAll[n*n:]
			if stash == nil {
				attnProbs(q, k, bias, p, tbuf, b, h, lo, n, dm)
			}
			// With dropout the output used P' = P⊙mask/(1−p): dV = P'ᵀ·dO_h
			// and dP = (dO_h·V_hᵀ)⊙mask/(1−p).
			pv := p
			if dm.drop != nil {
				pv = pdBuf[:n*n]
				dropped(pv, p, dm, base)
			}
			segBase := base
			base += n * n
			// dV_h = Pᵀ·dO_h
			matmul(true, false, n, dm.dh, n, 1, pv, n, dout[off:], dm.d, 0, dv[off:], dm.d)
			if bias != nil && allMasked(bias[b*dm.s+lo:b*dm.s+lo+n]) {
				for i := 0; i < n; i++ {
					clear(dq[off+i*dm.d : off+i*dm.d+dm.dh])
					clear(dk[off+i*dm.d : off+i*dm.d+dm.dh])
				}
				continue
			}
			// dP = dO_h·V_hᵀ; dS = P⊙(dP − rowsum(P⊙dP)) / sqrt(dh)
			transposeHead(tbuf, v[off:], n, dm)
			matmul(false, false, n, n, dm.dh, 1, dout[off:], dm.d, tbuf, n, 0, dp, n)
			if dm.drop != nil {
				dropped(dp, dp, dm, segBase)
			}
			attnRows(n, 6*n, func(i0, i1 int) {
				for i := i0; i < i1; i++ {
					pr, dr := p[i*n:(i+1)*n], dp[i*n:(i+1)*n]
					var dot float64
					for j, pv := range pr {
						dot += float64(pv) * float64(dr[j])
					}
					dt := T(dot)
					for j, pv := range pr {
						dr[j] = pv * (dr[j] - dt) / scale
					}
				}
			})
			// dQ_h = dS·K_h ; dK_h = dSᵀ·Q_h
			matmul(false, false, n, dm.dh, n, 1, dp, n, k[off:], dm.d, 0, dq[off:], dm.d)
			matmul(true, false, n, dm.dh, n, 1, dp, n, q[off:], dm.d, 0, dk[off:], dm.d)
		}
	}
}

// pickOp copies slice i of a packed (n, ...) gradient tensor out as (...).
type pickOp struct {
	opBase
	i int
}

func (op *pickOp) Arity() int   { return 1 }
func (op *pickOp) Type() hmType { return fnType(tt(4), tt(3)) }
func (op *pickOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape)[1:].Clone(), nil
}
func (op *pickOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *pickOp) UsePreallocDo(p G.Value, inputs ...G.Value) (G.Value, error) {
	ds, err := denses(op.name, []string{"packed"}, inputs)
	if err != nil {
		return nil, err
	}
	src := ds[0]
	s := src.Shape()[1:].Clone()
	n := s.TotalSize()
	out, _ := outTensor(p, src.Dtype(), s)
	switch src.Dtype() {
	case tensor.Float32:
		copy(sliceOf[float32](out), sliceOf[float32](src)[op.i*n:(op.i+1)*n])
	case tensor.Float64:
		copy(sliceOf[float64](out), sliceOf[float64](src)[op.i*n:(op.i+1)*n])
	default:
		return nil, fmt.Errorf("graph: Pick: unsupported dtype %v", src.Dtype())
	}
	return out, nil
}

// attentionInputs validates the (B,S,D) projections (q first; k and v must
// match it), heads and the optional (B,S) key bias shared by Attention and
// AttentionProbs, and returns the op's children in order.
func attentionInputs(name string, qkv []*G.Node, keyBias *G.Node, heads int) ([]*G.Node, error) {
	args := []string{"q", "k", "v"}
	var qs tensor.Shape
	for i, n := range qkv {
		s, err := shapeOf(n, name, args[i])
		if err != nil {
			return nil, err
		}
		if err := checkFloat(n, name, args[i]); err != nil {
			return nil, err
		}
		if err := checkSameDtype(qkv[0], n, name, "q", args[i]); err != nil {
			return nil, err
		}
		if s.Dims() != 3 {
			return nil, fmt.Errorf("graph: %s: %s must be (B,S,D), got shape %v", name, args[i], s)
		}
		if i == 0 {
			qs = s
		} else if !s.Eq(qs) {
			return nil, fmt.Errorf("graph: %s: %s shape %v != q shape %v", name, args[i], s, qs)
		}
	}
	b, s, d := qs[0], qs[1], qs[2]
	if heads < 1 || d%heads != 0 {
		return nil, fmt.Errorf("graph: %s: heads %d does not divide model dim %d (q shape %v)", name, heads, d, qs)
	}
	children := append([]*G.Node(nil), qkv...)
	if keyBias != nil {
		bs := keyBias.Shape()
		if err := checkSameDtype(qkv[0], keyBias, name, "q", "keyBias"); err != nil {
			return nil, err
		}
		if bs.Dims() != 2 || bs[0] != b || bs[1] != s {
			return nil, fmt.Errorf("graph: %s: keyBias shape %v != (%d, %d) for q shape %v", name, bs, b, s, qs)
		}
		children = append(children, keyBias)
	}
	return children, nil
}
