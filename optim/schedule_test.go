package optim

import (
	"math"
	"strings"
	"testing"
)

func TestSchedules(t *testing.T) {
	cos := WarmupCosine{Peak: 1e-3, Warmup: 10, Total: 110}
	cosMin := WarmupCosine{Peak: 1e-3, Warmup: 10, Total: 110, Min: 1e-4}
	lin := WarmupLinear{Peak: 1e-3, Warmup: 10, Total: 110}
	linMin := WarmupLinear{Peak: 1e-3, Warmup: 10, Total: 110, Min: 1e-4}
	cases := []struct {
		name  string
		s     Schedule
		steps []int
		want  []float64
	}{
		{"constant", Constant{Value: 3e-4}, []int{0, 1, 1000}, []float64{3e-4, 3e-4, 3e-4}},
		{"constant warmup", Constant{Value: 3e-4, Warmup: 4}, []int{0, 1, 3, 4, 99}, []float64{0, 7.5e-5, 2.25e-4, 3e-4, 3e-4}},
		// warmup: step/10*peak; decay: progress = (step-10)/100,
		// 0.5*(1+cos(pi/4)) = 0.8535533905932737, 0.5*(1+cos(3pi/4)) = 0.14644660940672624.
		{"cosine", cos, []int{0, 1, 5, 9, 10, 35, 60, 85, 109, 110, 111, 500},
			[]float64{0, 1e-4, 5e-4, 9e-4, 1e-3, 8.535533905932737e-4, 5e-4, 1.4644660940672624e-4,
				1e-3 * 0.5 * (1 + math.Cos(math.Pi*0.99)), 0, 0, 0}},
		{"cosine min", cosMin, []int{0, 5, 10, 35, 60, 110, 1000},
			[]float64{0, 5e-4, 1e-3, 1e-4 + 9e-4*0.8535533905932737, 5.5e-4, 1e-4, 1e-4}},
		{"linear", lin, []int{0, 3, 10, 35, 60, 109, 110, 200}, []float64{0, 3e-4, 1e-3, 7.5e-4, 5e-4, 1e-5, 0, 0}},
		{"linear min", linMin, []int{10, 60, 110, 111}, []float64{1e-3, 5.5e-4, 1e-4, 1e-4}},
		// No warmup: the first update already uses the peak.
		{"cosine no warmup", WarmupCosine{Peak: 2, Total: 4}, []int{0, 1, 2, 3, 4}, []float64{2, 1 + math.Sqrt(0.5), 1, 1 - math.Sqrt(0.5), 0}},
		{"linear no warmup", WarmupLinear{Peak: 2, Total: 4}, []int{0, 1, 2, 3, 4}, []float64{2, 1.5, 1, 0.5, 0}},
		// Total == Warmup: linear is at its minimum from Total on (as HF's),
		// cosine still reaches the peak at the boundary (as HF's).
		{"linear total=warmup", WarmupLinear{Peak: 1, Warmup: 2, Total: 2, Min: 0.1}, []int{0, 1, 2, 3}, []float64{0, 0.5, 0.1, 0.1}},
		{"cosine total=warmup", WarmupCosine{Peak: 1, Warmup: 2, Total: 2, Min: 0.1}, []int{0, 1, 2, 3}, []float64{0, 0.5, 1, 0.1}},
		{"negative step", WarmupLinear{Peak: 1, Warmup: 2, Total: 4}, []int{-3}, []float64{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i, step := range tc.steps {
				got := tc.s.LR(step)
				if math.Abs(got-tc.want[i]) > 1e-15*math.Max(1, tc.want[i]) {
					t.Errorf("LR(%d) = %.17g, want %.17g", step, got, tc.want[i])
				}
			}
		})
	}
}

// TestSchedulesMatchHF checks Min=0 against HF's lambda formulas, written out
// literally and multiplied by the base rate as LambdaLR does, bit for bit.
func TestSchedulesMatchHF(t *testing.T) {
	for _, c := range []struct {
		peak        float64
		warm, total int
	}{{1e-3, 10, 110}, {5e-4, 0, 37}, {3e-4, 7, 7}, {1.5e-4, 1000, 100000}} {
		hfCos := func(step int) float64 {
			if step < c.warm {
				return float64(step) / float64(max(1, c.warm))
			}
			p := float64(step-c.warm) / float64(max(1, c.total-c.warm))
			return math.Max(0, 0.5*(1+math.Cos(math.Pi*0.5*2*p)))
		}
		hfLin := func(step int) float64 {
			if step < c.warm {
				return float64(step) / float64(max(1, c.warm))
			}
			return math.Max(0, float64(c.total-step)/float64(max(1, c.total-c.warm)))
		}
		cs := WarmupCosine{Peak: c.peak, Warmup: c.warm, Total: c.total}
		ls := WarmupLinear{Peak: c.peak, Warmup: c.warm, Total: c.total}
		for step := 0; step <= c.total; step += 1 + c.total/500 {
			if got, want := cs.LR(step), c.peak*hfCos(step); math.Abs(got-want) > 1e-18 {
				t.Errorf("cosine %+v step %d: %.17g, HF %.17g", c, step, got, want)
			}
			if got, want := ls.LR(step), c.peak*hfLin(step); math.Abs(got-want) > 1e-18 {
				t.Errorf("linear %+v step %d: %.17g, HF %.17g", c, step, got, want)
			}
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"ok cosine", WarmupCosine{Peak: 1e-3, Warmup: 10, Total: 100, Min: 1e-5}.Validate(), ""},
		{"ok constant", Constant{Value: 1e-3, Warmup: 5}.Validate(), ""},
		{"total<warmup", WarmupLinear{Peak: 1, Warmup: 10, Total: 5}.Validate(), "total steps 5 < warmup 10"},
		{"min>peak", WarmupCosine{Peak: 1, Total: 5, Min: 2}.Validate(), "minimum 2"},
		{"neg warmup", Constant{Value: 1, Warmup: -1}.Validate(), "negative warmup"},
		{"nan", WarmupLinear{Peak: math.NaN(), Total: 1}.Validate(), "learning rate NaN"},
	}
	for _, tc := range cases {
		if tc.want == "" {
			if tc.err != nil {
				t.Errorf("%s: %v", tc.name, tc.err)
			}
			continue
		}
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}
