package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
)

var (
	demoOnce  sync.Once
	demoPath  string
	demoErr   error
	demoClips []data.Clip
)

// demoSet generates a small synthetic set once per test binary: 2-frame
// clips so that the tiny (golden-sized) config reads them whole.
func demoSet(t *testing.T) []data.Clip {
	t.Helper()
	demoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tvlt-train-demo-")
		if err != nil {
			demoErr = err
			return
		}
		demoPath, demoErr = data.GenerateDemo(dir, demoOpts(40, 2, 3))
		if demoErr == nil {
			demoClips, demoErr = data.ReadManifest(demoPath)
		}
	})
	if demoErr != nil {
		t.Fatalf("demo set: %v", demoErr)
	}
	return demoClips
}

func TestMain(m *testing.M) {
	code := m.Run()
	if demoPath != "" {
		os.RemoveAll(filepath.Dir(demoPath))
	}
	os.Exit(code)
}

func tinyModel(t *testing.T, kind layers.Kind, mutate func(*config.Config)) *layers.Model {
	t.Helper()
	cfg, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := NewModel(kind, cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func snapshot(m *layers.Model) map[string][]float32 {
	out := map[string][]float32{}
	for _, n := range m.Params.Names() {
		out[n] = append([]float32(nil), m.Params.Value(n).Data().([]float32)...)
	}
	return out
}

func sameBits(t *testing.T, a, b map[string][]float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d parameters", len(a), len(b))
	}
	for n, x := range a {
		y := b[n]
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Fatalf("%s[%d]: %v vs %v (not bit-identical)", n, i, x[i], y[i])
			}
		}
	}
}

func pretrainOpts(out string) Options {
	o := DefaultOptions(TaskPretrain)
	o.Out, o.Steps, o.BatchSize, o.EvalBatchSize, o.LR, o.Warmup = out, 6, 4, 4, 1e-3, 2
	o.LogEvery, o.SaveEvery, o.KeepLast, o.Seed, o.Progress = 2, 2, 2, 11, ProgressPlain
	return o
}

// TestExactResume: 2N steps straight equal N steps, an interruption
// (SIGINT path: context cancelled, checkpoint saved), a resume and N more,
// bit for bit — also with dropout 0.1, whose masks must follow the step.
func TestExactResume(t *testing.T) {
	var final []map[string][]float32
	for _, drop := range []float64{0, 0.1} {
		t.Run(fmt.Sprintf("dropout %v", drop), func(t *testing.T) {
			final = append(final, testExactResume(t, data.FilterSplit(demoSet(t), "train"), func(c *config.Config) {
				c.HiddenDropoutProb, c.AttentionProbsDropoutProb = drop, drop
			}, nil))
		})
	}
	// Clips of 1..2 frames and 0.15..0.75 s padded to each batch's longest:
	// several programs, one kept at a time (each new shape evicts the last),
	// and MaskRealOnly's masks.
	t.Run("short clips, one program", func(t *testing.T) {
		testExactResume(t, shortClips(t, 24, 9), nil, func(o *Options) { o.MaxPrograms, o.MaskRealOnly = 1, true })
	})
	if len(final) == 2 && reflect.DeepEqual(final[0], final[1]) {
		t.Error("training with dropout 0.1 gave the same weights as without")
	}
}

