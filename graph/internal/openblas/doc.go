// Copyright the TVLT-Go authors.

// Package openblas links OpenBLAS (built with -tags openblas only) for the
// -tags openblas build of package graph and the comparison benchmarks of
// package gemm. It lives apart because a cgo package cannot hold Go assembly.
package openblas
