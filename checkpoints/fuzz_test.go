package checkpoints_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/internal/allocs"
	"gorgonia.org/tensor"
)

// fuzzNPY is a .npy version 1.0 image with the given header dict and data.
func fuzzNPY(dict string, data []byte) []byte {
	hdr := dict
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), binary.LittleEndian.AppendUint16(nil, uint16(len(hdr)))...)
	return append(append(b, hdr...), data...)
}

// fuzzZip writes entries (name, content) in order, deflated or stored.
func fuzzZip(method uint16, entries ...string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(entries); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: entries[i], Method: method})
		if err != nil {
			panic(err)
		}
		if _, err := w.Write([]byte(entries[i+1])); err != nil {
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// fuzzOverlappingZip turns a one-entry archive into one whose central
// directory lists that entry n times under different names, all pointing at
// the same compressed bytes (an overlapping zip bomb: each entry alone passes
// a compression-ratio check, together they expand n times further).
func fuzzOverlappingZip(one []byte, n int) []byte {
	le := binary.LittleEndian
	eocd := len(one) - 22
	dirOff, dirLen := int(le.Uint32(one[eocd+16:])), int(le.Uint32(one[eocd+12:]))
	rec := one[dirOff : dirOff+dirLen]
	nameLen := int(le.Uint16(rec[28:]))
	out := append([]byte(nil), one[:dirOff]...)
	for i := 0; i < n; i++ {
		r := append([]byte(nil), rec...)
		copy(r[46:46+nameLen], fmt.Sprintf("%0*d", nameLen-4, i))
		out = append(out, r...)
	}
	end := append([]byte(nil), one[eocd:]...)
	le.PutUint16(end[8:], uint16(n))
	le.PutUint16(end[10:], uint16(n))
	le.PutUint32(end[12:], uint32(n*dirLen))
	return append(out, end...)
}

// FuzzReadNPZ writes the input to a file and reads it with ReadNPZ. It must
// not panic; it returns either an error naming the file or arrays whose
// shapes match their data. ReadNPZ lets an entry expand at most 1100 times
// its compressed size (deflate's limit is about 1032) and the whole archive
// at most 1100 times the file size, and decodes into one buffer plus one
// typed slice, so allocation stays within 64 MiB + 4 × 1100 × len(input).
func FuzzReadNPZ(f *testing.F) {
	dir := f.TempDir()
	var want bytes.Buffer
	arrays := map[string]*tensor.Dense{
		"f32":       tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6})),
		"enc/f64":   tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{-1, 0.5})),
		"ids":       tensor.New(tensor.WithShape(3), tensor.WithBacking([]int64{0, 7, -3})),
		"i32":       tensor.New(tensor.WithShape(1, 1), tensor.WithBacking([]int32{42})),
		"u8":        tensor.New(tensor.WithShape(4), tensor.WithBacking([]uint8{0, 1, 254, 255})),
		"mask/bool": tensor.New(tensor.WithShape(2), tensor.WithBacking([]bool{true, false})),
	}
	if err := checkpoints.EncodeNPZ(&want, arrays); err != nil {
		f.Fatal(err)
	}
	f.Add(want.Bytes())
	u8 := fuzzNPY("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", []byte{1, 2, 3})
	f.Add(fuzzZip(zip.Store, "a.npy", string(u8), "dir/", ""))
	f.Add(fuzzZip(zip.Deflate, "s.npy", string(fuzzNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", make([]byte, 8)))))
	f.Add(fuzzZip(zip.Deflate, "be.npy", string(fuzzNPY("{'descr': '>i4', 'fortran_order': False, 'shape': (2, 1), }", []byte{0, 0, 0, 1, 255, 255, 255, 255}))))
	f.Add(fuzzZip(zip.Deflate, "a.npy", string(u8), "a.npy", string(u8)))
	f.Add(fuzzZip(zip.Deflate, "a.txt", "not an array"))
	f.Add(fuzzOverlappingZip(fuzzZip(zip.Deflate, "a0.npy", string(u8)), 4)) // see TestReadNPZOverlappingEntries
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))

	path := filepath.Join(dir, "fuzz.npz")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var got map[string]*tensor.Dense
		var err error
		alloc := allocs.Of(func() { got, err = checkpoints.ReadNPZ(path) })
		if limit := uint64(64<<20) + 4*1100*uint64(len(b)); alloc > limit {
			t.Fatalf("reading a %d byte archive allocated %d bytes (limit %d)", len(b), alloc, limit)
		}
		if err != nil {
			if got != nil {
				t.Fatalf("error %v with %d arrays", err, len(got))
			}
			if !strings.HasPrefix(err.Error(), "checkpoints: "+path+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for name, d := range got {
			if d == nil {
				t.Fatalf("array %q is nil", name)
			}
			n := 1
			for _, s := range d.Shape() {
				if s <= 0 {
					t.Fatalf("array %q: shape %v", name, d.Shape())
				}
				n *= s
			}
			if d.DataSize() != n {
				t.Fatalf("array %q: shape %v but %d values", name, d.Shape(), d.DataSize())
			}
		}
	})
}

