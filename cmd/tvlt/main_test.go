package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/train"
	"gorgonia.org/tensor"
)

// tvlt runs one command line in-process and returns stdout, stderr and the
// exit status.
func tvlt(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// lastJSON decodes the last stdout line as a JSON object.
func lastJSON(t *testing.T, stdout string) map[string]interface{} {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last stdout line is not JSON: %q: %v", lines[len(lines)-1], err)
	}
	return m
}

func TestHelp(t *testing.T) {
	for name := range commands {
		_, stderr, code := tvlt(t, name, "--help")
		if code != 0 || !strings.Contains(stderr, "Usage: tvlt "+name) || !strings.Contains(stderr, "Examples:") {
			t.Errorf("%s --help: status %d, output %q", name, code, stderr)
		}
	}
	for _, name := range []string{"pretrain", "finetune", "eval", "predict", "bench", "demo"} {
		if _, ok := commands[name]; !ok {
			t.Errorf("command %s is not registered", name)
		}
	}
	if _, _, code := tvlt(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command: status %d, want 2", code)
	}
	if _, stderr, code := tvlt(t, "pretrain", "--out", "x"); code != 2 || !strings.Contains(stderr, "--data is required") {
		t.Errorf("missing --data: status %d, %q", code, stderr)
	}
}

