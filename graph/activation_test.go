package graph

import (
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func buildActivation(name string) buildFn {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return Activation(in[0], name) }
}

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// activationRefs are float64 reference formulas, written as transformers.activations writes them.
var activationRefs = map[string]func(x float64) float64{
	"gelu":        func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) },
	"gelu_python": func(x float64) float64 { return x * 0.5 * (1 + math.Erf(x/math.Sqrt(2))) },
	"gelu_new": func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*math.Pow(x, 3))))
	},
	"gelu_pytorch_tanh": func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	},
	"gelu_fast": func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(x*0.7978845608*(1+0.044715*x*x)))
	},
	"quick_gelu": func(x float64) float64 { return x * sigmoid64(1.702*x) },
	"silu":       func(x float64) float64 { return x * sigmoid64(x) },
	"swish":      func(x float64) float64 { return x * sigmoid64(x) },
	"relu":       func(x float64) float64 { return math.Max(x, 0) },
	"relu6":      func(x float64) float64 { return math.Min(math.Max(x, 0), 6) },
	"sigmoid":    sigmoid64,
	"tanh":       math.Tanh,
}

func TestActivationNamesHaveReferences(t *testing.T) {
	names := activationNames()
	if len(names) != len(activationRefs) {
		t.Fatalf("Activation supports %v, references cover %d names", names, len(activationRefs))
	}
	for _, n := range names {
		if activationRefs[n] == nil {
			t.Fatalf("no reference formula for %q", n)
		}
	}
}

func TestActivationForward(t *testing.T) {
	// Points across every regime: saturated tails, the ReLU6 corners, around 0.
	pts := []float64{-60, -12, -6, -3.3, -1, -0.25, -1e-3, 0, 1e-3, 0.25, 0.5, 1, 2.5, 5.9, 6, 6.1, 12, 60}
	x := tensor.New(tensor.WithShape(len(pts)), tensor.WithBacking(slices.Clone(pts)))
	rng := rand.New(rand.NewSource(11))
	big := randDense(rng, 3, 70, 11)
	for i := range big.Data().([]float64) {
		big.Data().([]float64)[i] *= 2
	}
	for _, name := range activationNames() {
		t.Run(name, func(t *testing.T) {
			ref := activationRefs[name]
			want := make([]float64, len(pts))
			for i, v := range pts {
				want[i] = ref(v)
			}
			got := runForward(t, buildActivation(name), []gcArg{{"x", x, true}}, tensor.Float64)
			assertClose(t, name, got, want, 1e-15, 1e-13)
			got32 := runForward(t, buildActivation(name), []gcArg{{"x", x, true}}, tensor.Float32)
			assertClose(t, name+" float32", got32, want, 1e-7, 1e-6)

			// Large enough for parFor to split the work; scaled so the tails are exercised too.
			checkF32Agrees(t, buildActivation(name), []gcArg{{"x", big, true}}, 1e-6)
			checkF32GradAgrees(t, buildActivation(name), []gcArg{{"x", big, true}}, 2e-6)
		})
	}
}

func TestActivationGrad(t *testing.T) {
	for _, name := range activationNames() {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(3))
			// Fixed points in every regime (both relu6 corners), then random ones scaled to
			// reach the saturated tails, kept away from the kinks of relu and relu6.
			fixed := []float64{-9, -4.5, -2, -0.5, 0.3, 1.5, 4, 5.5, 6.5, 9}
			for _, shape := range [][]int{{len(fixed)}, {7}, {2, 3, 4}} {
				x := tensor.New(tensor.WithShape(len(fixed)), tensor.WithBacking(slices.Clone(fixed)))
				if shape[0] != len(fixed) {
					x = randDense(rng, shape...)
					xs := x.Data().([]float64)
					for i := range xs {
						xs[i] *= 3
						for _, k := range []float64{0, 6} {
							if math.Abs(xs[i]-k) < 1e-3 {
								xs[i] = k + 0.1
							}
						}
					}
				}
				w := numGradCheck(t, buildActivation(name), []gcArg{{"x", x, true}}, 1e-7)
				t.Logf("%s %v: worst rel err %.2g", name, shape, w)
			}
		})
	}
}

