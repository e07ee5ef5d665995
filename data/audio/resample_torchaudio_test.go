package audio

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// testSignal is a hard case for a resampler: a linear chirp sweeping up to
// the source's Nyquist frequency, white noise, and tones just below the
// source's and the target's Nyquist frequencies, peaking near full scale.
func testSignal(n, from, to int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	nyq := float64(from) / 2
	tones := []float64{0.9 * nyq, 0.98 * nyq, 0.998 * nyq, 0.97 * float64(to) / 2, 1.03 * float64(to) / 2, 440}
	dur := float64(n) / float64(from)
	x := make([]float32, n)
	for i := range x {
		t := float64(i) / float64(from)
		v := 0.3 * math.Sin(2*math.Pi*(20*t+(nyq-20)*t*t/(2*dur)))
		v += 0.2 * (2*rng.Float64() - 1)
		for k, f := range tones {
			if f < nyq {
				v += 0.07 * math.Sin(2*math.Pi*f*t+float64(k))
			}
		}
		x[i] = float32(v)
	}
	return x
}

func writeF32(t *testing.T, path string, x []float32) {
	t.Helper()
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x
}

// requireTorchaudio skips when Debian's torchaudio is absent (CI installs
// python3-torchaudio, so there the comparison always runs).
func requireTorchaudio(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Python; skipped with -short")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torchaudio.functional").Run(); err != nil {
		t.Skipf("no /usr/bin/python3 with torchaudio (apt-get install python3-torchaudio): %v", err)
	}
}

// TestResampleMatchesTorchaudio: the default resampler gives what
// torchaudio.functional.resample gives on the same float32 waveform, to
// 1e-5, with torchaudio's output length, for the rates TVLT's audio comes
// at, both sampling rates of the feature extractor, and clips shorter than
// the kernel.
func TestResampleMatchesTorchaudio(t *testing.T) {
	requireTorchaudio(t)
	type tc struct{ from, to, n int }
	var cases []tc
	for _, p := range [][2]int{
		{8000, 16000}, {16000, 16000}, {22050, 16000}, {44100, 16000}, {48000, 16000},
		{16000, 44100}, {8000, 44100}, {22050, 44100}, {48000, 44100}, {44100, 44100},
		{11025, 16000}, {32000, 44100}, {96000, 44100}, {44100, 22050},
	} {
		cases = append(cases, tc{p[0], p[1], p[0] + p[0]/2}) // 1.5 s
	}
	for _, n := range []int{1, 2, 7, 33, 100, 440, 441, 442, 1000} { // shorter than 44.1 kHz's 475-tap kernel, and around it
		cases = append(cases, tc{44100, 16000, n}, tc{16000, 44100, n})
	}
	cases = append(cases, tc{22050, 16000, 3}, tc{8000, 16000, 1}, tc{48000, 16000, 5})
	dir := t.TempDir()
	inputs := make([][]float32, len(cases))
	meta := make([]map[string]int, len(cases))
	for i, c := range cases {
		inputs[i] = testSignal(c.n, c.from, c.to, uint64(i))
		writeF32(t, filepath.Join(dir, fmt.Sprintf("in_%d.f32", i)), inputs[i])
		meta[i] = map[string]int{"from": c.from, "to": c.to}
	}
	js, _ := json.Marshal(meta)
	if err := os.WriteFile(filepath.Join(dir, "cases.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("testdata/resample_torchaudio.py")
	if out, err := exec.Command("/usr/bin/python3", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("torchaudio: %v\n%s", err, out)
	}
	const tol = 1e-5
	for i, c := range cases {
		want := readF32(t, filepath.Join(dir, fmt.Sprintf("out_%d.f32", i)))
		got := Resample(inputs[i], c.from, c.to)
		if len(got) != len(want) || len(got) != ResampledLen(c.n, c.from, c.to) {
			t.Errorf("%d -> %d, %d samples: %d out, torchaudio %d, ResampledLen %d", c.from, c.to, c.n, len(got), len(want), ResampledLen(c.n, c.from, c.to))
			continue
		}
		worst, at := 0.0, 0
		for k := range got {
			if d := math.Abs(float64(got[k] - want[k])); d > worst {
				worst, at = d, k
			}
		}
		if c.n > 1000 {
			t.Logf("%5d -> %5d Hz, %6d samples: max |Go − torchaudio| = %.2e", c.from, c.to, c.n, worst)
		}
		if worst > tol {
			t.Errorf("%d -> %d Hz, %d samples: sample %d is %v, torchaudio %v (|diff| %.2e > %g)", c.from, c.to, c.n, at, got[at], want[at], worst, tol)
		}
	}
}
