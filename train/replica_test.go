package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/train/dist"
	"gorgonia.org/tensor"
)

// runRanks runs one trainer per rank of an in-process group (dist.Local),
// each from its own fresh model, and returns rank 0's model and summary
// and every rank's error.
func runRanks(t *testing.T, ctx context.Context, n int, mk func() *layers.Model, clips []data.Clip, o Options) (*layers.Model, *Summary, []error) {
	t.Helper()
	comms, err := dist.Local(n)
	if err != nil {
		t.Fatal(err)
	}
	models := make([]*layers.Model, n)
	sums := make([]*Summary, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		models[r] = mk()
		ro := o
		ro.Comm = comms[r]
		tr, err := New(models[r], clips, nil, ro)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			sums[r], errs[r] = tr.Run(ctx)
		}(r)
	}
	wg.Wait()
	for r := 1; r < n; r++ {
		if errs[r] == nil && errs[0] == nil {
			// Every rank took the same steps from the same weights.
			sameBits(t, snapshot(models[0]), snapshot(models[r]))
		}
	}
	return models[0], sums[0], errs
}

// maxDiff is the largest absolute difference between two snapshots.
func maxDiff(t *testing.T, a, b map[string][]float32) float64 {
	t.Helper()
	worst := 0.0
	for n, x := range a {
		y, ok := b[n]
		if !ok || len(y) != len(x) {
			t.Fatalf("%s: missing or resized", n)
		}
		for i := range x {
			worst = max(worst, math.Abs(float64(x[i])-float64(y[i])))
		}
	}
	return worst
}

