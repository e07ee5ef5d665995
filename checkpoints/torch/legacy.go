package torch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// legacyMagic is the first pickle of the legacy format.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// legacyProtocol is the second.
const legacyProtocol = 1001

// loadLegacy reads torch.save's format before 1.6 (and with
// _use_new_zipfile_serialization=False): five pickles back to back — the
// magic number, the protocol version, sys_info, the object, the sorted list
// of storage keys — then, for each key in that order, an 8-byte
// little-endian element count and the storage's raw bytes.
func loadLegacy(src *source) (interface{}, error) {
	pos := int64(0)
	next := func(what string, load func(*pyTuple) (interface{}, error)) (interface{}, error) {
		in := newPickleInput(src.r, pos, src.size-pos)
		v, err := newUnpickler(in, load).load()
		if err != nil {
			return nil, fmt.Errorf("%s pickle (from byte %d of the file): %w", what, pos, err)
		}
		pos += in.pos
		return v, nil
	}
	magic, err := next("magic number", nil)
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, errors.New("not a PyTorch file: the first pickle is not torch's magic number")
	}
	proto, err := next("protocol version", nil)
	if err != nil {
		return nil, err
	}
	if p, ok := proto.(int64); !ok || p != legacyProtocol {
		return nil, fmt.Errorf("legacy protocol version is a %s, want %d", typeName(proto), legacyProtocol)
	}
	info, err := next("sys_info", nil)
	if err != nil {
		return nil, err
	}
	d, ok := info.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("sys_info is a %s, not a dict", typeName(info))
	}
	if le, _ := d.get("little_endian"); le != true {
		return nil, errors.New("sys_info says the file is not little-endian; only little-endian files are supported")
	}
	roots := map[string]*storageRef{}
	views := map[string]*storageRef{}
	obj, err := next("object", func(pid *pyTuple) (interface{}, error) {
		return legacyStorage(src, roots, views, pid)
	})
	if err != nil {
		return nil, err
	}
	keys, err := next("storage keys", nil)
	if err != nil {
		return nil, err
	}
	list, ok := keys.(*pyList)
	if !ok {
		return nil, fmt.Errorf("storage keys are a %s, not a list", typeName(keys))
	}
	// Storages follow in the listed order; each one's place depends on the
	// sizes before it, which the pickle declared, so locating them reads
	// only their 8-byte counts.
	for i, k := range list.items {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("storage key %d is a %s", i, typeName(k))
		}
		st, ok := roots[key]
		if !ok {
			return nil, fmt.Errorf("storage key %s is listed but no tensor uses it", printable(key))
		}
		if st.located {
			return nil, fmt.Errorf("storage key %s is listed twice", printable(key))
		}
		var cnt [8]byte
		if err := readAt(src.r, cnt[:], pos); err != nil {
			return nil, fmt.Errorf("storage %s: element count: %w (truncated?)", printable(key), err)
		}
		if n := int64(binary.LittleEndian.Uint64(cnt[:])); n != st.numel {
			return nil, fmt.Errorf("storage %s: the file holds %d elements, the pickle says %d", printable(key), n, st.numel)
		}
		bytes := st.numel * st.dtype.size()
		if bytes > src.size-pos-8 {
			return nil, fmt.Errorf("storage %s: %d bytes at %d run past the end of the %d byte file (truncated?)", printable(key), bytes, pos+8, src.size)
		}
		st.fileOff, st.located = pos+8, true
		pos += 8 + bytes
	}
	return obj, nil
}

// legacyStorage resolves the persistent id ('storage', storage_type,
// root_key, location, numel, view_metadata); view_metadata is None or
// (view_key, offset, view_size) for a storage that is a slice of the root.
func legacyStorage(src *source, roots, views map[string]*storageRef, pid *pyTuple) (interface{}, error) {
	if len(pid.items) > 0 && pid.items[0] == "module" {
		return nil, fmt.Errorf("%w: the file holds a whole nn.Module with its source code, not a state dict", ErrRefused)
	}
	cls, key, numel, err := storagePid(pid, 6)
	if err != nil {
		return nil, err
	}
	if numel > src.size/cls.dtype.size() {
		return nil, fmt.Errorf("storage %s: %d %s elements are more than the %d byte file holds", printable(key), numel, cls.dtype, src.size)
	}
	root, ok := roots[key]
	if !ok {
		root = &storageRef{key: key, dtype: cls.dtype, numel: numel}
		roots[key] = root
	} else if root.dtype != cls.dtype || root.numel != numel {
		return nil, fmt.Errorf("storage %s is named as %d %s and as %d %s elements", printable(key), root.numel, root.dtype, numel, cls.dtype)
	}
	meta := pid.items[5]
	if meta == nil {
		return root, nil
	}
	t, ok := meta.(*pyTuple)
	if !ok || len(t.items) != 3 {
		return nil, fmt.Errorf("storage %s: view metadata is a %s, not (key, offset, size)", printable(key), typeName(meta))
	}
	vkey, ok1 := t.items[0].(string)
	off, ok2 := t.items[1].(int64)
	n, ok3 := t.items[2].(int64)
	if !ok1 || !ok2 || !ok3 || off < 0 || n < 0 || off > numel || n > numel-off {
		return nil, fmt.Errorf("storage %s: view metadata is not a (key, offset, size) within its %d elements", printable(key), numel)
	}
	if v, ok := views[vkey]; ok {
		if v.root != root || v.elemOff != off || v.numel != n {
			return nil, fmt.Errorf("storage view %s is named twice differently", printable(vkey))
		}
		return v, nil
	}
	v := &storageRef{key: vkey, dtype: cls.dtype, numel: n, root: root, elemOff: off}
	views[vkey] = v
	return v, nil
}
