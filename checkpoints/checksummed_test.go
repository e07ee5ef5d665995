package checkpoints

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFileChecksummed: a file written next to others gets its own
// entry in checksums.json (the others' entries are kept), a rewrite updates
// it, and a flipped byte then fails VerifyFile naming the file.
func TestWriteFileChecksummed(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	if err := WriteFileChecksummed(dir, "model.safetensors", write("first")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileChecksummed(dir, "other.bin", write("other")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileChecksummed(dir, "model.safetensors", write("second version")); err != nil {
		t.Fatal(err)
	}
	if err := VerifyFolder(dir); err != nil {
		t.Fatal(err)
	}
	c, err := ReadChecksums(dir)
	if err != nil || len(c.Files) != 2 || c.Files["model.safetensors"].Bytes != int64(len("second version")) {
		t.Fatalf("checksums %+v, %v", c, err)
	}
	p := filepath.Join(dir, "model.safetensors")
	if err := os.WriteFile(p, []byte("second versioN"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := VerifyFile(dir, "model.safetensors"); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("flipped byte: %v", err)
	}
	for _, bad := range []string{"../x", ChecksumsFile, "/abs"} {
		if err := WriteFileChecksummed(dir, bad, write("x")); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary %s left behind", e.Name())
		}
	}
}
