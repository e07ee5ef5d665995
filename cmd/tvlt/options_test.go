package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/train"
)

// TestZeroMeansZero: a 0 on the command line is never swapped for a
// default. --lr 0 and --keep 0 are rejected with a message naming the flag
// (before any data is read); --log-every 0 logs the last step only and
// --clip 0 / --weight-decay 0 switch clipping and decay off.
func TestZeroMeansZero(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ flag, want string }{
		{"--lr", "--lr 0: must be finite and > 0"},
		{"--keep", "--keep 0: must be >= 1"},
		{"--batch-size", "--batch-size 0: must be >= 1"},
		{"--epochs", "--epochs 0: must be >= 1 unless a step count is given"},
	} {
		_, stderr, code := tvlt(t, "pretrain", "--data", filepath.Join(dir, "absent.jsonl"), "--out", filepath.Join(dir, "x"), tc.flag, "0")
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s 0: status %d, stderr %q, want status 2 and %q", tc.flag, code, stderr, tc.want)
		}
	}
	_, stderr, code := tvlt(t, "finetune", "--data", filepath.Join(dir, "absent.jsonl"), "--out", filepath.Join(dir, "x"),
		"--task", "classification", "--best-metric", "recall_mean")
	if code != 2 || !strings.Contains(stderr, `--best-metric "recall_mean": classification evaluation reports loss, accuracy, macro_f1`) {
		t.Errorf("--best-metric of another task: status %d, stderr %q", code, stderr)
	}

	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(8, 2, 7))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	_, stderr, code = tvlt(t, "pretrain", "--data", manifest, "--out", out, "--preset", "tiny", "--steps", "2", "--batch-size", "4",
		"--log-every", "0", "--save-every", "1", "--keep", "1", "--clip", "0", "--weight-decay", "0", "--eval-split", "none", "--plain")
	if code != 0 {
		t.Fatalf("pretrain --log-every 0: status %d\n%s", code, stderr)
	}
	recs, err := train.ReadMetrics(filepath.Join(out, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Type != train.RecordTrain || recs[0].Step != 2 {
		t.Errorf("--log-every 0 wrote %+v, want one training record, of step 2", recs)
	}
	if n := strings.Count(stderr, "step "); n != 1 || !strings.Contains(stderr, "step 2/2") {
		t.Errorf("--log-every 0 printed %d step lines, want only step 2/2:\n%s", n, stderr)
	}
	if cks, _ := train.ListCheckpoints(out); len(cks) != 1 || cks[0].Step != 2 {
		t.Errorf("--save-every 1 --keep 1 left %v, want checkpoint-2 only", cks)
	}
}

// TestDropoutFlags: --hidden-dropout and --attention-dropout override the
// model config of the run (written to its config.json), and values outside
// [0, 1) are rejected naming the config field.
func TestDropoutFlags(t *testing.T) {
	dir := t.TempDir()
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(8, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code := tvlt(t, "pretrain", "--data", manifest, "--out", filepath.Join(dir, "bad"), "--preset", "tiny", "--hidden-dropout", "1.5")
	if code == 0 || !strings.Contains(stderr, "hidden_dropout_prob must be in [0, 1)") {
		t.Errorf("--hidden-dropout 1.5: status %d, stderr %q", code, stderr)
	}
	out := filepath.Join(dir, "run")
	if _, stderr, code = tvlt(t, "pretrain", "--data", manifest, "--out", out, "--preset", "tiny", "--steps", "2", "--batch-size", "4",
		"--hidden-dropout", "0.1", "--attention-dropout", "0.2", "--eval-split", "none", "--plain"); code != 0 {
		t.Fatalf("pretrain with dropout: status %d\n%s", code, stderr)
	}
	cfg, err := config.Read(filepath.Join(out, train.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HiddenDropoutProb != 0.1 || cfg.AttentionProbsDropoutProb != 0.2 {
		t.Errorf("run config has dropout %v / %v, want 0.1 / 0.2", cfg.HiddenDropoutProb, cfg.AttentionProbsDropoutProb)
	}
}
