package torch_test

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints/torch"
)

// TestAllowedConstructs covers what torch 1.13 does not write but other
// versions and tools do: _rebuild_tensor_v3 over an untyped storage,
// _rebuild_tensor, _rebuild_parameter_with_state, NEWOBJ of
// torch.nn.Parameter, and protocol 0 and 4 opcodes in hyper-parameters.
func TestAllowedConstructs(t *testing.T) {
	vals := f32(0, 1, 2, 3, 4, 5)
	half := binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, 0x3c00), 0xc000) // 1, -2
	p := newPK().op('}', '(')
	// _rebuild_tensor_v3(UntypedStorage of 4 bytes, 0, (2,), (1,), False, {}, torch.float16)
	p.str("v3").global("torch._utils", "_rebuild_tensor_v3").op('(')
	p.op('(').str("storage").global("torch.storage", "UntypedStorage").str("h").str("cpu").int(4).op('t', 'Q')
	p.int(0).tuple(2).tuple(1).op(0x89, '}').global("torch", "float16").op('t', 'R')
	// _rebuild_tensor(storage, 1, (2,), (2,))
	p.str("v1").global("torch._utils", "_rebuild_tensor").op('(')
	p.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").int(6).op('t', 'Q')
	p.int(1).tuple(2).tuple(2).op('t', 'R')
	// _rebuild_parameter_with_state(tensor, True, OrderedDict(), {"a": 1})
	p.str("param").global("torch._utils", "_rebuild_parameter_with_state").op('(')
	p.tensor("FloatStorage", "0", 6, 4, []int64{2}, []int64{1}).op(0x88).global("collections", "OrderedDict").op(')', 'R', '}').str("a").int(1).op('s', 't', 'R')
	// Parameter.__new__(Parameter, tensor, False)
	p.str("newobj").global("torch.nn.parameter", "Parameter")
	p.tensor("FloatStorage", "0", 6, 0, []int64{1}, []int64{1}).op(0x89, 0x86, 0x81)
	p.op('u')
	sd := p.b
	hp := newPK().op('}', '(').str("state_dict").raw(string(sd[2:])).str("hyper_parameters").
		raw("(S'name'\np0\nVcaf\\u00e9\nS'n'\nI42\nS'big'\nL123456789012345678901234567890L\nS'f'\nF0.25\nS'b'\nI01\nS'l'\n(lp1\nI1\naI2\nag0\naS'esc\\x41\\n'\nad").
		str("sets").op(0x8f, '(').int(3).op(0x90, '(').int(4).op(0x91, 0x86).
		str("ordered").global("collections", "OrderedDict").op('}').str("k").int(1).op('s', 0x85, 'R').
		op('u').stop()
	// The hyper-parameters dict above is a protocol 0 DICT; sets and the
	// OrderedDict are top-level extras.
	b := zipArchive(hp, map[string][]byte{"0": vals, "h": half})
	f, err := torch.ReadFrom(bytes.NewReader(b), int64(len(b)), "constructs")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{"v3": {1, -2}, "v1": {1, 3}, "param": {4, 5}, "newobj": {0}}
	for name, w := range want {
		if got := f.Tensors[name].Data(); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	if f.DTypes["v3"] != "float16" {
		t.Errorf("v3 dtype %q", f.DTypes["v3"])
	}
	wantHP := map[string]interface{}{
		"name": "café",
		"n":    int64(42),
		"big":  "123456789012345678901234567890",
		"f":    0.25,
		"b":    true,
		"l":    []interface{}{int64(1), int64(2), "name", "escA\n"},
	}
	if !reflect.DeepEqual(f.HyperParameters, wantHP) {
		t.Errorf("hyper-parameters\n%#v\nwant\n%#v", f.HyperParameters, wantHP)
	}
	if !reflect.DeepEqual(f.Extra, []string{"sets", "ordered"}) {
		t.Errorf("Extra = %v", f.Extra)
	}
}
