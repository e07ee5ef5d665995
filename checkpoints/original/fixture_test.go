package original

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/checkpoints/torch"
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/internal/golden"
	"gorgonia.org/tensor"
)

// python is Debian's interpreter, which has python3-torch.
const python = "/usr/bin/python3"

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
	fixtureRoot string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureRoot != "" {
		os.RemoveAll(fixtureRoot)
	}
	os.Exit(code)
}

// fixtures runs testdata/gen_ckpt.py once per test binary on the golden
// set and returns the folder it wrote. Without python3-torch the tests
// that need it skip, naming the package CI must install.
func fixtures(t *testing.T) string {
	t.Helper()
	dir := golden.Dir(t)
	fixtureOnce.Do(func() {
		if err := exec.Command(python, "-c", "import torch, numpy").Run(); err != nil {
			fixtureErr = errSkip
			return
		}
		fixtureRoot, fixtureErr = os.MkdirTemp("", "tvlt-original-")
		if fixtureErr != nil {
			return
		}
		out, err := exec.Command(python, filepath.Join("testdata", "gen_ckpt.py"), dir, fixtureRoot).CombinedOutput()
		if err != nil {
			fixtureErr = fmt.Errorf("gen_ckpt.py: %v\n%s", err, out)
			return
		}
		fixtureDir = fixtureRoot
	})
	if fixtureErr == errSkip {
		t.Skipf("%s with torch and numpy is needed for the fixtures (apt-get install python3-torch python3-numpy)", python)
	}
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureDir
}

var errSkip = fmt.Errorf("skip")

// fixture reads one python-written original checkpoint, NAME.ckpt, with
// torch.Read: its state dict and hyper-parameters (nil if none).
func fixture(t *testing.T, name string) (map[string]*tensor.Dense, map[string]interface{}) {
	t.Helper()
	f, err := torch.Read(filepath.Join(fixtures(t), name+".ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	return f.Tensors, f.HyperParameters
}

// fixtureNPZ reads the same checkpoint from the generator's numpy twin:
// NAME.npz and NAME.hparams.json (nil if absent).
func fixtureNPZ(t *testing.T, name string) (map[string]*tensor.Dense, map[string]interface{}) {
	t.Helper()
	dir := fixtures(t)
	ts, err := checkpoints.ReadNPZ(filepath.Join(dir, name+".npz"))
	if err != nil {
		t.Fatal(err)
	}
	var hp map[string]interface{}
	buf, err := os.ReadFile(filepath.Join(dir, name+".hparams.json"))
	switch {
	case err == nil:
		if err := json.Unmarshal(buf, &hp); err != nil {
			t.Fatal(err)
		}
	case !os.IsNotExist(err):
		t.Fatal(err)
	}
	return ts, hp
}

// goldenHF reads a golden config and weights file; base keeps the
// tvlt.-prefixed encoder with the prefix removed (TvltModel's names).
func goldenHF(t *testing.T, configFile, weightsFile string, base bool) (config.Config, map[string]*tensor.Dense) {
	t.Helper()
	dir := golden.Dir(t)
	cfg, err := config.Read(filepath.Join(dir, configFile))
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := checkpoints.ReadSafetensors(filepath.Join(dir, weightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if base {
		sub := map[string]*tensor.Dense{}
		for k, v := range w {
			if rest, ok := strings.CutPrefix(k, "tvlt."); ok {
				sub[rest] = v
			}
		}
		w = sub
	}
	return cfg, w
}

// sameTensors fails unless a and b hold the same names, shapes and
// bit-identical float32 values.
func sameTensors(t *testing.T, what string, got, want map[string]*tensor.Dense) {
	t.Helper()
	for _, n := range sortedNames(want) {
		g, ok := got[n]
		if !ok {
			t.Errorf("%s: %s missing", what, n)
			continue
		}
		if !equalShape(shapeOf(g), shapeOf(want[n])) {
			t.Errorf("%s: %s has shape %v, want %v", what, n, shapeOf(g), shapeOf(want[n]))
			continue
		}
		gd, _ := floats(g)
		wd, _ := floats(want[n])
		gf, gok := gd.([]float32)
		wf, wok := wd.([]float32)
		if !gok || !wok {
			t.Errorf("%s: %s is %T, want %T (float32)", what, n, gd, wd)
			continue
		}
		for i := range wf {
			if gf[i] != wf[i] {
				t.Errorf("%s: %s[%d] = %v, want %v", what, n, i, gf[i], wf[i])
				break
			}
		}
	}
	for _, n := range sortedNames(got) {
		if _, ok := want[n]; !ok {
			t.Errorf("%s: unexpected %s %v", what, n, shapeOf(got[n]))
		}
	}
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func readNPZ(dir, name string) (map[string]*tensor.Dense, error) {
	return checkpoints.ReadNPZ(filepath.Join(dir, name))
}
