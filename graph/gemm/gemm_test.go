// Copyright the TVLT-Go authors.

package gemm

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

const sentinel = float32(-1234.5)

// gemmCase is one product with its operands laid out with padding.
type gemmCase struct {
	tA, tB      bool
	m, n, k     int
	alpha, beta float32
	lda, ldb    int
	ldc         int
	nanC        bool // fill C with NaN (only meaningful with beta == 0)
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v lda=%d ldb=%d ldc=%d nanC=%v",
		tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.lda, tc.ldb, tc.ldc, tc.nanC)
}

// fill returns a rows×cols matrix with stride ld, padding set to the sentinel.
func fill(rng *rand.Rand, rows, cols, ld int) []float32 {
	s := make([]float32, rows*ld)
	for i := range s {
		if i%ld < cols {
			s[i] = float32(rng.NormFloat64())
		} else {
			s[i] = sentinel
		}
	}
	return s
}

// check runs tc through Sgemm and compares with a float64 reference.
func check(t *testing.T, rng *rand.Rand, tc gemmCase) {
	t.Helper()
	if err := checkErr(rng, tc); err != nil {
		t.Fatal(err)
	}
}

// checkErr is check reporting the first mismatch as an error.
func checkErr(rng *rand.Rand, tc gemmCase) error {
	ar, ac := tc.m, tc.k
	if tc.tA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.tB {
		br, bc = tc.n, tc.k
	}
	a := fill(rng, ar, ac, tc.lda)
	b := fill(rng, br, bc, tc.ldb)
	c := fill(rng, tc.m, tc.n, tc.ldc)
	if tc.nanC {
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				c[i*tc.ldc+j] = float32(math.NaN())
			}
		}
	}
	// op(A) row-major and op(B) transposed, in float64, so that each
	// reference element is a dot product of contiguous rows.
	opA := make([]float64, tc.m*tc.k)
	opBt := make([]float64, tc.n*tc.k)
	for i := 0; i < tc.m; i++ {
		for p := 0; p < tc.k; p++ {
			if tc.tA {
				opA[i*tc.k+p] = float64(a[p*tc.lda+i])
			} else {
				opA[i*tc.k+p] = float64(a[i*tc.lda+p])
			}
		}
	}
	for j := 0; j < tc.n; j++ {
		for p := 0; p < tc.k; p++ {
			if tc.tB {
				opBt[j*tc.k+p] = float64(b[j*tc.ldb+p])
			} else {
				opBt[j*tc.k+p] = float64(b[p*tc.ldb+j])
			}
		}
	}
	want := make([]float64, tc.m*tc.n)
	tol := make([]float64, tc.m*tc.n)
	for i := 0; i < tc.m; i++ {
		ai := opA[i*tc.k : (i+1)*tc.k]
		for j := 0; j < tc.n; j++ {
			bj := opBt[j*tc.k : (j+1)*tc.k]
			var s, abs float64
			for p, x := range ai {
				x *= bj[p]
				s += x
				abs += math.Abs(x)
			}
			c0 := float64(c[i*tc.ldc+j])
			w := float64(tc.alpha) * s
			abs *= math.Abs(float64(tc.alpha))
			if tc.beta != 0 {
				w += float64(tc.beta) * c0
				abs += math.Abs(float64(tc.beta) * c0)
			}
			want[i*tc.n+j] = w
			tol[i*tc.n+j] = (abs+1e-30)*float64(tc.k+2)*6e-8 + 1e-6
		}
	}
	Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, tc.lda, b, tc.ldb, tc.beta, c, tc.ldc)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.ldc && i*tc.ldc+j < len(c); j++ {
			got := c[i*tc.ldc+j]
			if j >= tc.n {
				if got != sentinel {
					return fmt.Errorf("%v: padding C[%d,%d] changed to %v", tc, i, j, got)
				}
				continue
			}
			if d := math.Abs(float64(got) - want[i*tc.n+j]); !(d <= tol[i*tc.n+j]) {
				return fmt.Errorf("%v: C[%d,%d] = %v, want %v (tol %g)", tc, i, j, got, want[i*tc.n+j], tol[i*tc.n+j])
			}
		}
	}
	for i := range a {
		if i%tc.lda >= ac && a[i] != sentinel {
			return fmt.Errorf("%v: A padding changed", tc)
		}
	}
	for i := range b {
		if i%tc.ldb >= bc && b[i] != sentinel {
			return fmt.Errorf("%v: B padding changed", tc)
		}
	}
	return nil
}

