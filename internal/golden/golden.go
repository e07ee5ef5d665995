// Package golden locates and loads the reference data sets produced by the
// PyTorch implementation, for tests in every package.
package golden

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/graph"
	"gorgonia.org/tensor"
)

// RepoRoot walks up from the working directory to the folder holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("golden: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Dir returns the golden set directory: $TVLT_GOLDEN_DIR, or ../shared/golden
// beside the repository root. A missing directory fails the test, because CI
// always provides one.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := dirPath()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// dirPath is Dir without the test: the golden set's absolute path, or an
// error saying where it looked and how to point TVLT_GOLDEN_DIR elsewhere.
func dirPath() (string, error) {
	dir, from := os.Getenv("TVLT_GOLDEN_DIR"), "$TVLT_GOLDEN_DIR"
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", fmt.Errorf("golden: TVLT_GOLDEN_DIR is not set and %w, so ../shared/golden beside the repository cannot be located; set TVLT_GOLDEN_DIR to the absolute path of a golden set (a folder holding config.json, weights.safetensors, *.npz)", err)
		}
		dir, from = filepath.Join(root, "..", "shared", "golden"), "../shared/golden beside the repository root "+root+" (the default when TVLT_GOLDEN_DIR is not set)"
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return "", fmt.Errorf("golden: no golden set at %s (from %s): %v; "+
			"point TVLT_GOLDEN_DIR at a golden set folder (holding config.json, weights.safetensors and the *.npz files), "+
			"e.g. TVLT_GOLDEN_DIR=/path/to/shared/golden go test ./...", dir, from, err)
	}
	return dir, nil
}

// Has reports whether the golden set holds the named file.
func Has(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// Load reads a golden .npz file by name.
func Load(t testing.TB, dir, name string) map[string]*tensor.Dense {
	t.Helper()
	m, err := checkpoints.ReadNPZ(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Float64s converts any numeric tensor's data to float64 for comparisons.
func Float64s(d *tensor.Dense) []float64 { return graph.Float64s(d) }

// Close reports the first element where got and want differ by more than
// atol + rtol*|want|, with the worst absolute error, as an error message ("" if
// all elements are close). Shapes must match exactly.
func Close(got, want []float64, gotShape, wantShape []int, atol, rtol float64) string {
	if !sameShape(gotShape, wantShape) {
		return fmt.Sprintf("shape %v, want %v", gotShape, wantShape)
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d elements, want %d", len(got), len(want))
	}
	worst, worstAt, bad := 0.0, -1, 0
	for i := range got {
		d := math.Abs(got[i] - want[i])
		if math.IsNaN(got[i]) != math.IsNaN(want[i]) {
			d = math.Inf(1)
		} else if math.IsNaN(got[i]) {
			d = 0
		}
		if d > atol+rtol*math.Abs(want[i]) {
			bad++
			if d > worst || worstAt < 0 {
				worst, worstAt = d, i
			}
		}
	}
	if bad == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d elements off; worst at flat index %d: got %.8g want %.8g (abs err %.3g)",
		bad, len(got), worstAt, got[worstAt], want[worstAt], worst)
}

func sameShape(a, b []int) bool {
	// numpy scalars are stored as (1,); treat () and (1,) alike.
	if len(a) == 0 {
		a = []int{1}
	}
	if len(b) == 0 {
		b = []int{1}
	}
	return slices.Equal(a, b)
}
