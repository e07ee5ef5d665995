package torch_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints/torch"
	"github.com/tvlt-go/tvlt/internal/allocs"
)

// readFile writes b to a file and reads it, returning the error and the
// bytes allocated; errors must name the file.
func readFile(t *testing.T, b []byte) (*torch.File, error, uint64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hostile.bin")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var f *torch.File
	var err error
	alloc := allocs.Of(func() { f, err = torch.Read(path) })
	if err != nil && !strings.HasPrefix(err.Error(), "torch: "+path+": ") {
		t.Errorf("error does not name the file: %v", err)
	}
	if err != nil && f != nil {
		t.Errorf("error %v with a result", err)
	}
	return f, err, alloc
}

// TestHandBuiltValid checks the hand assembler against the reader on the
// layouts the hostile cases below distort.
func TestHandBuiltValid(t *testing.T) {
	vals := f32(0, 1, 2, 3, 4, 5, 6, 7)
	cases := []struct {
		name string
		file []byte
		want []float32
		dims []int
	}{
		{"zip contiguous", zipArchive(stateDict(8, 0, []int64{2, 4}, []int64{4, 1}), map[string][]byte{"0": vals}), []float32{0, 1, 2, 3, 4, 5, 6, 7}, []int{2, 4}},
		{"zip transposed", zipArchive(stateDict(8, 0, []int64{4, 2}, []int64{1, 4}), map[string][]byte{"0": vals}), []float32{0, 4, 1, 5, 2, 6, 3, 7}, []int{4, 2}},
		{"zip offset view", zipArchive(stateDict(8, 5, []int64{3}, []int64{1}), map[string][]byte{"0": vals}), []float32{5, 6, 7}, []int{3}},
		{"zip expanded", zipArchive(stateDict(8, 2, []int64{2, 3}, []int64{0, 1}), map[string][]byte{"0": vals}), []float32{2, 3, 4, 2, 3, 4}, []int{2, 3}},
		{"zip scalar", zipArchive(stateDict(8, 7, []int64{}, []int64{}), map[string][]byte{"0": vals}), []float32{7}, []int{1}},
		{"legacy strided", legacyFile(newPK().op('}', '(').str("w").legacyTensor("k", 8, 1, []int64{2, 2}, []int64{4, 2}).op('u').stop(), []string{"k"}, []int64{8}, [][]byte{vals}), []float32{1, 3, 5, 7}, []int{2, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err, _ := readFile(t, c.file)
			if err != nil {
				t.Fatal(err)
			}
			w := f.Tensors["w"]
			if w == nil || !reflect.DeepEqual(w.Data(), c.want) || !reflect.DeepEqual([]int(w.Shape()), c.dims) {
				t.Fatalf("w = %v, want %v %v", w, c.dims, c.want)
			}
		})
	}
}

