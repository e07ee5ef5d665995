package checkpoints

import "bytes"

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
