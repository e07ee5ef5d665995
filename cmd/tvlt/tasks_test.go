package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/data"
)

// relabel generates a demo set and rewrites every clip's label with fn
// (called with the demo class), returning the new manifest's path.
func relabel(t *testing.T, dir string, opts data.DemoOptions, fn func(class int) data.Label) string {
	t.Helper()
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), opts)
	if err != nil {
		t.Fatal(err)
	}
	clips, err := data.ReadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	for i := range clips {
		if clips[i].Label.Kind != data.LabelClass {
			t.Fatalf("demo clip %s has a %s label", clips[i].ID, clips[i].Label.Kind)
		}
		clips[i].Label = fn(clips[i].Label.Class)
	}
	out := filepath.Join(dir, "data", "relabelled.jsonl")
	if err := data.WriteManifest(out, clips); err != nil {
		t.Fatal(err)
	}
	return out
}

// readPredictions decodes a predict output file.
func readPredictions(t *testing.T, path string) []map[string]any {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(buf)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("prediction line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// unit checks that metric k is reported and lies in [0, 1].
func unit(t *testing.T, what string, met map[string]any, k string) {
	t.Helper()
	if v, ok := met[k].(float64); !ok || v < 0 || v > 1 {
		t.Errorf("%s: %s = %v (metrics %v)", what, k, met[k], met)
	}
}

// TestMultilabelCLI fine-tunes --task multilabel on the demo set with its
// class turned into three yes/no labels (rows, cols, class 0), then
// evaluates and predicts from the run.
func TestMultilabelCLI(t *testing.T) {
	dir := t.TempDir()
	manifest := relabel(t, dir, demoOpts(24, 2, 5), func(c int) data.Label {
		return data.Label{Kind: data.LabelMulti, Multi: []float64{float64(c & 1), float64(c >> 1 & 1), float64(b2i(c == 0))}}
	})
	run := filepath.Join(dir, "ml")
	stdout, stderr, code := tvlt(t, "finetune", "--data", manifest, "--out", run, "--task", "multilabel", "--preset", "tiny",
		"--steps", "3", "--batch-size", "4", "--lr", "1e-3", "--eval-split", "test", "--plain")
	if code != 0 {
		t.Fatalf("finetune multilabel: status %d\n%s", code, stderr)
	}
	met := lastJSON(t, stdout)
	for _, k := range []string{"mean_weighted_accuracy", "mean_f1", "weighted_accuracy/0", "weighted_accuracy/2", "f1/0", "f1/2"} {
		unit(t, "finetune", met, k)
	}
	if _, ok := met["weighted_accuracy/3"]; ok {
		t.Errorf("a fourth label in %v", met)
	}
	if l, ok := met["loss"].(float64); !ok || !(l > 0) {
		t.Errorf("loss %v", met["loss"])
	}
	cfg, err := os.ReadFile(filepath.Join(run, "config.json"))
	if err != nil || !strings.Contains(string(cfg), `"loss_type": "multilabel"`) || !strings.Contains(string(cfg), `"num_labels": 3`) {
		t.Errorf("run config (%v):\n%s", err, cfg)
	}
	stdout, stderr, code = tvlt(t, "eval", "--data", manifest, "--ckpt", run, "--split", "test")
	if code != 0 {
		t.Fatalf("eval: status %d\n%s", code, stderr)
	}
	ev := lastJSON(t, stdout)
	if ev["mean_f1"] != met["mean_f1"] || ev["mean_weighted_accuracy"] != met["mean_weighted_accuracy"] {
		t.Errorf("eval %v differs from the run's final evaluation %v", ev, met)
	}
	preds := filepath.Join(dir, "preds.jsonl")
	if _, stderr, code = tvlt(t, "predict", "--data", manifest, "--ckpt", run, "--split", "test", "--out", preds); code != 0 {
		t.Fatalf("predict: status %d\n%s", code, stderr)
	}
	for _, p := range readPredictions(t, preds) {
		logits, _ := p["logits"].([]any)
		label, _ := p["label"].([]any)
		if len(logits) != 3 || len(label) != 3 {
			t.Fatalf("prediction %v", p)
		}
		for j := range logits {
			if want := float64(b2i(logits[j].(float64) > 0)); label[j] != want {
				t.Errorf("prediction %v: label[%d] is not logit > 0", p, j)
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestVQACLI fine-tunes --task vqa on the demo set with each clip's class
// as its full-score answer and the next class as a 0.3 answer, over a
// four-answer vocabulary, then checks the reported vqa_score against the
// predictions (the target score of each clip's argmax answer) and that
// predictions name answers from the vocabulary.
func TestVQACLI(t *testing.T) {
	dir := t.TempDir()
	manifest := relabel(t, dir, demoOpts(24, 2, 5), func(c int) data.Label {
		return data.Label{Kind: data.LabelAnswers, Answers: []data.Answer{{ID: c, Score: 1}, {ID: (c + 1) % 4, Score: 0.3}}}
	})
	vocab := []string{"none", "rows", "cols", "both"}
	answers := filepath.Join(dir, "answers.txt")
	if err := os.WriteFile(answers, []byte(strings.Join(vocab, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "vqa")
	stdout, stderr, code := tvlt(t, "finetune", "--data", manifest, "--out", run, "--task", "vqa", "--preset", "tiny",
		"--answers", answers, "--steps", "3", "--batch-size", "4", "--lr", "1e-3", "--eval-split", "test", "--plain")
	if code != 0 {
		t.Fatalf("finetune vqa: status %d\n%s", code, stderr)
	}
	met := lastJSON(t, stdout)
	unit(t, "finetune", met, "vqa_score")
	if l, ok := met["loss"].(float64); !ok || !(l > 0) {
		t.Errorf("loss %v", met["loss"])
	}
	cfg, err := os.ReadFile(filepath.Join(run, "config.json"))
	if err != nil || !strings.Contains(string(cfg), `"loss_type": "vqa"`) || !strings.Contains(string(cfg), `"num_labels": 4`) || !strings.Contains(string(cfg), `"2": "cols"`) {
		t.Errorf("run config (%v):\n%s", err, cfg)
	}
	preds := filepath.Join(dir, "preds.jsonl")
	stdout, stderr, code = tvlt(t, "predict", "--data", manifest, "--ckpt", run, "--split", "test", "--out", preds)
	if code != 0 {
		t.Fatalf("predict: status %d\n%s", code, stderr)
	}
	pm := lastJSON(t, stdout)
	if pm["vqa_score"] != met["vqa_score"] {
		t.Errorf("predict vqa_score %v, the run's final evaluation %v", pm["vqa_score"], met["vqa_score"])
	}
	ps := readPredictions(t, preds)
	var sum float64
	for _, p := range ps {
		logits, _ := p["logits"].([]any)
		if len(logits) != 4 {
			t.Fatalf("prediction %v", p)
		}
		best := 0
		for j := range logits {
			if logits[j].(float64) > logits[best].(float64) {
				best = j
			}
		}
		if p["label"] != vocab[best] {
			t.Errorf("prediction %v: label is not the argmax answer %q", p, vocab[best])
		}
		for _, pair := range p["target"].([]any) {
			if pr := pair.([]any); int(pr[0].(float64)) == best {
				sum += pr[1].(float64)
			}
		}
	}
	if want := sum / float64(len(ps)); len(ps) == 0 || math.Abs(pm["vqa_score"].(float64)-want) > 1e-12 {
		t.Errorf("vqa_score %v, from the predictions %v", pm["vqa_score"], want)
	}
	// --answers renames the predicted answers; a vocabulary of the wrong
	// size is refused.
	other := filepath.Join(dir, "other.txt")
	os.WriteFile(other, []byte("a\nb\nc\nd"), 0o644)
	if _, stderr, code = tvlt(t, "predict", "--data", manifest, "--ckpt", run, "--split", "test", "--out", preds, "--answers", other); code != 0 {
		t.Fatalf("predict --answers: status %d\n%s", code, stderr)
	}
	for _, p := range readPredictions(t, preds) {
		if s, _ := p["label"].(string); len(s) != 1 || s < "a" || s > "d" {
			t.Errorf("prediction with --answers: label %v", p["label"])
		}
	}
	os.WriteFile(other, []byte("a\nb\n"), 0o644)
	if _, stderr, code = tvlt(t, "predict", "--data", manifest, "--ckpt", run, "--out", preds, "--answers", other); code == 0 || !strings.Contains(stderr, "2 answers") {
		t.Errorf("predict with a 2-answer vocabulary: status %d, %q", code, stderr)
	}
}

func TestReadAnswers(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		text, want string
		n          int
	}{
		{"yes\nno\n2 dogs", "", 3},
		{"yes\r\nno\r\n", "", 2},
		{"yes\n\nno\n", ":2: blank answer", 0},
		{"yes\nno\nyes\n", `:3: answer "yes" repeats line 1`, 0},
		{"", "no answers", 0},
	} {
		p := filepath.Join(dir, "a.txt")
		os.WriteFile(p, []byte(c.text), 0o644)
		v, err := readAnswers(p)
		switch {
		case c.want == "" && (err != nil || len(v) != c.n):
			t.Errorf("%q: %v, %v", c.text, v, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: error %v, want %q", c.text, err, c.want)
		}
	}
}

// TestRetrievalNegativesCLI: --negatives 3 trains retrieval on 4·(1+3)
// pairs per step and reports the recalls; more negatives than the other
// clips of a batch is a usage error naming the flag.
func TestRetrievalNegativesCLI(t *testing.T) {
	dir := t.TempDir()
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(16, 2, 4))
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "ret")
	stdout, stderr, code := tvlt(t, "finetune", "--data", manifest, "--out", run, "--task", "retrieval", "--preset", "tiny",
		"--negatives", "3", "--steps", "2", "--batch-size", "4", "--eval-split", "test", "--plain")
	if code != 0 {
		t.Fatalf("retrieval --negatives 3: status %d\n%s", code, stderr)
	}
	met := lastJSON(t, stdout)
	for _, k := range []string{"a2v_r1", "v2a_r1", "recall_mean", "pair_accuracy"} {
		unit(t, "retrieval", met, k)
	}
	_, stderr, code = tvlt(t, "finetune", "--data", manifest, "--out", filepath.Join(dir, "bad"), "--task", "retrieval", "--preset", "tiny",
		"--negatives", "4", "--batch-size", "4")
	if code != 2 || !strings.Contains(stderr, "--negatives 4") || !strings.Contains(stderr, "batch size - 1 = 3") {
		t.Errorf("--negatives 4 with batches of 4: status %d, %q", code, stderr)
	}
}

// TestLossWeightsCLI: pretrain --loss-weights and --negative-ratio; the
// reported total (train records and the final evaluation) is the weighted
// sum of the unweighted per-task losses; bad values are usage errors.
func TestLossWeightsCLI(t *testing.T) {
	dir := t.TempDir()
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(24, 2, 5))
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "pre")
	stdout, stderr, code := tvlt(t, "pretrain", "--data", manifest, "--out", run, "--preset", "tiny", "--steps", "2", "--batch-size", "4",
		"--loss-weights", "pixel=2,audio=0.5,matching=0", "--negative-ratio", "0.3", "--log-every", "1", "--eval-split", "test", "--plain")
	if code != 0 {
		t.Fatalf("pretrain: status %d\n%s", code, stderr)
	}
	check := func(what string, m map[string]any) {
		t.Helper()
		loss, _ := m["loss"].(float64)
		pix, _ := m["pixel_mae_loss"].(float64)
		aud, _ := m["audio_mae_loss"].(float64)
		if want := 2*pix + 0.5*aud; !(pix > 0 && aud > 0) || math.Abs(loss-want) > 1e-6*want {
			t.Errorf("%s: loss %v, want 2·%v + 0.5·%v = %v", what, loss, pix, aud, want)
		}
		if _, ok := m["matching_loss"].(float64); !ok {
			t.Errorf("%s: no matching_loss in %v", what, m)
		}
	}
	check("final evaluation", lastJSON(t, stdout))
	buf, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(buf)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] == "train" {
			n++
			check("train record", m)
		}
	}
	if n != 2 {
		t.Errorf("%d train records, want 2", n)
	}
	for _, c := range []struct{ flag, value, want string }{
		{"--loss-weights", "pixel=1,text=2", `unknown term "text"`},
		{"--loss-weights", "pixel", "want term=weight"},
		{"--loss-weights", "matching=-1", "--loss-weights"},
		{"--negative-ratio", "1.5", "--negative-ratio 1.5"},
	} {
		_, stderr, code := tvlt(t, "pretrain", "--data", manifest, "--out", filepath.Join(dir, "bad"), "--preset", "tiny", c.flag, c.value)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s %s: status %d, %q", c.flag, c.value, code, stderr)
		}
	}
}