// TestEndToEnd drives the CLI through pretrain → finetune (classification
// and retrieval, both from the pretraining run) → eval → predict → bench on
// the tiny preset and a small generated set.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(24, 2, 5))
	if err != nil {
		t.Fatal(err)
	}
	pre := filepath.Join(dir, "pre")
	stdout, stderr, code := tvlt(t, "pretrain", "--data", manifest, "--out", pre, "--preset", "tiny",
		"--steps", "4", "--batch-size", "4", "--lr", "1e-3", "--save-every", "2", "--plain")
	if code != 0 {
		t.Fatalf("pretrain: status %d\n%s", code, stderr)
	}
	met := lastJSON(t, stdout)
	for _, k := range []string{"loss", "pixel_mae_loss", "audio_mae_loss", "matching_accuracy"} {
		if _, ok := met[k]; !ok {
			t.Errorf("pretrain metrics lack %s: %v", k, met)
		}
	}
	for _, f := range []string{"config.json", "model.safetensors", "metrics.jsonl", "checkpoint-4/optimizer.safetensors", "checkpoint-4/trainer_state.json", "checkpoint-2/model.safetensors"} {
		if _, err := os.Stat(filepath.Join(pre, f)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	if !strings.Contains(stderr, "step 4/4") {
		t.Errorf("no plain progress line in %q", stderr)
	}
	// Resuming a finished run is a no-op that still succeeds.
	if _, stderr, code := tvlt(t, "pretrain", "--data", manifest, "--out", pre, "--preset", "tiny",
		"--steps", "4", "--batch-size", "4", "--lr", "1e-3", "--resume", "--plain"); code != 0 {
		t.Fatalf("resume of a finished run: %d\n%s", code, stderr)
	}

	cls := filepath.Join(dir, "cls")
	_, stderr, code = tvlt(t, "finetune", "--data", manifest, "--out", cls, "--task", "classification",
		"--init", pre, "--steps", "3", "--batch-size", "4", "--plain")
	if code != 0 {
		t.Fatalf("finetune: status %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "loaded") || !strings.Contains(stderr, "classifier") {
		t.Errorf("no init report naming the fresh classifier in %q", stderr)
	}
	stdout, stderr, code = tvlt(t, "eval", "--data", manifest, "--ckpt", cls, "--split", "test")
	if code != 0 {
		t.Fatalf("eval: status %d\n%s", code, stderr)
	}
	met = lastJSON(t, stdout)
	if acc, ok := met["accuracy"].(float64); !ok || acc < 0 || acc > 1 {
		t.Errorf("eval accuracy %v", met["accuracy"])
	}
	if _, ok := met["macro_f1"]; !ok {
		t.Errorf("eval lacks macro_f1: %v", met)
	}
	preds := filepath.Join(dir, "preds.jsonl")
	attn := filepath.Join(dir, "attn")
	if _, stderr, code = tvlt(t, "predict", "--data", manifest, "--ckpt", cls, "--split", "test", "--out", preds+".test", "--attention", attn); code != 0 {
		t.Fatalf("predict --attention: status %d\n%s", code, stderr)
	}
	checkAttentionPNGs(t, attn, manifest, "test")
	attnPre := filepath.Join(dir, "attn-pre")
	if _, stderr, code = tvlt(t, "predict", "--data", manifest, "--ckpt", pre, "--split", "test", "--out", preds+".pre", "--attention", attnPre); code != 0 {
		t.Fatalf("predict --attention (pretraining model): status %d\n%s", code, stderr)
	}
	checkAttentionPNGs(t, attnPre, manifest, "test")
	encNPZ := filepath.Join(dir, "enc.npz")
	if _, stderr, code = tvlt(t, "predict", "--data", manifest, "--ckpt", cls, "--split", "test", "--out", preds+".enc", "--outputs", "hidden_states,attentions", "--out-npz", encNPZ); code != 0 {
		t.Fatalf("predict --outputs: status %d\n%s", code, stderr)
	}
	checkEncoderNPZ(t, encNPZ, cls, manifest, "test")
	if _, _, code = tvlt(t, "predict", "--data", manifest, "--ckpt", cls, "--out", preds+".x", "--outputs", "hidden_states"); code != 2 {
		t.Errorf("--outputs without --out-npz: status %d, want 2", code)
	}
	if _, stderr, code = tvlt(t, "predict", "--data", manifest, "--ckpt", cls, "--split", "all", "--out", preds); code != 0 {
		t.Fatalf("predict: status %d\n%s", code, stderr)
	}
	buf, err := os.ReadFile(preds)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(buf)), "\n")
	if len(lines) != 24 {
		t.Errorf("%d prediction lines, want 24", len(lines))
	}
	var p struct {
		ID     string    `json:"id"`
		Logits []float64 `json:"logits"`
		Label  *int      `json:"label"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &p); err != nil || p.ID == "" || len(p.Logits) != data.DemoClasses || p.Label == nil {
		t.Errorf("prediction line %q (%v)", lines[0], err)
	}

	ret := filepath.Join(dir, "ret")
	stdout, stderr, code = tvlt(t, "finetune", "--data", manifest, "--out", ret, "--task", "retrieval",
		"--init", pre, "--steps", "2", "--batch-size", "4", "--eval-split", "test", "--plain")
	if code != 0 {
		t.Fatalf("retrieval finetune: status %d\n%s", code, stderr)
	}
	met = lastJSON(t, stdout)
	for _, k := range []string{"a2v_r1", "a2v_r5", "a2v_r10", "v2a_r1", "v2a_r10", "recall_mean"} {
		if v, ok := met[k].(float64); !ok || v < 0 || v > 1 {
			t.Errorf("retrieval %s = %v", k, met[k])
		}
	}

	stdout, stderr, code = tvlt(t, "bench", "--preset", "tiny", "--task", "finetune", "--batch-size", "2", "--steps", "2", "--warmup", "1")
	if code != 0 {
		t.Fatalf("bench: status %d\n%s", code, stderr)
	}
	met = lastJSON(t, stdout)
	for _, k := range []string{"preset", "task", "batch_size", "steps", "ms_per_step_median", "ms_per_step_min", "samples_per_s", "peak_rss_mb"} {
		if _, ok := met[k]; !ok {
			t.Errorf("bench output lacks %s: %v", k, met)
		}
	}
	if met["preset"] != "tiny" || met["task"] != "finetune" {
		t.Errorf("bench output %v", met)
	}
}

// TestInterruptExitCode: a cancelled context (what SIGINT does) saves a
// checkpoint and exits with 130; --resume then finishes the run.
func TestInterruptExitCode(t *testing.T) {
	dir := t.TempDir()
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(12, 2, 6))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	out2 := filepath.Join(dir, "run")
	args := []string{"pretrain", "--data", manifest, "--out", out2, "--preset", "tiny", "--steps", "2", "--batch-size", "4", "--plain"}
	if code := run(ctx, args, &out, &errb); code != 130 {
		t.Fatalf("interrupted: status %d, want 130\n%s", code, errb.String())
	}
	cks, _ := train.ListCheckpoints(out2)
	if len(cks) != 1 || cks[0].Step != 0 {
		t.Fatalf("checkpoints after interrupt: %v", cks)
	}
	if _, stderr, code := tvlt(t, append(args, "--resume")...); code != 0 {
		t.Fatalf("resume: %d\n%s", code, stderr)
	}
}

// checkAttentionPNGs checks that --attention wrote one decodable heat-map
// PNG per clip of split, named after the clip ID, and nothing else.
func checkAttentionPNGs(t *testing.T, dir, manifest, split string) {
	t.Helper()
	clips, err := data.ReadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	clips = data.FilterSplit(clips, split)
	files, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	if len(clips) == 0 || len(files) != len(clips) {
		t.Fatalf("%d attention PNGs in %s for %d %s clips", len(files), dir, len(clips), split)
	}
	for _, c := range clips {
		path := filepath.Join(dir, "attn-"+fileSafe(c.ID)+".png")
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if s := img.Bounds().Size(); s.X < 200 || s.Y < 150 {
			t.Errorf("%s is only %v", path, s)
		}
	}
}

// demoOpts is the default demo set with a clip count, frames per clip and seed.
func demoOpts(clips, frames int, seed uint64) data.DemoOptions {
	o := data.DefaultDemoOptions()
	o.Clips, o.Frames, o.Seed = clips, frames, seed
	return o
}

// checkEncoderNPZ checks predict --outputs hidden_states,attentions: every
// clip of the split has num_hidden_layers+1 hidden states (S, D) and
// num_hidden_layers attention maps (heads, S, S) whose rows are
// probability distributions.
func checkEncoderNPZ(t *testing.T, path, ckpt, manifest, split string) {
	t.Helper()
	arrays, err := checkpoints.ReadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := train.LoadModel(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	clips, err := data.ReadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	clips = data.FilterSplit(clips, split)
	s := 1 + c.PixelTokens(c.NumFrames) + c.AudioTokens(c.MaxTimePatches())
	for _, cl := range clips {
		for i := 0; i <= c.NumHiddenLayers; i++ {
			h := arrays[fmt.Sprintf("%s/hidden_states/%d", cl.ID, i)]
			if h == nil || !h.Shape().Eq(tensor.Shape{s, c.HiddenSize}) {
				t.Fatalf("%s hidden_states/%d: %v", cl.ID, i, h)
			}
		}
		for l := 0; l < c.NumHiddenLayers; l++ {
			a := arrays[fmt.Sprintf("%s/attentions/%d", cl.ID, l)]
			if a == nil || !a.Shape().Eq(tensor.Shape{c.NumAttentionHeads, s, s}) {
				t.Fatalf("%s attentions/%d: %v", cl.ID, l, a)
			}
			v := a.Data().([]float32)
			for r := 0; r < c.NumAttentionHeads*s; r++ {
				sum := 0.0
				for _, x := range v[r*s : (r+1)*s] {
					sum += float64(x)
				}
				if math.Abs(sum-1) > 1e-4 {
					t.Fatalf("%s attentions/%d row %d sums to %v", cl.ID, l, r, sum)
				}
			}
		}
	}
	if want := len(clips) * (2*c.NumHiddenLayers + 1); len(arrays) != want {
		t.Errorf("%d arrays, want %d", len(arrays), want)
	}
}
