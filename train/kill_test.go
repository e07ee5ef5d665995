package train

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
)

// Environment of the kill test's child process.
const (
	killChildEnv    = "TVLT_KILL_CHILD"    // "1" selects the child mode
	killOutEnv      = "TVLT_KILL_OUT"      // run folder
	killManifestEnv = "TVLT_KILL_MANIFEST" // demo set manifest
	killSteps       = 100000               // never reached by a child
	killKeepLast    = 1
)

// killOpts are the options of the kill test's runs: a checkpoint after
// every step and KeepLast 1, so every save is followed by a prune.
func killOpts(out string, steps int) Options {
	o := DefaultOptions(TaskPretrain)
	o.Out, o.Steps, o.BatchSize, o.EvalBatchSize, o.LR = out, steps, 2, 2, 1e-3
	o.Schedule, o.Warmup = "constant", 0
	o.LogEvery, o.SaveEvery, o.KeepLast, o.Seed = 1, 1, killKeepLast, 5
	o.Workers, o.Progress, o.Resume = 1, ProgressPlain, true
	return o
}

// TestKillDuringSaveChild is the child process of TestKillDuringSave: it
// resumes (or starts) the run in $TVLT_KILL_OUT and trains until killed,
// printing "step N" on stdout after each step's checkpoint is saved.
func TestKillDuringSaveChild(t *testing.T) {
	if os.Getenv(killChildEnv) != "1" {
		t.Skip("helper process of TestKillDuringSave")
	}
	clips, err := data.ReadManifest(os.Getenv(killManifestEnv))
	if err != nil {
		t.Fatal(err)
	}
	// Deleting a pruned checkpoint file by file, pausing after each, widens
	// the window in which a kill lands mid-prune (leaving a half-deleted
	// hidden folder) from well under a millisecond to tens of them.
	pruneRemove = func(dir string) error {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
			time.Sleep(5 * time.Millisecond)
		}
		return os.Remove(dir)
	}
	o := killOpts(os.Getenv(killOutEnv), killSteps)
	o.Log = os.Stderr
	o.OnStep = func(step int, _ map[string]float64) {
		fmt.Fprintf(os.Stdout, "step %d\n", step)
	}
	tr, err := New(tinyModel(t, layers.Pretraining, nil), data.FilterSplit(clips, "train"), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestKillDuringSave SIGKILLs a training run that saves (and prunes) a
// checkpoint every step at random moments, many times. After every kill
// the visible checkpoints must all be intact, the newest must be what
// ResolveModelDir picks and must load, and the next run must resume from
// exactly it (its first step is the newest checkpoint's + 1, with no
// "not resuming" warning). Finally an in-process resumed run completes.
// Only where the kills land depends on timing, not what is asserted.
func TestKillDuringSave(t *testing.T) {
	if os.Getenv(killChildEnv) == "1" {
		t.Skip("in the child process")
	}
	if testing.Short() {
		t.Skip("starts and kills 30 training processes")
	}
	const kills = 30
	clips := demoSet(t)
	out := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	t.Logf("delay seed %d", seed)

	newest := 0 // step of the newest visible checkpoint
	var hidden []string
	for k := 0; k < kills; k++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringSaveChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killChildEnv+"=1", killOutEnv+"="+out, killManifestEnv+"="+demoPath)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		steps := make(chan int, 1024)
		go func() {
			defer close(steps)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if n, ok := strings.CutPrefix(sc.Text(), "step "); ok {
					if s, err := strconv.Atoi(n); err == nil {
						steps <- s
					}
				}
			}
		}()
		var first int
		select {
		case s, ok := <-steps:
			if !ok {
				cmd.Wait()
				t.Fatalf("kill %d: child exited before its first step:\n%s", k, stderr.String())
			}
			first = s
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: no step after 60 s:\n%s", k, stderr.String())
		}
		delay := time.Duration(rng.IntN(300)) * time.Millisecond
		time.Sleep(delay)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		werr := cmd.Wait()
		for range steps { // drain until the pipe closes
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended by %v, not SIGKILL (it finished or failed first):\n%s", k, werr, stderr.String())
		}
		log := stderr.String()
		if first != newest+1 {
			t.Fatalf("kill %d: run started at step %d, want %d (resumed from the newest checkpoint, %d):\n%s", k, first, newest+1, newest, log)
		}
		if strings.Contains(log, "warning") {
			t.Fatalf("kill %d: resume warned:\n%s", k, log)
		}

		cks, err := ListCheckpoints(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(cks) == 0 || len(cks) > killKeepLast+1 {
			t.Fatalf("kill %d (after %v): checkpoints %v, want 1..%d", k, delay, cks, killKeepLast+1)
		}
		for _, c := range cks {
			if err := checkIntact(c.Dir); err != nil {
				t.Fatalf("kill %d (after %v): visible checkpoint not intact: %v", k, delay, err)
			}
		}
		last := cks[len(cks)-1]
		if last.Step < first {
			t.Fatalf("kill %d: newest checkpoint %d, but step %d was reported saved", k, last.Step, first)
		}
		if dir, err := ResolveModelDir(out); err != nil || dir != last.Dir {
			t.Fatalf("kill %d: ResolveModelDir = %q, %v; want %s", k, dir, err, last.Dir)
		}
		if st, err := ReadState(last.Dir); err != nil || st.Step != last.Step {
			t.Fatalf("kill %d: %s state: step %d, %v", k, last.Dir, st.Step, err)
		}
		if _, err := LoadModel(out); err != nil {
			t.Fatalf("kill %d: loading the newest checkpoint: %v", k, err)
		}
		ents, _ := os.ReadDir(out)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				hidden = append(hidden, e.Name())
			}
		}
		newest = last.Step
	}
	// Where the kills landed (timing-dependent, so only logged): hidden
	// folders are interrupted saves (.checkpoint-N.tmp*) and prunes.
	var saves, prunes int
	for _, h := range hidden {
		if strings.HasPrefix(h, pruningMarker) {
			prunes++
		} else {
			saves++
		}
	}
	t.Logf("%d kills up to step %d; %d left an interrupted save, %d an interrupted prune", kills, newest, saves, prunes)

	// A resumed run completes, from the newest checkpoint, and its final
	// model loads.
	var buf bytes.Buffer
	o := killOpts(out, newest+3)
	o.Log = &buf
	tr, err := New(tinyModel(t, layers.Pretraining, nil), data.FilterSplit(clips, "train"), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := tr.Run(context.Background())
	if err != nil {
		t.Fatalf("resumed run: %v\n%s", err, buf.String())
	}
	if sum.Step != newest+3 || strings.Contains(buf.String(), "warning") ||
		!strings.Contains(buf.String(), fmt.Sprintf("resuming from %s ", filepath.Join(out, fmt.Sprintf("checkpoint-%d", newest)))) {
		t.Fatalf("resumed run ended at step %d (want %d):\n%s", sum.Step, newest+3, buf.String())
	}
	if _, err := LoadModel(out); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("%s left behind after the completed run", e.Name())
		}
	}
}
