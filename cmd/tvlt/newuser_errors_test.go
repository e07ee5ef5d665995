package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/data"
)

// TestFloatLabelNamesClipAndLine: one float label among class labels in a
// classification manifest is reported with that clip's id and its manifest
// line, whichever position it has.
func TestFloatLabelNamesClipAndLine(t *testing.T) {
	for _, bad := range []int{0, 3} {
		dir := t.TempDir()
		manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(8, 2, 3))
		if err != nil {
			t.Fatal(err)
		}
		clips, err := data.ReadManifest(manifest)
		if err != nil {
			t.Fatal(err)
		}
		var trainIdx []int
		for i, c := range clips {
			if c.Split == "train" {
				trainIdx = append(trainIdx, i)
			}
		}
		k := trainIdx[min(bad, len(trainIdx)-1)]
		clips[k].Label = data.Label{Kind: data.LabelScore, Score: 2.5}
		m2 := filepath.Join(dir, "data", "float.jsonl")
		if err := data.WriteManifest(m2, clips); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := tvlt(t, "finetune", "--data", m2, "--out", filepath.Join(dir, "run"), "--task", "classification",
			"--preset", "tiny", "--steps", "1", "--batch-size", "2", "--eval-split", "none", "--plain")
		if code == 0 {
			t.Fatalf("float label accepted")
		}
		line := lineOf(t, m2, clips[k].ID)
		wantLine := "float.jsonl:" + strconv.Itoa(line)
		if !strings.Contains(stderr, clips[k].ID) || !strings.Contains(stderr, wantLine) {
			t.Errorf("bad clip %s (%s) at position %d: error does not name both:\n%s", clips[k].ID, wantLine, bad, lastLines(stderr, 3))
		}
	}
}

// lineOf is the 1-based line of the manifest holding id.
func lineOf(t *testing.T, manifest, id string) int {
	t.Helper()
	buf, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(buf), "\n") {
		if strings.Contains(l, `"`+id+`"`) {
			return i + 1
		}
	}
	t.Fatalf("%s not in %s", id, manifest)
	return 0
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// TestMissingConfigNamed: a folder with weights but no config.json says
// config.json is missing and names the folder.
func TestMissingConfigNamed(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "model")
	if err := os.MkdirAll(ck, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ck, "model.safetensors"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(4, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code := tvlt(t, "eval", "--data", manifest, "--ckpt", ck, "--split", "all")
	last := lastLines(stderr, 1)
	if code != 1 || !strings.Contains(last, "config.json is missing") || !strings.Contains(last, ck) || strings.Contains(last, "neither") {
		t.Errorf("status %d, error %q: want config.json named missing in %s", code, last, ck)
	}
}

// TestImportNPZNeedsConfigFlag: the error names the --config flag, not a
// Go field.
func TestImportNPZNeedsConfigFlag(t *testing.T) {
	dir := t.TempDir()
	npz := filepath.Join(dir, "w.npz")
	if err := os.WriteFile(npz, []byte("PK"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := tvlt(t, "import", "--from", npz, "--out", filepath.Join(dir, "out"))
	last := lastLines(stderr, 1)
	if code == 0 || !strings.Contains(last, "--config") || strings.Contains(stderr, "LoadOptions") {
		t.Errorf("status %d, error %q: want it to name --config", code, last)
	}
}

// TestUsageErrorLast: a missing or unknown flag prints a short usage and
// the error as the last line, not 50 lines of help after it; --help still
// prints the full help.
func TestUsageErrorLast(t *testing.T) {
	for _, args := range [][]string{
		{"finetune", "--out", "x", "--task", "classification"},
		{"pretrain", "--bogus"},
		{"eval", "--data", "m.jsonl"},
		{"predict", "--data", "m", "--ckpt", "c", "--out", "p", "extra"},
	} {
		_, stderr, code := tvlt(t, args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		last := lines[len(lines)-1]
		if code != 2 || !strings.HasPrefix(last, "tvlt "+args[0]+": ") || len(lines) > 4 || !strings.Contains(stderr, "Usage: tvlt "+args[0]) {
			t.Errorf("%v: status %d, %d lines, last %q:\n%s", args, code, len(lines), last, stderr)
		}
	}
	_, stderr, code := tvlt(t, "eval", "--help")
	if code != 0 || !strings.Contains(stderr, "Flags:") || !strings.Contains(stderr, "Examples:") {
		t.Errorf("eval --help: status %d\n%s", code, stderr)
	}
}

// TestPredictHelpPretrainTarget: predict --help describes what "target"
// is for a pretraining checkpoint (whether the scored pair is the clip's
// own), not the manifest label.
func TestPredictHelpPretrainTarget(t *testing.T) {
	_, stderr, _ := tvlt(t, "predict", "--help")
	flat := strings.Join(strings.Fields(stderr), " ")
	for _, want := range []string{"pretraining checkpoint", `"target" true if the pair is the clip's own audio and video`, "not the manifest label"} {
		if !strings.Contains(flat, want) {
			t.Errorf("predict --help lacks %q", want)
		}
	}
}
