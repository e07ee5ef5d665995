// Copyright the TVLT-Go authors.

package gemm

import (
	"fmt"
	"math/rand"
	"testing"
)

// benchShape is one GEMM of a TVLT base-reduced pretraining step.
type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

// benchShapes lists the products of one TVLT base-reduced step, row-major:
// forward Linear layers are X(M×K)·Wᵀ with W stored (N×K); backward has
// dX = dY·W (no transposes) and dW = dYᵀ·X (A transposed).
func benchShapes() []benchShape {
	var s []benchShape
	fwd := func(tag string, m, k, n int) {
		s = append(s, benchShape{fmt.Sprintf("fwd_%s_%dx%dx%d", tag, m, k, n), false, true, m, n, k})
	}
	back := func(tag string, m, k, n int) {
		// forward C(m×n) = X(m×k)·Wᵀ: dX(m×k) = dY(m×n)·W(n×k), dW(n×k) = dYᵀ·X.
		s = append(s, benchShape{fmt.Sprintf("dX_%s_%dx%dx%d", tag, m, n, k), false, false, m, k, n})
		s = append(s, benchShape{fmt.Sprintf("dW_%s_%dx%dx%d", tag, n, m, k), true, false, n, k, m})
	}
	for _, m := range []int{325, 147} {
		fwd("qkv", m, 768, 2304)
		fwd("proj", m, 768, 768)
		fwd("fc1", m, 768, 3072)
		fwd("fc2", m, 3072, 768)
	}
	fwd("dec_embed", 325, 768, 512)
	fwd("dec_qkv", 325, 512, 1536)
	fwd("dec_proj", 325, 512, 512)
	fwd("dec_fc1", 325, 512, 2048)
	fwd("dec_fc2", 325, 2048, 512)
	s = append(s, benchShape{"attn_qk_325x64x325", false, true, 325, 325, 64})
	s = append(s, benchShape{"attn_pv_325x325x64", false, false, 325, 64, 325})
	for _, m := range []int{325, 147} {
		back("qkv", m, 768, 2304)
		back("proj", m, 768, 768)
		back("fc1", m, 768, 3072)
		back("fc2", m, 3072, 768)
	}
	return s
}

// gemmFunc is the signature shared by this package's and OpenBLAS's Sgemm.
type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// runBench times f on sh and reports GFLOP/s.
func runBench(b *testing.B, sh benchShape, f gemmFunc) {
	rng := rand.New(rand.NewSource(1))
	lda, ldb := sh.k, sh.n
	if sh.transA {
		lda = sh.m
	}
	if sh.transB {
		ldb = sh.k
	}
	a := fill(rng, sh.m*sh.k/lda, lda, lda)
	bb := fill(rng, sh.k*sh.n/ldb, ldb, ldb)
	c := make([]float32, sh.m*sh.n)
	f(sh.transA, sh.transB, sh.m, sh.n, sh.k, 1, a, lda, bb, ldb, 0, c, sh.n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f(sh.transA, sh.transB, sh.m, sh.n, sh.k, 1, a, lda, bb, ldb, 0, c, sh.n)
	}
	b.ReportMetric(2*float64(sh.m)*float64(sh.n)*float64(sh.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// benchImpl is one implementation compared by BenchmarkSgemm.
type benchImpl struct {
	name       string
	setThreads func(n int) (restore func())
	f          gemmFunc
}

// benchImpls lists the implementations BenchmarkSgemm runs; with -tags
// openblas, openblas_bench_test.go adds OpenBLAS so that both run on each
// shape back to back (fairer on a machine with other load).
var benchImpls = []benchImpl{{"gemm", setThreads, Sgemm}}

// BenchmarkSgemm runs each shape at 1 and 2 threads:
// BenchmarkSgemm/<shape>/t<threads>/<implementation>.
func BenchmarkSgemm(b *testing.B) {
	for _, sh := range benchShapes() {
		for _, nt := range []int{1, 2} {
			for _, impl := range benchImpls {
				b.Run(fmt.Sprintf("%s/t%d/%s", sh.name, nt, impl.name), func(b *testing.B) {
					defer impl.setThreads(nt)()
					runBench(b, sh, impl.f)
				})
			}
		}
	}
}