func testExactResume(t *testing.T, clips []data.Clip, mutate func(*config.Config), tune func(*Options)) map[string][]float32 {
	const N = 3
	pretrainOpts := func(out string) Options {
		o := pretrainOpts(out)
		if tune != nil {
			tune(&o)
		}
		return o
	}
	ctx := context.Background()

	straight := tinyModel(t, layers.Pretraining, mutate)
	tr, err := New(straight, clips, nil, pretrainOpts(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := tr.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Step != 2*N {
		t.Fatalf("straight run stopped at %d", sum.Step)
	}

	out := t.TempDir()
	first := tinyModel(t, layers.Pretraining, mutate)
	cctx, cancel := context.WithCancel(ctx)
	o := pretrainOpts(out)
	o.OnStep = func(step int, _ map[string]float64) {
		if step == N {
			cancel()
		}
	}
	tr, err = New(first, clips, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	sum, err = tr.Run(cctx)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	if sum.Step != N || filepath.Base(sum.Checkpoint) != "checkpoint-3" {
		t.Fatalf("interrupted at %d with checkpoint %q", sum.Step, sum.Checkpoint)
	}
	if _, err := os.Stat(filepath.Join(out, ModelFile)); err == nil {
		t.Error("an interrupted run wrote the final model")
	}

	resumed := tinyModel(t, layers.Pretraining, mutate)
	o = pretrainOpts(out)
	o.Resume = true
	tr, err = New(resumed, clips, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err = tr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if sum.Step != 2*N {
		t.Fatalf("resumed run ended at %d", sum.Step)
	}
	sameBits(t, snapshot(straight), snapshot(resumed))

	// The run folder: final model, config, metrics with one record per
	// logged step (none duplicated by the resume), the last 2 checkpoints.
	cks, _ := ListCheckpoints(out)
	var steps []int
	for _, c := range cks {
		steps = append(steps, c.Step)
	}
	if len(steps) != 2 || steps[0] != 4 || steps[1] != 6 {
		t.Errorf("checkpoints %v, want [4 6]", steps)
	}
	recs, err := ReadMetrics(filepath.Join(out, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var logged []int
	for _, r := range recs {
		if r.Type == "train" {
			logged = append(logged, r.Step)
			if _, ok := r.Values["pixel_mae_loss"]; !ok {
				t.Errorf("record %d lacks pixel_mae_loss: %v", r.Step, r.Values)
			}
		}
	}
	if len(logged) != 3 || logged[0] != 2 || logged[2] != 6 {
		t.Errorf("logged steps %v, want [2 4 6]", logged)
	}
	back, err := LoadModel(out)
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, snapshot(resumed), snapshot(back))
	return snapshot(straight)
}

// TestNonFiniteStops corrupts a weight after step 3 so that step 4's loss
// is NaN: the run must stop naming step 4 and leave checkpoint-2 intact.
func TestNonFiniteStops(t *testing.T) {
	clips := data.FilterSplit(demoSet(t), "train")
	out := t.TempDir()
	m := tinyModel(t, layers.Pretraining, nil)
	o := pretrainOpts(out)
	o.OnStep = func(step int, _ map[string]float64) {
		if step == 3 {
			m.Params.Value("tvlt.layernorm.weight").Data().([]float32)[0] = float32(math.NaN())
		}
	}
	tr, err := New(m, clips, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Run(context.Background())
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 4") || !strings.Contains(err.Error(), "checkpoint-2") {
		t.Fatalf("got %v, want a non-finite error naming step 4 and checkpoint-2", err)
	}
	cks, _ := ListCheckpoints(out)
	if len(cks) != 1 || cks[0].Step != 2 {
		t.Fatalf("checkpoints %v, want only checkpoint-2", cks)
	}
	good, err := LoadModel(cks[0].Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range snapshot(good) {
		for _, x := range v {
			if math.IsNaN(float64(x)) {
				t.Fatal("checkpoint-2 holds NaN")
			}
		}
	}
}

// shortClips writes n demo clips of 1..2 frames and 0.15..0.75 s of audio,
// so that batches padded to their longest clip take several shapes.
func shortClips(t *testing.T, n int, seed uint64) []data.Clip {
	t.Helper()
	o := demoOpts(n, 2, seed)
	o.MinFrames, o.MinSeconds = 1, 0.15
	mp, err := data.GenerateDemo(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	clips, err := data.ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	return clips
}

// demoOpts is the default demo set with a clip count, frames per clip and seed.
func demoOpts(clips, frames int, seed uint64) data.DemoOptions {
	o := data.DefaultDemoOptions()
	o.Clips, o.Frames, o.Seed = clips, frames, seed
	return o
}
