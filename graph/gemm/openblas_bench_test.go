// Copyright the TVLT-Go authors.

//go:build openblas

package gemm

import (
	"fmt"
	"math/rand"
	"os"
	"testing"
	"time"

	"github.com/tvlt-go/tvlt/graph/internal/openblas"
)

// With -tags openblas, BenchmarkSgemm also runs OpenBLAS on every shape
// (sub-benchmarks named .../openblas). Run with OPENBLAS_NUM_THREADS=2 so
// that its 2-thread runs may use two threads:
//
//	OPENBLAS_NUM_THREADS=2 go test -tags openblas -run X -bench Sgemm ./graph/gemm
func init() {
	benchImpls = append(benchImpls, benchImpl{"openblas", func(n int) func() {
		openblas.SetThreads(n)
		// OpenBLAS's threads spin for a while after a call: let them go
		// idle before the next benchmark, so they do not take its core.
		return func() { time.Sleep(120 * time.Millisecond) }
	}, openblas.Sgemm})
}

// TestCompareOpenBLAS prints, with TVLT_GEMM_COMPARE=1, a table of this
// package's and OpenBLAS's GFLOP/s on every benchmark shape, from the fastest
// of many calls of each (see compareMin): unlike the means that
// BenchmarkSgemm reports, this holds up on a machine with other load.
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
			restore := setThreads(nt)
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

// compareMin returns the GFLOP/s of the fastest call of f and of g on sh.
// Each runs alone in bursts of about 60ms, twice, with 250ms pauses in
// between: OpenBLAS's threads keep spinning for a while after a call, and
// would otherwise take the second core from the next calls of f.
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
	burst := func(fn gemmFunc, best *time.Duration) {
		start := time.Now()
		for i := 0; i < 3 || (i < 300 && time.Since(start) < 60*time.Millisecond); i++ {
			t0 := time.Now()
			fn(sh.transA, sh.transB, sh.m, sh.n, sh.k, 1, a, lda, b, ldb, 0, c, sh.n)
			*best = min(*best, time.Since(t0))
		}
		time.Sleep(250 * time.Millisecond)
	}
	for round := 0; round < 2; round++ {
		burst(f, &bestF)
		burst(g, &bestG)
	}
	flop := 2 * float64(sh.m) * float64(sh.n) * float64(sh.k)
	return flop / bestF.Seconds() / 1e9, flop / bestG.Seconds() / 1e9
}
