package optim

import (
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/internal/golden"
)

// goldenParams loads the golden starting weights with the golden gradients,
// in sorted name order; the names come from the files.
func goldenParams(t *testing.T) ([]Param, map[string][]float32) {
	t.Helper()
	dir := golden.Dir(t)
	weights, _, err := checkpoints.ReadSafetensors(filepath.Join(dir, "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	grads := golden.Load(t, dir, "pretraining_grads.npz")
	after := golden.Load(t, dir, "adamw_step.npz")
	names := make([]string, 0, len(weights))
	for name := range weights {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatal("no tensors in weights.safetensors")
	}
	params := make([]Param, 0, len(names))
	want := make(map[string][]float32, len(names))
	for _, name := range names {
		w := weights[name]
		g, ok := grads["grad/"+name]
		if !ok {
			t.Fatalf("pretraining_grads.npz has no grad/%s", name)
		}
		a, ok := after["param/"+name]
		if !ok {
			t.Fatalf("adamw_step.npz has no param/%s", name)
		}
		if !slices.Equal(g.Shape(), w.Shape()) || !slices.Equal(a.Shape(), w.Shape()) {
			t.Fatalf("%s: shapes weight %v grad %v after %v", name, w.Shape(), g.Shape(), a.Shape())
		}
		params = append(params, Param{
			Name:  name,
			Shape: append([]int(nil), w.Shape()...),
			Value: append([]float32(nil), w.Data().([]float32)...),
			Grad:  append([]float32(nil), g.Data().([]float32)...),
		})
		want[name] = a.Data().([]float32)
	}
	if len(after) != len(names) {
		t.Fatalf("adamw_step.npz has %d arrays, weights.safetensors %d tensors", len(after), len(names))
	}
	return params, want
}

// decayAll puts every parameter in GroupDecay, which is what
// torch.optim.AdamW does with a single parameter group (and what the golden
// adamw_step.npz was produced with).
func decayAll(name string, shape []int) string { return GroupDecay }

func TestAdamWGolden(t *testing.T) {
	params, want := goldenParams(t)
	cfg := AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, GroupOf: decayAll}
	opt, err := NewAdamW(params, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := opt.Step(1e-3); err != nil {
		t.Fatal(err)
	}
	worst, exact, total := 0.0, 0, 0
	for _, p := range params {
		w := want[p.Name]
		pw := 0.0
		for i := range p.Value {
			d := math.Abs(float64(p.Value[i]) - float64(w[i]))
			if d > pw {
				pw = d
			}
			if p.Value[i] == w[i] {
				exact++
			}
			total++
		}
		if pw > 1e-6 {
			t.Errorf("%s: max abs error %.3g > 1e-6", p.Name, pw)
		}
		worst = math.Max(worst, pw)
	}
	t.Logf("AdamW golden: %d parameters in %d tensors, max abs error %.3g, %d/%d bit-identical", total, len(params), worst, exact, total)
	// The kernel mirrors torch's float32 operation order, so every element
	// should match exactly; a change that breaks this changes the numerics.
	if exact != total {
		t.Errorf("%d of %d elements differ from torch's float32 result", total-exact, total)
	}
	if opt.StepCount() != 1 {
		t.Errorf("StepCount %d, want 1", opt.StepCount())
	}
}

// TestAdamWHandComputed checks two steps on single elements against values
// worked out by hand from torch's formula (in float64, so with float32
// tolerance).
func TestAdamWHandComputed(t *testing.T) {
	type stepIn struct{ lr, g float64 }
	cases := []struct {
		name  string
		p0    float64
		wd    float64
		steps []stepIn
		want  []float64 // p after each step
	}{
		// t=1: p=1*(1-1e-3*0.1)=0.9999; m=0.05; v=0.00025*... see below.
		// m1=(1-0.9)*0.5=0.05, v1=(1-0.999)*0.25=2.5e-4,
		// mhat=0.05/0.1=0.5, vhat=2.5e-4/0.001=0.25, update=lr*0.5/(0.5+1e-8).
		{"decay then adam", 1, 0.1, []stepIn{{1e-3, 0.5}}, []float64{0.9999 - 1e-3*0.5/(0.5+1e-8)}},
		// Two steps with g=+1 then g=-1, lr 0.01, no decay.
		// t=1: m=0.1, v=0.001, step=0.01/0.1*0.1/(sqrt(0.001)/sqrt(0.001)+1e-8)=0.01/(1+1e-8).
		// t=2: m=0.09-0.1=-0.01, v=0.000999+0.001=0.001999,
		//      bc1=0.19, bc2=1-0.998001=0.001999, denom=sqrt(0.001999)/sqrt(0.001999)+1e-8=1+1e-8,
		//      p -= 0.01/0.19*(-0.01)/(1+1e-8).
		{"sign flip", 2, 0, []stepIn{{0.01, 1}, {0.01, -1}}, []float64{
			2 - 0.01/(1+1e-8),
			2 - 0.01/(1+1e-8) + 0.01/0.19*0.01/(1+1e-8),
		}},
		// Zero gradient: only the decay acts (m=v=0 gives 0/(0+eps)=0).
		{"zero grad decay only", -3, 0.5, []stepIn{{0.1, 0}, {0.2, 0}}, []float64{-3 * 0.95, -3 * 0.95 * 0.9}},
		// Zero learning rate changes nothing but still counts the step.
		{"lr zero", 0.25, 0.01, []stepIn{{0, 3}}, []float64{0.25}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := []Param{{Name: "w", Shape: []int{1, 1}, Value: []float32{float32(tc.p0)}, Grad: []float32{0}}}
			opt, err := NewAdamW(p, AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: tc.wd, GroupOf: decayAll})
			if err != nil {
				t.Fatal(err)
			}
			for k, s := range tc.steps {
				p[0].Grad[0] = float32(s.g)
				if err := opt.Step(s.lr); err != nil {
					t.Fatal(err)
				}
				got := float64(p[0].Value[0])
				if math.Abs(got-tc.want[k]) > 2e-7*math.Max(1, math.Abs(tc.want[k])) {
					t.Errorf("after step %d: p=%.9g want %.9g", k+1, got, tc.want[k])
				}
			}
		})
	}
}

