package optim

import (
	"os"
	"strings"
)

// AdamW kernel implementations, slowest first. adamwImpl selects the one
// adamwKernel uses; it is set at start-up to the best one the CPU and build
// support, capped by the environment variable TVLT_ADAMW ("go", "avx2" or
// "avx512"), and tests switch it to run every path.
const (
	adamwImplGo = iota
	adamwImplAVX2
	adamwImplAVX512
)

var adamwImplNames = [...]string{adamwImplGo: "go", adamwImplAVX2: "avx2", adamwImplAVX512: "avx512"}

// adamwImpl is the kernel in use. It is read without synchronisation, so
// only change it while no optimizer step is running.
var adamwImpl = adamwBestImpl(os.Getenv("TVLT_ADAMW"))

// adamwBestImpl returns the best available implementation not above the one
// named (the best available if name is empty or unknown).
func adamwBestImpl(name string) int {
	name = strings.ToLower(strings.TrimSpace(name))
	avail := adamwAvailable()
	best := avail[len(avail)-1]
	for i, n := range adamwImplNames {
		if n == name {
			for _, a := range avail {
				if a <= i {
					best = a
				}
			}
		}
	}
	return best
}