// TestDataParallelMatchesOneProcess: 2 ranks × batch 4 train like 1
// process × batch 8, for 20 pretraining and 20 fine-tuning steps: the same
// weights (1e-5), the same logged losses, the same checkpoints; and a
// 2-rank run stopped at step 10 and resumed (under 2 ranks, and under 1
// process with batch 8) ends where the uninterrupted one does.
func TestDataParallelMatchesOneProcess(t *testing.T) {
	clips := data.FilterSplit(demoSet(t), "train")
	for _, task := range []Task{TaskPretrain, TaskClassification, TaskRetrieval} {
		t.Run(string(task), func(t *testing.T) {
			kind, mutate := layers.Pretraining, func(*config.Config) {}
			switch task {
			case TaskClassification:
				kind, mutate = layers.Classification, func(c *config.Config) { c.NumLabels = data.DemoClasses }
			case TaskRetrieval: // the matching head on in-batch negatives, MAE off
				mutate = func(c *config.Config) { c.TaskMAE = false }
			}
			mk := func() *layers.Model { return tinyModel(t, kind, mutate) }
			opts := func(out string, batch int) Options {
				o := DefaultOptions(task)
				o.Out, o.Steps, o.BatchSize, o.LR, o.Warmup = out, 20, batch, 1e-3, 2
				o.LogEvery, o.SaveEvery, o.KeepLast, o.Seed, o.Workers, o.Progress = 1, 10, 2, 11, 1, ProgressPlain
				return o
			}
			oneOut := filepath.Join(t.TempDir(), "one")
			one := mk()
			tr, err := New(one, clips, nil, opts(oneOut, 8))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Run(context.Background()); err != nil {
				t.Fatal(err)
			}

			dpOut := filepath.Join(t.TempDir(), "dp")
			dp, _, errs := runRanks(t, context.Background(), 2, mk, clips, opts(dpOut, 4))
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(t, snapshot(one), snapshot(dp)); d > 1e-5 {
				t.Errorf("weights after 20 steps differ by %.3g (want <= 1e-5)", d)
			} else {
				t.Logf("weights: max |1 process - 2 ranks| = %.3g", d)
			}
			a, b := trainRecordsOf(t, oneOut, "train"), trainRecordsOf(t, dpOut, "train")
			if len(a) != 20 || len(b) != 20 {
				t.Fatalf("%d and %d train records, want 20", len(a), len(b))
			}
			for i := range a {
				for _, k := range append(LossKeys, MetricMatchingAccuracy, StatGradNorm, StatPixelMaskRealShare, StatAudioMaskRealShare) {
					x, okx := a[i].Values[k]
					y, oky := b[i].Values[k]
					// The gradient norm sums the squares of float32
					// gradients added up in another order: 1e-4 relative.
					tol := 1e-5 * max(1, math.Abs(x))
					if k == StatGradNorm {
						tol = 1e-4 * math.Abs(x)
					}
					if okx != oky || math.Abs(x-y) > tol {
						t.Errorf("step %d %s: 1 process %v, 2 ranks %v", i+1, k, x, y)
					}
				}
			}
			for _, step := range []int{10, 20} {
				ca, err := LoadModel(filepath.Join(oneOut, fmt.Sprintf("checkpoint-%d", step)))
				if err != nil {
					t.Fatal(err)
				}
				cb, err := LoadModel(filepath.Join(dpOut, fmt.Sprintf("checkpoint-%d", step)))
				if err != nil {
					t.Fatal(err)
				}
				if d := maxDiff(t, snapshot(ca), snapshot(cb)); d > 1e-5 {
					t.Errorf("checkpoint-%d weights differ by %.3g", step, d)
				}
				sa, err := ReadState(filepath.Join(oneOut, fmt.Sprintf("checkpoint-%d", step)))
				if err != nil {
					t.Fatal(err)
				}
				sb, err := ReadState(filepath.Join(dpOut, fmt.Sprintf("checkpoint-%d", step)))
				if err != nil {
					t.Fatal(err)
				}
				if sa.Step != sb.Step || sa.Epoch != sb.Epoch || sa.Batch != sb.Batch || sa.BatchSize != sb.BatchSize || sa.Samples != sb.Samples {
					t.Errorf("checkpoint-%d state: 1 process %+v, 2 ranks %+v", step, sa, sb)
				}
			}

			// Stopped at step 10 (every rank's context), resumed under 2 ranks.
			for _, resumeRanks := range []int{2, 1} {
				out := filepath.Join(t.TempDir(), fmt.Sprintf("resume%d", resumeRanks))
				ctx, cancel := context.WithCancel(context.Background())
				o := opts(out, 4)
				o.OnStep = func(step int, _ map[string]float64) {
					if step == 10 {
						cancel()
					}
				}
				_, _, errs = runRanks(t, ctx, 2, mk, clips, o)
				cancel()
				for r, err := range errs {
					if !errors.Is(err, ErrInterrupted) {
						t.Fatalf("rank %d of the stopped run: %v", r, err)
					}
				}
				var resumed *layers.Model
				if resumeRanks == 2 {
					o = opts(out, 4)
					o.Resume = true
					resumed, _, errs = runRanks(t, context.Background(), 2, mk, clips, o)
					if err := errors.Join(errs...); err != nil {
						t.Fatal(err)
					}
				} else {
					o = opts(out, 8)
					o.Resume = true
					resumed = mk()
					tr, err := New(resumed, clips, nil, o)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := tr.Run(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				if d := maxDiff(t, snapshot(dp), snapshot(resumed)); d > 1e-5 {
					t.Errorf("stopped at 10 and resumed under %d process(es): weights differ from the uninterrupted 2-rank run by %.3g", resumeRanks, d)
				}
			}
		})
	}
}

// TestDataParallelGradientsFloat64: the ranks' loss-scaled gradients of
// their shares of a pretraining batch add up to the one-process gradient
// of the whole batch to 1e-10 in float64 (the MAE losses are normalised by
// the whole batch's removed real patches, which the shares split
// unevenly), on short clips padded to the batch's longest.
func TestDataParallelGradientsFloat64(t *testing.T) {
	clips := shortClips(t, 12, 5)
	cfg, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := layers.New(layers.Pretraining, cfg, tensor.Float64, graph.InitOptions{Seed: 3, EmbeddingStd: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	l, err := data.NewLoader(clips, cfg, data.LoaderOptions{BatchSize: 6, Seed: 2, Workers: 1, Pretraining: true})
	if err != nil {
		t.Fatal(err)
	}
	it := l.Epoch(0)
	b, err := it.Next()
	it.Close()
	if err != nil {
		t.Fatal(err)
	}
	whole, err := toLayers(b, m)
	if err != nil {
		t.Fatal(err)
	}
	grads := func(lb *layers.Batch, scales bool) map[string][]float64 {
		p, err := m.Compile(lb, layers.Options{Train: true, LossScales: scales})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if _, err := p.Run(lb); err != nil {
			t.Fatal(err)
		}
		g, err := p.Grads()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]float64{}
		for n, v := range g {
			out[n] = append([]float64(nil), graph.Float64s(v)...)
		}
		return out
	}
	want := grads(whole, false)
	// 3 ranks of 2 clips, and 6 ranks of one clip each.
	for _, n := range []int{3, 6} {
		comms, err := dist.Local(n)
		if err != nil {
			t.Fatal(err)
		}
		sum := map[string][]float64{}
		uneven := false
		for _, c := range comms {
			part, err := newReplica(c).share(whole)
			if err != nil {
				t.Fatal(err)
			}
			if s := part.LossScales[MetricPixelMAELoss]; math.Abs(s-1/float64(n)) > 1e-9 {
				uneven = true
			}
			for name, g := range grads(part, true) {
				if sum[name] == nil {
					sum[name] = make([]float64, len(g))
				}
				for i, v := range g {
					sum[name][i] += v
				}
			}
		}
		if !uneven {
			t.Errorf("%d ranks: every share removes 1/%d of the real patches: the test does not exercise the MAE scaling", n, n)
		}
		worst, name := 0.0, ""
		for k, w := range want {
			for i := range w {
				if d := math.Abs(w[i] - sum[k][i]); d > worst {
					worst, name = d, k
				}
			}
		}
		if worst > 1e-10 {
			t.Errorf("sum of %d ranks' gradients differs from the whole batch's by %.3g (%s)", n, worst, name)
		}
		t.Logf("%d ranks: max |sum of ranks - whole batch| = %.3g", n, worst)
	}
}

// TestDataParallelFailureStopsEveryRank: a clip only rank 1 cannot read
// (its decoder fails) stops both ranks with the error naming the clip,
// and leaves no checkpoint behind half-written.
func TestDataParallelFailureStopsEveryRank(t *testing.T) {
	clips := data.FilterSplit(demoSet(t), "train")
	bad := clips[3].ID
	comms, err := dist.Local(2)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		m := tinyModel(t, layers.Pretraining, nil)
		o := pretrainOpts(out)
		o.Steps, o.BatchSize, o.SaveEvery, o.Comm, o.Workers = 8, 4, 2, comms[r], 1
		tr, err := New(m, clips, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		if r == 1 {
			tr.decoders = data.Decoders{LoadAudio: func(p string, rate int) ([]float32, error) {
				if strings.Contains(p, bad) {
					return nil, fmt.Errorf("corrupt WAV (test)")
				}
				return audio.LoadMono(p, rate)
			}}
		}
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			_, errs[r] = tr.Run(context.Background())
		}(r)
	}
	wg.Wait()
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "rank 1") {
			t.Errorf("rank %d: %v; want rank 1's error naming %s", r, err, bad)
		}
	}
	cks, err := ListCheckpoints(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cks {
		if _, err := LoadModel(c.Dir); err != nil {
			t.Errorf("checkpoint %s: %v", c.Dir, err)
		}
	}
}

// TestDataParallelEvaluation: the ranks split an evaluation's forward
// passes (batch k on rank k mod 2) and share the outputs, so each gets the
// metrics one process computes, bit for bit; and a 2-rank training run that
// evaluates every 3 steps (saving the best checkpoint) finishes like one
// process does.
func TestDataParallelEvaluation(t *testing.T) {
	all := demoSet(t)
	clips := data.FilterSplit(all, "train")
	for _, tc := range []struct {
		task Task
		kind layers.Kind
		mut  func(*config.Config)
	}{
		{TaskClassification, layers.Classification, func(c *config.Config) { c.NumLabels = data.DemoClasses }},
		{TaskPretrain, layers.Pretraining, nil},
	} {
		m := tinyModel(t, tc.kind, tc.mut)
		opts := EvalOptions{Task: tc.task, BatchSize: 3, Seed: 4, Workers: 1}
		want, err := Evaluate(context.Background(), m, clips, opts)
		if err != nil {
			t.Fatal(err)
		}
		comms, err := dist.Local(2)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]map[string]float64, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for r := range comms {
			wg.Add(1)
			go func(r int) {
				defer wg.Done()
				e := newEvaluator(m, opts)
				defer e.progs.close()
				e.comm = comms[r]
				got[r], _, errs[r] = e.run(context.Background(), clips, false)
			}(r)
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		for r := range got {
			if !reflect.DeepEqual(got[r], want) {
				t.Errorf("%s rank %d: %v, one process %v", tc.task, r, got[r], want)
			}
		}
	}

	out := filepath.Join(t.TempDir(), "run")
	o := pretrainOpts(out)
	o.Steps, o.BatchSize, o.EvalEvery, o.EvalBatchSize, o.SaveEvery, o.Workers = 6, 4, 3, 4, 0, 1
	comms, err := dist.Local(2)
	if err != nil {
		t.Fatal(err)
	}
	evalClips := data.FilterSplit(all, "val")
	errs := make([]error, 2)
	sums := make([]*Summary, 2)
	var wg sync.WaitGroup
	for r := range comms {
		ro := o
		ro.Comm = comms[r]
		tr, err := New(tinyModel(t, layers.Pretraining, nil), clips, evalClips, ro)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			sums[r], errs[r] = tr.Run(context.Background())
		}(r)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sums[0].Eval, sums[1].Eval) || sums[0].BestStep != sums[1].BestStep {
		t.Errorf("ranks disagree: %v best %d; %v best %d", sums[0].Eval, sums[0].BestStep, sums[1].Eval, sums[1].BestStep)
	}
	var evals int
	for _, r := range trainRecordsOf(t, out, "eval") {
		evals++
		if _, ok := r.Values[MetricLoss]; !ok {
			t.Errorf("eval record without loss: %v", r.Values)
		}
	}
	if evals != 2 {
		t.Errorf("%d eval records, want 2 (steps 3 and 6)", evals)
	}
}

// trainRecordsOf reads the records of one type of a run's metrics.jsonl.
func trainRecordsOf(t *testing.T, out, typ string) []Record {
	t.Helper()
	recs, err := ReadMetrics(filepath.Join(out, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var sel []Record
	for _, r := range recs {
		if r.Type == typ {
			sel = append(sel, r)
		}
	}
	return sel
}
