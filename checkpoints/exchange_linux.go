//go:build linux

package checkpoints

import (
	"errors"

	"golang.org/x/sys/unix"
)

// exchangeDirs atomically swaps two paths with renameat2(RENAME_EXCHANGE),
// so a reader of b never sees it missing. It reports false when the kernel
// or filesystem does not support the exchange.
func exchangeDirs(a, b string) (bool, error) {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EPERM):
		return false, nil
	}
	return false, err
}
