package optim

import (
	"fmt"
	"maps"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// randomParams builds deterministic parameters with N(0, 0.1) values and
// N(0, 1) gradients.
func randomParams(seed int64, shapes ...[]int) []Param {
	rng := rand.New(rand.NewSource(seed))
	params := make([]Param, len(shapes))
	for i, s := range shapes {
		n := numel(s)
		p := Param{Name: fmt.Sprintf("layer.%d.weight", i), Shape: s, Value: make([]float32, n), Grad: make([]float32, n)}
		if len(s) == 1 {
			p.Name = fmt.Sprintf("layer.%d.bias", i)
		}
		for j := range p.Value {
			p.Value[j] = float32(rng.NormFloat64() * 0.1)
			p.Grad[j] = float32(rng.NormFloat64())
		}
		params[i] = p
	}
	return params
}

// setGrads fills deterministic gradients for step k that depend on the
// current parameters (like a real loss would).
func setGrads(params []Param, k int) {
	for i, p := range params {
		for j := range p.Grad {
			p.Grad[j] = p.Value[j] + float32(math.Sin(float64(k*7919+i*104729+j)))*0.05
		}
	}
}

func cloneParams(params []Param) []Param {
	out := make([]Param, len(params))
	for i, p := range params {
		out[i] = Param{Name: p.Name, Shape: p.Shape, Value: append([]float32(nil), p.Value...), Grad: append([]float32(nil), p.Grad...)}
	}
	return out
}

func TestStateRoundTripBitIdentical(t *testing.T) {
	// Large enough (> serialBelow) to take the parallel path.
	base := randomParams(1, []int{64, 1000}, []int{1000}, []int{3, 7, 5}, []int{1, 1, 48}, []int{20000})
	cfg := DefaultAdamWConfig()
	sched := WarmupCosine{Peak: 1e-2, Warmup: 3, Total: 12, Min: 1e-4}
	const k = 6
	run := func(opt *AdamW, params []Param, from, to int) {
		t.Helper()
		for s := from; s < to; s++ {
			setGrads(params, s)
			ClipGradNorm(params, 50)
			if err := opt.Step(sched.LR(opt.StepCount())); err != nil {
				t.Fatal(err)
			}
		}
	}
	full := cloneParams(base)
	optFull, err := NewAdamW(full, cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(optFull, full, 0, 2*k)

	half := cloneParams(base)
	opt1, err := NewAdamW(half, cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(opt1, half, 0, k)
	st := opt1.State()
	// Simulate a checkpoint file: copy everything out, drop the optimizer.
	saved := State{Step: st.Step, Tensors: map[string][]float32{}, Shapes: map[string][]int{}}
	for key, v := range st.Tensors {
		saved.Tensors[key] = append([]float32(nil), v...)
		saved.Shapes[key] = append([]int(nil), st.Shapes[key]...)
	}
	if len(saved.Tensors) != 2*len(base) || saved.Step != k {
		t.Fatalf("state has %d tensors and step %d, want %d and %d", len(saved.Tensors), saved.Step, 2*len(base), k)
	}
	if _, ok := saved.Tensors["exp_avg_sq/layer.4.bias"]; !ok {
		t.Fatalf("state keys %v lack exp_avg_sq/layer.4.bias", slices.Sorted(maps.Keys(saved.Tensors)))
	}
	resumed := cloneParams(half)
	opt2, err := NewAdamW(resumed, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := opt2.LoadState(saved); err != nil {
		t.Fatal(err)
	}
	if opt2.StepCount() != k {
		t.Fatalf("StepCount after LoadState %d, want %d", opt2.StepCount(), k)
	}
	run(opt2, resumed, k, 2*k)
	for i := range full {
		for j := range full[i].Value {
			if math.Float32bits(full[i].Value[j]) != math.Float32bits(resumed[i].Value[j]) {
				t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", full[i].Name, j, resumed[i].Value[j], full[i].Value[j])
			}
		}
	}
	// And the state itself matches.
	a, b := optFull.State(), opt2.State()
	for key, v := range a.Tensors {
		for j := range v {
			if math.Float32bits(v[j]) != math.Float32bits(b.Tensors[key][j]) {
				t.Fatalf("%s[%d] differs after resume", key, j)
			}
		}
	}
	// Sanity: the parameters did move.
	if full[0].Value[0] == base[0].Value[0] {
		t.Fatal("parameters did not change")
	}
}

func TestLoadStateErrors(t *testing.T) {
	params := randomParams(2, []int{2, 3}, []int{3})
	opt, err := NewAdamW(params, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := opt.Step(1e-3); err != nil {
		t.Fatal(err)
	}
	good := func() State {
		s := opt.State()
		c := State{Step: s.Step, Tensors: map[string][]float32{}, Shapes: map[string][]int{}}
		for k, v := range s.Tensors {
			c.Tensors[k] = append([]float32(nil), v...)
			c.Shapes[k] = s.Shapes[k]
		}
		return c
	}
	cases := []struct {
		name   string
		mutate func(*State)
		want   string
	}{
		{"missing", func(s *State) { delete(s.Tensors, "exp_avg/layer.1.bias") }, `missing "exp_avg/layer.1.bias"`},
		{"length", func(s *State) { s.Tensors["exp_avg_sq/layer.0.weight"] = make([]float32, 5) }, `"exp_avg_sq/layer.0.weight" has 5 elements, parameter [2 3] needs 6`},
		{"shape", func(s *State) { s.Shapes["exp_avg/layer.0.weight"] = []int{3, 2} }, `"exp_avg/layer.0.weight" has shape [3 2], parameter has [2 3]`},
		{"extra", func(s *State) { s.Tensors["exp_avg/other"] = []float32{1} }, `1 unexpected entries (exp_avg/other)`},
		{"step", func(s *State) { s.Step = -1 }, "negative step"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fresh, err := NewAdamW(cloneParams(params), DefaultAdamWConfig())
			if err != nil {
				t.Fatal(err)
			}
			s := good()
			tc.mutate(&s)
			err = fresh.LoadState(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if fresh.StepCount() != 0 || fresh.State().Tensors["exp_avg/layer.0.weight"][0] != 0 {
				t.Fatal("failed LoadState changed the optimizer")
			}
		})
	}
	// Scalars stored as () load into shape (1,).
	one, err := NewAdamW([]Param{{Name: "s", Shape: []int{1}, Value: []float32{1}, Grad: []float32{1}}}, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	err = one.LoadState(State{Step: 3, Tensors: map[string][]float32{"exp_avg/s": {0.5}, "exp_avg_sq/s": {0.25}}, Shapes: map[string][]int{"exp_avg/s": {}, "exp_avg_sq/s": {}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := one.State(); got.Step != 3 || got.Tensors["exp_avg/s"][0] != 0.5 || got.Tensors["exp_avg_sq/s"][0] != 0.25 {
		t.Fatalf("loaded state %+v", got)
	}
}

func TestBind(t *testing.T) {
	params := randomParams(5, []int{4, 4}, []int{4})
	opt, err := NewAdamW(params, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	moved := cloneParams(params)
	if err := opt.Bind(moved); err != nil {
		t.Fatal(err)
	}
	before := params[0].Value[0]
	if err := opt.Step(0.1); err != nil {
		t.Fatal(err)
	}
	if params[0].Value[0] != before || moved[0].Value[0] == before {
		t.Fatal("Step did not update the newly bound slices only")
	}
	bad := cloneParams(params)
	bad[1].Shape = []int{2, 2}
	if err := opt.Bind(bad); err == nil || !strings.Contains(err.Error(), "layer.1.bias [2 2]") {
		t.Fatalf("Bind with a wrong shape: %v", err)
	}
}

func TestStepAllocatesNothing(t *testing.T) {
	params := randomParams(4, []int{512, 512}, []int{512})
	opt, err := NewAdamW(params, DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := opt.Step(1e-4); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Step allocates %.1f times per call", allocs)
	}
	acc, err := NewAccumulator(params)
	if err != nil {
		t.Fatal(err)
	}
	allocs = testing.AllocsPerRun(20, func() {
		if err := acc.Add(params, 2); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Accumulator.Add allocates %.1f times per call", allocs)
	}
}
