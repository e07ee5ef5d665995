// Copyright the TVLT-Go authors.

package gemm

import "unsafe"

// goKernel is the portable kernel: a 4×4 tile of scalar accumulators.
var goKernel = &kernel{name: "go", short: "go", rank: 0, mr: 4, nr: 4, kc: 256, mc: 128, nc: 1024, micro: kernel4x4go,
	transpose: packTransposedGo, copyRows: packCopyGo}

// kernel4x4go is the pure-Go micro-kernel (see microKernel).
func kernel4x4go(kc int, a, b, c *float32, lda, ldc int, alpha, beta float32, load int) {
	as := unsafe.Slice(a, 3*lda+kc)
	a0, a1, a2, a3 := as[:kc], as[lda:lda+kc], as[2*lda:2*lda+kc], as[3*lda:3*lda+kc]
	bs := unsafe.Slice(b, 4*kc)
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := range a0 {
		bb := bs[4*p : 4*p+4 : 4*p+4]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		x := a0[p]
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		x = a1[p]
		c10 += x * b0
		c11 += x * b1
		c12 += x * b2
		c13 += x * b3
		x = a2[p]
		c20 += x * b0
		c21 += x * b1
		c22 += x * b2
		c23 += x * b3
		x = a3[p]
		c30 += x * b0
		c31 += x * b1
		c32 += x * b2
		c33 += x * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	acc := [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	for i := range acc {
		row := cs[i*ldc : i*ldc+4 : i*ldc+4]
		for j, v := range acc[i] {
			if load == 0 {
				row[j] = alpha * v
			} else {
				row[j] = alpha*v + beta*row[j]
			}
		}
	}
}
