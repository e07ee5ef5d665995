package checkpoints_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"gorgonia.org/tensor"
)

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func bytesFunc(b []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(b); return err }
}

// failHalfway writes n bytes and then fails with err, like a disk filling up.
func failHalfway(n int, err error) func(io.Writer) error {
	return func(w io.Writer) error {
		if _, werr := w.Write(bytes.Repeat([]byte{7}, n)); werr != nil {
			return werr
		}
		return err
	}
}

func TestAtomicWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.bin")
	if err := checkpoints.AtomicWriteFile(p, bytesFunc([]byte("first"))); err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.AtomicWriteFile(p, bytesFunc([]byte("second"))); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := checkpoints.AtomicWriteFile(p, failHalfway(3<<20, boom))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want boom naming %s", err, p)
	}
	b, _ := os.ReadFile(p)
	if string(b) != "second" {
		t.Fatalf("content %q after failed write, want the previous %q", b, "second")
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"f.bin"}) {
		t.Fatalf("folder holds %v, want only f.bin", got)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if err := checkpoints.AtomicWriteFile(filepath.Join(dir, "missing", "x"), bytesFunc(nil)); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
}

func sampleFolder() map[string]func(io.Writer) error {
	w := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))
	return map[string]func(io.Writer) error{
		"config.json": bytesFunc([]byte("{\n  \"hidden_size\": 32,\n  \"model_type\": \"tvlt\"\n}\n")),
		"model.safetensors": func(out io.Writer) error {
			enc, err := checkpoints.EncodeSafetensorsHeader(map[string]*tensor.Dense{"w": w}, map[string]string{"format": "pt"}, "F32")
			if err != nil {
				return err
			}
			return enc.Encode(out)
		},
		"optimizer/adam.npz": func(out io.Writer) error {
			return checkpoints.EncodeNPZ(out, map[string]*tensor.Dense{"m/w": w})
		},
	}
}

func TestWriteFolderAndVerify(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "step-10")
	if err := checkpoints.WriteFolder(dir, sampleFolder()); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"checksums.json", "config.json", "model.safetensors", "optimizer"}) {
		t.Fatalf("folder holds %v", got)
	}
	if got := listDir(t, parent); !reflect.DeepEqual(got, []string{"step-10"}) {
		t.Fatalf("parent holds %v", got)
	}
	if err := checkpoints.VerifyFolder(dir); err != nil {
		t.Fatal(err)
	}
	sums, err := checkpoints.ReadChecksums(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, "model.safetensors"))
	if c := sums.Files["model.safetensors"]; len(sums.Files) != 3 || c.Bytes != st.Size() || len(c.SHA256) != 64 {
		t.Fatalf("checksums %+v", sums)
	}
	for _, name := range []string{"model.safetensors", "optimizer/adam.npz"} {
		if err := checkpoints.VerifyFile(dir, name); err != nil {
			t.Fatalf("VerifyFile(%s): %v", name, err)
		}
	}
	ts, meta, err := checkpoints.ReadSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil || meta["format"] != "pt" || !reflect.DeepEqual(ts["w"].Data(), []float32{1, 2, 3, 4}) {
		t.Fatalf("ReadSafetensors: %v %v %v", ts, meta, err)
	}
	opt, err := checkpoints.ReadNPZ(filepath.Join(dir, "optimizer", "adam.npz"))
	if err != nil || !reflect.DeepEqual(opt["m/w"].Data(), []float32{1, 2, 3, 4}) {
		t.Fatalf("ReadNPZ: %v %v", opt, err)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if string(cfg) != "{\n  \"hidden_size\": 32,\n  \"model_type\": \"tvlt\"\n}\n" {
		t.Errorf("config.json = %q", cfg)
	}

	// Replacing the folder swaps in the new content wholesale.
	if err := checkpoints.WriteFolder(dir, map[string]func(io.Writer) error{"model.safetensors": bytesFunc([]byte("new"))}); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"checksums.json", "model.safetensors"}) {
		t.Fatalf("replaced folder holds %v", got)
	}
	if got := listDir(t, parent); !reflect.DeepEqual(got, []string{"step-10"}) {
		t.Fatalf("parent holds %v after replacing", got)
	}
	if err := checkpoints.VerifyFolder(dir); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFolderDetectsCorruption(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(dir string) error
		want   string
	}{
		{"flipped byte", func(dir string) error {
			p := filepath.Join(dir, "model.safetensors")
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)-3] ^= 0x01
			return os.WriteFile(p, b, 0o644)
		}, "model.safetensors: sha256 "},
		{"truncated", func(dir string) error {
			return os.Truncate(filepath.Join(dir, "model.safetensors"), 10)
		}, "model.safetensors: size 10 bytes"},
		{"missing file", func(dir string) error {
			return os.Remove(filepath.Join(dir, "optimizer", "adam.npz"))
		}, "adam.npz: file listed in checksums.json is missing"},
		{"missing manifest", func(dir string) error {
			return os.Remove(filepath.Join(dir, "checksums.json"))
		}, "checksums.json: no such file"},
		{"hostile manifest", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "checksums.json"), []byte(`{"algorithm":"sha256","files":{"../../etc/passwd":{"sha256":"00","bytes":1}}}`), 0o644)
		}, `file name "../../etc/passwd" is not inside the folder`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ckpt")
			if err := checkpoints.WriteFolder(dir, sampleFolder()); err != nil {
				t.Fatal(err)
			}
			if err := tc.damage(dir); err != nil {
				t.Fatal(err)
			}
			err := checkpoints.VerifyFolder(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("VerifyFolder = %v, want %q", err, tc.want)
			}
		})
	}
	// A damaged weights file that still parses is caught by VerifyFile.
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := checkpoints.WriteFolder(dir, sampleFolder()); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "model.safetensors")
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 0x80 // still a valid file, just a different value
	os.WriteFile(p, b, 0o644)
	if err := checkpoints.VerifyFile(dir, "model.safetensors"); err == nil || !strings.Contains(err.Error(), "corrupted") {
		t.Fatalf("VerifyFile of a corrupted file: %v", err)
	}
}

func TestWriteFolderFailureLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ckpt")
	files := sampleFolder()
	boom := errors.New("boom")
	files["z_state.bin"] = failHalfway(2<<20, boom)
	err := checkpoints.WriteFolder(dir, files)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "z_state.bin") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v, want boom naming the folder and z_state.bin", err)
	}
	if got := listDir(t, parent); len(got) != 0 {
		t.Fatalf("failed save left %v", got)
	}
}

// TestWriteFolderDiskFull: a writer failing with ENOSPC leaves the previous
// checkpoint intact and verifiable, and the error says what happened.
func TestWriteFolderDiskFull(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ckpt")
	if err := checkpoints.WriteFolder(dir, sampleFolder()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	files := sampleFolder()
	files["model.safetensors"] = failHalfway(1<<20, &os.PathError{Op: "write", Path: "model.safetensors", Err: syscall.ENOSPC})
	err := checkpoints.WriteFolder(dir, files)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("err = %v", err)
	}
	if err := checkpoints.VerifyFolder(dir); err != nil {
		t.Fatalf("previous checkpoint damaged: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if !bytes.Equal(before, after) {
		t.Fatal("previous weights changed")
	}
	if got := listDir(t, parent); !reflect.DeepEqual(got, []string{"ckpt"}) {
		t.Fatalf("parent holds %v", got)
	}
}

// TestWriteFolderKilledDuringSave simulates a process killed mid-save: the
// half-written temp folder is ignored by readers and removed by the next
// save; a previous folder moved aside (non-exchange fallback) is restored.
func TestWriteFolderKilledDuringSave(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "ckpt")
	if err := checkpoints.WriteFolder(dir, sampleFolder()); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(parent, ".ckpt.tmp-12345")
	if err := os.MkdirAll(filepath.Join(stale, "optimizer"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(stale, "model.safetensors"), []byte("half"), 0o644)
	staleFile := filepath.Join(parent, ".ckpt.tmp-999") // a stale AtomicWriteFile temp
	os.WriteFile(staleFile, []byte("x"), 0o644)
	other := filepath.Join(parent, ".other.tmp-1") // belongs to another folder
	os.WriteFile(other, []byte("x"), 0o644)

	if err := checkpoints.VerifyFolder(dir); err != nil {
		t.Fatalf("stale temp affects the checkpoint: %v", err)
	}
	if err := checkpoints.WriteFolder(dir, sampleFolder()); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, parent); !reflect.DeepEqual(got, []string{".other.tmp-1", "ckpt"}) {
		t.Fatalf("parent holds %v", got)
	}

	// Killed between moving the old folder aside and moving the new one in.
	moved := filepath.Join(parent, ".ckpt.old-42")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(parent, ".ckpt.tmp-43"), 0o755)
	files := sampleFolder()
	files["model.safetensors"] = failHalfway(10, errors.New("boom"))
	if err := checkpoints.WriteFolder(dir, files); err == nil {
		t.Fatal("expected the failing save to fail")
	}
	if err := checkpoints.VerifyFolder(dir); err != nil {
		t.Fatalf("previous checkpoint was not restored: %v", err)
	}
	if got := listDir(t, parent); !reflect.DeepEqual(got, []string{".other.tmp-1", "ckpt"}) {
		t.Fatalf("parent holds %v", got)
	}
}

func TestWriteFolderRejectsBadNames(t *testing.T) {
	parent := t.TempDir()
	for _, name := range []string{"../escape", "/abs", "checksums.json", "", "a/../../b"} {
		err := checkpoints.WriteFolder(filepath.Join(parent, "c"), map[string]func(io.Writer) error{name: bytesFunc(nil)})
		if err == nil {
			t.Errorf("name %q accepted", name)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) && !strings.Contains(err.Error(), "checksums.json is written by WriteFolder") {
			t.Errorf("name %q: unclear error %v", name, err)
		}
	}
	if got := listDir(t, parent); len(got) != 0 {
		t.Fatalf("rejected saves left %v", got)
	}
}
