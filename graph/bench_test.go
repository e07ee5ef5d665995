package graph

import (
	"math/rand"
	"os"
	"sort"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Base-ViT-like shapes: one TVLT encoder block input (B=1, S=588, D=768, 12 heads, MLP 3072).
const (
	benchS   = 588
	benchD   = 768
	benchH   = 12
	benchMLP = 3072
)

type benchIn struct {
	name  string
	shape []int
}

type benchBuild func(g *G.ExprGraph, in []*G.Node) (*G.Node, error)

// benchSpec pairs a custom op with the composed Gorgonia graph it replaces (if any).
type benchSpec struct {
	name        string
	ins         []benchIn
	custom      benchBuild
	composedIns []benchIn // defaults to ins
	composed    benchBuild
}

// newBenchRun compiles build over random float32 inputs and returns one forward
// (and, if grad, backward) pass of the machine.
func newBenchRun(t testing.TB, ins []benchIn, grad bool, build benchBuild) (run func(), done func()) {
	rng := rand.New(rand.NewSource(1))
	g := G.NewGraph()
	nodes := make([]*G.Node, len(ins))
	for i, in := range ins {
		v := asDtype(randDense(rng, in.shape...), tensor.Float32)
		nodes[i] = G.NewTensor(g, tensor.Float32, len(in.shape), G.WithShape(in.shape...), G.WithName(in.name), G.WithValue(v))
	}
	y, err := build(g, nodes)
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(y))
	var m G.VM
	if grad {
		var wrt []*G.Node
		for i, n := range nodes {
			if ins[i].name != "keyBias" { // not differentiable
				wrt = append(wrt, n)
			}
		}
		if _, err := G.Grad(cost, wrt...); err != nil {
			t.Fatal(err)
		}
		m = G.NewTapeMachine(g, G.BindDualValues(wrt...))
	} else {
		m = G.NewTapeMachine(g)
	}
	return func() {
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		m.Reset()
	}, func() { m.Close() }
}

func benchSpecs() []benchSpec {
	dh := benchD / benchH
	split := func(x *G.Node) *G.Node {
		x = G.Must(G.Reshape(x, tensor.Shape{1, benchS, benchH, dh}))
		x = G.Must(G.Transpose(x, 0, 2, 1, 3))
		return G.Must(G.Reshape(x, tensor.Shape{benchH, benchS, dh}))
	}
	linear := func(in, out int) benchSpec {
		return benchSpec{
			name:   "Linear" + map[bool]string{true: "768x3072", false: "3072x768"}[in == benchD],
			ins:    []benchIn{{"x", []int{1, benchS, in}}, {"w", []int{out, in}}, {"b", []int{out}}},
			custom: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) { return Linear(n[0], n[1], n[2]) },
			// Weight stored transposed (in, out) so the composed graph needs no Transpose copy.
			composedIns: []benchIn{{"x", []int{1, benchS, in}}, {"wT", []int{in, out}}, {"b", []int{out}}},
			composed: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
				x := G.Must(G.Reshape(n[0], tensor.Shape{benchS, in}))
				y := G.Must(G.BroadcastAdd(G.Must(G.Mul(x, n[1])), n[2], nil, []byte{0}))
				return G.Reshape(y, tensor.Shape{1, benchS, out})
			},
		}
	}
	qkv := []benchIn{{"q", []int{1, benchS, benchD}}, {"k", []int{1, benchS, benchD}}, {"v", []int{1, benchS, benchD}}}
	rows := make([]int, benchS)
	for i := range rows {
		rows[i] = i % 196
	}
	return []benchSpec{
		{
			name:   "LayerNorm",
			ins:    []benchIn{{"x", []int{1, benchS, benchD}}, {"gamma", []int{benchD}}, {"beta", []int{benchD}}},
			custom: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) { return LayerNorm(n[0], n[1], n[2], 1e-12) },
			composed: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
				x := G.Must(G.Reshape(n[0], tensor.Shape{benchS, benchD}))
				mean := G.Must(G.Mean(x, 1))
				xc := G.Must(G.BroadcastSub(x, mean, nil, []byte{1}))
				v := G.Must(G.Mean(G.Must(G.Square(xc)), 1))
				std := G.Must(G.Sqrt(G.Must(G.Add(v, G.NewConstant(float32(1e-12))))))
				xn := G.Must(G.BroadcastHadamardDiv(xc, std, nil, []byte{1}))
				return G.BroadcastAdd(G.Must(G.BroadcastHadamardProd(xn, n[1], nil, []byte{0})), n[2], nil, []byte{0})
			},
		},
		linear(benchD, benchMLP),
		linear(benchMLP, benchD),
		{
			name:   "GELU",
			ins:    []benchIn{{"x", []int{1, benchS, benchMLP}}},
			custom: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) { return GELU(n[0]) },
			// Gorgonia has no erf; the closest composed equivalent is the tanh approximation.
			composed: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
				x := n[0]
				c := func(v float32) *G.Node { return G.NewConstant(v) }
				x3 := G.Must(G.HadamardProd(G.Must(G.Square(x)), x))
				inner := G.Must(G.Mul(G.Must(G.Add(x, G.Must(G.Mul(x3, c(0.044715))))), c(0.7978845608)))
				return G.HadamardProd(G.Must(G.Mul(x, c(0.5))), G.Must(G.Add(G.Must(G.Tanh(inner)), c(1))))
			},
		},
		{
			name:   "Attention",
			ins:    qkv,
			custom: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) { return Attention(n[0], n[1], n[2], nil, benchH) },
			composed: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
				q, k, v := split(n[0]), split(n[1]), split(n[2])
				s := G.Must(G.BatchedMatMul(q, k, false, true))
				s = G.Must(G.Mul(s, G.NewConstant(float32(0.125))))
				p := G.Must(G.SoftMax(s))
				o := G.Must(G.BatchedMatMul(p, v))
				o = G.Must(G.Reshape(o, tensor.Shape{1, benchH, benchS, dh}))
				o = G.Must(G.Transpose(o, 0, 2, 1, 3))
				return G.Reshape(o, tensor.Shape{1, benchS, benchD})
			},
		},
		{
			name: "AttentionBias",
			ins:  append(append([]benchIn{}, qkv...), benchIn{"keyBias", []int{1, benchS}}),
			custom: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
				return Attention(n[0], n[1], n[2], n[3], benchH)
			},
		},
		{
			name:   "ConcatTokens",
			ins:    []benchIn{{"tok", []int{1, 1, benchD}}, {"a", []int{1, 392, benchD}}, {"b", []int{1, 195, benchD}}},
			custom: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) { return ConcatTokens(n[0], n[1], n[2]) },
			composed: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
				return G.Concat(1, n[0], n[1], n[2])
			},
		},
		{
			name:   "SliceSeq",
			ins:    []benchIn{{"x", []int{1, benchS, benchD}}},
			custom: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) { return SliceSeq(n[0], 1, 393) },
			composed: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) {
				return G.Slice(n[0], nil, G.S(1, 393), nil)
			},
		},
		{
			name:   "AddRows",
			ins:    []benchIn{{"x", []int{1, benchS, benchD}}, {"table", []int{1, 196, benchD}}},
			custom: func(g *G.ExprGraph, n []*G.Node) (*G.Node, error) { return AddRows(n[0], n[1], rows) },
		},
	}
}

