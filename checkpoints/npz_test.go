package checkpoints_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/sbinet/npyio/npz"
	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/internal/golden"
	"gorgonia.org/tensor"
)

// TestReadNPZMatchesManifest reads every golden .npz and checks each key's
// dtype and shape against manifest.json.
func TestReadNPZMatchesManifest(t *testing.T) {
	dir := golden.Dir(t)
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest map[string]struct {
		Keys map[string]struct {
			Dtype string `json:"dtype"`
			Shape []int  `json:"shape"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	files, listed := 0, 0
	for file, entry := range manifest {
		if !strings.HasSuffix(file, ".npz") {
			continue
		}
		listed++
		if !golden.Has(dir, file) {
			t.Logf("skipping %s, which the set lacks", file)
			continue
		}
		files++
		got, err := checkpoints.ReadNPZ(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(entry.Keys) {
			t.Errorf("%s: %d arrays, manifest lists %d", file, len(got), len(entry.Keys))
		}
		for key, want := range entry.Keys {
			d, ok := got[key]
			if !ok {
				t.Errorf("%s: missing %q", file, key)
				continue
			}
			shape := want.Shape
			if len(shape) == 0 {
				shape = []int{1}
			}
			if d.Dtype().String() != want.Dtype || !reflect.DeepEqual([]int(d.Shape()), shape) {
				t.Errorf("%s: %q is %v %v, manifest says %s %v", file, key, d.Dtype(), d.Shape(), want.Dtype, want.Shape)
			}
		}
	}
	if files == 0 {
		t.Fatalf("no npz files checked (the manifest lists %d)", listed)
	}
}

// TestReadNPZAgreesWithNpyio compares our parser with npyio's on golden data.
func TestReadNPZAgreesWithNpyio(t *testing.T) {
	p := filepath.Join(golden.Dir(t), "inputs.npz")
	got, err := checkpoints.ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := npz.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, key := range r.Keys() {
		name := strings.TrimSuffix(key, ".npy")
		var want interface{}
		switch r.Header(key).Descr.Type {
		case "<f4":
			var v []float32
			err = r.Read(key, &v)
			want = v
		case "<i8":
			var v []int64
			err = r.Read(key, &v)
			want = v
		default:
			t.Fatalf("unexpected dtype %s", r.Header(key).Descr.Type)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[name].Data(), want) {
			t.Errorf("%s differs from npyio", name)
		}
	}
	// pixel_mask: one 0/1 entry per pixel patch of each example, the
	// count from pixel_values (B, T, C, H, W) and the set's patch size;
	// the first patch of every set's first example is real.
	cfg, err := config.Read(filepath.Join(golden.Dir(t), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	pv := got["pixel_values"].Shape()
	want := pv[0] * pv[1] * (pv[3] / cfg.ImagePatchSize[0]) * (pv[4] / cfg.ImagePatchSize[1])
	v := got["pixel_mask"].Data().([]float32)
	if len(v) != want || v[0] != 1 {
		t.Errorf("pixel_mask = %v, want %d entries starting with 1", v, want)
	}
	for i, x := range v {
		if x != 0 && x != 1 {
			t.Fatalf("pixel_mask[%d] = %v, want 0 or 1", i, x)
		}
	}
}

// sampleArrays covers every supported dtype, a "/" key, a scalar and views.
func sampleArrays(t *testing.T) map[string]*tensor.Dense {
	base := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1.5, -2, 3, 4, 5, 6.25}))
	tr, err := tensor.Transpose(base)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*tensor.Dense{
		"f32":        base,
		"grad/f32.t": tr.(*tensor.Dense),
		"f64":        tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{0.1, -1e300, 3})),
		"i64":        tensor.New(tensor.WithShape(2, 1), tensor.WithBacking([]int64{-9007199254740993, 7})),
		"i32":        tensor.New(tensor.WithShape(1, 2, 2), tensor.WithBacking([]int32{-1, 2, -3, 2147483647})),
		"u8":         tensor.New(tensor.WithShape(4), tensor.WithBacking([]uint8{0, 1, 128, 255})),
		"b":          tensor.New(tensor.WithShape(3), tensor.WithBacking([]bool{true, false, true})),
		"scalar":     tensor.New(tensor.FromScalar(float32(42))),
		"int":        tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{-5, 6})),
	}
}

// wantValues is what sampleArrays reads back as: dtype, shape and data.
var wantValues = map[string]struct {
	dtype string
	shape []int
	data  interface{}
}{
	"f32":        {"float32", []int{2, 3}, []float32{1.5, -2, 3, 4, 5, 6.25}},
	"grad/f32.t": {"float32", []int{3, 2}, []float32{1.5, 4, -2, 5, 3, 6.25}},
	"f64":        {"float64", []int{3}, []float64{0.1, -1e300, 3}},
	"i64":        {"int64", []int{2, 1}, []int64{-9007199254740993, 7}},
	"i32":        {"int32", []int{1, 2, 2}, []int32{-1, 2, -3, 2147483647}},
	"u8":         {"uint8", []int{4}, []uint8{0, 1, 128, 255}},
	"b":          {"bool", []int{3}, []bool{true, false, true}},
	"scalar":     {"float32", []int{1}, []float32{42}},
	"int":        {"int64", []int{2}, []int64{-5, 6}},
}

func TestNPZRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.npz")
	if err := checkpoints.WriteNPZ(p, sampleArrays(t)); err != nil {
		t.Fatal(err)
	}
	got, err := checkpoints.ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(wantValues) {
		t.Fatalf("%d arrays, want %d", len(got), len(wantValues))
	}
	for name, w := range wantValues {
		d := got[name]
		if d == nil {
			t.Fatalf("missing %q", name)
		}
		if d.Dtype().String() != w.dtype || !reflect.DeepEqual([]int(d.Shape()), w.shape) || !reflect.DeepEqual(d.Data(), w.data) {
			t.Errorf("%s: %v %v %v, want %s %v %v", name, d.Dtype(), d.Shape(), d.Data(), w.dtype, w.shape, w.data)
		}
	}
	// npyio reads our archive too, with the same shapes.
	r, err := npz.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := r.Header("grad/f32.t.npy")
	if h == nil || !reflect.DeepEqual(h.Descr.Shape, []int{3, 2}) || h.Descr.Type != "<f4" {
		t.Fatalf("npyio header %+v", h)
	}
	var v []float32
	if err := r.Read("grad/f32.t.npy", &v); err != nil || !reflect.DeepEqual(v, []float32{1.5, 4, -2, 5, 3, 6.25}) {
		t.Fatalf("npyio read %v, %v", v, err)
	}
	// Entries are stored (not deflated) in name order, with 64-byte aligned
	// .npy headers like numpy's.
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Method != zip.Store {
			t.Errorf("%s is compressed", f.Name)
		}
	}
	if !sort.StringsAreSorted(names) || names[0] != "b.npy" {
		t.Errorf("entry order %v", names)
	}
	rc, _ := zr.File[0].Open()
	head := make([]byte, 128)
	io.ReadFull(rc, head)
	rc.Close()
	hlen := int(binary.LittleEndian.Uint16(head[8:]))
	if want := "\x93NUMPY\x01\x00v\x00{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }    "; !strings.HasPrefix(string(head), want) || (10+hlen)%64 != 0 || head[10+hlen-1] != '\n' {
		t.Errorf(".npy header %q", head)
	}
}

func TestNPZGoldenRoundTrip(t *testing.T) {
	src := filepath.Join(golden.Dir(t), "pretraining.npz")
	orig, err := checkpoints.ReadNPZ(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "p.npz")
	if err := checkpoints.WriteNPZ(p, orig); err != nil {
		t.Fatal(err)
	}
	again, err := checkpoints.ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(orig) {
		t.Fatalf("%d arrays, want %d", len(again), len(orig))
	}
	for k, d := range orig {
		if !reflect.DeepEqual(again[k].Data(), d.Data()) || !again[k].Shape().Eq(d.Shape()) {
			t.Errorf("%s differs after the round trip", k)
		}
	}
	// Writing the same arrays twice gives the same bytes.
	p2 := filepath.Join(t.TempDir(), "p2.npz")
	if err := checkpoints.WriteNPZ(p2, orig); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(p)
	b, _ := os.ReadFile(p2)
	if !bytes.Equal(a, b) {
		t.Error("WriteNPZ is not deterministic")
	}
}

// TestNPZNumpyLoad checks that numpy.load reads what WriteNPZ writes.
func TestNPZNumpyLoad(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skipf("skipping: %s cannot import numpy (%v); install python3-numpy to run this test", py, err)
	}
	p := filepath.Join(t.TempDir(), "np.npz")
	if err := checkpoints.WriteNPZ(p, sampleArrays(t)); err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys, numpy as np
z = np.load(sys.argv[1])
out = {}
for k in z.files:
    a = z[k]
    out[k] = {"dtype": str(a.dtype), "shape": list(a.shape), "c": bool(a.flags.c_contiguous),
              "values": [repr(x) for x in a.ravel().tolist()]}
print(json.dumps(out))
`
	raw, err := exec.Command(py, "-c", script, p).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy.load failed: %v\n%s", err, raw)
	}
	var got map[string]struct {
		Dtype  string   `json:"dtype"`
		Shape  []int    `json:"shape"`
		C      bool     `json:"c"`
		Values []string `json:"values"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	// Python's repr of the float64 value of each element, which is exact.
	wantRepr := map[string][]string{
		"f32":        {"1.5", "-2.0", "3.0", "4.0", "5.0", "6.25"},
		"grad/f32.t": {"1.5", "4.0", "-2.0", "5.0", "3.0", "6.25"},
		"f64":        {"0.1", "-1e+300", "3.0"},
		"i64":        {"-9007199254740993", "7"},
		"i32":        {"-1", "2", "-3", "2147483647"},
		"u8":         {"0", "1", "128", "255"},
		"b":          {"True", "False", "True"},
		"scalar":     {"42.0"},
		"int":        {"-5", "6"},
	}
	shapes := map[string][]int{"scalar": {}}
	if len(got) != len(wantValues) {
		t.Fatalf("numpy sees %d arrays, want %d: %s", len(got), len(wantValues), raw)
	}
	for name, w := range wantValues {
		g, ok := got[name]
		if !ok {
			t.Errorf("numpy has no %q", name)
			continue
		}
		shape := w.shape
		if s, ok := shapes[name]; ok {
			shape = s // a Go scalar is written as a numpy 0-d array
		}
		if g.Dtype != w.dtype || !reflect.DeepEqual(g.Shape, shape) || !g.C || !reflect.DeepEqual(g.Values, wantRepr[name]) {
			t.Errorf("numpy %s: %s %v %v, want %s %v %v", name, g.Dtype, g.Shape, g.Values, w.dtype, shape, wantRepr[name])
		}
	}
}

// npyBytes builds a .npy image from a header dict and raw data.
func npyBytes(dict string, data []byte) []byte {
	h := dict + "\n"
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(h)))
	b = append(b, h...)
	return append(b, data...)
}

// zipOf stores the given entries (in order) in a zip archive.
func zipOf(t *testing.T, entries ...[2][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: string(e[0]), Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e[1])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func entry(name string, b []byte) [2][]byte { return [2][]byte{[]byte(name), b} }

func TestCorruptNPZ(t *testing.T) {
	f4 := func(n int) []byte { return make([]byte, 4*n) }
	good := npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f4(2))
	valid := zipOf(t, entry("a.npy", good))
	long := npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f4(2))
	binary.LittleEndian.PutUint16(long[8:], 60000)
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"not a zip", []byte("hello, this is not a zip archive at all"), "not a valid zip file"},
		{"truncated archive", valid[:len(valid)-10], "not a valid zip file"},
		{"bad magic", zipOf(t, entry("a.npy", append([]byte("XNUMPY"), good[6:]...))), `array "a": not a .npy file`},
		{"truncated npy", zipOf(t, entry("a.npy", good[:6])), `array "a": truncated: 6 bytes`},
		{"header length beyond entry", zipOf(t, entry("a.npy", long)), `array "a": .npy header length 60000 beyond the 76 byte entry`},
		{"shape/bytes mismatch", zipOf(t, entry("a.npy", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f4(2)))),
			`array "a": shape [3] of <f4 needs 12 bytes but the entry holds 8`},
		{"huge shape", zipOf(t, entry("a.npy", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000, 1000000), }", f4(2)))),
			`array "a": shape [1000000 1000000 1000000] of <f4 needs more than the 8 data bytes present`},
		{"negative dim", zipOf(t, entry("a.npy", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", f4(2)))),
			`shape is not a tuple of non-negative integers`},
		{"unsupported dtype", zipOf(t, entry("a.npy", npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", f4(2)))),
			`array "a": unsupported dtype "<c8"`},
		{"fortran", zipOf(t, entry("a.npy", npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", f4(2)))),
			`array "a": array is Fortran-ordered`},
		{"missing key", zipOf(t, entry("a.npy", npyBytes("{'descr': '<f4', 'shape': (2,), }", f4(2)))),
			`missing descr, fortran_order or shape`},
		{"unknown key", zipOf(t, entry("a.npy", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", f4(2)))),
			`unknown key x`},
		{"garbage header", zipOf(t, entry("a.npy", npyBytes("import os", f4(2)))), `bad .npy header "import os"`},
		{"duplicate array", zipOf(t, entry("a.npy", good), entry("a.npy", good)), `array "a" appears twice`},
		{"non-npy entry", zipOf(t, entry("notes.txt", []byte("hi"))), `entry "notes.txt" is not a .npy array`},
		{"empty array", zipOf(t, entry("a.npy", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", nil))),
			`shape [0 3] has no elements`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTemp(t, "bad.npz", tc.file)
			_, err := checkpoints.ReadNPZ(p)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "checkpoints: "+p+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want the path and %q", err, tc.want)
			}
		})
	}
	// The valid archive and big-endian data read fine.
	be := npyBytes("{'descr': '>i4', 'fortran_order': False, 'shape': (), }", []byte{0xff, 0xff, 0xff, 0xfe})
	p := writeTemp(t, "ok.npz", zipOf(t, entry("a.npy", good), entry("dir/b.npy", be)))
	got, err := checkpoints.ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	if v := got["dir/b"].Data().([]int32); !reflect.DeepEqual(v, []int32{-2}) {
		t.Errorf("big-endian scalar = %v", v)
	}
}

func TestWriteNPZRejectsBadNames(t *testing.T) {
	dir := t.TempDir()
	one := tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{1}))
	for _, name := range []string{"", "/abs", "a/../../b", "a//b", `a\b`} {
		p := filepath.Join(dir, "x.npz")
		err := checkpoints.WriteNPZ(p, map[string]*tensor.Dense{name: one})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("invalid array name %q", name)) {
			t.Errorf("name %q: err = %v", name, err)
		}
	}
	err := checkpoints.WriteNPZ(filepath.Join(dir, "y.npz"), map[string]*tensor.Dense{"a": nil})
	if err == nil || !strings.Contains(err.Error(), `array "a": nil tensor`) {
		t.Errorf("nil tensor: err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left %d files", len(entries))
	}
}

func FuzzReadNPY(f *testing.F) {
	f.Add(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", make([]byte, 8)))
	f.Add(npyBytes("{'descr': '|b1', 'fortran_order': False, 'shape': (), }", []byte{1}))
	f.Add(npyBytes("{'descr': '>i8', 'fortran_order': False, 'shape': (1, 1), }", make([]byte, 8)))
	f.Add(npyBytes("{'descr': '<f8', 'fortran_order': True, 'shape': (3, 100000000000), }", nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = checkpoints.ReadNPY(b) // must not panic or allocate beyond len(b)
	})
}
