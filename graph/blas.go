package graph

import (
	"sync/atomic"

	"github.com/tvlt-go/tvlt/graph/gemm"
	gonumblas "gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
)

// cgoBLAS is the cgo BLAS a build tag registers (OpenBLAS with -tags
// openblas) and cgoBLASName its name; nil in the default pure-Go build.
var (
	cgoBLAS     G.BLAS
	cgoBLASName string
)

// BLAS names the matrix-product implementation graphs run on: the pure-Go
// kernel chosen for this CPU ("go-avx512", "go-avx2", "go"), "openblas",
// or "gonum" when a caller re-registered Gorgonia's own BLAS.
func BLAS() string {
	switch b := G.WhichBLAS().(type) {
	case gemm.Implementation, *gemm.Implementation:
		return gemm.Kernel()
	case gonumblas.Implementation, *gonumblas.Implementation:
		return "gonum"
	default:
		if cgoBLAS != nil && b == cgoBLAS {
			return cgoBLASName
		}
	}
	return "other"
}

// gemmFlops counts the floating-point operations of the matrix products
// the ops have run.
var gemmFlops atomic.Int64

// GEMMFlops is the number of floating-point operations (2·m·n·k per
// product) of every matrix product graph ops have run in this process, so a
// benchmark can report the GFLOP/s a step sustains.
func GEMMFlops() int64 { return gemmFlops.Load() }

// isGemmBLAS reports whether the registered BLAS is this project's pure-Go
// GEMM, which fused ops then call directly.
func isGemmBLAS() bool {
	switch G.WhichBLAS().(type) {
	case gemm.Implementation, *gemm.Implementation:
		return true
	}
	return false
}
