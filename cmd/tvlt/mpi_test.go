//go:build mpi

package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/train"
	"gorgonia.org/tensor"
)

// These tests run the real CLI, built with -tags mpi, under Open MPI's
// mpirun on this machine (CI: apt-get install openmpi-bin libopenmpi-dev).

// mpiBinary builds cmd/tvlt with -tags mpi.
func mpiBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tvlt-mpi")
	if out, err := exec.Command("go", "build", "-tags", "mpi", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags mpi: %v\n%s", err, out)
	}
	return bin
}

// launch runs bin with args, under mpirun with np ranks when np > 0 (one
// goroutine thread per rank, as the README advises on one machine), and
// fails the test if it does not exit within limit.
func launch(t *testing.T, limit time.Duration, np int, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	name, all := bin, args
	if np > 0 {
		name = "mpirun"
		all = append([]string{"--allow-run-as-root", "--oversubscribe", "-np", strconv.Itoa(np), bin}, args...)
	}
	cmd := exec.CommandContext(ctx, name, all...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OMPI_") && !strings.HasPrefix(kv, "PMIX_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GOMAXPROCS=1", "CI=true")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: no exit within %v\n%s", name, strings.Join(all, " "), limit, out.String())
	}
	return out.String(), err
}

func readWeights(t *testing.T, path string) map[string]*tensor.Dense {
	t.Helper()
	w, _, err := checkpoints.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func weightDiff(t *testing.T, a, b map[string]*tensor.Dense) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d and %d tensors", len(a), len(b))
	}
	worst := 0.0
	for n, x := range a {
		y, ok := b[n]
		if !ok {
			t.Fatalf("%s missing", n)
		}
		xs, ys := x.Data().([]float32), y.Data().([]float32)
		for i := range xs {
			worst = max(worst, math.Abs(float64(xs[i])-float64(ys[i])))
		}
	}
	return worst
}

