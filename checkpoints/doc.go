// Package checkpoints reads and writes model weights in the formats the rest
// of the field uses, and stores checkpoint folders so that a crash never
// leaves a half-written one.
//
// # safetensors
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON, then the raw little-endian tensor data. The JSON object maps each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the start of the data section) and may hold a
// "__metadata__" object of string values. OpenSafetensors / ReadSafetensors
// validate everything before allocating tensor memory: the header length
// against the file size (and a 100 MB cap), that every dtype is one the
// format defines, that no dimension is negative, that each tensor's byte
// span equals its element count times the dtype size, that names are
// unique, and that the tensors tile the data section exactly (no overlap,
// no gap, no trailing bytes). Errors name the file and the tensor.
// F32, F16, BF16 and F64 (and integer dtypes, by value) are converted to
// float32 by ReadSafetensors and SafetensorsFile.Float32, and to float64 by
// SafetensorsFile.Float64.
//
// EncodeSafetensorsHeader stores tensors as F32, F16 or F64 in sorted name
// order with a compact header (serde_json escaping, "__metadata__" last, its
// keys in a given order then sorted) padded with spaces to a multiple of 8
// bytes: the layout of the Python/Rust safetensors library, so re-writing a
// file it produced gives identical bytes. WriteSafetensors writes an F32 file
// atomically.
//
// # npz
//
// A .npz archive is a zip file with one "<key>.npy" entry per array; keys may
// contain "/". Each .npy entry is the magic "\x93NUMPY", a version, a header
// length and a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded so the
// data starts at a multiple of 64 bytes, followed by the C-order data.
// ReadNPZ keeps the dtype (float32, float64, int64, int32, uint8, bool;
// either byte order) and checks every size against the archive before
// allocating. WriteNPZ writes uncompressed (stored) entries in name order,
// little endian, with fixed timestamps so equal arrays give equal files,
// the layout numpy.savez produces and numpy.load reads.
//
// # Checkpoint folders
//
// AtomicWriteFile writes one file through a temporary sibling, fsync and
// rename. WriteFolder writes a whole folder the same way: files go into a
// hidden sibling ".<name>.tmp-*", each is fsynced and its sha256 and size
// recorded in checksums.json, and the folder is then swapped into place
// (renameat2 RENAME_EXCHANGE on Linux, two renames elsewhere) and the parent
// fsynced. A folder is therefore complete or absent; stale temporaries from
// a killed save are removed by the next save. VerifyFolder and VerifyFile
// check the recorded checksums, so a loader can refuse a corrupted file
// before reading it.
//
// # Matching a state dict
//
// MatchShapes compares the shapes a model expects with those of a
// checkpoint's tensors and reports loaded, missing, unexpected and
// mis-shaped names (a Report), from which a loader decides what to load,
// initialise fresh or refuse.
package checkpoints
