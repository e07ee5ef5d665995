//go:build !purego

package optim

import "golang.org/x/sys/cpu"

// adamwAVX512 applies the AdamW update to n elements, n a positive multiple
// of 16, with AVX-512F. The operations and their order are adamwKernelGo's.
//
//go:noescape
func adamwAVX512(p, gr, m, v *float32, n int, c *coef)

// adamwAVX2 is adamwAVX512 with AVX (256-bit) for n a positive multiple of 8.
//
//go:noescape
func adamwAVX2(p, gr, m, v *float32, n int, c *coef)

// adamwAvailable lists the AdamW kernels this CPU runs, slowest first. The
// vector kernels use no FMA, so that every operation rounds like the Go one.
func adamwAvailable() []int {
	impls := []int{adamwImplGo}
	if cpu.X86.HasAVX2 {
		impls = append(impls, adamwImplAVX2)
	}
	if cpu.X86.HasAVX512F {
		impls = append(impls, adamwImplAVX512)
	}
	return impls
}

// adamwVector updates the longest prefix of whole vectors with the kernel
// selected by adamwImpl and returns its length; adamwKernelGo does the rest.
// The slices have equal lengths.
func adamwVector(p, g, m, v []float32, c *coef) int {
	switch adamwImpl {
	case adamwImplAVX512:
		if k := len(p) &^ 15; k > 0 {
			adamwAVX512(&p[0], &g[0], &m[0], &v[0], k, c)
			return k
		}
	case adamwImplAVX2:
		if k := len(p) &^ 7; k > 0 {
			adamwAVX2(&p[0], &g[0], &m[0], &v[0], k, c)
			return k
		}
	}
	return 0
}
