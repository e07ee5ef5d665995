// Copyright the TVLT-Go authors.

//go:build !amd64 || purego

package gemm

var kernels = []*kernel{goKernel}

// available lists the kernels this build runs, worst first.
func available() []*kernel { return kernels }
