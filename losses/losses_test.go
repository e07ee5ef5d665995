package losses

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type lossCase struct {
	name  string
	shape []int // prediction shape
	build func(g *G.ExprGraph, pred *G.Node) (*G.Node, error)
	want  func(p []float64) float64 // independent reference
}

func dense(shape []int, data []float64) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), data...)))
}

func randn(r *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = r.NormFloat64()
	}
	return out
}

func TestLossValuesAndGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tgt := randn(r, 2*3*4)
	mask := []float64{1, 0, 1, 0, 1, 1}
	bceY := []float64{1, 0, 0, 1, 1, 0}
	mseY := randn(r, 6)
	ceY := []int64{2, 0}
	cases := []lossCase{
		{"MAE", []int{2, 3, 4}, func(g *G.ExprGraph, p *G.Node) (*G.Node, error) {
			return MAE(p, G.NodeFromAny(g, dense([]int{2, 3, 4}, tgt)), G.NodeFromAny(g, dense([]int{2, 3}, mask)))
		}, func(p []float64) float64 {
			var num, den float64
			for n := 0; n < 6; n++ {
				var e float64
				for k := 0; k < 4; k++ {
					d := p[n*4+k] - tgt[n*4+k]
					e += d * d
				}
				num += e / 4 * mask[n]
				den += mask[n]
			}
			return num / den
		}},
		{"BCEWithLogits", []int{6, 1}, func(g *G.ExprGraph, p *G.Node) (*G.Node, error) {
			return BCEWithLogits(p, G.NodeFromAny(g, dense([]int{6, 1}, bceY)))
		}, func(p []float64) float64 {
			var s float64
			for i, x := range p {
				q := 1 / (1 + math.Exp(-x))
				s -= bceY[i]*math.Log(q) + (1-bceY[i])*math.Log(1-q)
			}
			return s / 6
		}},
		{"CrossEntropy", []int{2, 3}, func(g *G.ExprGraph, p *G.Node) (*G.Node, error) {
			return CrossEntropy(p, G.NodeFromAny(g, tensor.New(tensor.WithShape(2), tensor.WithBacking(append([]int64(nil), ceY...)))))
		}, func(p []float64) float64 {
			var s float64
			for b := 0; b < 2; b++ {
				var z float64
				for c := 0; c < 3; c++ {
					z += math.Exp(p[b*3+c])
				}
				s -= math.Log(math.Exp(p[b*3+int(ceY[b])]) / z)
			}
			return s / 2
		}},
		{"MSE", []int{6, 1}, func(g *G.ExprGraph, p *G.Node) (*G.Node, error) {
			return MSE(p, G.NodeFromAny(g, dense([]int{6, 1}, mseY)))
		}, func(p []float64) float64 {
			var s float64
			for i := range p {
				s += (p[i] - mseY[i]) * (p[i] - mseY[i])
			}
			return s / 6
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := 1
			for _, d := range c.shape {
				n *= d
			}
			p0 := randn(r, n)
			g := G.NewGraph()
			pred := G.NewTensor(g, tensor.Float64, len(c.shape), G.WithShape(c.shape...), G.WithName("pred"), G.WithValue(dense(c.shape, p0)))
			loss, err := c.build(g, pred)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := G.Grad(loss, pred); err != nil {
				t.Fatal(err)
			}
			m := G.NewTapeMachine(g, G.BindDualValues(pred))
			defer m.Close()
			if err := m.RunAll(); err != nil {
				t.Fatal(err)
			}
			got := float64(*loss.Value().(*G.F64))
			if want := c.want(p0); math.Abs(got-want) > 1e-12 {
				t.Fatalf("loss %.15g, want %.15g", got, want)
			}
			gv, _ := pred.Grad()
			grad := gv.Data().([]float64)
			for i := range p0 {
				const h = 1e-6
				p := append([]float64(nil), p0...)
				p[i] += h
				up := c.want(p)
				p[i] -= 2 * h
				num := (up - c.want(p)) / (2 * h)
				if math.Abs(num-grad[i]) > 1e-7*(1+math.Abs(num)) {
					t.Fatalf("grad[%d] = %.10g, numerical %.10g", i, grad[i], num)
				}
			}
		})
	}
}

func TestMAEWithoutRemovedPatchesIsZero(t *testing.T) {
	g := G.NewGraph()
	p := G.NodeFromAny(g, dense([]int{1, 2, 2}, []float64{1, 2, 3, 4}), G.WithName("p"))
	tg := G.NodeFromAny(g, dense([]int{1, 2, 2}, []float64{0, 0, 0, 0}), G.WithName("t"))
	m := G.NodeFromAny(g, dense([]int{1, 2}, []float64{0, 0}), G.WithName("m"))
	l, err := MAE(p, tg, m)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if v := float64(*l.Value().(*G.F64)); v != 0 {
		t.Fatalf("loss %v, want 0", v)
	}
}

