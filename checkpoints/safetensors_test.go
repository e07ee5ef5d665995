package checkpoints_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/internal/golden"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// buildSafetensors assembles a file image from a raw JSON header and data.
func buildSafetensors(header string, data []byte) []byte {
	var b bytes.Buffer
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	b.Write(n[:])
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeAs writes tensors to path stored as dtype, with metaOrder's metadata
// keys first: what WriteSafetensors does for F32 and hf.Save for F16.
func writeAs(t *testing.T, path string, ts map[string]*tensor.Dense, meta map[string]string, dtype string, metaOrder ...string) {
	t.Helper()
	enc, err := checkpoints.EncodeSafetensorsHeader(ts, meta, dtype, metaOrder...)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoints.AtomicWriteFile(path, enc.Encode); err != nil {
		t.Fatal(err)
	}
}

// read64 reads every tensor widened to float64, as hf.Load does for float64
// models.
func read64(t *testing.T, path string) (map[string]*tensor.Dense, map[string]string) {
	t.Helper()
	sf, err := checkpoints.OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	out := map[string]*tensor.Dense{}
	for _, name := range sf.Names() {
		d, err := sf.Float64(name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = d
	}
	return out, sf.Metadata()
}

func f32bytes(vals ...float32) []byte {
	b := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// TestGoldenRoundTripByteIdentical re-writes every golden safetensors file
// (made by the Python safetensors library) and expects the exact same bytes.
// The generator's metadata dicts hold format, model and loss_type in that
// order, which the encoder is told (the way hf.Save puts "format" first).
func TestGoldenRoundTripByteIdentical(t *testing.T) {
	dir := golden.Dir(t)
	for _, tc := range []struct {
		file, config string
		kind         layers.Kind
		model        string
	}{
		{"weights.safetensors", "config.json", layers.Pretraining, "TvltForPreTraining"},
		{"weights_classification.safetensors", "config_classification.json", layers.Classification, ""},
		{"weights_regression.safetensors", "config_regression.json", layers.Classification, ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if !golden.Has(dir, tc.file) || !golden.Has(dir, tc.config) {
				t.Skipf("the golden set lacks %s or %s", tc.file, tc.config)
			}
			_, wantTensors, wantParams := goldenExpect(t, dir, tc.config, tc.kind)
			src := filepath.Join(dir, tc.file)
			orig, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			ts, meta, err := checkpoints.ReadSafetensors(src)
			if err != nil {
				t.Fatal(err)
			}
			params := 0
			for _, d := range ts {
				params += d.Shape().TotalSize()
			}
			if len(ts) != wantTensors || params != wantParams {
				t.Fatalf("read %d tensors / %d params, want %d / %d (from %s)", len(ts), params, wantTensors, wantParams, tc.config)
			}
			if tc.model != "" && (meta["model"] != tc.model || meta["format"] != "pt") {
				t.Fatalf("metadata %v", meta)
			}
			a, err := checkpoints.OpenSafetensors(src)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			out := filepath.Join(t.TempDir(), "out.safetensors")
			writeAs(t, out, ts, meta, "F32", "format", "model", "loss_type")
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, orig) {
				i := 0
				for i < len(got) && i < len(orig) && got[i] == orig[i] {
					i++
				}
				lo := max(0, i-60)
				t.Fatalf("re-written file differs from %s at byte %d (len %d vs %d):\n got  %q\n want %q", tc.file, i, len(got), len(orig), got[lo:min(len(got), i+60)], orig[lo:min(len(orig), i+60)])
			}
			// Also check tensor by tensor through the lazy reader.
			b, err := checkpoints.OpenSafetensors(out)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if !reflect.DeepEqual(a.Tensors(), b.Tensors()) {
				t.Fatal("header entries differ")
			}
			for _, name := range a.Names() {
				ra, _ := a.RawBytes(name)
				rb, _ := b.RawBytes(name)
				if !bytes.Equal(ra, rb) {
					t.Fatalf("tensor %q data differs", name)
				}
			}
		})
	}
}

func TestGoldenAs64(t *testing.T) {
	dir := golden.Dir(t)
	src := filepath.Join(dir, "weights.safetensors")
	shapes, wantTensors, _ := goldenExpect(t, dir, "config.json", layers.Pretraining)
	t32, _, err := checkpoints.ReadSafetensors(src)
	if err != nil {
		t.Fatal(err)
	}
	t64, meta := read64(t, src)
	if meta["model"] != "TvltForPreTraining" || len(t64) != wantTensors {
		t.Fatalf("got %d tensors, meta %v; want %d tensors (from config.json)", len(t64), meta, wantTensors)
	}
	name := "tvlt.cls_embedding"
	want := tensor.Shape(shapes[name]) // (1, 1, hidden_size)
	a, b := t32[name].Data().([]float32), t64[name].Data().([]float64)
	if len(a) != want.TotalSize() || len(b) != want.TotalSize() || !reflect.DeepEqual(t64[name].Shape(), want) {
		t.Fatalf("shape %v, want %v", t64[name].Shape(), want)
	}
	for i := range a {
		if float64(a[i]) != b[i] {
			t.Fatalf("element %d: %v vs %v", i, a[i], b[i])
		}
	}
}

func TestReadDtypes(t *testing.T) {
	var data []byte
	// F16: 1, -2, 0.5, 65504 (max), smallest subnormal 2^-24
	for _, h := range []uint16{0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001} {
		data = binary.LittleEndian.AppendUint16(data, h)
	}
	// BF16: 1, -3.5
	for _, h := range []uint16{0x3f80, 0xc060} {
		data = binary.LittleEndian.AppendUint16(data, h)
	}
	// F64: 0.1, 1e300 (becomes +Inf in float32)
	for _, v := range []float64{0.1, 1e300} {
		data = binary.LittleEndian.AppendUint64(data, math.Float64bits(v))
	}
	// I64: -7
	data = binary.LittleEndian.AppendUint64(data, uint64(0xfffffffffffffff9))
	hdr := `{"a":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},` +
		`"b":{"dtype":"BF16","shape":[2,1],"data_offsets":[10,14]},` +
		`"c":{"dtype":"F64","shape":[2],"data_offsets":[14,30]},` +
		`"d":{"dtype":"I64","shape":[],"data_offsets":[30,38]}}`
	p := writeTemp(t, "dtypes.safetensors", buildSafetensors(hdr, data))
	ts, meta, err := checkpoints.ReadSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	if meta != nil {
		t.Fatalf("metadata %v, want nil", meta)
	}
	want := map[string][]float32{
		"a": {1, -2, 0.5, 65504, float32(math.Ldexp(1, -24))},
		"b": {1, -3.5},
		"c": {float32(0.1), float32(math.Inf(1))},
		"d": {-7},
	}
	shapes := map[string]tensor.Shape{"a": {5}, "b": {2, 1}, "c": {2}, "d": {1}}
	for name, w := range want {
		d := ts[name]
		if d == nil {
			t.Fatalf("missing %q", name)
		}
		if !reflect.DeepEqual(d.Shape(), shapes[name]) {
			t.Errorf("%s: shape %v, want %v", name, d.Shape(), shapes[name])
		}
		got := d.Data().([]float32)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %v, want %v", name, got, w)
		}
	}
	t64, _ := read64(t, p)
	if got := t64["c"].Data().([]float64); got[0] != 0.1 || got[1] != 1e300 {
		t.Errorf("F64 as float64: %v", got)
	}
}

