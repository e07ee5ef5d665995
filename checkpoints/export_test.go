package checkpoints

// Internals exposed to the external test package (which must be external
// because internal/golden imports checkpoints).
var (
	HalfToFloat32 = halfToFloat32
	Float32ToHalf = float32ToHalf
)
