//go:build !linux

package checkpoints

// exchangeDirs has no atomic implementation outside Linux; the caller falls
// back to two renames.
func exchangeDirs(a, b string) (bool, error) { return false, nil }