// TestHostile feeds hand-assembled pickles and damaged containers: each
// must be refused with an error naming the problem, without panicking or
// allocating more than a few MiB.
func TestHostile(t *testing.T) {
	vals := f32(0, 1, 2, 3, 4, 5)
	store := map[string][]byte{"0": vals}
	good := stateDict(6, 0, []int64{2, 3}, []int64{3, 1})
	// withTop wraps an extra entry next to a valid state dict.
	withTop := func(key string, value func(*pk)) []byte {
		p := newPK().op('}', '(').str("state_dict").op('}', '(').str("w").
			tensor("FloatStorage", "0", 6, 0, []int64{6}, []int64{1}).op('u').str(key)
		value(p)
		return zipArchive(p.op('u').stop(), store)
	}
	nested := func(depth int) func(*pk) {
		return func(p *pk) {
			p.raw(strings.Repeat("(", depth)).op(']').raw(strings.Repeat("l", depth))
		}
	}
	validZip := zipArchive(good, store)
	cases := []struct {
		name    string
		file    []byte
		want    string
		refused bool
	}{
		{"GLOBAL os.system REDUCE", zipArchive(newPK().global("os", "system").str("echo pwned").op(0x85, 'R').stop(), nil), "global os.system is not part of a state dict", true},
		{"GLOBAL builtins.eval", zipArchive(newPK().global("builtins", "eval").str("1+1").op(0x85, 'R').stop(), nil), "global builtins.eval", true},
		{"STACK_GLOBAL posix.system", zipArchive(newPK().op(0x80, 4).op(0x8c, 5).raw("posix").op(0x8c, 6).raw("system").op(0x93).stop(), nil), "global posix.system", true},
		{"GLOBAL subprocess.Popen in legacy", legacyFile(newPK().global("subprocess", "Popen").op(')', 'R').stop(), nil, nil, nil), "global subprocess.Popen", true},
		{"INST os.system", zipArchive(newPK().op('(').str("ls").raw("ios\nsystem\n").stop(), nil), "global os.system", true},
		{"hostile name quoted", zipArchive(newPK().global("os\x1b[2J", "system").stop(), nil), `"os\x1b[2J.system"`, true},
		{"REDUCE of a storage class", zipArchive(newPK().global("torch", "FloatStorage").op(')', 'R').stop(), nil), "torch.FloatStorage cannot be called", true},
		{"REDUCE of a dtype", zipArchive(newPK().global("torch", "float32").op(')', 'R').stop(), nil), "torch.float32 cannot be called", true},
		{"REDUCE of a dict", zipArchive(newPK().op('}', ')', 'R').stop(), nil), "REDUCE calls a dict", true},
		{"NEWOBJ of a rebuild function", zipArchive(newPK().global("torch._utils", "_rebuild_tensor_v2").op(')', 0x81).stop(), nil), "cannot be instantiated", true},
		{"BUILD of a tensor", zipArchive(newPK().op('}', '(').str("w").tensor("FloatStorage", "0", 6, 0, []int64{6}, []int64{1}).op('}', 'b', 'u').stop(), store), "BUILD of a tensor", true},
		{"BUILD of an int", zipArchive(newPK().int(1).op('}', 'b').stop(), nil), "BUILD of a int", true},
		{"NEWOBJ_EX with kwargs", zipArchive(newPK().global("argparse", "Namespace").op(')', '}').str("k").int(1).op('s', 0x92).stop(), nil), "keyword arguments", true},
		{"persistent id of a module", legacyFile(newPK().op('(').str("module").op('N', 'N', 'N', 't', 'Q').stop(), nil, nil, nil), "whole nn.Module", true},
		{"persistent id not storage", zipArchive(newPK().op('(').str("evil").op('t', 'Q').stop(), nil), "persistent id of a evil", true},
		{"text PERSID", zipArchive(newPK().raw("P0\n").stop(), nil), "PERSID", true},
		{"EXT1", zipArchive(newPK().op(0x82, 1).stop(), nil), "extension registry", true},
		{"out-of-band buffer", zipArchive(newPK().op(0x97).stop(), nil), "out-of-band", true},
		{"huge declared storage, zip", zipArchive(stateDict(1<<40, 0, []int64{6}, []int64{1}), store), "elements need 4398046511104 bytes but its entry holds 24", false},
		{"huge declared storage, legacy", legacyFile(newPK().op('}', '(').str("w").legacyTensor("k", 1<<40, 0, []int64{6}, []int64{1}).op('u').stop(), []string{"k"}, []int64{1 << 40}, [][]byte{vals}), "are more than the", false},
		{"size past storage", zipArchive(stateDict(6, 0, []int64{7}, []int64{1}), store), "reaches element 6 of a storage of 6", false},
		{"offset past storage", zipArchive(stateDict(6, 4, []int64{2, 2}, []int64{1, 1}), store), "reaches element 6", false},
		{"stride past storage", zipArchive(stateDict(6, 0, []int64{2, 3}, []int64{1, 3}), store), "reaches element 7", false},
		{"size overflow", zipArchive(stateDict(6, 0, []int64{1 << 40, 1 << 40}, []int64{0, 0}), store), "more than 2^62 elements", false},
		{"stride overflow", zipArchive(stateDict(6, 0, []int64{3, 2}, []int64{1 << 62, 1}), store), "overflows", false},
		{"negative size", zipArchive(stateDict(6, 0, []int64{-1}, []int64{1}), store), "dimension 0 is negative (-1)", false},
		{"negative stride", zipArchive(stateDict(6, 5, []int64{2}, []int64{-1}), store), "dimension 0 is negative", false},
		{"negative offset", zipArchive(stateDict(6, -1, []int64{2}, []int64{1}), store), "storage offset", false},
		{"negative numel", zipArchive(stateDict(-6, 0, []int64{2}, []int64{1}), store), "element count", false},
		{"rank mismatch", zipArchive(stateDict(6, 0, []int64{2, 3}, []int64{1}), store), "differ in rank", false},
		{"too many dims", zipArchive(stateDict(6, 0, make([]int64, 65), make([]int64, 65)), store), "65 dimensions", false},
		{"empty tensor", zipArchive(stateDict(6, 0, []int64{0, 3}, []int64{3, 1}), store), "has no elements", false},
		{"expanded past the budget", zipArchive(stateDict(6, 0, []int64{1 << 28}, []int64{0}), store), "past the budget", false},
		{"missing storage entry", zipArchive(good, nil), "has no entry archive/data/0", false},
		{"storage named twice differently", zipArchive(newPK().op('}', '(').str("a").tensor("FloatStorage", "0", 6, 0, []int64{6}, []int64{1}).
			str("b").tensor("HalfStorage", "0", 12, 0, []int64{6}, []int64{1}).op('u').stop(), store), "named as 6 float32 and as 12 float16", false},
		{"no data.pkl", fuzzZip(zip.Store, "archive/version", "3\n"), "no archive/data.pkl", false},
		{"compressed data.pkl", fuzzZip(zip.Deflate, "archive/data.pkl", string(good)), "is compressed", false},
		{"entry not in a folder", fuzzZip(zip.Store, "data.pkl", string(good)), "not in a folder", false},
		{"big-endian archive", fuzzZip(zip.Store, "archive/byteorder", "big", "archive/data.pkl", string(good)), "only little-endian", false},
		{"not a checkpoint", []byte("hello world"), "not a PyTorch file", false},
		{"empty file", nil, "0 bytes is not a PyTorch file", false},
		{"pickle is a list", zipArchive(newPK().op(']').stop(), nil), "is a list, not a dict", false},
		{"no state dict", zipArchive(newPK().op('}', '(').str("epoch").int(3).op('u').stop(), nil), "no state dict", false},
		{"non-tensor in the state dict", zipArchive(newPK().op('}', '(').str("state_dict").op('}', '(').str("w").int(3).op('u', 'u').stop(), nil), "state dict entry w is a int", false},
		{"non-str state dict key", zipArchive(newPK().op('}', '(').int(1).tensor("FloatStorage", "0", 6, 0, []int64{6}, []int64{1}).op('u').stop(), store), "state dict key 0 is a int", false},
		{"tensor in hyper_parameters", withTop("hyper_parameters", func(p *pk) {
			p.op('}').str("x").tensor("FloatStorage", "0", 6, 0, []int64{6}, []int64{1}).op('s')
		}), "hyper_parameters.x: a tensor is not a plain value", false},
		{"deep hyper_parameters", withTop("hyper_parameters", func(p *pk) { p.op('}').str("x"); nested(100000)(p); p.op('s') }), "nested more than 100 levels", false},
		{"cyclic hyper_parameters", withTop("hyper_parameters", func(p *pk) { p.op('}').str("x").op(']', 'q', 200, 'h', 200, 'a', 's') }), "hyper_parameters.x[0]: a list that contains itself", false},
		{"hyper_parameters is a list", withTop("hyper_parameters", func(p *pk) { p.op(']') }), "hyper_parameters is a list", false},
		{"odd SETITEMS", zipArchive(newPK().op('}', '(').str("k").op('u').stop(), nil), "odd number of items", false},
		{"odd DICT", zipArchive(newPK().op('(').str("k").op('d').stop(), nil), "odd number of items", false},
		{"APPEND to a dict", zipArchive(newPK().op('}').int(1).op('a').stop(), nil), "appending to a dict", true},
		{"SETITEM on a list", zipArchive(newPK().op(']').int(1).int(2).op('s').stop(), nil), "setting items of a list", true},
		{"stack underflow", zipArchive(newPK().op('R').stop(), nil), "stack underflow", false},
		{"STOP on a MARK", zipArchive(newPK().op('(', '.').b, nil), "a MARK where a value was expected", false},
		{"POP_MARK without MARK", zipArchive(newPK().op('1').stop(), nil), "no MARK", false},
		{"memo never stored", zipArchive(newPK().op('h', 9).stop(), nil), "memo index 9 was never stored", false},
		{"unknown opcode", zipArchive(newPK().op(0xff).stop(), nil), "unknown opcode", false},
		{"protocol 6", zipArchive(newPK().op(0x80, 6).stop(), nil), "unsupported pickle protocol 6", false},
		{"huge FRAME", zipArchive(newPK().op(0x95).raw("\xff\xff\xff\xff\xff\xff\xff\x7f").stop(), nil), "frame of 9223372036854775807 bytes", false},
		{"huge BINBYTES8", zipArchive(newPK().op(0x8e).raw("\x00\x00\x00\x00\x00\x00\x00\x40").stop(), nil), "a 4611686018427387904 byte argument", false},
		{"huge BINUNICODE", zipArchive(newPK().op('X').raw("\xff\xff\xff\x7f").stop(), nil), "a 2147483647 byte argument", false},
		{"huge LONG4", zipArchive(newPK().op(0x8b).raw("\xff\xff\xff\x7f").stop(), nil), "a 2147483647 byte argument", false},
		{"negative LONG4", zipArchive(newPK().op(0x8b).raw("\xff\xff\xff\xff").stop(), nil), "negative LONG4 length", false},
		{"endless text line", zipArchive(newPK().raw("I"+strings.Repeat("1", 70000)).stop(), nil), "longer than 65536 bytes", false},
		{"no STOP", zipArchive(newPK().op('}').b, nil), "truncated pickle", false},
		{"legacy bad magic", append(newPK().int(7).stop(), 0), "not torch's magic number", false},
		{"legacy big-endian", bytes.Replace(legacyFile(good, nil, nil, nil), []byte("little_endian\x88"), []byte("little_endian\x89"), 1), "not little-endian", false},
		{"legacy key not in pickle", legacyFile(newPK().op('}').stop(), []string{"k"}, []int64{6}, [][]byte{vals}), "listed but no tensor uses it", false},
		{"legacy storage without data", legacyFile(newPK().op('}', '(').str("w").legacyTensor("k", 6, 0, []int64{6}, []int64{1}).op('u').stop(), nil, nil, nil), "storage k has no data in the file", false},
		{"legacy count mismatch", legacyFile(newPK().op('}', '(').str("w").legacyTensor("k", 6, 0, []int64{6}, []int64{1}).op('u').stop(), []string{"k"}, []int64{5}, [][]byte{vals}), "holds 5 elements, the pickle says 6", false},
		{"legacy key listed twice", legacyFile(newPK().op('}', '(').str("w").legacyTensor("k", 6, 0, []int64{6}, []int64{1}).op('u').stop(), []string{"k", "k"}, []int64{6, 6}, [][]byte{vals, vals}), "listed twice", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err, alloc := readFile(t, c.file)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if errors.Is(err, torch.ErrRefused) != c.refused {
				t.Errorf("errors.Is(err, ErrRefused) = %v, want %v (%v)", !c.refused, c.refused, err)
			}
			if alloc > 16<<20+100*uint64(len(c.file)) {
				t.Errorf("refusing a %d byte file allocated %d bytes", len(c.file), alloc)
			}
		})
	}
	if _, err, _ := readFile(t, validZip); err != nil {
		t.Fatalf("the valid base of the cases: %v", err)
	}
}

