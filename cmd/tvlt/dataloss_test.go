package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/checkpoints/hf"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/train"
)

// tinyRun trains a tiny pretraining run of steps steps into out, saving a
// checkpoint at every step.
func tinyRun(t *testing.T, manifest, out string, steps string, extra ...string) {
	t.Helper()
	args := append([]string{"pretrain", "--data", manifest, "--out", out, "--preset", "tiny", "--steps", steps, "--batch-size", "4",
		"--save-every", "1", "--eval-split", "none", "--plain"}, extra...)
	if _, stderr, code := tvlt(t, args...); code != 0 {
		t.Fatalf("pretrain %v: status %d\n%s", extra, code, stderr)
	}
}

// TestExportNeverReplacesTrainingState: export --out pointing at a training
// checkpoint-N (or at the folder being exported) used to replace it with an
// HF folder, deleting optimizer.safetensors and trainer_state.json, so the
// run could no longer resume. It is refused, and the run still resumes.
func TestExportNeverReplacesTrainingState(t *testing.T) {
	dir := t.TempDir()
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(8, 2, 11))
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	tinyRun(t, manifest, run, "2")
	ck := filepath.Join(run, "checkpoint-2")
	for _, args := range [][]string{
		{"export", "--ckpt", run, "--out", ck},
		{"export", "--ckpt", ck, "--out", ck},
		{"export", "--ckpt", filepath.Join(run, "checkpoint-1"), "--out", ck},
		{"export", "--ckpt", ck, "--out", ck, "--model", "base"},
		{"import", "--from", run, "--out", ck},
	} {
		_, stderr, code := tvlt(t, args...)
		if code == 0 {
			t.Errorf("%v succeeded", args)
		}
		if !strings.Contains(stderr, ck) {
			t.Errorf("%v: stderr %q does not name %s", args, stderr, ck)
		}
	}
	for _, f := range []string{train.OptimizerFile, train.TrainerStateFile} {
		if _, err := os.Stat(filepath.Join(ck, f)); err != nil {
			t.Errorf("after the refused exports: %v", err)
		}
	}
	if err := checkpoints.VerifyFolder(ck); err != nil {
		t.Fatal(err)
	}

	// An exported folder is not re-exported onto itself either (with
	// --model base that would drop its heads).
	exp := filepath.Join(dir, "export")
	if _, stderr, code := tvlt(t, "export", "--ckpt", run, "--out", exp); code != 0 {
		t.Fatalf("export: status %d\n%s", code, stderr)
	}
	if _, stderr, code := tvlt(t, "export", "--ckpt", exp, "--out", exp, "--model", "base"); code == 0 || !strings.Contains(stderr, "is the folder being exported") {
		t.Errorf("export onto its own source: status %d\n%s", code, stderr)
	}
	// Re-exporting into the export folder from the run stays possible.
	if _, stderr, code := tvlt(t, "export", "--ckpt", run, "--out", exp); code != 0 {
		t.Fatalf("re-export: status %d\n%s", code, stderr)
	}

	tinyRun(t, manifest, run, "3", "--resume")
	if cks, _ := train.ListCheckpoints(run); len(cks) == 0 || cks[len(cks)-1].Step != 3 {
		t.Errorf("after resuming: %v", cks)
	}
}

// TestNonFiniteWeightsRefused: a checkpoint with a NaN weight used to
// evaluate with exit status 0 and null metrics. Loading it is an error
// naming the tensor; --allow-nonfinite loads it for forensic use.
func TestNonFiniteWeightsRefused(t *testing.T) {
	dir := t.TempDir()
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(8, 2, 12))
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	tinyRun(t, manifest, run, "1")
	m, err := train.LoadModel(run)
	if err != nil {
		t.Fatal(err)
	}
	const bad = "tvlt.layernorm.weight"
	m.Params.Value(bad).Data().([]float32)[3] = float32(math.NaN())
	nan := filepath.Join(dir, "nan")
	if err := hf.Save(nan, m); err != nil {
		t.Fatal(err)
	}
	if _, err := train.LoadModel(nan); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadModel: %v, want an error naming %s", err, bad)
	}
	for _, args := range [][]string{
		{"eval", "--data", manifest, "--ckpt", nan, "--split", "all", "--batch-size", "4"},
		{"predict", "--data", manifest, "--ckpt", nan, "--split", "all", "--batch-size", "4", "--out", filepath.Join(dir, "preds.jsonl")},
		{"export", "--ckpt", nan, "--out", filepath.Join(dir, "exported")},
	} {
		_, stderr, code := tvlt(t, args...)
		if code == 0 || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "--allow-nonfinite") {
			t.Errorf("%s: status %d, want an error naming %s and --allow-nonfinite:\n%s", args[0], code, bad, stderr)
		}
		// With the override the model loads; predict then fails writing
		// NaN to JSON, which is its own (unrelated) check.
		_, stderr, code = tvlt(t, append(args, "--allow-nonfinite")...)
		if strings.Contains(stderr, "non-finite weight") || (code != 0 && args[0] != "predict") {
			t.Errorf("%s --allow-nonfinite: status %d\n%s", args[0], code, stderr)
		}
	}
}

// TestOverwriteFlag: pretrain --out on an imported folder (config.json,
// model.safetensors, checksums.json, no checkpoint-*) used to replace its
// model and leave its checksums stale. It is refused unless --overwrite.
func TestOverwriteFlag(t *testing.T) {
	dir := t.TempDir()
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(8, 2, 13))
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	tinyRun(t, manifest, run, "1")
	imp := filepath.Join(dir, "imported")
	if _, stderr, code := tvlt(t, "import", "--from", run, "--out", imp); code != 0 {
		t.Fatalf("import: status %d\n%s", code, stderr)
	}
	before, _ := os.ReadFile(filepath.Join(imp, train.ModelFile))
	args := []string{"pretrain", "--data", manifest, "--out", imp, "--preset", "tiny", "--steps", "1", "--batch-size", "4", "--eval-split", "none", "--plain", "--seed", "5"}
	if _, stderr, code := tvlt(t, args...); code == 0 || !strings.Contains(stderr, "--overwrite") {
		t.Fatalf("pretrain into an imported folder: status %d\n%s", code, stderr)
	}
	after, _ := os.ReadFile(filepath.Join(imp, train.ModelFile))
	if string(before) != string(after) {
		t.Fatal("the refused run replaced the imported model")
	}
	if err := checkpoints.VerifyFolder(imp); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := tvlt(t, append(args, "--overwrite")...); code != 0 {
		t.Fatalf("pretrain --overwrite: status %d\n%s", code, stderr)
	}
	if err := checkpoints.VerifyFolder(imp); err != nil {
		t.Fatalf("after --overwrite: %v", err)
	}
	if _, err := train.LoadModel(imp); err != nil {
		t.Fatal(err)
	}
}
