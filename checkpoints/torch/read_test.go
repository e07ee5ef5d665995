package torch_test

import (
	"encoding/json"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/checkpoints/torch"
	"gorgonia.org/tensor"
)

const python = "/usr/bin/python3"

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
	fixtureSkip string
)

// fixtures runs testdata/gen_fixtures.py once per test binary into a
// temporary folder (removed by TestMain) and returns it.
func fixtures(t testing.TB) string {
	t.Helper()
	fixtureOnce.Do(func() {
		if err := exec.Command(python, "-c", "import torch, numpy").Run(); err != nil {
			fixtureSkip = "skipping: " + python + " cannot import torch and numpy (" + err.Error() + "); CI installs python3-torch"
			return
		}
		fixtureDir, fixtureErr = os.MkdirTemp("", "torch-fixtures-")
		if fixtureErr != nil {
			return
		}
		out, err := exec.Command(python, "testdata/gen_fixtures.py", fixtureDir).CombinedOutput()
		if err != nil {
			fixtureErr = &genError{err, string(out)}
		}
	})
	if fixtureSkip != "" {
		t.Skip(fixtureSkip)
	}
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureDir
}

type genError struct {
	err error
	out string
}

func (e *genError) Error() string { return "gen_fixtures.py: " + e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// meta is what gen_fixtures.py writes next to each fixture.
type meta struct {
	Order           []string               `json:"order"`
	DTypes          map[string]string      `json:"dtypes"`
	Extra           []string               `json:"extra"`
	HyperParameters map[string]interface{} `json:"hyper_parameters"`
}

// TestReadFixtures reads every fixture torch.save wrote (zip and legacy
// formats, pickle protocols 2 and 4, bare state dicts, Lightning
// checkpoints with dict and Namespace hyper-parameters, a {"model": ...}
// checkpoint) and compares every value bit for bit with numpy's copy.
func TestReadFixtures(t *testing.T) {
	dir := fixtures(t)
	cases := []struct{ file, stem, format string }{
		{"zip.bin", "zip", "zip"},
		{"buffer.bin", "buffer", "zip"},
		{"legacy.bin", "legacy", "legacy"},
		{"proto4.bin", "proto4", "zip"},
		{"proto4_legacy.bin", "proto4_legacy", "legacy"},
		{"lightning.ckpt", "lightning", "zip"},
		{"lightning_legacy.ckpt", "lightning_legacy", "legacy"},
		{"namespace.ckpt", "namespace", "zip"},
		{"attributedict.ckpt", "attributedict", "zip"},
		{"sacred_legacy.ckpt", "sacred_legacy", "legacy"},
		{"model.pth", "model", "zip"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			f, err := torch.Read(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			want, err := checkpoints.ReadNPZ(filepath.Join(dir, c.stem+".npz"))
			if err != nil {
				t.Fatal(err)
			}
			var m meta
			b, err := os.ReadFile(filepath.Join(dir, c.stem+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if f.Format != c.format {
				t.Errorf("Format = %q, want %q", f.Format, c.format)
			}
			if !reflect.DeepEqual(f.Order, m.Order) {
				t.Errorf("Order = %v\nwant %v", f.Order, m.Order)
			}
			if !reflect.DeepEqual(f.DTypes, m.DTypes) {
				t.Errorf("DTypes = %v\nwant %v", f.DTypes, m.DTypes)
			}
			if len(f.Tensors) != len(want) || len(want) != 17 {
				t.Errorf("%d tensors, numpy has %d (want 17)", len(f.Tensors), len(want))
			}
			for name, w := range want {
				got, ok := f.Tensors[name]
				if !ok {
					t.Errorf("tensor %s missing", name)
					continue
				}
				compareExact(t, name, got, w)
			}
			if len(m.Extra) == 0 {
				m.Extra = nil
			}
			if !reflect.DeepEqual(f.Extra, m.Extra) {
				t.Errorf("Extra = %v, want %v", f.Extra, m.Extra)
			}
			if !reflect.DeepEqual(jsonRoundTrip(t, f.HyperParameters), m.HyperParameters) {
				t.Errorf("HyperParameters = %v\nwant %v", f.HyperParameters, m.HyperParameters)
			}
		})
	}
}

// compareExact compares dtype, shape and every value's bits.
func compareExact(t *testing.T, name string, got, want *tensor.Dense) {
	t.Helper()
	if got.Dtype() != want.Dtype() || !reflect.DeepEqual(got.Shape(), want.Shape()) {
		t.Errorf("%s: %v %v, want %v %v", name, got.Dtype(), got.Shape(), want.Dtype(), want.Shape())
		return
	}
	switch w := want.Data().(type) {
	case []float32:
		g := got.Data().([]float32)
		for i := range w {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
				t.Errorf("%s[%d] = %v, want %v", name, i, g[i], w[i])
				return
			}
		}
	case []float64:
		g := got.Data().([]float64)
		for i := range w {
			if math.Float64bits(g[i]) != math.Float64bits(w[i]) {
				t.Errorf("%s[%d] = %v, want %v", name, i, g[i], w[i])
				return
			}
		}
	default:
		if !reflect.DeepEqual(got.Data(), want.Data()) {
			t.Errorf("%s = %v, want %v", name, got.Data(), want.Data())
		}
	}
}

// jsonRoundTrip passes hyper-parameters through JSON like the expected ones.
func jsonRoundTrip(t *testing.T, v map[string]interface{}) map[string]interface{} {
	t.Helper()
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]interface{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHyperParameterTypes checks the Go types of a Lightning config's
// values, which the JSON comparison above cannot tell apart.
func TestHyperParameterTypes(t *testing.T) {
	f, err := torch.Read(filepath.Join(fixtures(t), "lightning.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, ok := f.HyperParameters["config"].(map[string]interface{})
	if !ok {
		t.Fatalf("config is %T", f.HyperParameters["config"])
	}
	big70 := new(big.Int).Lsh(big.NewInt(1), 70).String()
	want := map[string]interface{}{
		"max_epoch":        int64(10),
		"learning_rate":    1e-5,
		"drop_rate":        0.1,
		"neg":              int64(-123456789012),
		"big":              big70,
		"use_mae":          false,
		"nothing":          nil,
		"exp_name":         "mosei",
		"video_size":       []interface{}{int64(224), int64(224)},
		"audio_patch_size": []interface{}{int64(2), int64(128)},
		"tags":             []interface{}{"only"},
		"loss_names":       map[string]interface{}{"mae_audio": int64(0), "mosei": int64(1)},
		"shape":            []interface{}{int64(2), int64(3)},
		"raw":              "abc",
	}
	for k, w := range want {
		if g := cfg[k]; !reflect.DeepEqual(g, w) {
			t.Errorf("config[%q] = %#v, want %#v", k, g, w)
		}
	}
	if f.HyperParameters["model_type"] != "transformer" {
		t.Errorf("model_type = %#v", f.HyperParameters["model_type"])
	}
}
