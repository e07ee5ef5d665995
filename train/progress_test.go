package train

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
)

// TestEstimateETA: the ETA leaves out the first (compile) step and averages
// the recent steps, where pb's average since the start was off by the
// compile time (here 10x).
func TestEstimateETA(t *testing.T) {
	s := time.Second
	if _, _, ok := EstimateETA(nil, 10); ok {
		t.Error("estimate with no step timed")
	}
	if _, _, ok := EstimateETA([]time.Duration{30 * s}, 10); ok {
		t.Error("estimate from the compile step alone")
	}
	// Compile step 60 s, then 1 s steps: 10 left = 10 s (an average over
	// all 4 steps would say 157 s).
	eta, per, ok := EstimateETA([]time.Duration{60 * s, s, s, s}, 10)
	if !ok || eta != 10*s || per != s {
		t.Errorf("ETA %v (%v/step, %v), want 10s (1s/step)", eta, per, ok)
	}
	// A moving average: 30 steps of 1 s, then etaWindow of 2 s.
	durs := []time.Duration{60 * s}
	for i := 0; i < 30; i++ {
		durs = append(durs, s)
	}
	for i := 0; i < etaWindow; i++ {
		durs = append(durs, 2*s)
	}
	if eta, per, _ := EstimateETA(durs, 5); eta != 10*s || per != 2*s {
		t.Errorf("ETA %v (%v/step) after the pace changed, want 10s (2s/step)", eta, per)
	}
	if eta, _, _ := EstimateETA(durs, 0); eta != 0 {
		t.Errorf("ETA %v with nothing left", eta)
	}
	// stepClock keeps the compile step out and only the window besides.
	var c stepClock
	for i := 0; i < 50; i++ {
		c.begin()
		c.end()
	}
	if len(c.durs) != etaWindow+1 {
		t.Errorf("clock keeps %d durations, want %d", len(c.durs), etaWindow+1)
	}
	for _, d := range []struct {
		d    time.Duration
		want string
	}{{420 * time.Millisecond, "0.42s"}, {12 * s, "12s"}, {185 * s, "3m05s"}, {2*time.Hour + 4*time.Minute, "2h04m"}} {
		if got := fmtDuration(d.d); got != d.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d.d, got, d.want)
		}
	}
}

// TestProgressEveryStep: the bar moves and re-estimates after every step
// (with --log-every larger than the run), and plain log lines carry the ETA.
func TestProgressEveryStep(t *testing.T) {
	clips := data.FilterSplit(demoSet(t), "train")
	var buf bytes.Buffer
	o := pretrainOpts(t.TempDir())
	o.Steps, o.LogEvery, o.SaveEvery, o.Progress, o.Log = 4, 100, 0, ProgressBar, &buf
	tr, err := New(tinyModel(t, layers.Pretraining, nil), clips, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	tr.opts.OnStep = func(step int, _ map[string]float64) {
		cur := tr.log.bar.Current()
		eta, _ := tr.log.bar.Get("eta").(string)
		seen = append(seen, fmt.Sprintf("%d:%s", cur, eta))
		if cur != int64(step) {
			t.Errorf("step %d: bar at %d", step, cur)
		}
		if step >= 2 && !strings.Contains(eta, "ETA") {
			t.Errorf("step %d: bar shows %q, want an ETA", step, eta)
		}
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 4 {
		t.Fatalf("bar states %v, want one per step", seen)
	}

	// Plain: lines at --log-every as before, now with the ETA.
	buf.Reset()
	o = pretrainOpts(t.TempDir())
	o.Steps, o.LogEvery, o.SaveEvery, o.Log = 6, 2, 0, &buf
	if tr, err = New(tinyModel(t, layers.Pretraining, nil), clips, nil, o); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(l, "step ") {
			steps = append(steps, l)
		}
	}
	if len(steps) != 3 || !strings.Contains(steps[0], " eta ") || !strings.Contains(steps[1], " eta ") || strings.Contains(steps[2], " eta ") {
		t.Errorf("plain step lines (want 3, an eta on all but the last):\n%s", strings.Join(steps, "\n"))
	}
}

// TestEvalProgress: an evaluation reports every batch — a bar, plain lines
// (here with no delay) or the status of the run's bar — and stays silent
// without a Log.
func TestEvalProgress(t *testing.T) {
	clips := data.FilterSplit(demoSet(t), "train")[:6]
	m := tinyModel(t, layers.Pretraining, nil)

	var mu sync.Mutex
	var states []string
	e := newEvaluator(m, EvalOptions{Task: TaskRetrieval, BatchSize: 4})
	e.onStatus = func(s string) { mu.Lock(); states = append(states, s); mu.Unlock() }
	if _, _, err := e.run(context.Background(), clips, false); err != nil {
		t.Fatal(err)
	}
	e.progs.close()
	// decoding: 2 batches of 6 clips, scoring: 36 pairs in 9 batches; each
	// phase reports its start and every batch.
	if len(states) != 3+10 || !strings.Contains(states[len(states)-1], "scoring 36 pairs 9/9") {
		t.Errorf("status updates:\n%s", strings.Join(states, "\n"))
	}

	var buf bytes.Buffer
	p := newPhase(&buf, ProgressPlain, nil, "eval x", "batch", 3)
	p.plainEvery = 0
	for i := 0; i < 3; i++ {
		p.add(1)
	}
	p.finish()
	if lines := strings.Split(strings.TrimSpace(buf.String()), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "eval x: 1/3, ") || !strings.Contains(lines[2], "ETA") || !strings.Contains(lines[3], "done in") {
		t.Errorf("plain phase lines:\n%s", buf.String())
	}
	buf.Reset()
	p = newPhase(&buf, ProgressBar, nil, "eval x", "batch", 3)
	p.add(1)
	if p.bar.Current() != 1 {
		t.Errorf("bar at %d after one batch", p.bar.Current())
	}
	p.finish()
	if !strings.Contains(buf.String(), "eval x") || !strings.Contains(buf.String(), "3 / 3") {
		t.Errorf("bar output %q", buf.String())
	}
	if newPhase(io.Discard, ProgressBar, nil, "x", "batch", 3) != nil || newPhase(nil, ProgressBar, nil, "x", "batch", 3) != nil {
		t.Error("a phase without a writer")
	}
}
