package layers

import (
	"reflect"
	"testing"

	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/internal/golden"
	"gorgonia.org/tensor"
)

// TestRewindMatchesFreshMachine runs one compiled program over alternating
// batches, reusing its registers between runs (rewind), and checks every
// output and gradient against a fresh machine on the same batch, bit for
// bit, and that no parameter is ever written.
func TestRewindMatchesFreshMachine(t *testing.T) {
	dir := golden.Dir(t)
	in := golden.Load(t, dir, "inputs.npz")
	rec := golden.Load(t, dir, "pretraining.npz")
	// scaled returns the batch with its pixels changed on odd steps.
	scaled := func(b *Batch, step int) *Batch {
		if step%2 == 0 {
			return b
		}
		c := *b
		v := graph.Float64s(b.PixelValues)
		for i := range v {
			v[i] = v[i]*0.5 + 0.1
		}
		c.PixelValues = newDense(b.PixelValues.Dtype(), v, b.PixelValues.Shape()...)
		return &c
	}
	B := in["pixel_values"].Shape()[0]                                              // the set's batch size
	labels := tensor.New(tensor.WithShape(B), tensor.WithBacking(make([]int64, B))) // valid for any num_labels
	for _, tc := range []struct {
		name   string
		kind   Kind
		config string
		opts   Options
		batch  func() *Batch
	}{
		{"pretraining", Pretraining, "config.json", Options{Train: true}, func() *Batch { return pretrainingBatch(t, in, rec) }},
		{"classification", Classification, "config_classification.json", Options{Train: true}, func() *Batch {
			return &Batch{PixelValues: in["pixel_values"], PixelMask: in["pixel_mask"], AudioValues: in["audio_values"], AudioMask: in["audio_mask"], Labels: labels}
		}},
		{"inference", Classification, "config_classification.json", Options{}, func() *Batch {
			return &Batch{PixelValues: in["pixel_values"], PixelMask: in["pixel_mask"], AudioValues: in["audio_values"], AudioMask: in["audio_mask"]}
		}},
	} {
		for _, dt := range dtypes {
			t.Run(tc.name+"/"+dt.String(), func(t *testing.T) {
				weights := "weights.safetensors"
				if tc.kind == Classification {
					weights = "weights_classification.safetensors"
				}
				m := goldenModel(t, dir, tc.config, weights, tc.kind, dt)
				if m.Config.LossType != "classification" && tc.batch().Labels != nil {
					t.Fatalf("%s: want a classification config", tc.config)
				}
				params := map[string][]float64{}
				for _, n := range m.Params.Names() {
					params[n] = append([]float64(nil), graph.Float64s(m.Params.Value(n))...)
				}
				snapshot := func(p *Program, res *Result) map[string][]float64 {
					out := map[string][]float64{}
					for k, v := range res.Outputs {
						out[k] = append([]float64(nil), graph.Float64s(v)...)
					}
					if tc.opts.Train {
						grads, err := p.Grads()
						if err != nil {
							t.Fatal(err)
						}
						for k, v := range grads {
							out["grad/"+k] = append([]float64(nil), graph.Float64s(v)...)
						}
					}
					return out
				}
				fresh := map[int]map[string][]float64{}
				for step := 0; step < 2; step++ {
					p, res := run(t, m, scaled(tc.batch(), step), tc.opts)
					fresh[step] = snapshot(p, res)
					p.Close()
				}
				p, err := m.Compile(tc.batch(), tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				if !rewind(p.vm) {
					t.Fatal("rewind cannot reach the TapeMachine's program counter: every run would reallocate its buffers")
				}
				for step := 0; step < 5; step++ {
					res, err := p.Run(scaled(tc.batch(), step))
					if err != nil {
						t.Fatal(err)
					}
					if got := snapshot(p, res); !reflect.DeepEqual(got, fresh[step%2]) {
						for k := range got {
							if !reflect.DeepEqual(got[k], fresh[step%2][k]) {
								t.Errorf("run %d: %s differs from a fresh machine", step, k)
							}
						}
					}
					for _, n := range m.Params.Names() {
						if !reflect.DeepEqual(params[n], graph.Float64s(m.Params.Value(n))) {
							t.Fatalf("run %d wrote into parameter %s", step, n)
						}
					}
				}
			})
		}
	}
}
