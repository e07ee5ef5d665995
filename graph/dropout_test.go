package graph

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func buildDropout(p float64, site uint64) buildFn {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return Dropout(in[0], in[1], p, site) }
}

// TestDropoutRateAndScale measures the dropped share on a large tensor
// (within 4 standard deviations of p) and checks that kept elements are
// scaled by 1/(1−p), the mask depends on seed and site only, and p = 0
// is the identity.
func TestDropoutRateAndScale(t *testing.T) {
	const n = 1 << 20
	ones := make([]float64, n)
	for i := range ones {
		ones[i] = 1
	}
	x := tensor.New(tensor.WithShape(n), tensor.WithBacking(ones))
	run := func(p float64, site uint64, seed int64) []float64 {
		args := []gcArg{{"x", x, true}, {"seed", int64Dense([]int64{seed}, 1), false}}
		return runForward(t, buildDropout(p, site), args, tensor.Float64)
	}
	for _, p := range []float64{0, 0.1, 0.5} {
		out := run(p, 3, 42)
		dropped := 0
		for _, v := range out {
			switch {
			case v == 0:
				dropped++
			case math.Abs(v-1/(1-p)) > 1e-12:
				t.Fatalf("p=%v: kept value %v, want %v", p, v, 1/(1-p))
			}
		}
		rate, sd := float64(dropped)/n, math.Sqrt(p*(1-p)/n)
		if math.Abs(rate-p) > 4*sd+1e-12 {
			t.Errorf("p=%v: dropped %.5f of %d elements (±%.5f)", p, rate, n, 4*sd)
		}
	}
	same, otherSeed, otherSite := run(0.3, 1, 7), run(0.3, 1, 8), run(0.3, 2, 7)
	diffSeed, diffSite := 0, 0
	for i, v := range run(0.3, 1, 7) {
		if v != same[i] {
			t.Fatal("same seed and site, different masks")
		}
		if v != otherSeed[i] {
			diffSeed++
		}
		if v != otherSite[i] {
			diffSite++
		}
	}
	// Independent masks at p = 0.3 differ on 2·0.3·0.7 = 42% of elements.
	for name, d := range map[string]int{"seed": diffSeed, "site": diffSite} {
		if f := float64(d) / n; math.Abs(f-0.42) > 0.01 {
			t.Errorf("another %s changes %.3f of the mask, want 0.42", name, f)
		}
	}
}

func TestDropoutGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	args := []gcArg{{"x", randDense(rng, 3, 5, 4), true}, {"seed", int64Dense([]int64{11}, 1), false}}
	w := numGradCheck(t, buildDropout(0.25, 5), args, 1e-6)
	t.Logf("Dropout: worst rel err %.2g", w)
	checkF32Agrees(t, buildDropout(0.25, 5), args, 1e-6)
	checkF32GradAgrees(t, buildDropout(0.25, 5), args, 1e-6)
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 2, G.WithShape(2, 2), G.WithName("x"))
	seed := G.NewTensor(g, tensor.Int64, 1, G.WithShape(1), G.WithName("seed"))
	for _, p := range []float64{-0.1, 1, math.NaN()} {
		if _, err := Dropout(x, seed, p, 0); err == nil {
			t.Errorf("p=%v accepted", p)
		}
	}
	if _, err := Dropout(x, x, 0.1, 0); err == nil {
		t.Error("a float seed accepted")
	}
}
