// Copyright the TVLT-Go authors.

//go:build openblas

package gemm

import "github.com/tvlt-go/tvlt/graph/gemm/internal/openblas"

// With -tags openblas, BenchmarkSgemm also runs OpenBLAS on every shape
// (sub-benchmarks named .../openblas). Run with OPENBLAS_NUM_THREADS=2 so
// that its 2-thread runs may use two threads:
//
//	OPENBLAS_NUM_THREADS=2 go test -tags openblas -run X -bench Sgemm ./graph/gemm
func init() {
	benchImpls = append(benchImpls, benchImpl{"openblas", func(n int) func() {
		openblas.SetThreads(n)
		return func() {}
	}, openblas.Sgemm})
}
