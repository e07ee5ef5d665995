package graph

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gcArg is one input of an op under test: float64 (or int64 for indices) value,
// and whether the gradient checker should differentiate with respect to it.
type gcArg struct {
	name string
	val  *tensor.Dense
	diff bool
}

// buildFn applies the op under test to input nodes (in the order of the gcArgs).
type buildFn func(g *G.ExprGraph, in []*G.Node) (*G.Node, error)

func randDense(rng *rand.Rand, shape ...int) *tensor.Dense {
	n := tensor.Shape(shape).TotalSize()
	d := make([]float64, n)
	for i := range d {
		d[i] = rng.NormFloat64()
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

func int64Dense(vals []int64, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]int64(nil), vals...)))
}

// asDtype converts a float64 tensor to dt (int tensors are returned as clones).
func asDtype(d *tensor.Dense, dt tensor.Dtype) *tensor.Dense {
	if d.Dtype() != tensor.Float64 || dt == tensor.Float64 {
		return d.Clone().(*tensor.Dense)
	}
	src := d.Data().([]float64)
	out := make([]float32, len(src))
	for i, v := range src {
		out[i] = float32(v)
	}
	return tensor.New(tensor.WithShape(d.Shape().Clone()...), tensor.WithBacking(out))
}

// f64s reads any float tensor as float64s.
func f64s(v G.Value) []float64 {
	switch s := v.(type) {
	case *G.F64:
		return []float64{float64(*s)}
	case *G.F32:
		return []float64{float64(*s)}
	}
	if d := v.(*tensor.Dense); d.Dtype() == tensor.Float64 || d.Dtype() == tensor.Float32 {
		// A copy: Float64s returns float64 data itself, and the machine reuses its buffers.
		return slices.Clone(Float64s(d))
	}
	panic(fmt.Sprintf("f64s: unsupported %T", v))
}

func makeInputs(g *G.ExprGraph, args []gcArg, dt tensor.Dtype) []*G.Node {
	nodes := make([]*G.Node, len(args))
	for i, a := range args {
		v := asDtype(a.val, dt)
		nodes[i] = G.NewTensor(g, v.Dtype(), v.Dims(), G.WithShape(v.Shape().Clone()...), G.WithName(a.name), G.WithValue(v))
	}
	return nodes
}

// buildOp applies build to fresh input nodes of a new graph holding args in dtype dt.
func buildOp(t testing.TB, build buildFn, args []gcArg, dt tensor.Dtype) (*G.ExprGraph, []*G.Node, *G.Node) {
	t.Helper()
	g := G.NewGraph()
	nodes := makeInputs(g, args, dt)
	y, err := build(g, nodes)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return g, nodes, y
}

// rebind binds fresh copies of the argument values (the TapeMachine may write into bound tensors).
func rebind(t testing.TB, nodes []*G.Node, args []gcArg, dt tensor.Dtype) {
	t.Helper()
	for i, a := range args {
		if err := G.Let(nodes[i], asDtype(a.val, dt)); err != nil {
			t.Fatalf("Let %s: %v", a.name, err)
		}
	}
}

// runForward evaluates the op in dtype dt, checking that the op leaves its inputs unmodified
// and that a second run of the same machine (Reset + rebind) gives identical results.
func runForward(t testing.TB, build buildFn, args []gcArg, dt tensor.Dtype) []float64 {
	t.Helper()
	g, nodes, y := buildOp(t, build, args, dt)
	m := G.NewTapeMachine(g)
	defer m.Close()
	var first []float64
	for run := 0; run < 2; run++ {
		runUnmodified(t, m, nodes, args, dt, "op modified its input")
		out := f64s(y.Value())
		if run == 0 {
			first = out
		} else if !equalF64(first, out) {
			t.Fatalf("second run of the machine differs from the first")
		}
		m.Reset()
	}
	return first
}

// runUnmodified binds fresh copies of args to nodes, runs m once and fails the test if the
// run wrote into a bound input; failure is the message that precedes the input's name.
func runUnmodified(t testing.TB, m G.VM, nodes []*G.Node, args []gcArg, dt tensor.Dtype, failure string) {
	t.Helper()
	rebind(t, nodes, args, dt)
	bound := make([]*tensor.Dense, len(nodes))
	for i, n := range nodes {
		bound[i] = n.Value().(*tensor.Dense)
	}
	if err := m.RunAll(); err != nil {
		t.Fatalf("RunAll: %v", err)
	}
	for i, a := range args {
		if !equalDense(bound[i], asDtype(a.val, dt)) {
			t.Fatalf("%s %s", failure, a.name)
		}
	}
}

func equalDense(a, b *tensor.Dense) bool {
	if !a.Shape().Eq(b.Shape()) || a.Dtype() != b.Dtype() {
		return false
	}
	switch av := a.Data().(type) {
	case []int64:
		bv := b.Data().([]int64)
		for i := range av {
			if av[i] != bv[i] {
				return false
			}
		}
		return true
	default:
		return equalF64(f64s(a), f64s(b))
	}
}

