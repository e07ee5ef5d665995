package optim

import (
	"math"
	"testing"
)

func TestClipGradNorm(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	cases := []struct {
		name     string
		grads    [][]float32
		maxNorm  float64
		wantNorm float64
		scale    float64 // expected factor applied to every gradient (1 = untouched)
	}{
		// |(3,4,12)| = 13.
		{"clip to half", [][]float32{{3, 4}, {12}}, 6.5, 13, 6.5 / (13 + 1e-6)},
		// torch's +1e-6 means a norm equal to maxNorm is still scaled, by 13/13.000001.
		{"at the limit", [][]float32{{3, 4}, {12}}, 13, 13, 13 / (13 + 1e-6)},
		{"below the limit", [][]float32{{3, 4}, {12}}, 20, 13, 1},
		// |(1,2,2)| = 3, |(0.5,...)|: (1, -2, 2, 0) -> 3.
		{"signs and zeros", [][]float32{{1, -2}, {2, 0}}, 1, 3, 1 / (3 + 1e-6)},
		{"all zero", [][]float32{{0, 0}, {0}}, 1, 0, 1},
		{"disabled", [][]float32{{3, 4}}, 0, 5, 1},
		{"disabled inf", [][]float32{{3, 4}}, math.Inf(1), 5, 1},
		{"inf grad untouched", [][]float32{{3, inf}, {1}}, 1, math.Inf(1), 1},
		{"nan grad untouched", [][]float32{{3, nan}, {1}}, 1, math.NaN(), 1},
		// float64 accumulation: (2^100)^2 overflows float32 but not float64.
		{"large values", [][]float32{{float32(math.Ldexp(3, 100)), float32(math.Ldexp(4, 100))}}, 1, math.Ldexp(5, 100), 1 / (math.Ldexp(5, 100) + 1e-6)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			params := make([]Param, len(tc.grads))
			orig := make([][]float32, len(tc.grads))
			for i, g := range tc.grads {
				orig[i] = append([]float32(nil), g...)
				params[i] = Param{Name: string(rune('a' + i)), Shape: []int{len(g)}, Value: make([]float32, len(g)), Grad: append([]float32(nil), g...)}
			}
			norm := ClipGradNorm(params, tc.maxNorm)
			if math.IsNaN(tc.wantNorm) {
				if !math.IsNaN(norm) {
					t.Fatalf("norm %v, want NaN", norm)
				}
			} else if math.Abs(norm-tc.wantNorm) > 1e-12*math.Max(1, tc.wantNorm) {
				t.Fatalf("norm %.17g, want %.17g", norm, tc.wantNorm)
			}
			for i, p := range params {
				for j, g := range p.Grad {
					want := orig[i][j]
					if tc.scale != 1 {
						want = orig[i][j] * float32(tc.scale)
					}
					if !(g == want || (math.IsNaN(float64(g)) && math.IsNaN(float64(want)))) {
						t.Errorf("grad %d[%d] = %v, want %v", i, j, g, want)
					}
				}
			}
		})
	}
}

// TestClipGradNormLarge runs the parallel path and checks the clipped norm.
func TestClipGradNormLarge(t *testing.T) {
	params := randomParams(3, []int{300, 500}, []int{70000}, []int{1})
	want := 0.0
	for _, p := range params {
		for _, g := range p.Grad {
			want += float64(g) * float64(g)
		}
	}
	want = math.Sqrt(want)
	norm := ClipGradNorm(params, want/4)
	if math.Abs(norm-want) > 1e-12*want {
		t.Fatalf("norm %.17g, want %.17g", norm, want)
	}
	after := ClipGradNorm(params, 0)
	if math.Abs(after-want/4) > 1e-6*want {
		t.Fatalf("norm after clipping %.9g, want %.9g", after, want/4)
	}
}

// leastSquaresGrad is the gradient of the mean over rows of
// 0.5*(w·x + b - y)^2 with respect to (w, b).
func leastSquaresGrad(w []float32, b float32, xs [][]float32, ys []float32) ([]float32, float32) {
	gw := make([]float32, len(w))
	var gb float32
	for i, x := range xs {
		r := b - ys[i]
		for j := range w {
			r += w[j] * x[j]
		}
		for j := range w {
			gw[j] += r * x[j]
		}
		gb += r
	}
	n := float32(len(xs))
	for j := range gw {
		gw[j] /= n
	}
	return gw, gb / n
}

