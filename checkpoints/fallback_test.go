package checkpoints

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestReplaceWithoutExchange exercises the two-rename fallback used where
// renameat2(RENAME_EXCHANGE) is unavailable.
func TestReplaceWithoutExchange(t *testing.T) {
	saved := exchange
	exchange = func(a, b string) (bool, error) { return false, nil }
	defer func() { exchange = saved }()
	parent := t.TempDir()
	dir := filepath.Join(parent, "ckpt")
	for _, content := range []string{"one", "two"} {
		c := content
		if err := WriteFolder(dir, map[string]func(io.Writer) error{"w.bin": func(w io.Writer) error {
			_, err := io.WriteString(w, c)
			return err
		}}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "w.bin"))
	if err != nil || string(b) != "two" {
		t.Fatalf("content %q, %v", b, err)
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Fatalf("parent holds %d entries, want 1", len(entries))
	}
	if err := VerifyFolder(dir); err != nil {
		t.Fatal(err)
	}
}

// TestExchangeSupported documents whether this machine takes the atomic
// path; it fails only on a real error, not on lack of support.
func TestExchangeSupported(t *testing.T) {
	parent := t.TempDir()
	a, b := filepath.Join(parent, "a"), filepath.Join(parent, "b")
	os.Mkdir(a, 0o755)
	os.Mkdir(b, 0o755)
	os.WriteFile(filepath.Join(a, "x"), nil, 0o644)
	ok, err := exchangeDirs(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("renameat2(RENAME_EXCHANGE) unsupported here; WriteFolder uses two renames")
	}
	if _, err := os.Stat(filepath.Join(b, "x")); err != nil {
		t.Fatalf("exchange did not swap the folders: %v", err)
	}
}
