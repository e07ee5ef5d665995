package checkpoints

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ChecksumsFile is the manifest WriteFolder adds to every checkpoint folder.
const ChecksumsFile = "checksums.json"

// tmpMarker and oldMarker name the hidden siblings of a folder being
// written or replaced, so stale ones left by a killed process are found.
const (
	tmpMarker = ".tmp-"
	oldMarker = ".old-"
)

// AtomicWriteFile writes path so that readers see either the old content or
// the complete new content: the data goes to a temporary file in the same
// folder, which is fsynced, renamed over path, and the folder fsynced. On any
// error the temporary file is removed and path is untouched.
func AtomicWriteFile(path string, write func(w io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+tmpMarker+"*")
	if err != nil {
		return fmt.Errorf("checkpoints: %s: %w", path, err)
	}
	tmp := f.Name()
	if _, err := writeSynced(f, write, false); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("checkpoints: %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("checkpoints: %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("checkpoints: %s: syncing folder: %w", path, err)
	}
	return nil
}

// writeSynced runs write into f through a buffer (and a sha256 hasher when
// hash is set), then flushes, fsyncs and closes f. f is always closed. It
// returns the hex sha256 of what was written, if hashed.
func writeSynced(f *os.File, write func(w io.Writer) error, hash bool) (sum string, err error) {
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	h := sha256.New()
	var dst io.Writer = f
	if hash {
		dst = io.MultiWriter(f, h)
	}
	bw := bufio.NewWriterSize(dst, 1<<20)
	if err := write(bw); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	if err := f.Chmod(0o644); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if !hash {
		return "", nil
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// FileChecksum is one entry of checksums.json.
type FileChecksum struct {
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Checksums is the content of checksums.json.
type Checksums struct {
	Algorithm string                  `json:"algorithm"`
	Files     map[string]FileChecksum `json:"files"`
}

// WriteFolder writes a whole checkpoint folder so that dir is either the
// complete new folder, the untouched previous one, or absent: files are
// written into a hidden sibling folder, each fsynced and its sha256
// recorded in checksums.json, then the sibling is renamed over dir (on
// Linux by an atomic exchange with the old folder). Keys of files are
// slash-separated paths relative to dir; subfolders are created as needed.
// Stale temporaries left by a killed earlier save are removed first.
// Concurrent writers to the same dir are not supported.
func WriteFolder(dir string, files map[string]func(io.Writer) error) error {
	dir = filepath.Clean(dir)
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	if base == "" || base == "." || base == ".." {
		return fmt.Errorf("checkpoints: %s: not a folder name", dir)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if !filepath.IsLocal(filepath.FromSlash(name)) || strings.Contains(name, "\\") {
			return fmt.Errorf("checkpoints: %s: file name %q must be a relative path inside the folder", dir, name)
		}
		if filepath.Clean(filepath.FromSlash(name)) == ChecksumsFile {
			return fmt.Errorf("checkpoints: %s: %s is written by WriteFolder itself", dir, ChecksumsFile)
		}
		if files[name] == nil {
			return fmt.Errorf("checkpoints: %s: nil writer for %s", dir, name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("checkpoints: %s: %w", dir, err)
	}
	if err := cleanStale(dir); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+base+tmpMarker+"*")
	if err != nil {
		return fmt.Errorf("checkpoints: %s: %w", dir, err)
	}
	// MkdirTemp keeps a leading "./"; filepath.Dir never yields that form,
	// so the directory walk in fillFolder needs the cleaned path to stop.
	tmp = filepath.Clean(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("checkpoints: %s: %w", dir, err)
	}
	if err := fillFolder(tmp, names, files); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("checkpoints: %s: %w", dir, err)
	}
	if err := replaceDir(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("checkpoints: %s: %w", dir, err)
	}
	return nil
}

func fillFolder(tmp string, names []string, files map[string]func(io.Writer) error) error {
	sums := Checksums{Algorithm: "sha256", Files: make(map[string]FileChecksum, len(names))}
	subdirs := map[string]bool{}
	for _, name := range names {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if sub := filepath.Dir(p); sub != tmp && !subdirs[sub] {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
			subdirs[sub] = true
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		sum, err := writeSynced(f, files[name], true)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		sums.Files[name] = FileChecksum{SHA256: sum, Bytes: st.Size()}
	}
	f, err := os.OpenFile(filepath.Join(tmp, ChecksumsFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := writeSynced(f, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(sums)
	}, false); err != nil {
		return fmt.Errorf("%s: %w", ChecksumsFile, err)
	}
	// Deepest folders first, so every directory entry is durable before
	// the folder holding it.
	dirs := make([]string, 0, len(subdirs)+1)
	for d := range subdirs {
		for ; d != tmp && len(d) > len(tmp); d = filepath.Dir(d) {
			dirs = append(dirs, d)
		}
	}
	sort.Slice(dirs, func(a, b int) bool { return len(dirs[a]) > len(dirs[b]) })
	dirs = append(dirs, tmp)
	for _, d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// exchange is exchangeDirs, replaceable in tests to exercise the fallback.
var exchange = exchangeDirs

// replaceDir moves the finished tmp folder to dir, replacing any previous
// folder, and fsyncs the parent.
func replaceDir(tmp, dir string) error {
	parent := filepath.Dir(dir)
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(tmp, dir); err != nil {
			return err
		}
		return syncDir(parent)
	}
	if ok, err := exchange(tmp, dir); err != nil {
		return err
	} else if ok {
		// tmp now holds the previous folder.
		if err := syncDir(parent); err != nil {
			return err
		}
		return os.RemoveAll(tmp)
	}
	// No atomic exchange: move the old folder aside, then the new one in.
	// A crash in between leaves dir absent and the old folder recoverable,
	// which cleanStale does on the next save.
	old := strings.Replace(tmp, tmpMarker, oldMarker, 1)
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if rerr := os.Rename(old, dir); rerr != nil {
			return fmt.Errorf("%w (and restoring the previous folder from %s failed: %v)", err, old, rerr)
		}
		return err
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// cleanStale removes half-written siblings of dir left by a killed save. If
// dir itself is missing but a previous folder was moved aside, it is put
// back first so the last complete checkpoint survives.
func cleanStale(dir string) error {
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		return fmt.Errorf("checkpoints: %s: %w", dir, err)
	}
	_, statErr := os.Lstat(dir)
	missing := errors.Is(statErr, os.ErrNotExist)
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(parent, name)
		switch {
		case strings.HasPrefix(name, "."+base+oldMarker) && missing:
			if err := os.Rename(p, dir); err != nil {
				return fmt.Errorf("checkpoints: %s: restoring %s: %w", dir, p, err)
			}
			missing = false
		case strings.HasPrefix(name, "."+base+tmpMarker), strings.HasPrefix(name, "."+base+oldMarker):
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("checkpoints: %s: removing stale %s: %w", dir, p, err)
			}
		}
	}
	return nil
}

// WriteFileChecksummed writes the file name (slash-separated, relative to
// dir) atomically, as AtomicWriteFile does, and records its size and sha256
// in dir's checksums.json, keeping the manifest's other entries, so loaders
// verify it like a file of a checkpoint folder. Neither file is ever seen
// half-written, and a kill at any point never leaves a manifest that
// disagrees with the file: a previous entry for name is dropped before the
// file is replaced and the new one recorded after.
func WriteFileChecksummed(dir, name string, write func(io.Writer) error) error {
	if !filepath.IsLocal(filepath.FromSlash(name)) || strings.Contains(name, "\\") || filepath.Clean(filepath.FromSlash(name)) == ChecksumsFile {
		return fmt.Errorf("checkpoints: %s: file name %q must be a relative path inside the folder, other than %s", dir, name, ChecksumsFile)
	}
	sums := &Checksums{Algorithm: "sha256", Files: map[string]FileChecksum{}}
	if _, err := os.Stat(filepath.Join(dir, ChecksumsFile)); err == nil {
		if sums, err = ReadChecksums(dir); err != nil {
			return err
		}
		if sums.Files == nil {
			sums.Files = map[string]FileChecksum{}
		}
	}
	path := filepath.Join(dir, filepath.FromSlash(name))
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+tmpMarker+"*")
	if err != nil {
		return fmt.Errorf("checkpoints: %s: %w", path, err)
	}
	tmp := f.Name()
	sum, err := writeSynced(f, write, true)
	var st os.FileInfo
	if err == nil {
		st, err = os.Stat(tmp)
	}
	if err == nil {
		if _, ok := sums.Files[name]; ok {
			delete(sums.Files, name)
			err = writeChecksums(dir, sums)
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("checkpoints: %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("checkpoints: %s: syncing folder: %w", path, err)
	}
	sums.Files[name] = FileChecksum{SHA256: sum, Bytes: st.Size()}
	if err := writeChecksums(dir, sums); err != nil {
		return fmt.Errorf("checkpoints: %s: %w", path, err)
	}
	return nil
}

func writeChecksums(dir string, sums *Checksums) error {
	return AtomicWriteFile(filepath.Join(dir, ChecksumsFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(sums)
	})
}

// ReadChecksums reads a folder's checksums.json.
func ReadChecksums(dir string) (*Checksums, error) {
	p := filepath.Join(dir, ChecksumsFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	var c Checksums
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("checkpoints: %s: %w", p, err)
	}
	if c.Algorithm != "sha256" {
		return nil, fmt.Errorf("checkpoints: %s: unsupported algorithm %q", p, c.Algorithm)
	}
	for name := range c.Files {
		if !filepath.IsLocal(filepath.FromSlash(name)) {
			return nil, fmt.Errorf("checkpoints: %s: file name %q is not inside the folder", p, name)
		}
	}
	return &c, nil
}

// VerifyFolder checks every file recorded in dir's checksums.json: present,
// of the recorded size and sha256. The error names the first bad file.
func VerifyFolder(dir string) error {
	c, err := ReadChecksums(dir)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(c.Files))
	for name := range c.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := verifyFile(dir, name, c.Files[name]); err != nil {
			return err
		}
	}
	return nil
}

// VerifyFile checks one file of a checkpoint folder against checksums.json,
// for loaders that read a single weights file.
func VerifyFile(dir, name string) error {
	c, err := ReadChecksums(dir)
	if err != nil {
		return err
	}
	want, ok := c.Files[name]
	if !ok {
		return fmt.Errorf("checkpoints: %s: %s has no checksum recorded in %s", dir, name, ChecksumsFile)
	}
	return verifyFile(dir, name, want)
}

func verifyFile(dir, name string, want FileChecksum) error {
	p := filepath.Join(dir, filepath.FromSlash(name))
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("checkpoints: %s: file listed in %s is missing", p, ChecksumsFile)
		}
		return fmt.Errorf("checkpoints: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("checkpoints: %s: %w", p, err)
	}
	if n != want.Bytes {
		return fmt.Errorf("checkpoints: %s: size %d bytes, %s records %d: the file is truncated or was modified", p, n, ChecksumsFile, want.Bytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return fmt.Errorf("checkpoints: %s: sha256 %s does not match %s (%s): the file is corrupted", p, got, want.SHA256, ChecksumsFile)
	}
	return nil
}
