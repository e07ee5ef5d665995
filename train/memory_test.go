package train

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/optim"
)

// rssMB reads the process's current resident set (VmRSS) in MiB.
func rssMB(t *testing.T) float64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc on this system")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestPretrainingMemoryFlat runs 200 pretraining steps (forward, backward,
// clipping, AdamW) of one compiled program: the program reuses its buffers
// run to run, so resident memory stays flat from step 20 to step 200 and a
// step allocates only its host-side inputs, a small share of the model's
// working set.
func TestPretrainingMemoryFlat(t *testing.T) {
	cfg, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(layers.Pretraining, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := randomBatch(cfg, layers.Pretraining, 8, true)
	p, err := m.Compile(b, layers.Options{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Run(b); err != nil {
		t.Fatal(err)
	}
	grads, err := p.Grads()
	if err != nil {
		t.Fatal(err)
	}
	var params []optim.Param
	for _, n := range m.Params.Names() {
		v := m.Params.Value(n)
		params = append(params, optim.Param{Name: n, Shape: v.Shape().Clone(), Value: v.Data().([]float32), Grad: grads[n].Data().([]float32)})
	}
	opt, err := optim.NewAdamW(params, optim.DefaultAdamWConfig())
	if err != nil {
		t.Fatal(err)
	}
	var rss20 float64
	var ms runtime.MemStats
	var alloc20 uint64
	for step := 1; step <= 200; step++ {
		if _, err := p.Run(b); err != nil {
			t.Fatal(err)
		}
		optim.ClipGradNorm(params, 1)
		if err := opt.Step(1e-4); err != nil {
			t.Fatal(err)
		}
		if step == 20 {
			debug.FreeOSMemory() // a GC that also returns freed pages, so RSS is the live set
			rss20 = rssMB(t)
			runtime.ReadMemStats(&ms)
			alloc20 = ms.TotalAlloc
		}
	}
	debug.FreeOSMemory()
	rss200 := rssMB(t)
	runtime.ReadMemStats(&ms)
	perStep := float64(ms.TotalAlloc-alloc20) / 180
	// The step's inputs (patchified pixels and audio, targets, masks) are
	// fresh tensors by design; everything else is reused.
	inputs := 0.0
	for _, v := range []int{b.PixelValues.Shape().TotalSize(), b.PixelValuesMixed.Shape().TotalSize(), b.AudioValues.Shape().TotalSize()} {
		inputs += float64(v)
	}
	t.Logf("RSS %.1f MB at step 20, %.1f MB at step 200; %.0f KB allocated per step (inputs: %.0f KB of float32)", rss20, rss200, perStep/1024, inputs*4/1024)
	if rss200 > rss20*1.05 {
		t.Errorf("resident memory grew from %.1f MB (step 20) to %.1f MB (step 200)", rss20, rss200)
	}
	if limit := 6 * inputs * 4; perStep > limit {
		t.Errorf("a step allocates %.0f KB, more than %.0f KB (6x its float32 inputs): buffers are not reused", perStep/1024, limit/1024)
	}
}