func TestHalfConversion(t *testing.T) {
	// Every finite half value survives half -> float32 -> half.
	for h := 0; h < 1<<16; h++ {
		f := checkpoints.HalfToFloat32(uint16(h))
		if f != f {
			if g := checkpoints.HalfToFloat32(checkpoints.Float32ToHalf(f)); g == g {
				t.Fatalf("NaN %#04x became %v", h, g)
			}
			continue
		}
		if got := checkpoints.Float32ToHalf(f); got != uint16(h) {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, got)
		}
	}
	for _, tc := range []struct {
		in   float32
		want uint16
	}{
		{0.1, 0x2e66},
		{65519, 0x7bff},                         // rounds down to max
		{65520, 0x7c00},                         // midpoint rounds to even = Inf
		{1 + 1.0/2048, 0x3c00},                  // tie, even mantissa stays
		{1 + 3.0/2048, 0x3c02},                  // tie, odd mantissa rounds up
		{float32(math.Ldexp(1, -25)), 0x0000},   // tie to even zero
		{float32(math.Ldexp(1.5, -25)), 0x0001}, // above tie
		{float32(math.Ldexp(1, -14) * (1 - 1.0/2048)), 0x0400}, // rounds up into the normals
		{-1e-10, 0x8000},
		{float32(math.Inf(-1)), 0xfc00},
	} {
		if got := checkpoints.Float32ToHalf(tc.in); got != tc.want {
			t.Errorf("checkpoints.Float32ToHalf(%v) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
}

func TestWriteF16AndF64(t *testing.T) {
	a := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{0.1, -2, 65519, 1e-8}))
	b := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{math.Pi, -1e-300, 1e300}))
	ts := map[string]*tensor.Dense{"w.a": a, "w.b": b}
	dir := t.TempDir()

	p16 := filepath.Join(dir, "h.safetensors")
	writeAs(t, p16, ts, map[string]string{"format": "pt"}, "F16")
	sf, err := checkpoints.OpenSafetensors(p16)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := sf.Info("w.a")
	if info.Dtype != "F16" || info.End-info.Begin != 8 {
		t.Fatalf("F16 entry %+v", info)
	}
	sf.Close()
	got, _, err := checkpoints.ReadSafetensors(p16)
	if err != nil {
		t.Fatal(err)
	}
	wantA := []float32{checkpoints.HalfToFloat32(0x2e66), -2, 65504, 0}
	if g := got["w.a"].Data().([]float32); !reflect.DeepEqual(g, wantA) {
		t.Errorf("F16 a = %v, want %v", g, wantA)
	}
	if g := got["w.b"].Data().([]float32); g[0] != checkpoints.HalfToFloat32(checkpoints.Float32ToHalf(math.Pi)) || g[1] != 0 || !math.IsInf(float64(g[2]), 1) {
		t.Errorf("F16 b = %v", g)
	}

	p64 := filepath.Join(dir, "d.safetensors")
	writeAs(t, p64, ts, nil, "F64")
	got64, meta := read64(t, p64)
	if meta != nil {
		t.Errorf("metadata %v, want none", meta)
	}
	if g := got64["w.b"].Data().([]float64); !reflect.DeepEqual(g, []float64{math.Pi, -1e-300, 1e300}) {
		t.Errorf("F64 b = %v", g)
	}
	if g := got64["w.a"].Data().([]float64); g[0] != float64(float32(0.1)) {
		t.Errorf("F64 a = %v", g)
	}
}

