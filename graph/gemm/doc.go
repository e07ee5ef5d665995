// Copyright the TVLT-Go authors.

// Package gemm is a pure-Go (Go assembly, no cgo) single-precision matrix
// multiply, C = alpha*op(A)*op(B) + beta*C on row-major matrices, meant as the
// project's default BLAS for float32 products.
//
// # API
//
// Implementation embeds gonum's pure-Go BLAS (so it satisfies blas.Float32,
// blas.Float64 and the complex interfaces, as gorgonia.Use requires) and
// replaces its Sgemm. Sgemm is the same product for fused ops, with bool
// transpose flags. Both check their arguments exactly like gonum's Sgemm and
// panic with the same values. Kernel reports the micro-kernel in use;
// setKernel and setThreads switch kernel and parallelism (for tests and
// benchmarks). The environment variable TVLT_GEMM=avx512|avx2|go forces a
// kernel at start-up; forcing only downgrades: a kernel the CPU lacks falls
// back to the best one it has below it.
//
// # Design
//
// The product follows the Goto/BLIS scheme. A micro-kernel keeps an mr×nr
// tile of C in vector registers and adds, for each of kc steps, one column of
// A (mr broadcast values) times one row of B (nr values) with FMA
// instructions; its inner loop does nothing else. Around it:
//
//   - Packing. Before the kernels run, a kc×nc block of op(B) is copied into
//     nr-wide panels (kc rows of nr contiguous values) and an mc×kc block of
//     op(A) into mr-row panels (mr rows of kc contiguous values). The kernels
//     then read both operands sequentially whatever the transposes and
//     strides of the caller, with no TLB or cache-set conflicts from large
//     power-of-two strides, and edges are zero-padded to whole tiles. The
//     kernels only ever see one layout: transposition happens in packing
//     (an AVX 8×8 transpose for transposed B, as in every forward Linear
//     layer X·Wᵀ, and for transposed A, as in weight gradients dYᵀ·X;
//     plain copies otherwise). Each element of the packed A block is used
//     nc/nr times and each of the packed B block mc/mr times, so packing
//     costs a few percent at the TVLT shapes.
//   - Blocking. kc=256 makes one packed B panel (kc×nr floats: 32 KiB for the
//     AVX-512 kernel) fit in L1 (48 KiB on Zen 4/5) next to the A panel it
//     meets; mc=336 keeps the packed A block (336×256 floats, 336 KiB) in L2
//     (1 MiB), and covers the whole 325 or 147 token rows of a TVLT batch, so
//     A is packed once per k block; nc=1024 bounds the B block (1 MiB) that
//     stays in L2/L3 while all of A's row panels sweep it. Dimensions are
//     split into near-equal blocks (325 = 2×163 along k, not 256+69).
//   - Kernels. On AVX-512 the tile is 12×32: 24 ZMM accumulators, 2 ZMM of B
//     and broadcast registers, 24 FMAs per 14 loads and per k step, enough
//     independent chains to hide the FMA latency with two FMA pipes. On
//     AVX2+FMA it is 6×16 (12 YMM accumulators of the 16 registers). The
//     portable kernel is a 4×4 scalar tile in Go, used on other
//     architectures and with the purego build tag. The kernel is chosen at
//     start-up with golang.org/x/sys/cpu.
//   - Edges. Full tiles are written straight into C; a partial tile at the
//     bottom or right edge is computed whole into a small buffer and only its
//     valid part is merged into C, so C's padding is never touched.
//   - beta and alpha. beta is applied when the first k block's tile is
//     stored (beta == 0 stores without reading C, so NaNs in C vanish, as in
//     gonum); later k blocks accumulate. alpha == 0 or k == 0 only scales C.
//   - Threads. A product of at least 96³ multiply-adds is shared among
//     threads() goroutines (GOMAXPROCS by default, see setThreads): the
//     calling goroutine and long-lived workers. C is cut along n when A is
//     the smaller operand (the forward and input-gradient products of a
//     token batch: m = 147 or 325 rows, n up to 3072), else along m (weight
//     gradients, m up to 3072), into about four chunks of whole tiles per
//     goroutine, which the goroutines claim from an atomic counter until
//     none is left. Each goroutine packs the smaller operand whole, once,
//     and each chunk packs its own part of the other, so no packing is
//     shared or repeated per chunk and the goroutines never wait for one
//     another; a goroutine slowed down by other work on its core just
//     claims fewer chunks. Chunks are whole tiles, so goroutines share a
//     cache line of C only at chunk borders. Products whose smaller
//     operand exceeds 4M floats are instead cut statically into one
//     rectangle per goroutine. A worker polls for its next job for 200µs
//     (yielding to other goroutines) before it blocks, because waking a
//     blocked goroutine on another core can take longer than a whole
//     attention product and products come in runs.
//   - Memory. Each worker owns its packing buffers and callers take theirs
//     from a free list that garbage collections do not empty, so a product
//     allocates nothing in the steady state.
//
// # Benchmarks
//
// BenchmarkSgemm times the products of one TVLT base-reduced step (encoder
// at 325 and 147 tokens, decoder, attention; forward X·Wᵀ, dX = dY·W and
// dW = dYᵀ·X) at 1 and 2 threads and reports GFLOP/s. With -tags openblas
// (apt-get install libopenblas-dev) it runs OpenBLAS on every shape too,
// and TestCompareOpenBLAS prints a table of best-call GFLOP/s, which is
// steadier than means on a shared machine:
//
//	go test -run X -bench Sgemm ./graph/gemm
//	OPENBLAS_NUM_THREADS=2 go test -tags openblas -run X -bench Sgemm ./graph/gemm
//	OPENBLAS_NUM_THREADS=2 TVLT_GEMM_COMPARE=1 go test -tags openblas -run CompareOpenBLAS -v ./graph/gemm
//
// On a 2-core AMD EPYC (Zen 5, AVX-512) the AVX-512 kernel runs these shapes
// at 170-220 GFLOP/s on one core and 330-420 on two, about twice
// OpenBLAS 0.3.21's sgemm (90-108 and 165-195).
package gemm