// TestMPIMatchesOneProcess: mpirun -np 2 with --batch-size 4 gives what one
// process gives with --batch-size 8 — weights (1e-5), every logged loss,
// the checkpoints' weights and trainer states — for 20 pretraining and 20
// fine-tuning steps; and a 2-rank run stopped after 10 steps and resumed
// under 2 ranks ends where the uninterrupted one does.
func TestMPIMatchesOneProcess(t *testing.T) {
	bin := mpiBinary(t)
	manifest, err := data.GenerateDemo(t.TempDir(), demoOpts(40, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	for _, cmd := range [][]string{{"pretrain"}, {"finetune", "--task", "classification"}} {
		t.Run(cmd[0], func(t *testing.T) {
			run := func(np, batch, steps int, out string, extra ...string) {
				t.Helper()
				args := append(append([]string{}, cmd...), "--data", manifest, "--out", filepath.Join(work, out), "--preset", "tiny",
					"--steps", strconv.Itoa(steps), "--batch-size", strconv.Itoa(batch), "--save-every", "10", "--log-every", "1",
					"--schedule", "constant", "--lr", "1e-3", "--eval-split", "none", "--plain", "--workers", "1", "--seed", "5")
				if out, err := launch(t, 3*time.Minute, np, bin, append(args, extra...)...); err != nil {
					t.Fatalf("%d ranks: %v\n%s", np, err, out)
				}
			}
			one, two, stopped := cmd[0]+"-one", cmd[0]+"-two", cmd[0]+"-stopped"
			run(0, 8, 20, one)
			run(2, 4, 20, two)
			run(2, 4, 10, stopped)
			run(2, 4, 20, stopped, "--resume")
			dir := func(name string, sub ...string) string {
				return filepath.Join(append([]string{work, name}, sub...)...)
			}
			if d := weightDiff(t, readWeights(t, dir(one, train.ModelFile)), readWeights(t, dir(two, train.ModelFile))); d > 1e-5 {
				t.Errorf("final weights: 1 process and 2 ranks differ by %.3g", d)
			} else {
				t.Logf("final weights: max |1 process - 2 ranks| = %.3g", d)
			}
			if d := weightDiff(t, readWeights(t, dir(two, train.ModelFile)), readWeights(t, dir(stopped, train.ModelFile))); d > 1e-5 {
				t.Errorf("stopped at 10 and resumed under 2 ranks: weights differ from the uninterrupted run by %.3g", d)
			}
			for _, step := range []string{"checkpoint-10", "checkpoint-20"} {
				if d := weightDiff(t, readWeights(t, dir(one, step, train.ModelFile)), readWeights(t, dir(two, step, train.ModelFile))); d > 1e-5 {
					t.Errorf("%s weights differ by %.3g", step, d)
				}
				a, err := train.ReadState(dir(one, step))
				if err != nil {
					t.Fatal(err)
				}
				b, err := train.ReadState(dir(two, step))
				if err != nil {
					t.Fatal(err)
				}
				if a.Step != b.Step || a.Epoch != b.Epoch || a.Batch != b.Batch || a.BatchSize != b.BatchSize || a.Samples != b.Samples {
					t.Errorf("%s state: 1 process %+v, 2 ranks %+v", step, a, b)
				}
			}
			ra, err := train.ReadMetrics(dir(one, train.MetricsFile))
			if err != nil {
				t.Fatal(err)
			}
			rb, err := train.ReadMetrics(dir(two, train.MetricsFile))
			if err != nil {
				t.Fatal(err)
			}
			if len(ra) != len(rb) {
				t.Fatalf("metrics.jsonl: %d and %d records", len(ra), len(rb))
			}
			for i := range ra {
				for _, k := range train.LossKeys {
					x, y := ra[i].Values[k], rb[i].Values[k]
					if math.Abs(x-y) > 1e-5*max(1, math.Abs(x)) {
						t.Errorf("record %d %s: 1 process %v, 2 ranks %v", i, k, x, y)
					}
				}
			}
		})
	}
}

// TestMPIBadClipStopsTheJob: a clip whose WAV is corrupt makes the whole
// 2-rank job exit non-zero within seconds, the error naming the file, and
// every checkpoint it left loads.
func TestMPIBadClipStopsTheJob(t *testing.T) {
	bin := mpiBinary(t)
	manifest, err := data.GenerateDemo(t.TempDir(), demoOpts(24, 2, 4))
	if err != nil {
		t.Fatal(err)
	}
	clips, err := data.ReadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	bad := clips[5].Audio
	if err := os.WriteFile(bad, []byte("RIFF\x10\x00\x00\x00WAVEjunk"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	start := time.Now()
	log, err := launch(t, 60*time.Second, 2, bin, "pretrain", "--data", manifest, "--out", out, "--preset", "tiny",
		"--steps", "40", "--batch-size", "4", "--save-every", "1", "--eval-split", "none", "--plain", "--workers", "1")
	if err == nil {
		t.Fatalf("the job succeeded with a corrupt clip\n%s", log)
	}
	if !strings.Contains(log, filepath.Base(bad)) {
		t.Errorf("the output does not name %s:\n%s", filepath.Base(bad), log)
	}
	t.Logf("stopped after %v: %v", time.Since(start).Round(time.Millisecond), err)
	cks, err := train.ListCheckpoints(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cks {
		if _, err := train.LoadModel(c.Dir); err != nil {
			t.Errorf("checkpoint %s: %v", c.Dir, err)
		}
	}
}

// TestMPIOtherCommandsRefuse: commands that are not data-parallel refuse to
// start as several ranks instead of each writing the same output.
func TestMPIOtherCommandsRefuse(t *testing.T) {
	bin := mpiBinary(t)
	out, err := launch(t, time.Minute, 2, bin, "predict", "--data", "x.jsonl", "--ckpt", "y")
	if err == nil || !strings.Contains(out, "only pretrain, finetune and bench run data-parallel") {
		t.Fatalf("predict under mpirun: %v\n%s", err, out)
	}
}