func TestAccumulatorLeastSquares(t *testing.T) {
	w := []float32{1, -1, 0.5}
	b := float32(0.25)
	xs := [][]float32{{1, 2, 3}, {0, 1, -1}, {2, 0, 1}, {-1, 1, 0}}
	ys := []float32{1, 0, 2, -1}
	// By hand: residuals -0.25, -1.25, 0.75, -0.75.
	wantW := []float32{0.5, -0.625, 0.3125}
	wantB := float32(-0.375)
	fw, fb := leastSquaresGrad(w, b, xs, ys)
	for j := range wantW {
		if fw[j] != wantW[j] {
			t.Fatalf("full-batch grad w = %v, want %v", fw, wantW)
		}
	}
	if fb != wantB {
		t.Fatalf("full-batch grad b = %v, want %v", fb, wantB)
	}
	cases := []struct {
		name  string
		split []int // micro-batch boundaries
	}{
		{"two halves", []int{0, 2, 4}},
		{"3+1", []int{0, 3, 4}},
		{"1+1+1+1", []int{0, 1, 2, 3, 4}},
		{"one", []int{0, 4}},
	}
	params := []Param{
		{Name: "w", Shape: []int{3}, Value: w, Grad: make([]float32, 3)},
		{Name: "b", Shape: []int{1}, Value: []float32{b}, Grad: make([]float32, 1)},
	}
	acc, err := NewAccumulator(params)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k := 0; k+1 < len(tc.split); k++ {
				lo, hi := tc.split[k], tc.split[k+1]
				gw, gb := leastSquaresGrad(w, b, xs[lo:hi], ys[lo:hi])
				copy(params[0].Grad, gw)
				params[1].Grad[0] = gb
				if err := acc.Add(params, hi-lo); err != nil {
					t.Fatal(err)
				}
			}
			if acc.Samples() != 4 {
				t.Fatalf("Samples %d, want 4", acc.Samples())
			}
			if err := acc.Write(params); err != nil {
				t.Fatal(err)
			}
			for j := range wantW {
				if math.Abs(float64(params[0].Grad[j]-wantW[j])) > 1e-7 {
					t.Errorf("grad w = %v, want %v", params[0].Grad, wantW)
					break
				}
			}
			if math.Abs(float64(params[1].Grad[0]-wantB)) > 1e-7 {
				t.Errorf("grad b = %v, want %v", params[1].Grad[0], wantB)
			}
			if acc.Samples() != 0 {
				t.Errorf("Samples after Write %d, want 0", acc.Samples())
			}
		})
	}
	if err := acc.Write(params); err == nil {
		t.Error("Write with nothing accumulated succeeded")
	}
	if err := acc.Add(params, 0); err == nil {
		t.Error("Add of 0 samples succeeded")
	}
	if err := acc.Add(params[:1], 1); err == nil {
		t.Error("Add with a missing parameter succeeded")
	}
}

// TestAccumulatorLarge exercises the parallel path: two half batches of
// random gradients average to their mean, and buffers are zero afterwards.
func TestAccumulatorLarge(t *testing.T) {
	a := randomParams(11, []int{256, 300}, []int{50000})
	b := randomParams(12, []int{256, 300}, []int{50000})
	acc, err := NewAccumulator(a)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		if err := acc.Add(a, 8); err != nil {
			t.Fatal(err)
		}
		if err := acc.Add(b, 8); err != nil {
			t.Fatal(err)
		}
		out := randomParams(13, []int{256, 300}, []int{50000})
		if err := acc.Write(out); err != nil {
			t.Fatal(err)
		}
		for i := range out {
			for j, g := range out[i].Grad {
				want := (float64(a[i].Grad[j]) + float64(b[i].Grad[j])) / 2
				if math.Abs(float64(g)-want) > 1e-6*math.Max(1, math.Abs(want)) {
					t.Fatalf("round %d: %s[%d] = %v, want %v", round, out[i].Name, j, g, want)
				}
			}
		}
	}
}
