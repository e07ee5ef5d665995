package train

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/optim"
	"gorgonia.org/tensor"
)

// BenchResult is the JSON object `tvlt bench` prints.
type BenchResult struct {
	Preset        string  `json:"preset"`
	Task          string  `json:"task"`
	BatchSize     int     `json:"batch_size"`
	Steps         int     `json:"steps"`
	MsMedian      float64 `json:"ms_per_step_median"`
	MsMin         float64 `json:"ms_per_step_min"`
	SamplesPerSec float64 `json:"samples_per_s"`
	PeakRSSMB     float64 `json:"peak_rss_mb"`
	Params        int     `json:"params"`
	BLAS          string  `json:"blas"`         // GEMM in use: go-avx512, go-avx2, go or openblas
	GFlopsPerSec  float64 `json:"gflops_per_s"` // the step's matrix-product FLOPs over its median time
	// CompileMs is the time to build the step's program, paid once per
	// batch shape (padding to each batch's longest clip can add shapes).
	CompileMs float64 `json:"compile_ms"`
	// Under mpirun: this rank, the number of ranks, the time of one
	// all-reduce of the gradients and its share of a data-parallel step.
	Rank           int     `json:"rank,omitempty"`
	Ranks          int     `json:"ranks,omitempty"`
	AllReduceMs    float64 `json:"allreduce_ms,omitempty"`
	AllReduceShare float64 `json:"allreduce_share,omitempty"`
}

// Bench times the real step on random inputs of the config's full shapes
// after warmup untimed steps: for "pretrain" a TvltForPreTraining step with
// MAE and matching (forward, backward, AdamW), for "finetune" a
// classification step, for "infer" a classification forward pass.
func Bench(cfg config.Config, task string, batch, steps, warmup int) (*BenchResult, error) {
	if batch <= 0 || steps <= 0 || warmup < 0 {
		return nil, fmt.Errorf("train: bench: batch %d and steps %d must be positive, warmup %d not negative", batch, steps, warmup)
	}
	kind := layers.Classification
	switch task {
	case "pretrain":
		kind = layers.Pretraining
		cfg.TaskMAE, cfg.TaskMatching = true, true
	case "finetune", "infer":
	default:
		return nil, fmt.Errorf("train: bench: unknown task %q (want pretrain, finetune or infer)", task)
	}
	m, err := NewModel(kind, cfg, 1)
	if err != nil {
		return nil, err
	}
	b := randomBatch(cfg, kind, batch, task != "infer")
	compileStart := time.Now()
	prog, err := m.Compile(b, layers.Options{Train: task != "infer"})
	if err != nil {
		return nil, fmt.Errorf("train: bench: %w", err)
	}
	compileMs := float64(time.Since(compileStart).Microseconds()) / 1000
	defer prog.Close()
	// As in the trainer, the optimizer reads the program's gradient buffers
	// in place; every parameter is used by these full-task steps.
	var params []optim.Param
	var opt *optim.AdamW
	if task != "infer" {
		if _, err := prog.Run(b); err != nil {
			return nil, fmt.Errorf("train: bench: %w", err)
		}
		grads, err := prog.Grads()
		if err != nil {
			return nil, fmt.Errorf("train: bench: %w", err)
		}
		for _, n := range m.Params.Names() {
			v, g := m.Params.Value(n), grads[n]
			if g == nil {
				return nil, fmt.Errorf("train: bench: %s has no gradient", n)
			}
			params = append(params, optim.Param{Name: n, Shape: v.Shape().Clone(), Value: v.Data().([]float32), Grad: g.Data().([]float32)})
		}
		if opt, err = optim.NewAdamW(params, optim.DefaultAdamWConfig()); err != nil {
			return nil, fmt.Errorf("train: bench: %w", err)
		}
	}
	one := func() error {
		if _, err := prog.Run(b); err != nil {
			return fmt.Errorf("train: bench: %w", err)
		}
		if opt == nil {
			return nil
		}
		optim.ClipGradNorm(params, 1)
		return opt.Step(1e-5)
	}
	for i := 0; i < warmup; i++ {
		if err := one(); err != nil {
			return nil, err
		}
	}
	flops0 := graph.GEMMFlops()
	times := make([]float64, steps)
	for i := range times {
		start := time.Now()
		if err := one(); err != nil {
			return nil, err
		}
		times[i] = float64(time.Since(start).Microseconds()) / 1000
	}
	stepFlops := float64(graph.GEMMFlops()-flops0) / float64(steps)
	sort.Float64s(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (times[len(times)/2-1] + times[len(times)/2]) / 2
	}
	return &BenchResult{Task: task, BatchSize: batch, Steps: steps, MsMedian: med, MsMin: times[0],
		SamplesPerSec: float64(batch) / (med / 1000), PeakRSSMB: PeakRSSMB(), Params: m.Params.NumParams(),
		BLAS: graph.BLAS(), GFlopsPerSec: stepFlops / (med / 1000) / 1e9, CompileMs: compileMs}, nil
}

// randomBatch fills a batch of the config's full shapes with N(0,1) inputs.
func randomBatch(c config.Config, kind layers.Kind, B int, labels bool) *layers.Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	ones := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	T, C, H, W := c.NumFrames, c.NumImageChannels, c.ImageSize[0], c.ImageSize[1]
	lp := T * c.PatchesPerFrame()
	la := c.MaxTimePatches() * c.FreqPatches()
	b := &layers.Batch{
		PixelValues: dense(randn(B*T*C*H*W), B, T, C, H, W),
		PixelMask:   dense(ones(B*lp), B, lp),
		AudioValues: dense(randn(B*c.SpectrogramLength*c.FrequencyLength), B, 1, c.SpectrogramLength, c.FrequencyLength),
		AudioMask:   dense(ones(B*la), B, la),
	}
	switch kind {
	case layers.Pretraining:
		b.PixelValuesMixed = dense(randn(B*T*C*H*W), B, T, C, H, W)
		b.PixelMaskMixed = dense(ones(B*lp), B, lp)
		lab := make([]float32, B)
		for i := range lab {
			lab[i] = float32(i % 2)
		}
		b.MatchingLabels = dense(lab, B, 1)
		ps, as := make([]int64, 0, B*lp), make([]int64, 0, B*la)
		for range B {
			ps = append(ps, c.PixelIDsShuffle(rng, lp, nil)...)
		}
		for range B {
			as = append(as, c.AudioIDsShuffle(rng, la, nil)...)
		}
		b.PixelIDsShuffle, b.AudioIDsShuffle = ints64(ps, B, lp), ints64(as, B, la)
		b.PixelLenKeep, b.AudioLenKeep = c.PixelLenKeep(lp), c.AudioLenKeep(la)
	case layers.Classification:
		if labels {
			y := make([]int64, B)
			for i := range y {
				y[i] = int64(i % c.NumLabels)
			}
			b.Labels = tensor.New(tensor.WithShape(B), tensor.WithBacking(y))
		}
	}
	return b
}

// PeakRSSMB reads the process's peak resident set (VmHWM) in MiB; 0 when
// /proc is unavailable.
func PeakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				kb, err := strconv.ParseFloat(fields[0], 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	return 0
}
