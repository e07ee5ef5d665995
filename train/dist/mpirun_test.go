//go:build mpi

package dist

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runTimeout bounds every mpirun: a hang fails the test instead of freezing
// CI.
const runTimeout = 60 * time.Second

// buildMPITest builds internal/mpitest (with -tags mpi when mpi) into dir.
func buildMPITest(t *testing.T, dir string, mpi bool) string {
	t.Helper()
	bin := filepath.Join(dir, "mpitest")
	args := []string{"build", "-o", bin}
	if mpi {
		bin += "-mpi"
		args = []string{"build", "-tags", "mpi", "-o", bin}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", append(args, "./internal/mpitest")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// mpirun runs bin on np ranks of this machine and returns the combined
// output and mpirun's error. The environment loses the MPI variables this
// test process may carry (TestMPISingleton initialised MPI here), so the
// child mpirun starts a job of its own.
func mpirun(t *testing.T, np int, env []string, bin string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("mpirun")
	if err != nil {
		t.Fatalf("mpirun not found (apt-get install openmpi-bin): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	// --allow-run-as-root: CI and containers run as root, which mpirun
	// refuses by default; --oversubscribe: allow more ranks than cores.
	all := append([]string{"--allow-run-as-root", "--oversubscribe", "-np", strconv.Itoa(np), bin}, args...)
	cmd := exec.CommandContext(ctx, path, all...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OMPI_") && !strings.HasPrefix(kv, "PMIX_") && !strings.HasPrefix(kv, "PMI_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	// On timeout, SIGTERM lets mpirun kill its ranks; SIGKILL would orphan
	// them. If it does not exit within WaitDelay it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("mpirun %s: no exit within %v (hang)\n%s", strings.Join(all, " "), runTimeout, out.String())
	}
	return out.String(), err
}

func TestMPIRun(t *testing.T) {
	dir := t.TempDir()
	bin := buildMPITest(t, dir, true)

	t.Run("check", func(t *testing.T) {
		out, err := mpirun(t, 2, nil, bin, "-mode", "check")
		if err != nil {
			t.Fatalf("mpirun: %v\n%s", err, out)
		}
		for r := range 2 {
			if !strings.Contains(out, fmt.Sprintf("rank %d: ok\n", r)) {
				t.Errorf("no \"rank %d: ok\" in\n%s", r, out)
			}
		}
	})

	// A rank that fails stops every rank with its message, promptly.
	t.Run("fail", func(t *testing.T) {
		start := time.Now()
		out, err := mpirun(t, 2, nil, bin, "-mode", "fail", "-fail-rank", "1")
		if err == nil {
			t.Fatalf("mpirun exited 0 although rank 1 failed\n%s", out)
		}
		for r := range 2 {
			want := fmt.Sprintf("rank %d: error: rank 1: decoding clip demo/clip-7.mp4: bad frame", r)
			if !strings.Contains(out, want) {
				t.Errorf("no %q in\n%s", want, out)
			}
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("the failing job took %v to exit", d)
		}
	})

	// Sizes of the small and base-reduced pretraining gradients; the
	// numbers are for the log (-v), the test checks they were measured.
	t.Run("bench", func(t *testing.T) {
		out, err := mpirun(t, 2, []string{"GOMAXPROCS=1"}, bin, "-mode", "bench", "-reps", "3")
		if err != nil {
			t.Fatalf("mpirun: %v\n%s", err, out)
		}
		re := regexp.MustCompile(`allreduce preset=(\S+) elems=(\d+) MB=\S+ ranks=2 ms=([0-9.]+)`)
		got := re.FindAllStringSubmatch(out, -1)
		if len(got) != 2 || got[0][1] != "small" || got[1][1] != "base-reduced" {
			t.Fatalf("want one line for small and one for base-reduced in\n%s", out)
		}
		for _, m := range got {
			if ms, _ := strconv.ParseFloat(m[3], 64); ms <= 0 {
				t.Errorf("%s: %s ms", m[1], m[3])
			}
			t.Logf("float32 all-reduce, 2 ranks x GOMAXPROCS=1: %s (%s elements): %s ms", m[1], m[2], m[3])
		}
	})

	// Built without -tags mpi, each rank would train alone on all the data:
	// Init must refuse.
	t.Run("default build refuses", func(t *testing.T) {
		plain := buildMPITest(t, dir, false)
		out, err := mpirun(t, 2, nil, plain, "-mode", "check")
		if err == nil {
			t.Fatalf("mpirun of a build without -tags mpi exited 0\n%s", out)
		}
		if !strings.Contains(out, "built without MPI support: rebuild with `go build -tags mpi`") {
			t.Errorf("no rebuild hint in\n%s", out)
		}
	})
}
