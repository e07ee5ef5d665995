//go:build !amd64 || purego

package optim

// adamwAvailable lists the AdamW kernels this build runs, slowest first.
func adamwAvailable() []int { return []int{adamwImplGo} }

// adamwVector updates no elements: this build has only the Go kernel.
func adamwVector(p, g, m, v []float32, c *coef) int { return 0 }
