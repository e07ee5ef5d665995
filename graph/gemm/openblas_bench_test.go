// Copyright the TVLT-Go authors.

//go:build openblas

package gemm

import (
	"fmt"
	"math/rand"
	"os"
	"testing"
	"time"

	"github.com/tvlt-go/tvlt/graph/gemm/internal/openblas"
)

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

// TestCompareOpenBLAS prints, with TVLT_GEMM_COMPARE=1, a table of this
// package's and OpenBLAS's GFLOP/s on every benchmark shape, from the fastest
// of many calls of each, the two alternating call by call: unlike the means
// that BenchmarkSgemm reports, this holds up on a machine with other load.
func TestCompareOpenBLAS(t *testing.T) {
	if os.Getenv("TVLT_GEMM_COMPARE") == "" {
		t.Skip("set TVLT_GEMM_COMPARE=1 (and OPENBLAS_NUM_THREADS=2)")
	}
	fmt.Printf("kernel %s\n", Kernel())
	fmt.Println("| shape | gemm 1T | OpenBLAS 1T | ratio | gemm 2T | OpenBLAS 2T | ratio |")
	fmt.Println("|---|---|---|---|---|---|---|")
	worst := 1e9
	for _, sh := range benchShapes() {
		line := "| " + sh.name
		for _, nt := range []int{1, 2} {
			restore := SetThreads(nt)
			openblas.SetThreads(nt)
			ours, theirs := compareMin(sh, Sgemm, openblas.Sgemm)
			restore()
			worst = min(worst, ours/theirs)
			line += fmt.Sprintf(" | %.1f | %.1f | %.2f", ours, theirs, ours/theirs)
		}
		fmt.Println(line + " |")
	}
	fmt.Printf("worst ratio %.2f\n", worst)
}

// compareMin returns the GFLOP/s of the fastest call of f and of g on sh,
// calling them alternately for about half a second.
func compareMin(sh benchShape, f, g gemmFunc) (gf, gg float64) {
	rng := rand.New(rand.NewSource(1))
	lda, ldb := sh.k, sh.n
	if sh.transA {
		lda = sh.m
	}
	if sh.transB {
		ldb = sh.k
	}
	a := fill(rng, sh.m*sh.k/lda, lda, lda)
	b := fill(rng, sh.k*sh.n/ldb, ldb, ldb)
	c := make([]float32, sh.m*sh.n)
	bestF, bestG := time.Hour, time.Hour
	start := time.Now()
	for i := 0; i < 5 || (i < 400 && time.Since(start) < 500*time.Millisecond); i++ {
		for _, h := range []struct {
			fn   gemmFunc
			best *time.Duration
		}{{f, &bestF}, {g, &bestG}} {
			t0 := time.Now()
			h.fn(sh.transA, sh.transB, sh.m, sh.n, sh.k, 1, a, lda, b, ldb, 0, c, sh.n)
			*h.best = min(*h.best, time.Since(t0))
		}
	}
	flop := 2 * float64(sh.m) * float64(sh.n) * float64(sh.k)
	return flop / bestF.Seconds() / 1e9, flop / bestG.Seconds() / 1e9
}
