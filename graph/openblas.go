//go:build openblas

package graph

// #cgo LDFLAGS: -lopenblas
import "C"

import (
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
