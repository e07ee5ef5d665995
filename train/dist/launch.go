package dist

import (
	"os"
	"strconv"
)

// launcherSizeVars are the variables MPI launchers set to the number of
// processes: Open MPI's mpirun, PMIx, and MPICH/Intel MPI's Hydra.
var launcherSizeVars = []string{"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"}

// launchedSize returns the process count an MPI launcher announced in the
// environment (1 when there is none or it does not parse), and the variable
// that said so.
func launchedSize(getenv func(string) string) (int, string) {
	for _, v := range launcherSizeVars {
		if n, err := strconv.Atoi(getenv(v)); err == nil && n > 1 {
			return n, v
		}
	}
	return 1, ""
}

// envLaunchedSize is launchedSize on the process environment.
func envLaunchedSize() (int, string) { return launchedSize(os.Getenv) }

// Launched is the number of processes an MPI launcher started this one
// with (1 outside mpirun), read from the environment without touching MPI.
func Launched() int {
	n, _ := envLaunchedSize()
	return n
}
