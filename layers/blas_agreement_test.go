//go:build openblas

package layers

import (
	"testing"

	"github.com/tvlt-go/tvlt/graph/gemm"
	"github.com/tvlt-go/tvlt/internal/golden"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestPureGoAndOpenBLASAgree runs the golden forward pass and the
// pretraining losses and gradients once on OpenBLAS and once on the
// pure-Go GEMM (float32): the two builds must agree to 1e-5.
func TestPureGoAndOpenBLASAgree(t *testing.T) {
	dir := golden.Dir(t)
	in := golden.Load(t, dir, "inputs.npz")
	rec := golden.Load(t, dir, "pretraining.npz")
	defer G.Use(G.WhichBLAS())
	runWith := func(b G.BLAS) (map[string][]float64, map[string][]float64) {
		G.Use(b)
		base := goldenModel(t, dir, "config.json", "weights.safetensors", Base, tensor.Float32)
		_, res := run(t, base, &Batch{PixelValues: in["pixel_values"], PixelMask: in["pixel_mask"],
			AudioValues: in["audio_values"], AudioMask: in["audio_mask"]}, Options{})
		pre := goldenModel(t, dir, "config.json", "weights.safetensors", Pretraining, tensor.Float32)
		p, pres := run(t, pre, pretrainingBatch(t, in, rec), Options{Train: true})
		outs := map[string][]float64{}
		for k, v := range res.Outputs {
			outs[k] = golden.Float64s(v)
		}
		for k, v := range pres.Outputs {
			outs["pretraining/"+k] = golden.Float64s(v)
		}
		grads, err := p.Grads()
		if err != nil {
			t.Fatal(err)
		}
		gs := map[string][]float64{}
		for k, v := range grads {
			gs[k] = golden.Float64s(v)
		}
		return outs, gs
	}
	goOut, goGrads := runWith(gemm.Implementation{})
	obOut, obGrads := runWith(netlib.Implementation{})
	for _, set := range []struct {
		name     string
		got, ref map[string][]float64
	}{{"output", goOut, obOut}, {"gradient", goGrads, obGrads}} {
		for k, ref := range set.ref {
			got := set.got[k]
			if len(got) != len(ref) {
				t.Fatalf("%s %s: %d values, OpenBLAS gives %d", set.name, k, len(got), len(ref))
			}
			for i := range ref {
				if d := got[i] - ref[i]; d > 1e-5 || d < -1e-5 {
					t.Errorf("%s %s[%d]: pure Go %g, OpenBLAS %g", set.name, k, i, got[i], ref[i])
					break
				}
			}
		}
	}
}