// TestReadNPZOverlappingEntries: 1 MiB of zeros deflates to about 1 KiB, and
// 400 central-directory entries sharing those bytes make a 23 KB file that
// expanded into 400 MiB (each entry alone passes the per-entry ratio check).
// ReadNPZ must refuse it before decompressing more than the archive's budget.
func TestReadNPZOverlappingEntries(t *testing.T) {
	one := fuzzZip(zip.Deflate, "a0000.npy", string(fuzzNPY("{'descr': '|u1', 'fortran_order': False, 'shape': (1048576,), }", make([]byte, 1<<20))))
	path := filepath.Join(t.TempDir(), "bomb.npz")
	if err := os.WriteFile(path, fuzzOverlappingZip(one, 400), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	alloc := allocs.Of(func() { _, err = checkpoints.ReadNPZ(path) })
	if err == nil || !strings.Contains(err.Error(), "entries claim more than") {
		t.Fatalf("err = %v", err)
	}
	if alloc > 128<<20 {
		t.Fatalf("refusing the archive allocated %d bytes", alloc)
	}
}

// FuzzReadChecksums writes the input as a folder's checksums.json, next to
// two small files, and reads it with ReadChecksums, then verifies the folder.
// Neither may panic. ReadChecksums returns either an error or a sha256
// manifest whose names all stay inside the folder; VerifyFolder accepts the
// folder only if every listed file has the listed size and hash. Reading
// allocates at most 64 × len(input) + 64 MiB, verifying at most one copy
// buffer more per listed file.
func FuzzReadChecksums(f *testing.F) {
	dir := f.TempDir()
	files := map[string][]byte{"model.safetensors": []byte("weights"), "sub/config.json": []byte("{}\n")}
	sums := map[string]string{}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			f.Fatal(err)
		}
		h := sha256.Sum256(content)
		sums[name] = hex.EncodeToString(h[:])
	}
	f.Add([]byte(fmt.Sprintf(`{
  "algorithm": "sha256",
  "files": {
    "model.safetensors": {"sha256": %q, "bytes": 7},
    "sub/config.json": {"sha256": %q, "bytes": 3}
  }
}`, sums["model.safetensors"], sums["sub/config.json"])))
	f.Add([]byte(fmt.Sprintf(`{"algorithm": "sha256", "files": {"model.safetensors": {"sha256": %q, "bytes": 6}}}`, sums["model.safetensors"])))
	f.Add([]byte(`{"algorithm": "sha256", "files": {}}`))
	f.Add([]byte(`{"algorithm": "md5", "files": {}}`))
	f.Add([]byte(`{"algorithm": "sha256", "files": {"../etc/passwd": {"sha256": "00", "bytes": 1}}}`))
	f.Add([]byte(`{"algorithm": "sha256", "files": {"missing.bin": {"sha256": "00", "bytes": 1}, "sub": {}}}`))
	f.Add([]byte(`{"algorithm": "sha256", "files": {"model.safetensors": {"bytes": "7"}}}`))

	path := filepath.Join(dir, checkpoints.ChecksumsFile)
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var c *checkpoints.Checksums
		var err error
		alloc := allocs.Of(func() { c, err = checkpoints.ReadChecksums(dir) })
		if limit := uint64(64<<20) + 64*uint64(len(b)); alloc > limit {
			t.Fatalf("reading %d bytes allocated %d bytes (limit %d)", len(b), alloc, limit)
		}
		if err != nil {
			if c != nil || !strings.HasPrefix(err.Error(), "checkpoints: "+path+": ") {
				t.Fatalf("error does not name the file (or comes with a result): %v", err)
			}
			return
		}
		if c.Algorithm != "sha256" {
			t.Fatalf("algorithm %q accepted", c.Algorithm)
		}
		for name := range c.Files {
			if !filepath.IsLocal(filepath.FromSlash(name)) {
				t.Fatalf("file name %q outside the folder accepted", name)
			}
		}
		alloc = allocs.Of(func() { err = checkpoints.VerifyFolder(dir) })
		if limit := uint64(64<<20) + 64*uint64(len(b)) + 64<<10*uint64(len(c.Files)); alloc > limit {
			t.Fatalf("verifying %d files allocated %d bytes (limit %d)", len(c.Files), alloc, limit)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "checkpoints: ") {
				t.Fatalf("unclear error: %v", err)
			}
			return
		}
		for name, want := range c.Files {
			content, ok := files[filepath.ToSlash(filepath.Clean(filepath.FromSlash(name)))]
			h := sha256.Sum256(content)
			if !ok || want.Bytes != int64(len(content)) || want.SHA256 != hex.EncodeToString(h[:]) {
				t.Fatalf("VerifyFolder accepted %q: %+v", name, want)
			}
		}
	})
}
