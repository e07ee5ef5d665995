package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/data"
)

// decodeSize decodes a PNG file and returns its width and height.
func decodeSize(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

// TestVizCommands pretrains the tiny preset for 4 steps with --viz-every 2,
// then draws its curves and reconstructions.
func TestVizCommands(t *testing.T) {
	dir := t.TempDir()
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(16, 2, 9))
	if err != nil {
		t.Fatal(err)
	}
	pre := filepath.Join(dir, "pre")
	if _, stderr, code := tvlt(t, "pretrain", "--data", manifest, "--out", pre, "--preset", "tiny",
		"--steps", "4", "--batch-size", "4", "--lr", "1e-3", "--log-every", "1", "--eval-every", "2", "--viz-every", "2", "--plain"); code != 0 {
		t.Fatalf("pretrain: status %d\n%s", code, stderr)
	}
	// tiny: two 32x32 frames enlarged 4x: 8 + 114 (row labels) + 2·128 + 4
	// + 8 pixels wide; two title lines, frame headings, 3 rows of frames,
	// spectrogram heading, 3 heat maps of 32 mel bins × 3 pixels, footer.
	const width, height = 390, 8 + 2*13 + 4 + 21 + 3*(128+4) + 21 + 3*(96+4) + 21 + 8
	for _, step := range []string{"2", "4"} {
		if w, h := decodeSize(t, filepath.Join(pre, "viz", "step-"+step+".png")); w != width || h != height {
			t.Errorf("viz/step-%s.png is %dx%d, want %dx%d", step, w, h, width, height)
		}
	}
	if _, err := os.Stat(filepath.Join(pre, "viz", "step-1.png")); err == nil {
		t.Error("viz/step-1.png written with --viz-every 2")
	}

	stdout, stderr, code := tvlt(t, "plot", "--run", pre, "--width", "900")
	if code != 0 {
		t.Fatalf("plot: status %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "4 training and 2 evaluation records") {
		t.Errorf("plot output %q", stdout)
	}
	if w, h := decodeSize(t, filepath.Join(pre, "curves.png")); w != 900 || h != 3*380+30 {
		t.Errorf("curves.png is %dx%d, want 900x1170", w, h)
	}

	out := filepath.Join(dir, "recon")
	stdout, stderr, code = tvlt(t, "reconstruct", "--ckpt", pre, "--data", manifest, "--split", "all", "--n", "2", "--seed", "3", "--out", out)
	if code != 0 {
		t.Fatalf("reconstruct: status %d\n%s", code, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(out, "recon-*.png"))
	if len(files) != 2 || strings.Count(stdout, "wrote ") != 2 {
		t.Fatalf("reconstruct wrote %v\n%s", files, stdout)
	}
	for _, f := range files {
		if w, h := decodeSize(t, f); w != width || h != height {
			t.Errorf("%s is %dx%d, want %dx%d", f, w, h, width, height)
		}
	}

	// A classifier has no MAE decoder.
	cls := filepath.Join(dir, "cls")
	if _, stderr, code := tvlt(t, "finetune", "--data", manifest, "--out", cls, "--task", "classification",
		"--init", pre, "--steps", "1", "--batch-size", "4", "--eval-split", "none", "--plain"); code != 0 {
		t.Fatalf("finetune: %d\n%s", code, stderr)
	}
	if _, stderr, code := tvlt(t, "reconstruct", "--ckpt", cls, "--data", manifest, "--split", "all", "--out", out); code != 1 || !strings.Contains(stderr, "task_mae") {
		t.Errorf("reconstruct of a classifier: status %d, %q", code, stderr)
	}
	if _, stderr, code := tvlt(t, "plot", "--run", filepath.Join(dir, "missing")); code != 1 || !strings.Contains(stderr, "metrics.jsonl") {
		t.Errorf("plot of a missing run: status %d, %q", code, stderr)
	}
}