func BenchmarkOps(b *testing.B) {
	for _, sp := range benchSpecs() {
		for _, grad := range []bool{false, true} {
			mode := map[bool]string{false: "fwd", true: "fwdbwd"}[grad]
			variants := []struct {
				name  string
				ins   []benchIn
				build benchBuild
			}{{"custom", sp.ins, sp.custom}}
			if sp.composed != nil {
				ins := sp.composedIns
				if ins == nil {
					ins = sp.ins
				}
				variants = append(variants, struct {
					name  string
					ins   []benchIn
					build benchBuild
				}{"composed", ins, sp.composed})
			}
			for _, v := range variants {
				b.Run(sp.name+"/"+mode+"/"+v.name, func(b *testing.B) {
					run, done := newBenchRun(b, v.ins, grad, v.build)
					defer done()
					run() // warm-up: first run allocates registers
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						run()
					}
				})
			}
		}
	}
}

// TestBenchRatios measures custom vs composed alternately (so load from other processes
// hits both alike) and logs median times and their ratio. Run with TVLT_GRAPH_BENCH=1
// go test -run BenchRatios -v ./graph
func TestBenchRatios(t *testing.T) {
	if os.Getenv("TVLT_GRAPH_BENCH") == "" {
		t.Skip("set TVLT_GRAPH_BENCH=1 to measure custom vs composed op speed")
	}
	const reps = 7
	median := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	for _, sp := range benchSpecs() {
		for _, grad := range []bool{false, true} {
			mode := map[bool]string{false: "fwd", true: "fwd+bwd"}[grad]
			runC, doneC := newBenchRun(t, sp.ins, grad, sp.custom)
			var runP func()
			if sp.composed != nil {
				ins := sp.composedIns
				if ins == nil {
					ins = sp.ins
				}
				var doneP func()
				runP, doneP = newBenchRun(t, ins, grad, sp.composed)
				defer doneP()
			}
			runC()
			if runP != nil {
				runP()
			}
			var tc, tp []time.Duration
			for i := 0; i < reps; i++ {
				st := time.Now()
				runC()
				tc = append(tc, time.Since(st))
				if runP != nil {
					st = time.Now()
					runP()
					tp = append(tp, time.Since(st))
				}
			}
			doneC()
			if runP == nil {
				t.Logf("| %s | %s | %.2f ms | – | – |", sp.name, mode, float64(median(tc))/1e6)
				continue
			}
			mc, mp := median(tc), median(tp)
			t.Logf("| %s | %s | %.2f ms | %.2f ms | %.2fx |", sp.name, mode, float64(mc)/1e6, float64(mp)/1e6, float64(mp)/float64(mc))
		}
	}
}