func TestAdamWGroups(t *testing.T) {
	mk := func(name string, shape ...int) Param {
		n := numel(shape)
		v, g := make([]float32, n), make([]float32, n)
		for i := range v {
			v[i], g[i] = 1, 0
		}
		return Param{Name: name, Shape: shape, Value: v, Grad: g}
	}
	params := []Param{
		mk("tvlt.encoder.layer.0.attention.attention.query.weight", 2, 2),
		mk("tvlt.encoder.layer.0.attention.attention.query.bias", 2),
		mk("tvlt.layernorm.weight", 2),
		mk("tvlt.cls_embedding", 1, 1, 2),
		mk("tvlt.pixel_embeddings.pos_embed_v", 1, 2, 2),
		mk("pixel_mask_token", 1, 1, 2),
		mk("decoder_audio_pos_embed", 1, 2, 2),
		mk("tvlt.pixel_embeddings.patch_embeddings.projection.weight", 2, 1, 1, 1),
		mk("matching_head.fc.bias", 1),
		mk("classifier.3.weight", 3, 2),
	}
	wantGroup := []string{GroupDecay, GroupNoDecay, GroupNoDecay, GroupNoDecay, GroupNoDecay, GroupNoDecay, GroupNoDecay, GroupDecay, GroupNoDecay, GroupDecay}
	// Zero gradients isolate the decay: p = 1 - lr*scale*wd.
	cases := []struct {
		name    string
		groupOf GroupFunc
		groups  map[string]Group
		want    []float32 // value of each parameter after one step, lr 0.1, wd 0.5
	}{
		{"default", nil, nil, []float32{0.95, 1, 1, 1, 1, 1, 1, 0.95, 1, 0.95}},
		{"decay all", decayAll, nil, []float32{0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95}},
		{"overrides", nil, map[string]Group{GroupDecay: {LRScale: 2, WeightDecay: 0.25}, GroupNoDecay: {LRScale: 1, WeightDecay: 0.1}},
			[]float32{0.95, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.95, 0.99, 0.95}},
		{"custom head group", func(name string, shape []int) string {
			if strings.HasPrefix(name, "classifier.") {
				return "head"
			}
			return DefaultGroups(name, shape)
		}, map[string]Group{"head": {LRScale: 10, WeightDecay: 0.2}},
			[]float32{0.95, 1, 1, 1, 1, 1, 1, 0.95, 1, 0.8}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := make([]Param, len(params))
			for i, p := range params {
				ps[i] = mk(p.Name, p.Shape...)
			}
			opt, err := NewAdamW(ps, AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.5, GroupOf: tc.groupOf, Groups: tc.groups})
			if err != nil {
				t.Fatal(err)
			}
			if tc.groupOf == nil {
				for i, p := range ps {
					if g := opt.GroupOf(p.Name); g != wantGroup[i] {
						t.Errorf("%s: group %q want %q", p.Name, g, wantGroup[i])
					}
				}
			}
			if err := opt.Step(0.1); err != nil {
				t.Fatal(err)
			}
			for i, p := range ps {
				for _, x := range p.Value {
					if math.Abs(float64(x-tc.want[i])) > 1e-7 {
						t.Errorf("%s: %v want %v", p.Name, x, tc.want[i])
						break
					}
				}
			}
		})
	}
}

func TestAdamWErrors(t *testing.T) {
	ok := AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	good := func() []Param {
		return []Param{{Name: "a", Shape: []int{2}, Value: make([]float32, 2), Grad: make([]float32, 2)}}
	}
	cases := []struct {
		name   string
		params []Param
		cfg    AdamWConfig
		want   string
	}{
		{"beta1", good(), AdamWConfig{Beta1: 1, Beta2: 0.999}, "beta1"},
		{"beta2", good(), AdamWConfig{Beta1: 0.9, Beta2: -0.1}, "beta2"},
		{"eps", good(), AdamWConfig{Beta1: 0.9, Beta2: 0.9, Eps: math.NaN()}, "eps"},
		{"wd", good(), AdamWConfig{Beta1: 0.9, Beta2: 0.9, WeightDecay: -1}, "weight decay"},
		{"group", good(), AdamWConfig{Beta1: 0.9, Beta2: 0.9, Groups: map[string]Group{"x": {LRScale: -1}}}, `group "x"`},
		{"value len", []Param{{Name: "a", Shape: []int{3}, Value: make([]float32, 2), Grad: make([]float32, 3)}}, ok, "a: value has 2 elements"},
		{"grad len", []Param{{Name: "a", Shape: []int{2}, Value: make([]float32, 2), Grad: make([]float32, 3)}}, ok, "a: gradient has 3"},
		{"dup", append(good(), good()...), ok, "duplicate"},
		{"noname", []Param{{Shape: []int{1}, Value: make([]float32, 1), Grad: make([]float32, 1)}}, ok, "no name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewAdamW(tc.params, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	opt, err := NewAdamW(good(), ok)
	if err != nil {
		t.Fatal(err)
	}
	for _, lr := range []float64{-1, math.NaN(), math.Inf(1)} {
		if err := opt.Step(lr); err == nil {
			t.Errorf("Step(%v) accepted", lr)
		}
	}
	if opt.StepCount() != 0 {
		t.Errorf("rejected steps counted: %d", opt.StepCount())
	}
}
