package graph

import (
	"math"
	"testing"
)

func TestExp32(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 2000000; i++ {
		x := float32(-87.3 + 176.0*float64(i)/2000000)
		want := math.Exp(float64(x))
		got := float64(exp32(x))
		if want > math.MaxFloat32 {
			continue
		}
		rel := math.Abs(got-want) / want
		worst = math.Max(worst, rel)
	}
	if worst > 3e-7 {
		t.Fatalf("exp32 worst relative error %.3g > 3e-7", worst)
	}
	t.Logf("exp32 worst relative error %.3g", worst)
	for _, c := range []struct{ x, want float32 }{{-3.4028235e38, 0}, {-100, 0}, {0, 1}} {
		if got := exp32(c.x); got != c.want {
			t.Errorf("exp32(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if got := exp32(float32(math.NaN())); got == got {
		t.Errorf("exp32(NaN) = %v", got)
	}
	if got := exp32(100); !math.IsInf(float64(got), 1) {
		t.Errorf("exp32(100) = %v, want +Inf", got)
	}
}

func TestErf32(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 1200000; i++ {
		x := -6 + 12*float64(i)/1200000
		got := float64(erf32(float32(x)))
		want := math.Erf(float64(float32(x)))
		worst = math.Max(worst, math.Abs(got-want))
	}
	if worst > 2e-7 {
		t.Fatalf("erf32 worst absolute error %.3g > 2e-7", worst)
	}
	t.Logf("erf32 worst absolute error %.3g", worst)
}