// randCase builds a case with the given sizes, cycling through transposes,
// alpha/beta and padding by i.
func randCase(rng *rand.Rand, i, m, n, k int) gemmCase {
	scal := []float32{0, 1, -0.5}
	tc := gemmCase{tA: i&1 != 0, tB: i&2 != 0, m: m, n: n, k: k,
		alpha: scal[(i/4)%3], beta: scal[(i/12)%3]}
	if tc.alpha == 0 && i%5 != 0 {
		tc.alpha = 1.5
	}
	pad := func() int {
		if rng.Intn(3) == 0 {
			return 0
		}
		return 1 + rng.Intn(5)
	}
	if tc.tA {
		tc.lda = max(1, m) + pad()
	} else {
		tc.lda = max(1, k) + pad()
	}
	if tc.tB {
		tc.ldb = max(1, k) + pad()
	} else {
		tc.ldb = max(1, n) + pad()
	}
	tc.ldc = max(1, n) + pad()
	tc.nanC = tc.beta == 0 && rng.Intn(2) == 0
	return tc
}

// forEachKernel runs f once with every kernel this machine supports forced.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	for _, name := range availableKernels() {
		t.Run(name, func(t *testing.T) {
			restore := setKernel(name)
			defer restore()
			if Kernel() != name {
				t.Fatalf("SetKernel(%q) selected %q", name, Kernel())
			}
			f(t)
		})
	}
}

func TestSgemmAllSizes(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(1))
		i := 0
		for s := 1; s <= 67; s++ {
			r := func() int { return 1 + rng.Intn(67) }
			for _, dims := range [][3]int{{s, r(), r()}, {r(), s, r()}, {r(), r(), s}} {
				check(t, rng, randCase(rng, i, dims[0], dims[1], dims[2]))
				i++
			}
		}
	})
}

func TestSgemmTransposesAndScalars(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(2))
		for i := 0; i < 36; i++ {
			check(t, rng, randCase(rng, i, 13+rng.Intn(40), 17+rng.Intn(60), 5+rng.Intn(70)))
		}
	})
}

func TestSgemmLarge(t *testing.T) {
	sizes := [][3]int{{300, 700, 500}, {147, 100, 600}, {40, 300, 97}, {24, 40, 1500}, {10, 30, 4000}}
	if testing.Short() {
		sizes = sizes[1:]
	}
	forEachKernel(t, func(t *testing.T) {
		for _, nt := range []int{1, 2, 3} {
			restore := setThreads(nt)
			rng := rand.New(rand.NewSource(3))
			for i, s := range sizes {
				check(t, rng, randCase(rng, 4*i+nt+13, s[0], s[1], s[2]))
			}
			restore()
		}
	})
}

// TestSgemmStaticSplit covers the static split used when the operand a
// dynamically shared product packs whole would be too large.
func TestSgemmStaticSplit(t *testing.T) {
	defer func(v int) { maxShared = v }(maxShared)
	maxShared = 0
	forEachKernel(t, func(t *testing.T) {
		for _, nt := range []int{2, 3} {
			restore := setThreads(nt)
			rng := rand.New(rand.NewSource(9))
			for i, s := range [][3]int{{147, 100, 300}, {50, 200, 97}} {
				check(t, rng, randCase(rng, 5*i+nt, s[0], s[1], s[2]))
			}
			restore()
		}
	})
}