func TestWriteViewsAndScalars(t *testing.T) {
	base := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))
	tr, err := tensor.Transpose(base)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := base.Slice(nil, tensor.S(1, 3))
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]*tensor.Dense{
		"t": tr.(*tensor.Dense),
		"s": sl.(*tensor.Dense),
		"x": tensor.New(tensor.FromScalar(float32(7))),
		"i": tensor.New(tensor.WithShape(2), tensor.WithBacking([]int64{-3, 9})),
	}
	p := filepath.Join(t.TempDir(), "v.safetensors")
	if err := checkpoints.WriteSafetensors(p, ts, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := checkpoints.ReadSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]float32{"t": {1, 4, 2, 5, 3, 6}, "s": {2, 3, 5, 6}, "x": {7}, "i": {-3, 9}} {
		if g := got[name].Data().([]float32); !reflect.DeepEqual(g, want) {
			t.Errorf("%s = %v, want %v", name, g, want)
		}
	}
	sf, err := checkpoints.OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	if info, _ := sf.Info("x"); len(info.Shape) != 0 {
		t.Errorf("scalar stored with shape %v, want []", info.Shape)
	}
	if info, _ := sf.Info("t"); !reflect.DeepEqual(info.Shape, []int{3, 2}) {
		t.Errorf("transpose stored with shape %v", info.Shape)
	}
}

