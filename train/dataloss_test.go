package train

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
)

// runTiny trains a tiny pretraining model into opts.Out.
func runTiny(t *testing.T, o Options) (*Summary, error) {
	t.Helper()
	clips := data.FilterSplit(demoSet(t), "train")
	tr, err := New(tinyModel(t, layers.Pretraining, nil), clips, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	return tr.Run(context.Background())
}

// TestRunModelChecksummed: the run folder's final model.safetensors gets a
// checksum, so a flipped byte is a load error naming the file instead of
// silently different weights (which export would then re-checksum).
func TestRunModelChecksummed(t *testing.T) {
	out := t.TempDir()
	o := pretrainOpts(out)
	o.Steps = 2
	if _, err := runTiny(t, o); err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.VerifyFile(out, ModelFile); err != nil {
		t.Fatalf("final model: %v", err)
	}
	if _, err := LoadModel(out); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(out, ModelFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0x01
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadModel(out); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("loading a model with a flipped byte: %v, want a checksum error naming %s", err, p)
	}
}

// TestPruneIsAtomic: a kill while an old checkpoint is being deleted (here:
// the delete fails half-way) never leaves a visible checkpoint-N: it was
// renamed to a hidden .pruning- name first, which the next save removes.
func TestPruneIsAtomic(t *testing.T) {
	out := t.TempDir()
	o := pretrainOpts(out)
	o.Steps, o.SaveEvery, o.KeepLast = 3, 1, 1
	killed := false
	pruneRemove = func(p string) error {
		if !killed {
			killed = true
			os.Remove(filepath.Join(p, OptimizerFile)) // half-deleted
			return errors.New("killed")
		}
		return os.RemoveAll(p)
	}
	defer func() { pruneRemove = os.RemoveAll }()
	if _, err := runTiny(t, o); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("run with a failing prune: %v", err)
	}
	cks, _ := ListCheckpoints(out)
	for _, c := range cks {
		if err := checkIntact(c.Dir); err != nil {
			t.Errorf("visible checkpoint after an interrupted prune: %v", err)
		}
	}
	if len(cks) != 1 || cks[0].Step != 2 {
		t.Errorf("checkpoints %v, want checkpoint-2", cks)
	}
	o.Resume = true
	if _, err := runTiny(t, o); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("%s left behind", e.Name())
		}
	}
}

