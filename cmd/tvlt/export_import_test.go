package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/internal/golden"
)

// TestImportExportRoundTrip drives `tvlt import` and `tvlt export` on the
// golden weights: the exported safetensors holds byte-identical tensors
// under identical names, the npz export equals them, and a classification
// import reports fresh heads.
func TestImportExportRoundTrip(t *testing.T) {
	gdir := golden.Dir(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "hub")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{"config.json": "config.json", "weights.safetensors": "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(gdir, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := filepath.Join(dir, "run")
	if _, stderr, code := tvlt(t, "import", "--from", src, "--out", run, "--strict"); code != 0 {
		t.Fatalf("import: status %d: %s", code, stderr)
	}
	export := filepath.Join(dir, "export")
	if _, stderr, code := tvlt(t, "export", "--ckpt", run, "--out", export); code != 0 {
		t.Fatalf("export: status %d: %s", code, stderr)
	}
	want := rawTensors(t, filepath.Join(gdir, "weights.safetensors"))
	got := rawTensors(t, filepath.Join(export, "model.safetensors"))
	if len(got) != len(want) {
		t.Fatalf("export holds %d tensors, golden %d", len(got), len(want))
	}
	for name, w := range want {
		if !bytes.Equal(got[name], w) {
			t.Errorf("tensor %s differs after import → export", name)
		}
	}
	if err := checkpoints.VerifyFolder(export); err != nil {
		t.Fatal(err)
	}

	npz := filepath.Join(dir, "weights.npz")
	if _, stderr, code := tvlt(t, "export", "--ckpt", run, "--out", npz, "--format", "npz"); code != 0 {
		t.Fatalf("export npz: status %d: %s", code, stderr)
	}
	arrays, err := checkpoints.ReadNPZ(npz)
	if err != nil {
		t.Fatal(err)
	}
	weights, _, err := checkpoints.ReadSafetensors(filepath.Join(gdir, "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range weights {
		a, ok := arrays[name]
		if !ok {
			t.Errorf("npz lacks %s", name)
			continue
		}
		if msg := golden.Close(golden.Float64s(a), golden.Float64s(w), a.Shape(), w.Shape(), 0, 0); msg != "" {
			t.Errorf("npz %s: %s", name, msg)
		}
	}

	cls := filepath.Join(dir, "cls")
	_, stderr, code := tvlt(t, "import", "--from", src, "--out", cls, "--model", "classification", "--num-labels", "3")
	if code != 0 {
		t.Fatalf("import as classifier: status %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "classifier.3.weight") {
		t.Errorf("import report does not list the fresh classifier head: %s", stderr)
	}
	if _, stderr, code := tvlt(t, "export", "--ckpt", run, "--out", filepath.Join(dir, "x"), "--format", "zip"); code != 2 || !strings.Contains(stderr, "zip") {
		t.Errorf("bad --format: status %d, %q", code, stderr)
	}
}

// rawTensors maps every tensor name of a safetensors file to its raw bytes.
func rawTensors(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := checkpoints.OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := f.Names()
	sort.Strings(names)
	out := map[string][]byte{}
	for _, n := range names {
		b, err := f.RawBytes(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = b
	}
	return out
}
