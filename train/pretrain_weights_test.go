package train

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
)

// TestLossWeightsRun: a pretraining run with loss weights pixel 2, audio
// 0.5, matching 0 logs the unweighted per-task losses and a total of
// 2·pixel + 0.5·audio at every step, and its matching head (no gradient,
// no weight decay) ends bit-identical to where it started while the MAE
// decoder moves.
func TestLossWeightsRun(t *testing.T) {
	clips := data.FilterSplit(demoSet(t), "train")
	m := tinyModel(t, layers.Pretraining, nil)
	before := snapshot(m)
	o := pretrainOpts(t.TempDir())
	o.Steps, o.SaveEvery, o.WeightDecay = 3, 0, 0
	o.LossWeights = layers.LossWeights{PixelMAE: 2, AudioMAE: 0.5, Matching: 0}
	steps := 0
	o.OnStep = func(step int, v map[string]float64) {
		steps++
		pix, aud, match := v[MetricPixelMAELoss], v[MetricAudioMAELoss], v[MetricMatchingLoss]
		if want := 2*pix + 0.5*aud; math.Abs(v[MetricLoss]-want) > 1e-6*want || !(match > 0) {
			t.Errorf("step %d: loss %v, want 2·%v + 0.5·%v = %v (matching_loss %v still logged)", step, v[MetricLoss], pix, aud, want, match)
		}
	}
	tr, err := New(m, clips, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if steps != 3 {
		t.Fatalf("%d steps", steps)
	}
	after := snapshot(m)
	moved := false
	for name, v := range after {
		switch {
		case strings.HasPrefix(name, "matching_head."):
			if !slices.Equal(v, before[name]) {
				t.Errorf("%s changed with matching weight 0", name)
			}
		case strings.HasPrefix(name, "decoder."):
			moved = moved || !slices.Equal(v, before[name])
		}
	}
	if !moved {
		t.Error("the MAE decoder did not train")
	}
}

// TestNegativeRatio: the run's NegativeRatio reaches the loader: 0 gives
// true pairs only, 1 a partner from another clip for every clip, and the
// default 0.5 a mixture; out-of-range ratios and negative weights are
// refused by Validate.
func TestNegativeRatio(t *testing.T) {
	clips := data.FilterSplit(demoSet(t), "train")
	for _, c := range []struct {
		ratio      float64
		pos, total int
	}{{0, 8, 8}, {1, 0, 8}} {
		o := pretrainOpts(t.TempDir())
		o.BatchSize, o.NegativeRatio = 8, c.ratio
		tr, err := New(tinyModel(t, layers.Pretraining, nil), clips, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		l, err := tr.loader()
		if err != nil {
			t.Fatal(err)
		}
		it, err := l.Start(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := it.Next()
		it.Close()
		if err != nil {
			t.Fatal(err)
		}
		pos := 0
		for _, y := range b.MatchingLabels {
			if y == 1 {
				pos++
			}
		}
		if pos != c.pos || len(b.MatchingLabels) != c.total {
			t.Errorf("ratio %v: %d true pairs of %d, want %d of %d", c.ratio, pos, len(b.MatchingLabels), c.pos, c.total)
		}
	}
	o := pretrainOpts("x")
	if o.NegativeRatio != 0.5 || o.LossWeights != layers.DefaultLossWeights() {
		t.Errorf("defaults: ratio %v, weights %v", o.NegativeRatio, o.LossWeights)
	}
	o.NegativeRatio = 1.5
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "NegativeRatio") {
		t.Errorf("ratio 1.5: %v", err)
	}
	o.NegativeRatio, o.LossWeights.Matching = 0.5, -1
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "matching=-1") {
		t.Errorf("weight -1: %v", err)
	}
}
