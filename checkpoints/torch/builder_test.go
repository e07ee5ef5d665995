package torch_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
)

// pk assembles pickles opcode by opcode, for inputs torch.save would never
// write.
type pk struct{ b []byte }

func newPK() *pk { return &pk{b: []byte{0x80, 2}} } // PROTO 2

func (p *pk) op(ops ...byte) *pk { p.b = append(p.b, ops...); return p }

func (p *pk) raw(s string) *pk { p.b = append(p.b, s...); return p }

// global is GLOBAL module\nname\n.
func (p *pk) global(module, name string) *pk {
	return p.raw("c" + module + "\n" + name + "\n")
}

// str is BINUNICODE.
func (p *pk) str(s string) *pk {
	p.op('X')
	p.b = binary.LittleEndian.AppendUint32(p.b, uint32(len(s)))
	return p.raw(s)
}

// int pushes n as BININT when it fits, else LONG1.
func (p *pk) int(n int64) *pk {
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		p.op('J')
		p.b = binary.LittleEndian.AppendUint32(p.b, uint32(int32(n)))
		return p
	}
	p.op(0x8a, 8)
	p.b = binary.LittleEndian.AppendUint64(p.b, uint64(n))
	return p
}

// tuple pushes a tuple of ints.
func (p *pk) tuple(ns ...int64) *pk {
	p.op('(')
	for _, n := range ns {
		p.int(n)
	}
	return p.op('t')
}

// tensor pushes _rebuild_tensor_v2(storage(cls, key, numel), offset, size,
// stride, False, OrderedDict()) as torch.save writes it.
func (p *pk) tensor(cls, key string, numel, offset int64, size, stride []int64) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.op('(').str("storage").global("torch", cls).str(key).str("cpu").int(numel).op('t', 'Q')
	p.int(offset).tuple(size...).tuple(stride...).op(0x89)
	p.global("collections", "OrderedDict").op(')', 'R')
	return p.op('t', 'R')
}

// stop ends the pickle.
func (p *pk) stop() []byte { return append(p.b, '.') }

// stateDict is a pickle of {name: tensor} with one float32 tensor of the
// given layout over storage "0" of numel elements.
func stateDict(numel, offset int64, size, stride []int64) []byte {
	return newPK().op('}', '(').str("w").tensor("FloatStorage", "0", numel, offset, size, stride).op('u').stop()
}

// zipArchive writes a torch-style zip: folder/data.pkl, folder/data/<key>
// for each storage, folder/version.
func zipArchive(pickle []byte, storages map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			panic(err)
		}
		if _, err := w.Write(data); err != nil {
			panic(err)
		}
	}
	add("archive/data.pkl", pickle)
	for k, v := range storages {
		add("archive/data/"+k, v)
	}
	add("archive/version", []byte("3\n"))
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// f32 is the little-endian bytes of vs.
func f32(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// legacyFile writes the legacy format: magic, protocol, sys_info, the
// object, the storage keys, then each storage with its element count.
func legacyFile(obj []byte, keys []string, counts []int64, data [][]byte) []byte {
	magic := newPK().op(0x8a, 10).raw("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19").stop()
	proto := newPK().int(1001).stop()
	info := newPK().op('}', '(').str("protocol_version").int(1001).str("little_endian").op(0x88).
		str("type_sizes").op('}', '(').str("short").int(2).str("int").int(4).str("long").int(4).op('u', 'u').stop()
	kp := newPK().op(']', '(')
	for _, k := range keys {
		kp.str(k)
	}
	out := append(append(append(append(magic, proto...), info...), obj...), kp.op('e').stop()...)
	for i := range keys {
		out = binary.LittleEndian.AppendUint64(out, uint64(counts[i]))
		out = append(out, data[i]...)
	}
	return out
}

// legacyTensor pushes a legacy-format tensor (six-field persistent id).
func (p *pk) legacyTensor(key string, numel, offset int64, size, stride []int64) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op('(')
	p.op('(').str("storage").global("torch", "FloatStorage").str(key).str("cpu").int(numel).op('N', 't', 'Q')
	p.int(offset).tuple(size...).tuple(stride...).op(0x89)
	p.global("collections", "OrderedDict").op(')', 'R')
	return p.op('t', 'R')
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
