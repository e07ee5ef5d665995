package checkpoints

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A bare relative folder name with subfolders used to loop forever: the
// temp dir came back as "./.x.tmp-*" and the parent walk never reached it.
func TestWriteFolderRelativeName(t *testing.T) {
	t.Chdir(t.TempDir())
	err := WriteFolder("out", map[string]func(io.Writer) error{
		"sub/dir/a.txt": func(w io.Writer) error { _, err := io.WriteString(w, "hi"); return err },
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("out", "sub", "dir", "a.txt"))
	if err != nil || string(b) != "hi" {
		t.Fatalf("got %q, %v", b, err)
	}
	if err := VerifyFolder("out"); err != nil {
		t.Fatal(err)
	}
}
