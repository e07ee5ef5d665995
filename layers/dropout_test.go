package layers

import (
	"math"
	"testing"

	"github.com/tvlt-go/tvlt/internal/golden"
	"gorgonia.org/tensor"
)

// TestDropout checks the model's dropout: evaluation programs ignore it
// (outputs equal the model without dropout), training programs draw their
// masks from Batch.DropoutSeed (same seed, same loss; another seed, another
// loss), and the gradient with a fixed seed matches finite differences of
// the loss.
func TestDropout(t *testing.T) {
	dir := golden.Dir(t)
	in := golden.Load(t, dir, "inputs.npz")
	B := in["pixel_values"].Shape()[0] // the set's batch size
	labels := tensor.New(tensor.WithShape(B), tensor.WithBacking(make([]int64, B)))
	batch := func(seed uint64) *Batch {
		return &Batch{PixelValues: in["pixel_values"], PixelMask: in["pixel_mask"], AudioValues: in["audio_values"],
			AudioMask: in["audio_mask"], Labels: labels, DropoutSeed: seed}
	}
	plain := goldenModel(t, dir, "config_classification.json", "weights_classification.safetensors", Classification, tensor.Float64)
	m := goldenModel(t, dir, "config_classification.json", "weights_classification.safetensors", Classification, tensor.Float64)
	m.Config.HiddenDropoutProb, m.Config.AttentionProbsDropoutProb = 0.1, 0.1

	_, want := run(t, plain, batch(1), Options{})
	_, got := run(t, m, batch(1), Options{})
	for _, key := range []string{"logits", "loss"} {
		compare(t, "eval "+key, got.Outputs[key], want.Outputs[key], 0, 0)
	}

	p, err := m.Compile(batch(1), Options{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	loss := func(seed uint64) float64 {
		res, err := p.Run(batch(seed))
		if err != nil {
			t.Fatal(err)
		}
		return res.Scalar("loss")
	}
	l1, l1again, l2 := loss(1), loss(1), loss(2)
	if l1 != l1again || l1 == l2 || l1 == want.Scalar("loss") {
		t.Fatalf("training losses: seed 1 %v then %v, seed 2 %v, without dropout %v", l1, l1again, l2, want.Scalar("loss"))
	}
	loss(7)
	grads, err := p.Grads()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"tvlt.encoder.layer.0.attention.attention.query.weight", "tvlt.encoder.layer.1.output.dense.weight", "classifier.0.weight"}
	saved := map[string][]float64{}
	for _, name := range names {
		saved[name] = append([]float64(nil), grads[name].Data().([]float64)...)
	}
	checked := 0
	for _, name := range names {
		g := saved[name]
		w := m.Params.Value(name).Data().([]float64)
		for _, i := range []int{0, 5, len(w) / 2, len(w) - 1} {
			const eps = 1e-6
			orig := w[i]
			w[i] = orig + eps
			up := loss(7)
			w[i] = orig - eps
			down := loss(7)
			w[i] = orig
			num := (up - down) / (2 * eps)
			if math.Abs(num-g[i]) > 1e-6+1e-4*math.Abs(num) {
				t.Errorf("%s[%d]: gradient %v, finite difference %v", name, i, g[i], num)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}
