// Copyright the TVLT-Go authors.

// Package openblas links OpenBLAS (built with -tags openblas only) for the
// comparison benchmarks of package gemm. It lives apart because a cgo package
// cannot hold Go assembly.
package openblas
