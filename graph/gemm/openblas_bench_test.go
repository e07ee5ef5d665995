// Copyright the TVLT-Go authors.

//go:build openblas

package gemm

import (
	"fmt"
	"testing"

	"github.com/tvlt-go/tvlt/graph/gemm/internal/openblas"
)

// BenchmarkOpenBLAS runs the shapes of BenchmarkSgemm on OpenBLAS
// (go test -tags openblas; OPENBLAS_NUM_THREADS=2 lets it use 2 threads).
func BenchmarkOpenBLAS(b *testing.B) {
	for _, sh := range benchShapes() {
		for _, nt := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/t%d", sh.name, nt), func(b *testing.B) {
				openblas.SetThreads(nt)
				runBench(b, sh, openblas.Sgemm)
			})
		}
	}
}