func TestWriteRejects(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.safetensors")
	ok := tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{1}))
	for _, tc := range []struct {
		name string
		ts   map[string]*tensor.Dense
		want string
	}{
		{"nil tensor", map[string]*tensor.Dense{"a": nil}, `tensor "a": nil tensor`},
		{"reserved name", map[string]*tensor.Dense{"__metadata__": ok}, `invalid tensor name "__metadata__"`},
		{"empty name", map[string]*tensor.Dense{"": ok}, `invalid tensor name ""`},
	} {
		err := checkpoints.WriteSafetensors(p, tc.ts, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want it to contain %q and the path", tc.name, err, tc.want)
		}
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("failed writes left %s behind", p)
	}
	if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 0 {
		t.Errorf("failed writes left %d files", len(entries))
	}
}

func TestJSONEscapingMatchesSerde(t *testing.T) {
	ts := map[string]*tensor.Dense{"a<b>&\"\\\n\x01é": tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{1}))}
	p := filepath.Join(t.TempDir(), "e.safetensors")
	if err := checkpoints.WriteSafetensors(p, ts, map[string]string{"k": "v\t"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := `{"a<b>&\"\\\n\u0001é":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":"v\t"}}`
	if got := strings.TrimRight(string(b[8:8+binary.LittleEndian.Uint64(b)]), " "); got != want {
		t.Fatalf("header\n got  %s\n want %s", got, want)
	}
	if (8+len(want)+7)/8*8 != int(8+binary.LittleEndian.Uint64(b)) {
		t.Fatalf("header not padded to 8 bytes")
	}
	got, meta, err := checkpoints.ReadSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["a<b>&\"\\\n\x01é"]; !ok || meta["k"] != "v\t" {
		t.Fatalf("names %v meta %v", got, meta)
	}
}

// TestCorruptSafetensors covers issue 4's corrupt-file list and more: each
// must give an error naming the file (and tensor where there is one).
func TestCorruptSafetensors(t *testing.T) {
	goldenPath := filepath.Join(golden.Dir(t), "weights.safetensors")
	orig, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	// The cut points and the numbers in the messages come from the file:
	// its header length, data section size and last tensor.
	hl := int(binary.LittleEndian.Uint64(orig[:8]))
	dataLen := len(orig) - 8 - hl
	sf, err := checkpoints.OpenSafetensors(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var last checkpoints.TensorInfo
	for _, ti := range sf.Tensors() {
		if ti.End > last.End {
			last = ti
		}
	}
	sf.Close()
	headerCut := 8 + hl/2
	eight := f32bytes(1, 2)
	huge := make([]byte, 16)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	for _, tc := range []struct {
		name string
		file []byte
		want []string
	}{
		{"empty file", nil, []string{"truncated", "0 bytes"}},
		{"truncated length field", orig[:5], []string{"truncated", "5 bytes"}},
		{"truncated in header", orig[:headerCut], []string{fmt.Sprintf("header length %d beyond the file (%d bytes", hl, headerCut-8)}},
		{"truncated in data", orig[:8+hl+dataLen/2], []string{fmt.Sprintf(`out of range: the data section holds %d bytes`, dataLen/2), `tensor "`}},
		{"truncated last byte", orig[:len(orig)-1], []string{fmt.Sprintf(`tensor %q: data_offsets [%d, %d] out of range: the data section holds %d bytes`, last.Name, last.Begin, last.End, dataLen-1)}},
		{"header length beyond file", huge, []string{"header length 4611686018427387904 beyond the file"}},
		{"header length zero", buildSafetensors("", nil), []string{"header length 0 is too short"}},
		{"not JSON", buildSafetensors("{xx}", nil), []string{"header JSON"}},
		{"not an object", buildSafetensors("[1,2]   ", nil), []string{"does not start with '{'"}},
		{"trailing garbage", buildSafetensors(`{} x`, nil), []string{"trailing data after the header"}},
		{"overlapping offsets", buildSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32bytes(1, 2, 3)),
			[]string{`tensor "b": data_offsets [4, 12] overlap tensor "a" ending at 8`}},
		{"same offsets", buildSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight),
			[]string{`overlap tensor "a"`}},
		{"out of range offsets", buildSafetensors(`{"a":{"dtype":"F32","shape":[250],"data_offsets":[0,1000]}}`, eight),
			[]string{`tensor "a": data_offsets [0, 1000] out of range: the data section holds 8 bytes`}},
		{"negative offset", buildSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, eight),
			[]string{`tensor "a": invalid data_offsets [-8, 0]`}},
		{"reversed offsets", buildSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, eight),
			[]string{`tensor "a": invalid data_offsets [8, 0]`}},
		{"offset overflow", buildSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999999]}}`, eight),
			[]string{`tensor "a": invalid data_offsets`}},
		{"gap", buildSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight),
			[]string{`tensor "a": data_offsets [4, 8] leave a gap of 4 bytes after offset 0`}},
		{"trailing data bytes", buildSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, eight),
			[]string{"tensors cover 4 bytes but the data section holds 8"}},
		{"wrong dtype string", buildSafetensors(`{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}`, eight),
			[]string{`tensor "a": unknown dtype "F33"`}},
		{"lowercase dtype", buildSafetensors(`{"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}}`, eight),
			[]string{`tensor "a": unknown dtype "f32"`}},
		{"missing dtype", buildSafetensors(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, eight),
			[]string{`tensor "a": missing dtype`}},
		{"dtype not a string", buildSafetensors(`{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}`, eight),
			[]string{`tensor "a": bad entry`}},
		{"shape/bytes mismatch", buildSafetensors(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, eight),
			[]string{`tensor "a": shape [3] of F32 needs 12 bytes but data_offsets [0, 8] span 8`}},
		{"dtype/bytes mismatch", buildSafetensors(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, eight),
			[]string{`tensor "a": shape [2] of F64 needs 16 bytes`}},
		{"negative dimension", buildSafetensors(`{"a":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}`, eight),
			[]string{`tensor "a": shape [-2 -1]: negative dimension -2`}},
		{"fractional dimension", buildSafetensors(`{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, eight),
			[]string{`tensor "a": shape [2.5]: dimension 0: "2.5" is not an integer`}},
		{"overflowing shape", buildSafetensors(`{"a":{"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,8]}}`, eight),
			[]string{`tensor "a": shape`, "needs more than 2^63 bytes"}},
		{"huge dimension", buildSafetensors(`{"a":{"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]}}`, nil),
			[]string{`tensor "a": shape`, "too large"}},
		{"missing shape", buildSafetensors(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, eight),
			[]string{`tensor "a": missing shape`}},
		{"three offsets", buildSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}`, eight),
			[]string{`tensor "a": data_offsets must hold 2 numbers, got 3`}},
		{"duplicate names", buildSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight),
			[]string{`tensor "a": duplicate name in header`}},
		{"empty name", buildSafetensors(`{"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight),
			[]string{`tensor with an empty name`}},
		{"metadata not strings", buildSafetensors(`{"__metadata__":{"epoch":3}}`, nil),
			[]string{`__metadata__["epoch"] is float64, want a string`}},
		{"duplicate metadata", buildSafetensors(`{"__metadata__":{},"__metadata__":{}}`, nil),
			[]string{`duplicate __metadata__ entry`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTemp(t, "bad.safetensors", tc.file)
			ts, _, err := checkpoints.ReadSafetensors(p)
			if err == nil {
				t.Fatalf("no error; read %d tensors", len(ts))
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "checkpoints: "+p+": ") {
				t.Errorf("error %q does not name the file", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestUnconvertibleDtype(t *testing.T) {
	p := writeTemp(t, "f8.safetensors", buildSafetensors(`{"a":{"dtype":"F8_E5M2","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}))
	_, _, err := checkpoints.ReadSafetensors(p)
	if err == nil || !strings.Contains(err.Error(), `tensor "a": dtype F8_E5M2 cannot be converted to float`) {
		t.Fatalf("err = %v", err)
	}
	// The header itself is valid and inspectable.
	sf, err := checkpoints.OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	if info, ok := sf.Info("a"); !ok || info.Dtype != "F8_E5M2" {
		t.Fatalf("info %+v", info)
	}
}

func FuzzReadSafetensors(f *testing.F) {
	f.Add(buildSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}`, f32bytes(1, 2)))
	f.Add(buildSafetensors(`{"a":{"dtype":"F16","shape":[1,2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[],"data_offsets":[4,6]}}  `, []byte{0, 60, 0, 192, 128, 63}))
	f.Add(buildSafetensors(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"z":{"dtype":"I64","shape":[0,5],"data_offsets":[8,8]}}`, f32bytes(0, 1.5)))
	f.Add(buildSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32bytes(1, 2, 3)))
	f.Add(buildSafetensors(`{}`, nil))
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 127, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := checkpoints.NewSafetensorsReader(bytes.NewReader(b), int64(len(b)), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "checkpoints: fuzz: ") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		total := int64(0)
		for _, info := range sf.Tensors() {
			total += info.End - info.Begin
			d, err := sf.Float32(info.Name)
			if err != nil {
				if !strings.Contains(err.Error(), "cannot be converted") && !strings.Contains(err.Error(), "has no elements") {
					t.Fatalf("valid header but reading %q failed: %v", info.Name, err)
				}
				continue
			}
			if d.Shape().TotalSize() != len(d.Data().([]float32)) && len(info.Shape) > 0 {
				t.Fatalf("%q: shape %v vs %d values", info.Name, d.Shape(), len(d.Data().([]float32)))
			}
		}
		if total > int64(len(b)) {
			t.Fatalf("tensors claim %d bytes of a %d byte file", total, len(b))
		}
	})
}

func TestZeroSizeTensor(t *testing.T) {
	p := writeTemp(t, "z.safetensors", buildSafetensors(`{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}`, nil))
	sf, err := checkpoints.OpenSafetensors(p)
	if err != nil {
		t.Fatalf("a zero-size tensor is valid safetensors: %v", err)
	}
	defer sf.Close()
	if _, err := sf.Float32("e"); err == nil || !strings.Contains(err.Error(), `tensor "e": shape [0 3] has no elements`) {
		t.Fatalf("err = %v", err)
	}
}

// TestF16MatchesNumpy writes F16 and F32 safetensors files and has numpy,
// parsing the format independently, compare our half-precision rounding
// with numpy's astype(float16) on values covering normals, subnormals,
// ties and overflow.
func TestF16MatchesNumpy(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skipf("skipping: %s cannot import numpy (%v); install python3-numpy to run this test", py, err)
	}
	var vals []float32
	for e := -27; e <= 17; e++ {
		for _, m := range []float64{1, 1.0004882812, 1.00048828125, 1.0009765625, 1.00146484375, 1.3, 1.99951171875, 1.9997} {
			vals = append(vals, float32(math.Ldexp(m, e)), float32(-math.Ldexp(m, e)))
		}
	}
	vals = append(vals, 0, 65504, 65519.99, 65520, float32(math.Inf(1)))
	ts := map[string]*tensor.Dense{"v": tensor.New(tensor.WithShape(len(vals)), tensor.WithBacking(vals))}
	dir := t.TempDir()
	p16, p32 := filepath.Join(dir, "h.safetensors"), filepath.Join(dir, "f.safetensors")
	writeAs(t, p16, ts, nil, "F16")
	if err := checkpoints.WriteSafetensors(p32, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	script := `
import json, struct, sys, numpy as np
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    assert (8 + n) % 8 == 0, "header not aligned"
    h = json.loads(b[8:8+n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        dt = {"F16": "<f2", "F32": "<f4"}[v["dtype"]]
        out[k] = np.frombuffer(b[8+n+s:8+n+e], dtype=dt).reshape(v["shape"])
    return out, h.get("__metadata__")
h, _ = load(sys.argv[1])
f, meta = load(sys.argv[2])
want = f["v"].astype(np.float16)
bad = np.nonzero(want.view(np.uint16) != h["v"].view(np.uint16))[0]
print(json.dumps({"n": int(want.size), "bad": [[float(f["v"][i]), int(h["v"].view(np.uint16)[i]), int(want.view(np.uint16)[i])] for i in bad[:5]], "meta": meta}))
`
	cmd := exec.Command(py, "-W", "ignore", "-c", script, p16, p32)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("python failed: %v\n%s%s", err, raw, stderr.Bytes())
	}
	var got struct {
		N    int               `json:"n"`
		Bad  [][3]float64      `json:"bad"`
		Meta map[string]string `json:"meta"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if got.N != len(vals) || len(got.Bad) != 0 || got.Meta["format"] != "pt" {
		t.Fatalf("numpy: %d values, mismatches (value, ours, numpy's bits) %v, metadata %v", got.N, got.Bad, got.Meta)
	}
}
