package layers

import (
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/internal/golden"
	"gorgonia.org/tensor"
)

// refLastCLS recomputes the last layer's CLS attention in float64 from that
// layer's input x (B, S, D): LayerNorm (layernorm_before), query/key
// projections, per-head softmax(q·kᵀ/sqrt(dh) + mask), mean over heads.
func refLastCLS(m *Model, x []float64, pixelMask, audioMask []float64, b, s int) []float64 {
	c := m.Config
	d, heads := c.HiddenSize, c.NumAttentionHeads
	dh := d / heads
	pre := m.Kind.EncoderPrefix() + "encoder.layer." + strconv.Itoa(c.NumHiddenLayers-1) + "."
	get := func(name string) []float64 {
		if !m.Params.Has(name) {
			return nil
		}
		return graph.Float64s(m.Params.Value(name))
	}
	g, beta := get(pre+"layernorm_before.weight"), get(pre+"layernorm_before.bias")
	wq, bq := get(pre+"attention.attention.query.weight"), get(pre+"attention.attention.query.bias")
	wk, bk := get(pre+"attention.attention.key.weight"), get(pre+"attention.attention.key.bias")
	lp, la := len(pixelMask)/b, len(audioMask)/b
	out := make([]float64, b*s)
	for bi := 0; bi < b; bi++ {
		q := make([]float64, s*d)
		k := make([]float64, s*d)
		for i := 0; i < s; i++ {
			row := x[(bi*s+i)*d : (bi*s+i+1)*d]
			var mean, v float64
			for _, e := range row {
				mean += e
			}
			mean /= float64(d)
			for _, e := range row {
				v += (e - mean) * (e - mean)
			}
			v /= float64(d)
			a := make([]float64, d)
			for j, e := range row {
				a[j] = (e-mean)/math.Sqrt(v+c.LayerNormEps)*g[j] + beta[j]
			}
			for o := 0; o < d; o++ {
				var sq, sk float64
				if bq != nil {
					sq, sk = bq[o], bk[o]
				}
				for j := 0; j < d; j++ {
					sq += wq[o*d+j] * a[j]
					sk += wk[o*d+j] * a[j]
				}
				q[i*d+o], k[i*d+o] = sq, sk
			}
		}
		bias := make([]float64, s)
		maskOf := func(v float64) float64 { return (1 - v) * -3.4028234663852886e38 }
		bias[0] = maskOf(pixelMask[bi*lp])
		for j := 0; j < lp; j++ {
			bias[1+j] = maskOf(pixelMask[bi*lp+j])
		}
		for j := 0; j < la; j++ {
			bias[1+lp+j] = maskOf(audioMask[bi*la+j])
		}
		for h := 0; h < heads; h++ {
			sc := make([]float64, s)
			mx := math.Inf(-1)
			for j := 0; j < s; j++ {
				var dot float64
				for e := 0; e < dh; e++ {
					dot += q[h*dh+e] * k[j*d+h*dh+e]
				}
				sc[j] = dot/math.Sqrt(float64(dh)) + bias[j]
				mx = math.Max(mx, sc[j])
			}
			var sum float64
			for j := range sc {
				sc[j] = math.Exp(sc[j] - mx)
				sum += sc[j]
			}
			for j := range sc {
				out[bi*s+j] += sc[j] / sum / float64(heads)
			}
		}
	}
	return out
}

func TestGoldenLastCLSAttention(t *testing.T) {
	dir := golden.Dir(t)
	in := golden.Load(t, dir, "inputs.npz")
	batch := &Batch{PixelValues: in["pixel_values"], PixelMask: in["pixel_mask"],
		AudioValues: in["audio_values"], AudioMask: in["audio_mask"]}
	pm, am := golden.Float64s(in["pixel_mask"]), golden.Float64s(in["audio_mask"])
	cases := []struct {
		kind    Kind
		config  string
		weights string
		dt      tensor.Dtype
		tol     float64
	}{
		{Base, "config.json", "weights.safetensors", tensor.Float64, 1e-9},
		{Base, "config.json", "weights.safetensors", tensor.Float32, 1e-5},
		{Classification, "config_classification.json", "weights_classification.safetensors", tensor.Float64, 1e-9},
		{Pretraining, "config.json", "weights.safetensors", tensor.Float64, 1e-9},
	}
	for _, tc := range cases {
		t.Run(tc.kind.String()+"/"+tc.dt.String(), func(t *testing.T) {
			m := goldenModel(t, dir, tc.config, tc.weights, tc.kind, tc.dt)
			p, res := run(t, m, batch, Options{Inspect: true})
			defer p.Close()
			got, ok := res.Outputs["attentions/last_cls"]
			if !ok {
				t.Fatalf("no attentions/last_cls among %v", sortedKeys(res.Outputs))
			}
			bs := batch.PixelValues.Shape()[0]
			lp, la := len(pm)/bs, len(am)/bs
			s := 1 + lp + la
			if !got.Shape().Eq(tensor.Shape{bs, s}) {
				t.Fatalf("attentions/last_cls shape %v, want (%d, %d)", got.Shape(), bs, s)
			}
			att := golden.Float64s(got)
			for b := 0; b < bs; b++ {
				row := att[b*s : (b+1)*s]
				var sum, padded float64
				for j, v := range row {
					sum += v
					switch {
					case j >= 1 && j <= lp && pm[b*lp+j-1] == 0, j > lp && am[b*la+j-1-lp] == 0:
						padded += v
					}
				}
				if math.Abs(sum-1) > tc.tol {
					t.Errorf("example %d: CLS attention sums to %v", b, sum)
				}
				if padded > 1e-30 {
					t.Errorf("example %d: padded keys get weight %v", b, padded)
				}
			}
			// The public set's example 1 pads both modalities; a set that
			// pads nothing (a batch of 1) leaves the padded-key check vacuous.
			if !slices.Contains(pm, 0) && !slices.Contains(am, 0) {
				t.Logf("inputs.npz pads no key: the padded-key check saw none")
			}
			key := "hidden_states/" + strconv.Itoa(m.Config.NumHiddenLayers-1)
			x, ok := res.Outputs[key]
			if !ok {
				t.Fatalf("no %s among %v", key, sortedKeys(res.Outputs))
			}
			want := refLastCLS(m, golden.Float64s(x), pm, am, bs, s)
			if msg := golden.Close(att, want, []int{bs, s}, []int{bs, s}, tc.tol, 0); msg != "" {
				t.Errorf("attentions/last_cls vs float64 recomputation from %s: %s", key, msg)
			}
		})
	}
}