// TestActivationTails checks the float32 kernels stay finite and exact in the limits where a
// naive tanh or sigmoid formula overflows or cancels.
func TestActivationTails(t *testing.T) {
	pts := []float64{-1e30, -200, -90, -20, 20, 90, 200, 1e30}
	x := tensor.New(tensor.WithShape(len(pts)), tensor.WithBacking(slices.Clone(pts)))
	for _, name := range []string{"gelu_new", "gelu_fast", "quick_gelu", "silu", "sigmoid", "tanh"} {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			build := buildActivation(name)
			got := runForward(t, build, []gcArg{{"x", x, true}}, dt)
			_, _, grads := symGrads(t, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return build(g, in)
			}, []gcArg{{"x", x, true}}, dt, rand.New(rand.NewSource(1)))
			for i, v := range pts {
				want := activationRefs[name](v)
				if math.IsNaN(want) { // the references' tanh(x³) overflows at ±1e30
					want = math.Max(v, 0)
				}
				if math.Abs(got[i]-want) > 1e-30+1e-6*math.Abs(want) {
					t.Errorf("%s %v: f(%g) = %g, want %g", name, dt, v, got[i], want)
				}
				if math.IsNaN(grads[0][i]) || math.IsInf(grads[0][i], 0) {
					t.Errorf("%s %v: gradient at %g is %g", name, dt, v, grads[0][i])
				}
			}
		}
	}
}

func TestActivationUnknown(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 2, G.WithShape(2, 3), G.WithName("x"))
	_, err := Activation(x, "gelu_10")
	if err == nil {
		t.Fatal("unknown activation accepted")
	}
	for _, w := range []string{`"gelu_10"`, "relu", "gelu_new", "quick_gelu"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %s", err, w)
		}
	}
	if _, err := Activation(nil, "relu"); err == nil {
		t.Error("nil node accepted")
	}
	ids := G.NewTensor(g, tensor.Int64, 2, G.WithShape(2, 3), G.WithName("ids"))
	if _, err := Activation(ids, "relu"); err == nil {
		t.Error("int64 node accepted")
	}
}

// TestActivationsDistinct checks two activations of one node stay two ops (Gorgonia
// deduplicates nodes by op hash) and that "gelu" is the exact GELU op itself.
func TestActivationsDistinct(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 1, G.WithShape(3), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{-1, 0.5, 2}))))
	var outs []*G.Node
	for _, name := range []string{"gelu_new", "gelu_pytorch_tanh", "gelu_fast", "silu", "quick_gelu", "relu"} {
		y, err := Activation(x, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			if o == y {
				t.Fatalf("%s merged with %s", name, o.Op())
			}
		}
		if !strings.Contains(y.Op().String(), name) {
			t.Errorf("op %q does not name %s", y.Op(), name)
		}
		outs = append(outs, y)
	}
	a, _ := Activation(x, "gelu")
	b, _ := GELU(x)
	if a != b {
		t.Errorf("Activation(gelu) is %v, not the GELU op", a.Op())
	}
}

// TestActivationMatchesConfig checks config.Validate accepts exactly the names Activation
// implements (its error lists the supported ones).
func TestActivationMatchesConfig(t *testing.T) {
	cfg := config.Default()
	for _, name := range activationNames() {
		cfg.HiddenAct = name
		if err := cfg.Validate(); err != nil {
			t.Errorf("config rejects %q: %v", name, err)
		}
	}
	cfg.HiddenAct = "foo"
	err := cfg.Validate()
	if err == nil {
		t.Fatal("config accepts hidden_act foo")
	}
	msg := err.Error()
	i := strings.Index(msg, "supported: ")
	j := strings.LastIndex(msg, ")")
	if i < 0 || j < i {
		t.Fatalf("config error %q does not list the supported activations", msg)
	}
	listed := strings.Split(msg[i+len("supported: "):j], ", ")
	slices.Sort(listed)
	if !slices.Equal(listed, activationNames()) {
		t.Errorf("config supports %v, Activation %v", listed, activationNames())
	}
}
