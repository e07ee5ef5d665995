package torch_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints/torch"
	"github.com/tvlt-go/tvlt/internal/allocs"
)

// fuzzSeeds are valid files of both formats using every construct the
// reader accepts, and a few it refuses, all assembled by hand (no torch).
func fuzzSeeds() [][]byte {
	vals := f32(0, 1, 2, 3, 4, 5)
	half := []byte{0, 0x3c, 0, 0xc0, 0, 0x7c, 1, 0} // 1, -2, inf, subnormal
	lightning := newPK().op('}', '(').str("epoch").int(3).str("state_dict").
		global("collections", "OrderedDict").op(')', 'R', 'q', 0, '(').
		str("a").tensor("FloatStorage", "0", 6, 1, []int64{2, 2}, []int64{1, 2}).
		str("h").tensor("HalfStorage", "1", 4, 0, []int64{4}, []int64{1}).
		str("b").tensor("BFloat16Storage", "3", 4, 2, []int64{}, []int64{}).
		op('u', '}').str("_metadata").op('}', 's', 'b').
		str("hyper_parameters").global("argparse", "Namespace").op(')', 0x81, '}', '(').
		str("lr").raw("G?\xb9\x99\x99\x99\x99\x99\x9a").str("sizes").op('(').int(1).int(1<<40).op('t').
		str("none").op('N').str("ok").op(0x88).op('u', 'b').
		str("optimizer_states").op(']', '(').op('}', '(').int(0).tensor("LongStorage", "2", 1, 0, []int64{}, []int64{}).op('u', 'e').
		op('u').stop()
	proto4 := append([]byte{0x80, 4, 0x95, 30, 0, 0, 0, 0, 0, 0, 0, '}', 0x94, '('}, newPK().str("x").b[2:]...)
	proto4 = append(proto4, newPK().op(0x8c, 5).raw("torch").op(0x8c, 7).raw("float16").op(0x93, 0x94, 0x8f, 0x94, '(').int(1).op(0x90, 0x86).str("state_dict").op('}', 'u', '.').b[2:]...)
	legacy := legacyFile(newPK().op('}', '(').str("w").legacyTensor("k", 6, 1, []int64{2, 2}, []int64{2, 1}).op('u').stop(), []string{"k"}, []int64{6}, [][]byte{vals})
	return [][]byte{
		zipArchive(stateDict(6, 0, []int64{2, 3}, []int64{3, 1}), map[string][]byte{"0": vals}),
		zipArchive(lightning, map[string][]byte{"0": vals, "1": half, "2": make([]byte, 8), "3": half}),
		zipArchive(proto4, nil),
		legacy,
		zipArchive(newPK().global("os", "system").str("echo").op(0x85, 'R').stop(), nil),
		zipArchive(stateDict(6, 0, []int64{1 << 28}, []int64{0}), map[string][]byte{"0": vals}),
		[]byte("PK\x05\x06" + strings.Repeat("\x00", 18)),
	}
}

// FuzzRead reads arbitrary bytes with ReadFrom. It must not panic; it
// returns either an error naming the input or tensors whose shapes match
// their data. Decoding tensors may allocate at most 8 × the input plus
// 16 MiB (the reader's budget) and a 1 MiB buffer; the pickle machine builds
// at most one small value, memo entry or container per opcode byte
// (TestAllocationPerInputByte measures the worst cases at ~250 bytes per
// byte), so allocation stays within 64 MiB + 512 × len(input).
func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var file *torch.File
		var err error
		alloc := allocs.Of(func() { file, err = torch.ReadFrom(bytes.NewReader(b), int64(len(b)), "fuzz") })
		if limit := uint64(64<<20) + 512*uint64(len(b)); alloc > limit {
			t.Fatalf("reading %d bytes allocated %d bytes (limit %d)", len(b), alloc, limit)
		}
		if err != nil {
			if file != nil || !strings.HasPrefix(err.Error(), "torch: fuzz: ") {
				t.Fatalf("error does not name the input (or comes with a result): %v", err)
			}
			return
		}
		if len(file.Order) != len(file.Tensors) || len(file.DTypes) != len(file.Tensors) {
			t.Fatalf("%d names, %d tensors, %d dtypes", len(file.Order), len(file.Tensors), len(file.DTypes))
		}
		for _, name := range file.Order {
			d := file.Tensors[name]
			if d == nil {
				t.Fatalf("tensor %q is nil", name)
			}
			n := 1
			for _, s := range d.Shape() {
				if s <= 0 {
					t.Fatalf("tensor %q: shape %v", name, d.Shape())
				}
				n *= s
			}
			if d.DataSize() != n {
				t.Fatalf("tensor %q: shape %v but %d values", name, d.Shape(), d.DataSize())
			}
		}
	})
}

// TestFuzzSeeds pins what the seeds read as, so that they stay valid.
func TestFuzzSeeds(t *testing.T) {
	seeds := fuzzSeeds()
	for i, want := range []string{"", "", "", "", "global os.system", "past the budget", "no entries"} {
		f, err := torch.ReadFrom(bytes.NewReader(seeds[i]), int64(len(seeds[i])), "seed")
		switch {
		case want == "" && err != nil:
			t.Errorf("seed %d: %v", i, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("seed %d: error %v, want %q", i, err, want)
		}
		if i == 1 && err == nil {
			if got := f.Tensors["h"].Data().([]float32); got[0] != 1 || got[1] != -2 || got[3] != 5.9604645e-08 {
				t.Errorf("seed 1: h = %v", got)
			}
			if hp := f.HyperParameters; hp["lr"] != 0.1 || hp["ok"] != true || hp["none"] != nil || len(hp["sizes"].([]interface{})) != 2 {
				t.Errorf("seed 1: hyper-parameters %v", hp)
			}
		}
	}
}
