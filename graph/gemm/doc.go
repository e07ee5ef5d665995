// Copyright the TVLT-Go authors.

// Package gemm is a pure-Go (Go assembly, no cgo) single-precision GEMM.
package gemm
