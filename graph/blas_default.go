//go:build !openblas

package graph

import (
	"github.com/tvlt-go/tvlt/graph/gemm"
	G "gorgonia.org/gorgonia"
)

// The pure-Go GEMM is the default BLAS of every graph, Gorgonia's own
// matrix ops included; -tags openblas replaces it with OpenBLAS.
func init() { G.Use(gemm.Implementation{}) }
