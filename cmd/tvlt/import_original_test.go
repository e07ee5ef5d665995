package main

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/internal/golden"
)

// TestImportOriginalThenPredict: the README's path from an original TVLT
// checkpoint to predictions — tvlt import --from X.ckpt (no --config),
// then tvlt predict --ckpt — on a python-written Lightning checkpoint of
// the MOSEI sentiment head (golden sizes).
func TestImportOriginalThenPredict(t *testing.T) {
	const python = "/usr/bin/python3"
	if exec.Command(python, "-c", "import torch, numpy").Run() != nil {
		t.Skipf("%s with torch and numpy is needed for the fixtures (apt-get install python3-torch python3-numpy)", python)
	}
	dir := t.TempDir()
	fx := filepath.Join(dir, "fixtures")
	gen := filepath.Join("..", "..", "checkpoints", "original", "testdata", "gen_ckpt.py")
	if out, err := exec.Command(python, gen, golden.Dir(t), fx).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", gen, err, out)
	}
	ck := filepath.Join(dir, "mosei-sa")
	stdout, stderr, code := tvlt(t, "import", "--from", filepath.Join(fx, "mosei.ckpt"), "--out", ck)
	if code != 0 || !strings.Contains(stdout, "imported TvltForAudioVisualClassification") || !strings.Contains(stderr, "0 initialised fresh, 0 ignored") {
		t.Fatalf("import: status %d\n%s\n%s", code, stdout, stderr)
	}

	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), demoOpts(6, 2, 14))
	if err != nil {
		t.Fatal(err)
	}
	scored := scoreManifest(t, manifest)
	preds := filepath.Join(dir, "preds.jsonl")
	stdout, stderr, code = tvlt(t, "predict", "--ckpt", ck, "--data", scored, "--split", "all", "--out", preds, "--plain")
	if code != 0 {
		t.Fatalf("predict: status %d\n%s\n%s", code, stdout, stderr)
	}
	f, err := os.Open(preds)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var p struct {
			ID    string   `json:"id"`
			Score *float64 `json:"score"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Score == nil || math.IsNaN(*p.Score) || math.IsInf(*p.Score, 0) {
			t.Errorf("%s: score %v, want a finite sentiment score", p.ID, p.Score)
		}
	}
	if n != 6 {
		t.Errorf("%d predictions, want 6", n)
	}
}

// scoreManifest rewrites a demo manifest's class labels as sentiment
// scores in [-3, 3], as MOSEI's.
func scoreManifest(t *testing.T, manifest string) string {
	t.Helper()
	buf, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, line := range strings.Split(strings.TrimSpace(string(buf)), "\n") {
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		m["label"] = float64(i)*1.1 - 2.75
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	path := filepath.Join(filepath.Dir(manifest), "scored.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
