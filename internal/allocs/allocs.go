// Package allocs measures how much memory a call allocates, for the fuzz
// targets' bounds on allocation per input byte.
package allocs

import "runtime"

// Of returns the bytes fn allocated (the growth of runtime.MemStats.TotalAlloc).
func Of(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