// TestResumeSkipsBrokenCheckpoint: an interrupted prune (by an older
// version, or a damaged disk) can leave a newest checkpoint-N without
// optimizer.safetensors, or with a corrupt file. --resume warns and
// continues from the newest intact checkpoint instead of failing.
func TestResumeSkipsBrokenCheckpoint(t *testing.T) {
	for _, damage := range []string{"missing optimizer", "corrupt model"} {
		t.Run(damage, func(t *testing.T) {
			out := t.TempDir()
			o := pretrainOpts(out)
			o.Steps, o.SaveEvery, o.KeepLast = 3, 1, 2
			ctx, cancel := context.WithCancel(context.Background())
			o.OnStep = func(step int, _ map[string]float64) {
				if step == 3 {
					cancel()
				}
			}
			clips := data.FilterSplit(demoSet(t), "train")
			tr, err := New(tinyModel(t, layers.Pretraining, nil), clips, nil, o)
			if err != nil {
				t.Fatal(err)
			}
			tr.Run(ctx)
			cks, _ := ListCheckpoints(out)
			if len(cks) != 2 || cks[1].Step != 3 {
				t.Fatalf("checkpoints %v", cks)
			}
			// What a killed prune of an older version left: a hidden
			// .pruning- folder and a visible, incomplete checkpoint.
			if err := os.MkdirAll(filepath.Join(out, ".pruning-checkpoint-1"), 0o755); err != nil {
				t.Fatal(err)
			}
			newest := cks[1].Dir
			switch damage {
			case "missing optimizer":
				if err := os.Remove(filepath.Join(newest, OptimizerFile)); err != nil {
					t.Fatal(err)
				}
			case "corrupt model":
				p := filepath.Join(newest, ModelFile)
				b, _ := os.ReadFile(p)
				b[len(b)-1] ^= 1
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var log bytes.Buffer
			o = pretrainOpts(out)
			o.Steps, o.SaveEvery, o.KeepLast, o.Resume, o.Log = 4, 1, 2, true, &log
			sum, err := runTiny(t, o)
			if err != nil {
				t.Fatalf("resume: %v\n%s", err, log.String())
			}
			if !strings.Contains(log.String(), "warning: not resuming from "+newest) ||
				!strings.Contains(log.String(), "resuming from "+cks[0].Dir) {
				t.Errorf("log does not warn about %s and resume from %s:\n%s", newest, cks[0].Dir, log.String())
			}
			if sum.Step != 4 {
				t.Errorf("resumed run ended at step %d", sum.Step)
			}
			cks, _ = ListCheckpoints(out)
			for _, c := range cks {
				if err := checkIntact(c.Dir); err != nil {
					t.Errorf("after the resumed run: %v", err)
				}
			}
			if _, err := os.Stat(filepath.Join(out, ".pruning-checkpoint-1")); err == nil {
				t.Error("the interrupted prune's folder was left behind")
			}
		})
	}
	// With no intact checkpoint at all, the resume fails naming them.
	out := t.TempDir()
	if err := os.MkdirAll(filepath.Join(out, "checkpoint-5"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := pretrainOpts(out)
	o.Resume = true
	if _, err := runTiny(t, o); err == nil || !strings.Contains(err.Error(), "no intact checkpoint") || !strings.Contains(err.Error(), "checkpoint-5") {
		t.Errorf("resume without an intact checkpoint: %v", err)
	}
}

// TestRunFolderRefusedWithoutOverwrite: a run folder holding a model or
// metrics but no checkpoint-* (a finished run whose checkpoints were
// pruned, an imported folder) used to be overwritten by a new run:
// model.safetensors replaced, metrics.jsonl truncated, the imported
// folder's checksums left stale. It is refused unless Overwrite.
func TestRunFolderRefusedWithoutOverwrite(t *testing.T) {
	out := t.TempDir()
	o := pretrainOpts(out)
	o.Steps = 2
	if _, err := runTiny(t, o); err != nil {
		t.Fatal(err)
	}
	cks, _ := ListCheckpoints(out)
	for _, c := range cks {
		if err := os.RemoveAll(c.Dir); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	model, metrics := read(ModelFile), read(MetricsFile)
	for _, tc := range []struct {
		resume, overwrite bool
		want              string
	}{
		{false, false, "already holds model.safetensors, metrics.jsonl"},
		{true, false, "no checkpoint-* folder to resume from"},
		{true, true, "pass one"},
	} {
		o := pretrainOpts(out)
		o.Steps, o.Seed, o.Resume, o.Overwrite = 2, 99, tc.resume, tc.overwrite
		if _, err := runTiny(t, o); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), out) {
			t.Errorf("resume %v overwrite %v: %v, want an error containing %q", tc.resume, tc.overwrite, err, tc.want)
		}
		if read(ModelFile) != model || read(MetricsFile) != metrics {
			t.Fatalf("resume %v overwrite %v: the refused run changed the folder", tc.resume, tc.overwrite)
		}
	}
	if err := checkpoints.VerifyFile(out, ModelFile); err != nil {
		t.Fatal(err)
	}

	// Overwrite starts afresh: another seed, new weights, checksums that
	// verify, no stale checkpoints.
	o = pretrainOpts(out)
	o.Steps, o.Seed, o.Overwrite = 2, 99, true
	if _, err := runTiny(t, o); err != nil {
		t.Fatal(err)
	}
	if read(ModelFile) == model {
		t.Error("--overwrite kept the old model")
	}
	if err := checkpoints.VerifyFolder(out); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadModel(out); err != nil {
		t.Fatal(err)
	}
}