func equalF64(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

// assertClose compares got and want elementwise: |got−want| ≤ atol + rtol·|want|.
func assertClose(t testing.TB, what string, got, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	worst, wi := 0.0, -1
	for i := range got {
		if math.IsNaN(got[i]) || math.IsInf(got[i], 0) {
			t.Fatalf("%s: element %d is %v", what, i, got[i])
		}
		d := math.Abs(got[i]-want[i]) - (atol + rtol*math.Abs(want[i]))
		if d > worst {
			worst, wi = d, i
		}
	}
	if wi >= 0 {
		t.Fatalf("%s: element %d = %.10g, want %.10g (exceeds tolerance by %.3g)", what, wi, got[wi], want[wi], worst)
	}
}

// checkF32Agrees runs the op in float32 and float64 and compares.
func checkF32Agrees(t *testing.T, build buildFn, args []gcArg, tol float64) {
	t.Helper()
	want := runForward(t, build, args, tensor.Float64)
	got := runForward(t, build, args, tensor.Float32)
	assertClose(t, "float32 vs float64", got, want, tol, tol)
}

// numGradCheck builds cost = Σ(op(inputs) ⊙ R) for a fixed random R, computes Gorgonia's
// symbolic gradient (G.Grad + TapeMachine with BindDualValues) and compares it with central
// differences for every differentiable input. It returns the worst relative error.
func numGradCheck(t *testing.T, build buildFn, args []gcArg, tol float64) float64 {
	t.Helper()
	const eps = 1e-6
	rng := rand.New(rand.NewSource(99))

	r, wrtArg, analytic := symGrads(t, build, args, tensor.Float64, rng)

	// Numerical gradients from a forward-only machine with rebinding.
	g2, nodes2, y2 := buildOp(t, build, args, tensor.Float64)
	cost2 := G.Must(G.Sum(G.Must(G.HadamardProd(y2, G.NewConstant(r.Clone(), G.WithName("R"))))))
	m2 := G.NewTapeMachine(g2)
	defer m2.Close()
	eval := func(ai, idx int, delta float64) float64 {
		for i, a := range args {
			v := a.val.Clone().(*tensor.Dense)
			if i == ai {
				v.Data().([]float64)[idx] += delta
			}
			if err := G.Let(nodes2[i], v); err != nil {
				t.Fatalf("Let: %v", err)
			}
		}
		if err := m2.RunAll(); err != nil {
			t.Fatalf("RunAll: %v", err)
		}
		c := f64s(cost2.Value())[0]
		m2.Reset()
		return c
	}
	worst := 0.0
	for k, ai := range wrtArg {
		n := args[ai].val.Shape().TotalSize()
		if len(analytic[k]) != n {
			t.Fatalf("gradient of %s has %d elements, want %d", args[ai].name, len(analytic[k]), n)
		}
		for idx := 0; idx < n; idx++ {
			num := (eval(ai, idx, eps) - eval(ai, idx, -eps)) / (2 * eps)
			a := analytic[k][idx]
			rel := math.Abs(a-num) / math.Max(1, math.Max(math.Abs(a), math.Abs(num)))
			if math.IsNaN(a) || rel > tol {
				t.Fatalf("d/d%s[%d]: symbolic %.12g, numerical %.12g (rel err %.3g > %.3g)", args[ai].name, idx, a, num, rel, tol)
			}
			worst = math.Max(worst, rel)
		}
	}
	return worst
}

// symGrads computes Gorgonia's symbolic gradients of Σ(op ⊙ R) in dtype dt for every
// differentiable argument (R drawn from rng), running the machine twice to check repeatability.
func symGrads(t *testing.T, build buildFn, args []gcArg, dt tensor.Dtype, rng *rand.Rand) (*tensor.Dense, []int, [][]float64) {
	t.Helper()
	g, nodes, y := buildOp(t, build, args, dt)
	r := randDense(rng, y.Shape()...)
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(y, G.NewConstant(asDtype(r, dt), G.WithName("R"))))))
	var wrt []*G.Node
	var wrtArg []int
	for i, a := range args {
		if a.diff {
			wrt = append(wrt, nodes[i])
			wrtArg = append(wrtArg, i)
		}
	}
	if _, err := G.Grad(cost, wrt...); err != nil {
		t.Fatalf("Grad: %v", err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(wrt...))
	defer m.Close()
	var analytic [][]float64
	for run := 0; run < 2; run++ {
		runUnmodified(t, m, nodes, args, dt, "forward or backward pass modified input")
		for k, n := range wrt {
			gv, err := n.Grad()
			if err != nil {
				t.Fatalf("Grad of %s: %v", n.Name(), err)
			}
			got := f64s(gv)
			// Gorgonia accumulates into the dual value's gradient (solvers zero it); do the same.
			gv.(*tensor.Dense).Zero()
			if run == 0 {
				analytic = append(analytic, got)
			} else if !equalF64(analytic[k], got) {
				t.Fatalf("gradient of %s differs between two runs of the machine", n.Name())
			}
		}
		m.Reset()
	}

	return r, wrtArg, analytic
}

// checkF32GradAgrees compares float32 and float64 symbolic gradients.
func checkF32GradAgrees(t *testing.T, build buildFn, args []gcArg, tol float64) {
	t.Helper()
	_, wrt, g64 := symGrads(t, build, args, tensor.Float64, rand.New(rand.NewSource(5)))
	_, _, g32 := symGrads(t, build, args, tensor.Float32, rand.New(rand.NewSource(5)))
	for k := range g64 {
		assertClose(t, "float32 vs float64 gradient of "+args[wrt[k]].name, g32[k], g64[k], tol, tol)
	}
}
