package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDirMissingSaysWhere: without a golden set (a clone without
// ../shared), the error names the absolute path it looked at and how to
// set TVLT_GOLDEN_DIR.
func TestDirMissingSaysWhere(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("TVLT_GOLDEN_DIR", empty)
	_, err := dirPath()
	if err == nil || !strings.Contains(err.Error(), empty) || !strings.Contains(err.Error(), "TVLT_GOLDEN_DIR=") {
		t.Fatalf("error %v, want one naming %s and how to set TVLT_GOLDEN_DIR", err, empty)
	}

	// The default path, from a repository clone with no ../shared beside it.
	clone := filepath.Join(t.TempDir(), "clone")
	if err := os.MkdirAll(filepath.Join(clone, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clone, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TVLT_GOLDEN_DIR", "")
	t.Chdir(filepath.Join(clone, "pkg"))
	_, err = dirPath()
	want := filepath.Join(filepath.Dir(clone), "shared", "golden")
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "TVLT_GOLDEN_DIR") {
		t.Fatalf("error %v, want one naming %s and TVLT_GOLDEN_DIR", err, want)
	}
	t.Log(err)

	// A relative TVLT_GOLDEN_DIR is reported as an absolute path.
	t.Setenv("TVLT_GOLDEN_DIR", "nowhere")
	if _, err = dirPath(); err == nil || !strings.Contains(err.Error(), filepath.Join(clone, "pkg", "nowhere")) {
		t.Fatalf("error %v, want the absolute path", err)
	}
}
