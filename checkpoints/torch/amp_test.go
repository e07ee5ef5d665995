package torch_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints/torch"
	"github.com/tvlt-go/tvlt/internal/allocs"
)

// TestAllocationPerInputByte runs the pickle opcodes that allocate most per
// input byte, 100k times each, and checks that reading stays within the
// bound FuzzRead asserts (512 bytes per input byte, plus a constant).
// Measured: a list of empty dicts in hyper_parameters (each converted to a
// Go map) is the worst at ~250 bytes per byte.
func TestAllocationPerInputByte(t *testing.T) {
	const n = 100000
	hp := func(v string) string {
		return "}(X\x10\x00\x00\x00hyper_parameters" + v + "X\x0a\x00\x00\x00state_dict}u"
	}
	bodies := []struct{ name, body string }{
		{"empty dicts", strings.Repeat("}", n)},
		{"empty tuples", strings.Repeat(")", n)},
		{"marks", strings.Repeat("(", n)},
		{"memoize", "}" + strings.Repeat("\x94", n)},
		{"dup", "}" + strings.Repeat("2", n)},
		{"nested lists", strings.Repeat("(", n/2) + "]" + strings.Repeat("l", n/2)},
		{"tuple1 chain", "}" + strings.Repeat("\x85", n)},
		{"short strings", "}" + strings.Repeat("\x8c\x00", n/2)},
		{"long list", "](" + strings.Repeat("N", n) + "e"},
		{"hyper_parameters list of dicts", hp("}X\x01\x00\x00\x00x(" + strings.Repeat("}", n) + "ls")},
		{"hyper_parameters shared list", hp("}X\x01\x00\x00\x00x](}q\x00" + strings.Repeat("h\x00", n/2) + "es")},
		{"hyper_parameters tuple values", hp("}(" + strings.Repeat("K\x01)", n/3) + "u")},
	}
	for _, c := range bodies {
		b := zipArchive([]byte("\x80\x02"+c.body+"."), nil)
		var err error
		a := allocs.Of(func() { _, err = torch.ReadFrom(bytes.NewReader(b), int64(len(b)), "x") })
		t.Logf("%-32s %7d bytes: allocated %9d (%.0f per byte); %v", c.name, len(b), a, float64(a)/float64(len(b)), err)
		if a > 4<<20+512*uint64(len(b)) {
			t.Errorf("%s: %d bytes allocated %d", c.name, len(b), a)
		}
	}
}