func TestShapeErrors(t *testing.T) {
	g := G.NewGraph()
	a := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 1), G.WithName("a"))
	b := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("b"))
	if _, err := MSE(a, b); err == nil {
		t.Fatal("MSE accepted (B,1) against (B,)")
	}
	if _, err := BCEWithLogits(a, b); err == nil {
		t.Fatal("BCE accepted mismatched shapes")
	}
	if _, err := CrossEntropy(a, b); err == nil {
		t.Fatal("CrossEntropy accepted float labels")
	}
	if _, err := Sum(nil, nil); err == nil {
		t.Fatal("Sum of no terms succeeded")
	}
}

// runScalar evaluates loss (and its gradient into pred) on a fresh machine.
func runScalar(t *testing.T, g *G.ExprGraph, loss *G.Node, pred ...*G.Node) float64 {
	t.Helper()
	if _, err := G.Grad(loss, pred...); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(pred...))
	t.Cleanup(func() { m.Close() })
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	return float64(*loss.Value().(*G.F64))
}

// TestSoftBCEByHand: multi-label BCE-with-logits on (2, 3) with a soft
// target, against a value computed by hand (per element
// max(x,0) − x·y + log(1+e^−|x|): 0.693147, 2.126928, 0.813262, 1.313262,
// 2.126928, 0.474077; mean 1.257934), and the VQA loss = that × 3
// (the number of answers), with its gradient (σ(x) − y)/B.
func TestSoftBCEByHand(t *testing.T) {
	x := []float64{0, 2, -1, 1, -2, 0.5}
	y := []float64{1, 0, 0.5, 0, 1, 1}
	for _, c := range []struct {
		name  string
		f     func(a, b *G.Node) (*G.Node, error)
		want  float64
		scale float64
	}{
		{"BCEWithLogits", BCEWithLogits, 1.257933926977074, 1.0 / 6},
		{"VQA", VQA, 3.7738017809312216, 1.0 / 2},
	} {
		g := G.NewGraph()
		pred := G.NewTensor(g, tensor.Float64, 2, G.WithShape(2, 3), G.WithName("pred"), G.WithValue(dense([]int{2, 3}, x)))
		loss, err := c.f(pred, G.NodeFromAny(g, dense([]int{2, 3}, y)))
		if err != nil {
			t.Fatal(err)
		}
		if got := runScalar(t, g, loss, pred); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s = %.15g, want %.15g", c.name, got, c.want)
		}
		gv, _ := pred.Grad()
		for i, gi := range gv.Data().([]float64) {
			want := (1/(1+math.Exp(-x[i])) - y[i]) * c.scale
			if math.Abs(gi-want) > 1e-12 {
				t.Errorf("%s grad[%d] = %v, want %v", c.name, i, gi, want)
			}
		}
	}
	g := G.NewGraph()
	if _, err := VQA(G.NewTensor(g, tensor.Float64, 1, G.WithShape(6), G.WithName("p")), G.NewTensor(g, tensor.Float64, 1, G.WithShape(6), G.WithName("q"))); err == nil {
		t.Error("VQA accepted 1-D logits")
	}
}

// TestWeightedSum: the total is Σ w·term, and a zero weight leaves its
// term's value readable but sends no gradient into it.
func TestWeightedSum(t *testing.T) {
	g := G.NewGraph()
	p := G.NewTensor(g, tensor.Float64, 2, G.WithShape(2, 1), G.WithName("p"), G.WithValue(dense([]int{2, 1}, []float64{0.5, -1})))
	q := G.NewTensor(g, tensor.Float64, 2, G.WithShape(2, 1), G.WithName("q"), G.WithValue(dense([]int{2, 1}, []float64{2, 3})))
	r := G.NewTensor(g, tensor.Float64, 2, G.WithShape(2, 1), G.WithName("r"), G.WithValue(dense([]int{2, 1}, []float64{1, 1})))
	zero := G.NodeFromAny(g, dense([]int{2, 1}, []float64{0, 0}))
	a, _ := MSE(p, zero) // (0.25 + 1)/2 = 0.625
	b, _ := MSE(q, zero) // (4 + 9)/2 = 6.5
	c, _ := MSE(r, zero) // 1
	var rc G.Value
	G.Read(c, &rc)
	total, err := WeightedSum([]float64{2, 0.5, 0}, a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	// 2·0.625 + 0.5·6.5 + 0·1 = 4.5
	if got := runScalar(t, g, total, p, q, r); math.Abs(got-4.5) > 1e-12 {
		t.Errorf("weighted total %v, want 4.5", got)
	}
	if v := float64(*rc.(*G.F64)); v != 1 {
		t.Errorf("zero-weighted term reads %v, want 1", v)
	}
	gp, _ := p.Grad()
	if d := gp.Data().([]float64); math.Abs(d[0]-2*0.5) > 1e-12 || math.Abs(d[1]-2*-1) > 1e-12 {
		t.Errorf("grad p = %v, want 2·(2p/2) = [1 -2]", d)
	}
	gr, _ := r.Grad()
	for _, v := range gr.Data().([]float64) {
		if v != 0 {
			t.Errorf("grad of the zero-weighted term = %v, want 0", gr.Data())
		}
	}
	if _, err := WeightedSum([]float64{1}, a, b); err == nil {
		t.Error("WeightedSum accepted 1 weight for 2 terms")
	}
}
