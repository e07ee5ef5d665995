package torch

import (
	"archive/zip"
	"errors"
	"fmt"
	"strings"
)

// loadZip reads the zip format of torch >= 1.6: <folder>/data.pkl is the
// pickle, <folder>/data/<key> the raw little-endian bytes of each storage,
// stored uncompressed (torch.save never compresses). The folder is named
// after the file when it was saved, so it is taken from the first entry
// as torch's own reader does.
func loadZip(src *source) (interface{}, error) {
	zr, err := zip.NewReader(src.r, src.size)
	if err != nil {
		if errors.Is(err, zip.ErrInsecurePath) {
			return nil, fmt.Errorf("zip archive has an entry name outside its folder: %w", err)
		}
		return nil, fmt.Errorf("reading the zip archive: %w", err)
	}
	if len(zr.File) == 0 {
		return nil, errors.New("zip archive has no entries")
	}
	prefix, _, ok := strings.Cut(zr.File[0].Name, "/")
	if !ok {
		return nil, fmt.Errorf("zip entry %s is not in a folder (not a torch.save archive)", printable(zr.File[0].Name))
	}
	entries := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		entries[f.Name] = f
	}
	if bo, ok := entries[prefix+"/byteorder"]; ok {
		off, n, err := storedRange(src, bo)
		if err != nil {
			return nil, err
		}
		if n > 16 {
			return nil, fmt.Errorf("%s: %d bytes", bo.Name, n)
		}
		b := make([]byte, n)
		if err := readAt(src.r, b, off); err != nil {
			return nil, fmt.Errorf("%s: %w", bo.Name, err)
		}
		if string(b) != "little" {
			return nil, fmt.Errorf("%s says %s; only little-endian archives are supported", bo.Name, printable(string(b)))
		}
	}
	pkl, ok := entries[prefix+"/data.pkl"]
	if !ok {
		return nil, fmt.Errorf("zip archive has no %s/data.pkl (not a torch.save archive)", printable(prefix))
	}
	off, n, err := storedRange(src, pkl)
	if err != nil {
		return nil, err
	}
	storages := map[string]*storageRef{}
	load := func(pid *pyTuple) (interface{}, error) {
		return zipStorage(src, entries, prefix, storages, pid)
	}
	v, err := newUnpickler(newPickleInput(src.r, off, n), load).load()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkl.Name, err)
	}
	return v, nil
}

// storedRange returns where an uncompressed entry's bytes are in the file.
func storedRange(src *source, f *zip.File) (off, n int64, err error) {
	if f.Method != zip.Store {
		return 0, 0, fmt.Errorf("zip entry %s is compressed (method %d); torch.save stores entries uncompressed", printable(f.Name), f.Method)
	}
	if f.CompressedSize64 != f.UncompressedSize64 || f.UncompressedSize64 > uint64(src.size) {
		return 0, 0, fmt.Errorf("zip entry %s claims %d bytes (%d stored) in a %d byte file", printable(f.Name), f.UncompressedSize64, f.CompressedSize64, src.size)
	}
	off, err = f.DataOffset()
	if err != nil {
		return 0, 0, fmt.Errorf("zip entry %s: %w", printable(f.Name), err)
	}
	n = int64(f.UncompressedSize64)
	if off < 0 || off > src.size-n {
		return 0, 0, fmt.Errorf("zip entry %s: %d bytes at %d run past the end of the %d byte file (truncated?)", printable(f.Name), n, off, src.size)
	}
	return off, n, nil
}

// zipStorage resolves the persistent id ('storage', storage_type, key,
// location, numel) to data/<key>, checking its size; nothing is read.
func zipStorage(src *source, entries map[string]*zip.File, prefix string, storages map[string]*storageRef, pid *pyTuple) (interface{}, error) {
	cls, key, numel, err := storagePid(pid, 5)
	if err != nil {
		return nil, err
	}
	if st, ok := storages[key]; ok {
		if st.dtype != cls.dtype || st.numel != numel {
			return nil, fmt.Errorf("storage %s is named as %d %s and as %d %s elements", printable(key), st.numel, st.dtype, numel, cls.dtype)
		}
		return st, nil
	}
	f, ok := entries[prefix+"/data/"+key]
	if !ok {
		return nil, fmt.Errorf("storage %s has no entry %s/data/%s", printable(key), printable(prefix), printable(key))
	}
	off, n, err := storedRange(src, f)
	if err != nil {
		return nil, err
	}
	if numel > n/cls.dtype.size() || numel*cls.dtype.size() != n {
		return nil, fmt.Errorf("storage %s: %d %s elements need %d bytes but its entry holds %d", printable(key), numel, cls.dtype, numel*cls.dtype.size(), n)
	}
	st := &storageRef{key: key, dtype: cls.dtype, numel: numel, fileOff: off, located: true}
	storages[key] = st
	return st, nil
}

// storagePid checks a persistent id's common fields: ('storage',
// storage_type, key, location, numel, ...) with want items.
func storagePid(pid *pyTuple, want int) (cls *pyGlobal, key string, numel int64, err error) {
	it := pid.items
	if len(it) == 0 {
		return nil, "", 0, errors.New("empty persistent id")
	}
	if kind, _ := it[0].(string); kind != "storage" {
		return nil, "", 0, fmt.Errorf("%w: persistent id of a %s, not a storage", ErrRefused, describeKind(it[0]))
	}
	if len(it) != want {
		return nil, "", 0, fmt.Errorf("storage persistent id has %d fields, want %d", len(it), want)
	}
	cls, ok := it[1].(*pyGlobal)
	if !ok || cls.role != roleStorageClass {
		return nil, "", 0, fmt.Errorf("storage persistent id: type is a %s, not a storage class", typeName(it[1]))
	}
	key, ok = it[2].(string)
	if !ok {
		return nil, "", 0, fmt.Errorf("storage persistent id: key is a %s", typeName(it[2]))
	}
	if _, ok := it[3].(string); !ok {
		return nil, "", 0, fmt.Errorf("storage %s: location is a %s", printable(key), typeName(it[3]))
	}
	numel, ok = it[4].(int64)
	if !ok || numel < 0 {
		return nil, "", 0, fmt.Errorf("storage %s: element count is a %s (want an int >= 0)", printable(key), typeName(it[4]))
	}
	return cls, key, numel, nil
}

func describeKind(v interface{}) string {
	if s, ok := v.(string); ok {
		return printable(s)
	}
	return typeName(v)
}
