package checkpoints

import (
	"bytes"
	"io"

	"gorgonia.org/tensor"
)

// Internals exposed to the external test package (which must be external
// because internal/golden imports checkpoints).
var (
	HalfToFloat32 = halfToFloat32
	Float32ToHalf = float32ToHalf
)

// ReadNPY parses one .npy image, for the fuzz target.
func ReadNPY(b []byte) error {
	_, err := readNPY(bytes.NewReader(b), uint64(len(b)))
	return err
}

// EncodeNPZ writes the archive WriteNPZ would write to w, so a test can place
// one inside WriteFolder.
func EncodeNPZ(w io.Writer, arrays map[string]*tensor.Dense) error {
	names, err := checkNPZArrays(arrays)
	if err != nil {
		return err
	}
	return encodeNPZNames(w, arrays, names)
}
