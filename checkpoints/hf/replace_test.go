package hf_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/checkpoints/hf"
)

// TestSaveVerifiesBeforeReplacing: a folder is recognised as a replaceable
// checkpoint by the hashes in its checksums.json, not by the names alone.
// A checksums.json that lists an unrelated file (with another file's hash,
// or a made-up one) must not get the folder deleted whole.
func TestSaveVerifiesBeforeReplacing(t *testing.T) {
	m, _ := importGolden(t, hf.FromConfig, hf.LoadOptions{})
	root := t.TempDir()
	dir := filepath.Join(root, "notes")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("a year of lab notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := sha256.Sum256([]byte("something else"))
	sums := checkpoints.Checksums{Algorithm: "sha256", Files: map[string]checkpoints.FileChecksum{
		"notes.txt": {SHA256: hex.EncodeToString(other[:]), Bytes: 19},
	}}
	b, _ := json.Marshal(sums)
	if err := os.WriteFile(filepath.Join(dir, checkpoints.ChecksumsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	err := hf.Save(dir, m)
	if err == nil || !strings.Contains(err.Error(), "does not verify") || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("replacing a folder whose checksums.json does not verify: %v", err)
	}
	if got, err := os.ReadFile(notes); err != nil || string(got) != "a year of lab notes" {
		t.Fatalf("notes.txt after the refused save: %q, %v", got, err)
	}

	// A real checkpoint folder with one damaged file is not replaced either
	// (it may be the only copy to recover from), while an intact one is.
	ck := filepath.Join(root, "ck")
	if err := hf.Save(ck, m); err != nil {
		t.Fatal(err)
	}
	if err := hf.Save(ck, m); err != nil {
		t.Fatalf("re-saving an intact checkpoint folder: %v", err)
	}
	cfg := filepath.Join(ck, hf.ConfigFile)
	cb, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(cb, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := hf.Save(ck, m); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("replacing a checkpoint folder with a modified file: %v", err)
	}
}

// TestLoadRefusesNonFinite: a NaN or ±Inf weight is a load error naming
// the tensor, unless AllowNonFinite.
func TestLoadRefusesNonFinite(t *testing.T) {
	m, _ := importGolden(t, hf.FromConfig, hf.LoadOptions{})
	name := m.Params.Names()[0]
	m.Params.Value(name).Data().([]float32)[0] = float32(math.Inf(-1))
	dir := filepath.Join(t.TempDir(), "ck")
	if err := hf.Save(dir, m); err != nil {
		t.Fatal(err)
	}
	_, _, err := hf.Load(dir, hf.FromConfig, hf.LoadOptions{})
	if err == nil || !errors.Is(err, checkpoints.ErrNonFinite) || !strings.Contains(err.Error(), name) {
		t.Fatalf("load: %v, want an error naming %s", err, name)
	}
	back, _, err := hf.Load(dir, hf.FromConfig, hf.LoadOptions{AllowNonFinite: true})
	if err != nil {
		t.Fatal(err)
	}
	if v := back.Params.Value(name).Data().([]float32)[0]; !math.IsInf(float64(v), -1) {
		t.Errorf("AllowNonFinite loaded %v, want -Inf", v)
	}
}
