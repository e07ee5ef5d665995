//go:build openblas

package graph

import (
	// The cgo link to OpenBLAS lives in its own package: a package with
	// cgo cannot also hold Go assembly (this one's fastmath kernels).
	_ "github.com/tvlt-go/tvlt/graph/internal/openblas"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// With `-tags openblas` (Debian: apt-get install libopenblas-dev) every
// matrix product — Gorgonia's and this package's ops, which go through
// G.WhichBLAS — runs on OpenBLAS instead of the pure-Go GEMM.
func init() {
	cgoBLAS, cgoBLASName = netlib.Implementation{}, "openblas"
	G.Use(cgoBLAS)
}
