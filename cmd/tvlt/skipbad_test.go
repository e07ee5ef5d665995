package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/train"
)

// TestSkipBad: a manifest with one corrupt WAV stops a run naming the file;
// with --skip-bad, pretraining and evaluation go on without that clip and
// list it at the end, in metrics.jsonl and in skipped_clips.
func TestSkipBad(t *testing.T) {
	dir := t.TempDir()
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(10, 2, 4))
	if err != nil {
		t.Fatal(err)
	}
	clips, err := data.ReadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	bad := data.FilterSplit(clips, "train")[0]
	if err := os.WriteFile(bad.Audio, []byte("RIFF\x00\x00not a wave file"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"pretrain", "--data", manifest, "--preset", "tiny", "--steps", "2", "--batch-size", "4", "--eval-split", "none", "--plain"}
	_, stderr, code := tvlt(t, append(args, "--out", filepath.Join(dir, "strict"))...)
	if code == 0 || !strings.Contains(stderr, filepath.Base(bad.Audio)) {
		t.Fatalf("corrupt WAV without --skip-bad: status %d\n%s", code, stderr)
	}
	out := filepath.Join(dir, "run")
	if _, stderr, code = tvlt(t, append(args, "--out", out, "--skip-bad")...); code != 0 {
		t.Fatalf("--skip-bad: status %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "skipped 1 clip") || !strings.Contains(stderr, bad.ID) {
		t.Errorf("no skip summary naming %s:\n%s", bad.ID, stderr)
	}
	recs, err := train.ReadMetrics(filepath.Join(out, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r.Type == train.RecordSkipped {
			found = len(r.Skipped) == 1 && r.Skipped[0].ID == bad.ID && strings.Contains(r.Skipped[0].File, filepath.Base(bad.Audio)) && r.Skipped[0].Reason != ""
		}
	}
	if !found {
		t.Errorf("metrics.jsonl has no skipped record for %s: %+v", bad.ID, recs)
	}
	stdout, stderr, code := tvlt(t, "eval", "--data", manifest, "--ckpt", out, "--split", "all", "--skip-bad", "--plain")
	if code != 0 {
		t.Fatalf("eval --skip-bad: status %d\n%s", code, stderr)
	}
	if met := lastJSON(t, stdout); met["skipped_clips"] != 1.0 {
		t.Errorf("eval skipped_clips = %v, want 1", met["skipped_clips"])
	}
}