func TestSgemmZeroSizes(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(4))
		for i := 0; i < 24; i++ {
			m, n := 1+rng.Intn(20), 1+rng.Intn(20)
			tc := randCase(rng, i, m, n, 0)
			check(t, rng, tc)
		}
		// m or n zero: nothing is touched, even with short slices.
		Sgemm(false, false, 0, 5, 3, 1, nil, 3, make([]float32, 15), 5, 0, nil, 5)
		Sgemm(false, false, 4, 0, 3, 1, make([]float32, 12), 3, nil, 1, 0, nil, 1)
	})
}

// panicValue returns what f panics with (nil if it does not).
func panicValue(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

func TestSgemmPanicsLikeGonum(t *testing.T) {
	type args struct {
		tA, tB      blas.Transpose
		m, n, k     int
		a           []float32
		lda         int
		b           []float32
		ldb         int
		c           []float32
		ldc         int
		alpha, beta float32
		name        string
	}
	f := func(n int) []float32 { return make([]float32, n) }
	cases := []args{
		{tA: 'X', tB: blas.NoTrans, m: 2, n: 2, k: 2, a: f(4), lda: 2, b: f(4), ldb: 2, c: f(4), ldc: 2, name: "bad tA"},
		{tA: blas.NoTrans, tB: 'X', m: 2, n: 2, k: 2, a: f(4), lda: 2, b: f(4), ldb: 2, c: f(4), ldc: 2, name: "bad tB"},
		{tA: 'X', tB: blas.NoTrans, m: -1, n: 2, k: 2, a: f(4), lda: 0, b: f(4), ldb: 2, c: f(4), ldc: 2, name: "bad tA before m"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: -1, n: -1, k: -1, a: f(4), lda: 0, b: f(4), ldb: 0, c: f(4), ldc: 0, name: "m<0 first"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: -1, k: -1, a: f(4), lda: 0, b: f(4), ldb: 0, c: f(4), ldc: 0, name: "n<0 before k"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 2, k: -1, a: f(4), lda: 0, b: f(4), ldb: 0, c: f(4), ldc: 0, name: "k<0"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 2, k: 3, a: f(6), lda: 2, b: f(6), ldb: 2, c: f(4), ldc: 2, name: "lda<k"},
		{tA: blas.Trans, tB: blas.NoTrans, m: 3, n: 2, k: 2, a: f(6), lda: 2, b: f(4), ldb: 2, c: f(6), ldc: 2, name: "lda<m trans"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 2, k: 0, a: f(4), lda: 0, b: nil, ldb: 2, c: f(4), ldc: 2, name: "lda<1"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 3, k: 2, a: f(4), lda: 2, b: f(6), ldb: 2, c: f(6), ldc: 1, name: "ldb<n before ldc"},
		{tA: blas.NoTrans, tB: blas.Trans, m: 2, n: 2, k: 3, a: f(6), lda: 3, b: f(6), ldb: 2, c: f(4), ldc: 2, name: "ldb<k trans"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 3, k: 2, a: f(4), lda: 2, b: f(6), ldb: 3, c: f(6), ldc: 2, name: "ldc<n"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 0, n: 3, k: 2, a: nil, lda: 2, b: nil, ldb: 3, c: nil, ldc: 2, name: "ldc<n with m=0"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 3, k: 2, a: f(3), lda: 2, b: nil, ldb: 3, c: nil, ldc: 3, name: "short a first"},
		{tA: blas.Trans, tB: blas.NoTrans, m: 2, n: 3, k: 2, a: f(3), lda: 2, b: f(6), ldb: 3, c: f(6), ldc: 3, name: "short a trans"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 3, k: 2, a: f(4), lda: 2, b: f(5), ldb: 3, c: nil, ldc: 3, name: "short b"},
		{tA: blas.NoTrans, tB: blas.Trans, m: 2, n: 3, k: 2, a: f(4), lda: 2, b: f(5), ldb: 2, c: f(6), ldc: 3, name: "short b trans"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 3, k: 2, a: f(4), lda: 2, b: f(6), ldb: 3, c: f(5), ldc: 3, name: "short c"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 3, k: 2, a: f(4), lda: 2, b: f(6), ldb: 3, c: f(5), ldc: 3, alpha: 0, beta: 1, name: "short c quick return"},
		{tA: blas.ConjTrans, tB: blas.ConjTrans, m: 2, n: 3, k: 2, a: f(4), lda: 2, b: f(6), ldb: 2, c: f(6), ldc: 3, name: "conj ok"},
		{tA: blas.NoTrans, tB: blas.NoTrans, m: 2, n: 0, k: 2, a: nil, lda: 2, b: nil, ldb: 1, c: nil, ldc: 1, name: "n=0 ok"},
	}
	for _, tc := range cases {
		want := panicValue(func() {
			gonum.Implementation{}.Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, tc.a, tc.lda, tc.b, tc.ldb, tc.beta, tc.c, tc.ldc)
		})
		got := panicValue(func() {
			Implementation{}.Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, tc.a, tc.lda, tc.b, tc.ldb, tc.beta, tc.c, tc.ldc)
		})
		if got != want {
			t.Errorf("%s: Implementation.Sgemm panicked with %#v, gonum with %#v", tc.name, got, want)
		}
		if tc.tA == 'X' || tc.tB == 'X' {
			if want != badTranspose {
				t.Errorf("%s: gonum panicked with %#v, want bad transpose", tc.name, want)
			}
			continue
		}
		direct := panicValue(func() {
			Sgemm(tc.tA != blas.NoTrans, tc.tB != blas.NoTrans, tc.m, tc.n, tc.k, tc.alpha, tc.a, tc.lda, tc.b, tc.ldb, tc.beta, tc.c, tc.ldc)
		})
		if direct != want {
			t.Errorf("%s: Sgemm panicked with %#v, gonum with %#v", tc.name, direct, want)
		}
	}
}

func TestImplementationMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for i, tr := range [][2]blas.Transpose{{blas.NoTrans, blas.NoTrans}, {blas.Trans, blas.NoTrans}, {blas.NoTrans, blas.ConjTrans}, {blas.ConjTrans, blas.Trans}} {
		m, n, k := 37, 45, 29
		a := fill(rng, 64, 64, 64)
		b := fill(rng, 64, 64, 64)
		c1 := fill(rng, m, n, 50)
		c2 := append([]float32(nil), c1...)
		Implementation{}.Sgemm(tr[0], tr[1], m, n, k, 0.75, a, 64, b, 64, -0.5, c1, 50)
		gonum.Implementation{}.Sgemm(tr[0], tr[1], m, n, k, 0.75, a, 64, b, 64, -0.5, c2, 50)
		for j := range c1 {
			if d := math.Abs(float64(c1[j] - c2[j])); d > 1e-4 {
				t.Fatalf("case %d: C[%d] = %v, gonum %v", i, j, c1[j], c2[j])
			}
		}
	}
}

func TestPackTransposed(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for i := 0; i < 200; i++ {
		nrows, ncols := rng.Intn(30), rng.Intn(30)
		lds := ncols + 3 + rng.Intn(4)
		ldd := nrows + rng.Intn(4)
		r0, c0 := rng.Intn(3), rng.Intn(3)
		src := fill(rng, r0+nrows, c0+ncols+3, lds+c0+3)
		lds += c0 + 3
		want := make([]float32, ncols*ldd+8)
		got := make([]float32, len(want))
		for j := range want {
			want[j] = float32(j)
			got[j] = float32(j)
		}
		packTransposedGo(src, lds, r0, nrows, c0, ncols, want, ldd)
		for _, k := range available() {
			for j := range got {
				got[j] = float32(j)
			}
			k.transpose(src, lds, r0, nrows, c0, ncols, got, ldd)
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("%s: nrows=%d ncols=%d: dst[%d] = %v, want %v", k.name, nrows, ncols, j, got[j], want[j])
				}
			}
		}
		for c := 0; c < ncols; c++ {
			for r := 0; r < nrows; r++ {
				if want[c*ldd+r] != src[(r0+r)*lds+c0+c] {
					t.Fatalf("packTransposedGo wrong at r=%d c=%d", r, c)
				}
			}
		}
	}
}

func TestSgemmNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, s := range [][3]int{{5, 7, 9}, {100, 130, 110}, {147, 768, 96}} {
		for _, nt := range []int{1, 2} {
			restore := setThreads(nt)
			a := fill(rng, s[0], s[2], s[2])
			b := fill(rng, s[1], s[2], s[2])
			c := make([]float32, s[0]*s[1])
			f := func() { Sgemm(false, true, s[0], s[1], s[2], 1, a, s[2], b, s[2], 0.5, c, s[1]) }
			f()
			if n := testing.AllocsPerRun(20, f); n != 0 {
				t.Errorf("%v at %d threads: %v allocations per call", s, nt, n)
			}
			restore()
		}
	}
}

func TestPackCopy(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	for i := 0; i < 100; i++ {
		rows, w := rng.Intn(20), []int{1, 3, 8, 16, 24, 32, 40}[rng.Intn(7)]
		lds := w + rng.Intn(5)
		src := fill(rng, rows+1, lds, lds)
		want := make([]float32, rows*w+3)
		got := make([]float32, len(want))
		packCopyGo(src, lds, rows, w, want)
		for _, k := range available() {
			clear(got)
			k.copyRows(src, lds, rows, w, got)
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("%s: rows=%d w=%d lds=%d: dst[%d] = %v, want %v", k.name, rows, w, lds, j, got[j], want[j])
				}
			}
		}
	}
}

func TestKernelSelection(t *testing.T) {
	av := availableKernels()
	if len(av) == 0 || av[len(av)-1] != "go" || av[0] != best("").name {
		t.Fatalf("Kernels() = %v, best %q", av, best("").name)
	}
	if got := best("go").name; got != "go" {
		t.Errorf("best(go) = %q", got)
	}
	if got := best("nonsense").name; got != av[0] {
		t.Errorf("best(nonsense) = %q, want %q", got, av[0])
	}
	// Forcing only downgrades: avx512 on a CPU without it gives avx2 (or go).
	for _, name := range []string{"avx512", "AVX2", "go-avx2", " go-avx512 "} {
		got := best(name)
		for _, k := range kernels {
			if k.short == strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "go-") && got.rank > k.rank {
				t.Errorf("best(%q) = %q, above the forced kernel", name, got.name)
			}
		}
		if !contains(av, got.name) {
			t.Errorf("best(%q) = %q, not available", name, got.name)
		}
	}
	restore := setKernel("go")
	if Kernel() != "go" {
		t.Errorf("after SetKernel(go), Kernel() = %q", Kernel())
	}
	restore()
	if Kernel() != best(os.Getenv("TVLT_GEMM")).name {
		t.Errorf("restore left Kernel() = %q", Kernel())
	}
	defer setThreads(3)()
	if threads() != 3 {
		t.Errorf("Threads() = %d after SetThreads(3)", threads())
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func TestSgemmConcurrentCallers(t *testing.T) {
	defer setThreads(2)()
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			rng := rand.New(rand.NewSource(int64(10 + g)))
			for i := 0; i < 3; i++ {
				if err := checkErr(rng, randCase(rng, g+4*i, 100+rng.Intn(60), 100+rng.Intn(60), 100+rng.Intn(60))); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}
