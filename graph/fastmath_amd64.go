//go:build !purego

package graph

import "golang.org/x/sys/cpu"

func detectSIMD() int {
	switch {
	case cpu.X86.HasAVX512F:
		return simdAVX512
	case cpu.X86.HasAVX2:
		return simdAVX2
	}
	return simdNone
}

// The kernels in fastmath_amd64.s. The AVX-512 ones take any length (a masked last vector);
// the AVX2 ones a multiple of 8. Slices of one call have equal lengths.

//go:noescape
func expSubSumAVX512(row []float32, m float32) float64

//go:noescape
func expSubSumAVX2(row []float32, m float32) float64

//go:noescape
func scaleAVX512(x []float32, s float32)

//go:noescape
func scaleAVX2(x []float32, s float32)

//go:noescape
func geluFwdAVX512(x, y []float32)

//go:noescape
func geluFwdAVX2(x, y []float32)

//go:noescape
func geluBwdAVX512(x, g, dx []float32)

//go:noescape
func geluBwdAVX2(x, g, dx []float32)

// expSubSumVec, scaleVec, geluFwdVec and geluBwdVec run the vector kernel of simdLevel on a prefix of
// their slices and return its length (and the prefix's sum); the callers finish in Go.
func expSubSumVec(row []float32, m float32) (int, float64) {
	switch simdLevel {
	case simdAVX512:
		return len(row), expSubSumAVX512(row, m)
	case simdAVX2:
		if k := len(row) &^ 7; k > 0 {
			return k, expSubSumAVX2(row[:k], m)
		}
	}
	return 0, 0
}

func scaleVec(x []float32, s float32) int {
	switch simdLevel {
	case simdAVX512:
		scaleAVX512(x, s)
		return len(x)
	case simdAVX2:
		k := len(x) &^ 7
		if k > 0 {
			scaleAVX2(x[:k], s)
		}
		return k
	}
	return 0
}

func geluFwdVec(x, y []float32) int {
	switch simdLevel {
	case simdAVX512:
		geluFwdAVX512(x, y[:len(x)])
		return len(x)
	case simdAVX2:
		k := len(x) &^ 7
		if k > 0 {
			geluFwdAVX2(x[:k], y[:k])
		}
		return k
	}
	return 0
}

func geluBwdVec(x, g, dx []float32) int {
	switch simdLevel {
	case simdAVX512:
		geluBwdAVX512(x, g[:len(x)], dx[:len(x)])
		return len(x)
	case simdAVX2:
		k := len(x) &^ 7
		if k > 0 {
			geluBwdAVX2(x[:k], g[:k], dx[:k])
		}
		return k
	}
	return 0
}