// TestIgnoredEntriesAreNotWalked: deep nesting and cycles in entries the
// reader ignores (optimizer states, loops) cost nothing and are no error.
func TestIgnoredEntriesAreNotWalked(t *testing.T) {
	p := newPK().op('}', '(').str("state_dict").op('}', '(').str("w").
		tensor("FloatStorage", "0", 6, 0, []int64{6}, []int64{1}).op('u')
	p.str("loops").raw(strings.Repeat("(", 100000)).op(']').raw(strings.Repeat("l", 100000))
	p.str("callbacks").op(']', 'q', 1, 'h', 1, 'a')
	// An optimizer state's tensor: checked against its storage, never read.
	p.str("optimizer_states").op(']').tensor("FloatStorage", "0", 6, 2, []int64{2}, []int64{2}).op('a')
	f, err, _ := readFile(t, zipArchive(p.op('u').stop(), map[string][]byte{"0": f32(1, 2, 3, 4, 5, 6)}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Extra, []string{"loops", "callbacks", "optimizer_states"}) || len(f.Tensors) != 1 {
		t.Fatalf("Extra %v, %d tensors", f.Extra, len(f.Tensors))
	}
}

// TestTruncated reads every prefix of a valid zip and legacy file (hand
// assembled, so without torch): each is an error, never a panic.
func TestTruncated(t *testing.T) {
	vals := f32(0, 1, 2, 3, 4, 5)
	files := map[string][]byte{
		"zip":    zipArchive(stateDict(6, 0, []int64{2, 3}, []int64{3, 1}), map[string][]byte{"0": vals}),
		"legacy": legacyFile(newPK().op('}', '(').str("w").legacyTensor("k", 6, 0, []int64{6}, []int64{1}).op('u').stop(), []string{"k"}, []int64{6}, [][]byte{vals}),
	}
	for name, b := range files {
		if _, err := torch.ReadFrom(bytes.NewReader(b), int64(len(b)), name); err != nil {
			t.Fatalf("%s whole: %v", name, err)
		}
		for n := 0; n < len(b); n++ {
			_, err := torch.ReadFrom(bytes.NewReader(b[:n]), int64(n), name)
			if err == nil {
				t.Errorf("%s cut to %d of %d bytes: accepted", name, n, len(b))
			}
		}
	}
}

// TestTruncatedFixtures cuts torch's own Lightning checkpoints, both
// formats, at many lengths.
func TestTruncatedFixtures(t *testing.T) {
	dir := fixtures(t)
	for _, name := range []string{"lightning.ckpt", "lightning_legacy.ckpt"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(b); n += 1 + n/64 {
			_, err := torch.ReadFrom(bytes.NewReader(b[:n]), int64(n), name)
			if err == nil {
				t.Errorf("%s cut to %d of %d bytes: accepted", name, n, len(b))
			}
		}
	}
}

// TestLegacyView: a legacy storage view (view_metadata) starts its offset
// inside the root storage.
func TestLegacyView(t *testing.T) {
	p := newPK().op('}', '(').str("w").global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.op('(').str("storage").global("torch", "FloatStorage").str("root").str("cpu").int(6)
	p.op('(').str("view").int(2).int(3).op('t', 't', 'Q')
	p.int(1).tuple(2).tuple(1).op(0x89, '}', 't', 'R', 'u')
	b := legacyFile(p.stop(), []string{"root"}, []int64{6}, [][]byte{f32(0, 1, 2, 3, 4, 5)})
	f, err := torch.ReadFrom(bytes.NewReader(b), int64(len(b)), "view")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Tensors["w"].Data(); !reflect.DeepEqual(got, []float32{3, 4}) {
		t.Fatalf("w = %v, want [3 4] (root elements 2+1, 2+2)", got)
	}
}
