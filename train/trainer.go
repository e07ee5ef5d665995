// Package train runs TVLT pretraining (MAE + matching), fine-tuning
// (classification, regression, retrieval) and evaluation: data loading,
// AdamW with schedules and clipping, metrics, atomic checkpoints with exact
// resume, and progress logging to the terminal and metrics.jsonl.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/optim"
)

// ErrInterrupted is returned (wrapped) when the context is cancelled: a
// checkpoint of the last completed step has been saved and --resume
// continues from it.
var ErrInterrupted = errors.New("training interrupted")

// ErrNonFinite is returned (wrapped, naming the step) when the loss or the
// gradient norm is NaN or infinite. Nothing is saved for that step, so the
// newest checkpoint is the last good one.
var ErrNonFinite = errors.New("non-finite loss")

// Trainer runs one training job on one model.
type Trainer struct {
	m     *layers.Model
	opts  Options
	train []data.Clip
	eval  []data.Clip

	params    []optim.Param
	unused    map[string][]float32 // zero gradients of parameters a program does not use
	opt       *optim.AdamW
	sched     optim.Schedule
	acc       *optim.Accumulator
	progs     *programs
	evaluator *evaluator
	state     State
	log       *logger
	lastSaved int
	rep       *replica      // data-parallel rank; nil in a single-process run
	decoders  data.Decoders // tests: the loader's file readers
}

// Summary is what a finished (or interrupted) run reports.
type Summary struct {
	Step       int
	Total      int
	Train      map[string]float64 // last logged training metrics
	Eval       map[string]float64 // final evaluation (nil without eval clips)
	BestMetric string
	BestValue  float64
	BestStep   int
	Seconds    float64       // wall time of the whole run, across resumes
	Checkpoint string        // newest checkpoint folder
	Skipped    []SkippedClip // clips a SkipBad run could not load
}

// New prepares a run: m is the model to train (fresh, or initialised with
// InitFrom), trainClips the training split and evalClips (may be empty) the
// split evaluated every EvalEvery steps and at the end.
//
// New validates opts (Options.Validate) and uses them as given (a nil Log
// discards): start from DefaultOptions.
func New(m *layers.Model, trainClips, evalClips []data.Clip, opts Options) (*Trainer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if want := opts.Task.Kind(); m.Kind != want {
		return nil, fmt.Errorf("train: task %s trains a %s, got a %s model", opts.Task, want, m.Kind)
	}
	if len(trainClips) == 0 {
		return nil, fmt.Errorf("train: no training clips")
	}
	t := &Trainer{m: m, opts: opts, train: trainClips, eval: evalClips, unused: map[string][]float32{}, rep: newReplica(opts.Comm)}
	// Gradients are read in place from each step's program (bindGrads);
	// until the first step every parameter shares one read-only zero slice.
	largest := 0
	for _, name := range m.Params.Names() {
		largest = max(largest, m.Params.Value(name).Shape().TotalSize())
	}
	zeros := make([]float32, largest)
	prefix := m.Kind.EncoderPrefix()
	for _, name := range m.Params.Names() {
		if opts.FreezeEncoder && prefix != "" && strings.HasPrefix(name, prefix) {
			continue
		}
		v := m.Params.Value(name)
		val, ok := v.Data().([]float32)
		if !ok {
			return nil, fmt.Errorf("train: parameter %s is %v, the trainer needs float32", name, v.Dtype())
		}
		t.params = append(t.params, optim.Param{Name: name, Shape: v.Shape().Clone(), Value: val, Grad: zeros[:len(val)]})
	}
	if len(t.params) == 0 {
		return nil, fmt.Errorf("train: nothing to train (every parameter frozen)")
	}
	cfg := optim.DefaultAdamWConfig()
	cfg.WeightDecay = opts.WeightDecay
	cfg.Groups = map[string]optim.Group{
		optim.GroupDecay:   {LRScale: 1, WeightDecay: opts.WeightDecay},
		optim.GroupNoDecay: {LRScale: 1, WeightDecay: 0},
	}
	opt, err := optim.NewAdamW(t.params, cfg)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	t.opt = opt
	if opts.GradAccum > 1 {
		if t.acc, err = optim.NewAccumulator(t.params); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	return t, nil
}

func (t *Trainer) loader() (*data.Loader, error) {
	neg := noNegatives
	pre := t.opts.Task == TaskPretrain
	if pre && t.m.Config.TaskMatching && t.opts.NegativeRatio > 0 {
		neg = t.opts.NegativeRatio
	}
	l, err := data.NewLoader(t.train, t.m.Config, data.LoaderOptions{
		BatchSize: t.globalBatch(), Shuffle: true, Seed: int64(t.opts.Seed), Workers: t.opts.Workers,
		DropLast: true, Pretraining: pre, NegativeRatio: neg, Padding: t.opts.Padding, MaskRealOnly: t.opts.MaskRealOnly, AudioResampler: t.opts.AudioResampler, CacheDir: t.opts.CacheDir,
		SkipBad: t.opts.SkipBad, Decoders: t.decoders,
	})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if l.Len() == 0 {
		return nil, fmt.Errorf("train: %d training clips do not fill one batch of %d", len(t.train), t.globalBatch())
	}
	return l, nil
}

func (t *Trainer) schedule(total int) (optim.Schedule, error) {
	o := t.opts
	switch o.Schedule {
	case "constant":
		s := optim.Constant{Value: o.LR, Warmup: o.Warmup}
		return s, s.Validate()
	case "linear":
		s := optim.WarmupLinear{Peak: o.LR, Warmup: o.Warmup, Total: total, Min: o.MinLR}
		return s, s.Validate()
	}
	s := optim.WarmupCosine{Peak: o.LR, Warmup: o.Warmup, Total: total, Min: o.MinLR}
	return s, s.Validate()
}

// Run trains until the step budget is spent, the context is cancelled
// (checkpoint saved, ErrInterrupted) or the loss turns non-finite
// (ErrNonFinite, nothing saved). At the end it evaluates, saves a final
// checkpoint and writes config.json + model.safetensors into the run folder.
func (t *Trainer) Run(ctx context.Context) (sum *Summary, err error) {
	o := &t.opts
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	l, err := t.loader()
	if err != nil {
		return nil, err
	}
	perEpoch := l.Len() / o.GradAccum
	if perEpoch == 0 {
		return nil, fmt.Errorf("train: one epoch (%d batches) is shorter than --grad-accum %d", l.Len(), o.GradAccum)
	}
	total := o.Steps
	if total <= 0 {
		total = o.Epochs * perEpoch
	}
	cks, err := t.prepareRunFolder()
	if err != nil {
		return nil, err
	}
	t.state = State{Task: o.Task, Total: total, Seed: o.Seed, BatchSize: t.globalBatch(), GradAccum: o.GradAccum, BestMetric: o.BestMetric}
	switch {
	case o.Resume && len(cks) > 0:
		last, err := t.resume(cks)
		if err != nil {
			return nil, err
		}
		t.state.Total = total
		if t.rep.primary() {
			if err := truncateMetrics(filepath.Join(o.Out, MetricsFile), t.state.Step); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(o.Log, "resuming from %s (step %d of %d)\n", last, t.state.Step, total)
	case len(cks) > 0:
		return nil, fmt.Errorf("train: %s already holds checkpoints (%s ...): pass --resume to continue it or choose another --out", o.Out, filepath.Base(cks[0].Dir))
	case t.rep.primary():
		os.Remove(filepath.Join(o.Out, MetricsFile))
	}
	if t.sched, err = t.schedule(total); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if t.rep != nil {
		// Every rank starts from rank 0's weights, however it built or read them.
		if err := t.rep.broadcastModel(t.m); err != nil {
			return nil, err
		}
	}
	if t.rep.primary() {
		if err := t.writeConfig(); err != nil {
			return nil, err
		}
	}
	t.progs = newPrograms(t.m, true, o.MaxPrograms)
	t.progs.weights = &o.LossWeights
	t.progs.lossScales = t.rep != nil
	defer t.progs.close()
	t.evaluator = newEvaluator(t.m, EvalOptions{Task: o.Task, BatchSize: o.EvalBatchSize, Seed: o.Seed + 1, Workers: o.Workers, CacheDir: o.CacheDir, LossWeights: &o.LossWeights,
		Padding: o.Padding, MaskRealOnly: o.MaskRealOnly, AudioResampler: o.AudioResampler, MaxPrograms: o.MaxPrograms})
	defer t.evaluator.progs.close()
	if t.rep != nil {
		t.evaluator.comm = t.rep.comm // the forward passes are split over the ranks
	}
	lo := *o
	if !t.rep.primary() {
		lo.Out, lo.Log, lo.Progress = "", io.Discard, ProgressPlain // rank 0 reports
	}
	if t.log, err = newLogger(&lo, total, t.state.Step, t.state.Elapsed); err != nil {
		return nil, err
	}
	if t.log.bar != nil {
		t.evaluator.onStatus = t.log.status // in-run evaluations show in the run's bar
	} else {
		t.evaluator.opts.Log, t.evaluator.opts.Progress = o.Log, ProgressPlain
	}
	defer func() {
		if cerr := t.log.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	it, err := l.Start(t.state.Epoch, t.state.Batch)
	if err != nil {
		return nil, fmt.Errorf("train: resume position: %w", err)
	}
	defer func() { it.Close() }()

	window := newWindow()
	for t.state.Step < total {
		stop, err := t.stopRequested(ctx)
		if err != nil {
			return nil, err
		}
		if stop {
			return t.interrupted()
		}
		lr := t.sched.LR(t.opt.StepCount())
		t.log.begin()
		vals, samples, err := t.step(&it, l, lr)
		if err != nil {
			return nil, err
		}
		t.state.Step++
		t.log.tick(t.state.Step)
		t.state.Samples += samples
		window.add(vals, samples)
		step := t.state.Step
		if (o.LogEvery > 0 && step%o.LogEvery == 0) || step == total {
			v := window.flush()
			v[StatLR] = lr
			t.state.Train = v
			if err := t.log.step(step, total, t.state.Epoch, v); err != nil {
				return nil, err
			}
		}
		if o.EvalEvery > 0 && step%o.EvalEvery == 0 && step < total {
			if err := t.agree(t.evaluate(ctx)); err != nil {
				return nil, err
			}
		}
		if o.SaveEvery > 0 && step%o.SaveEvery == 0 && step < total && t.lastSaved != step {
			if _, err := t.save(); err != nil {
				return nil, err
			}
		}
		if o.OnStep != nil {
			o.OnStep(step, vals)
		}
	}
	if err := t.agree(t.evaluate(ctx)); err != nil {
		return nil, err
	}
	dir, err := t.save()
	if err != nil {
		return nil, err
	}
	if t.rep.primary() {
		err = t.writeFinal()
	}
	if err := t.agree(err); err != nil {
		return nil, err
	}
	sum = t.summary(dir)
	if o.SkipBad {
		sum.Skipped = skippedClips(l.Skipped())
		reportSkipped(o.Log, "training", sum.Skipped)
		if err := t.log.record(Record{Type: RecordSkipped, Step: t.state.Step, Epoch: t.state.Epoch, Skipped: sum.Skipped}); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// dropoutSeed is the dropout seed of micro-batch k of a run: a function of
// the run's seed and position only, so a resumed run drops the same units.
func dropoutSeed(seed uint64, k int) uint64 {
	z := seed*0x9e3779b97f4a7c15 + uint64(k) + 0xd1b54a32d192ed03
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// bindGrads points every parameter's gradient at the program's own buffer
// (no copy: the program zeroes it before its next run), and parameters the
// program does not use at a zero buffer of their own.
func (t *Trainer) bindGrads(prog *layers.Program) error {
	grads, err := prog.Grads()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for i := range t.params {
		p := &t.params[i]
		g, ok := grads[p.Name]
		if !ok {
			z, ok := t.unused[p.Name]
			if !ok {
				z = make([]float32, len(p.Value))
				t.unused[p.Name] = z
			}
			clear(z)
			p.Grad = z
			continue
		}
		src, ok := g.Data().([]float32)
		if !ok || len(src) != len(p.Value) {
			return fmt.Errorf("train: gradient of %s: %T with %d elements, want []float32 of %d", p.Name, g.Data(), g.Shape().TotalSize(), len(p.Value))
		}
		p.Grad = src
	}
	if err := t.opt.Bind(t.params); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// step runs GradAccum micro-batches and one optimizer update. In a
// data-parallel run every rank agrees on each micro-batch's errors (one
// rank's bad clip or NaN stops them all), then the gradients and the
// logged losses are summed over the ranks before the common update.
func (t *Trainer) step(it **data.Iter, l *data.Loader, lr float64) (map[string]float64, int, error) {
	vals := map[string]float64{}
	samples := 0
	for micro := 0; micro < t.opts.GradAccum; micro++ {
		n, err := t.micro(it, l, micro, vals)
		if t.rep != nil {
			err = t.rep.comm.AgreeOnError(err)
		}
		if err != nil {
			return nil, 0, err
		}
		samples += n
		if t.acc != nil {
			if err := t.acc.Add(t.params, n); err != nil {
				return nil, 0, fmt.Errorf("train: %w", err)
			}
		}
	}
	if t.acc != nil {
		if err := t.acc.Write(t.params); err != nil {
			return nil, 0, fmt.Errorf("train: %w", err)
		}
	}
	if t.rep != nil {
		if err := t.rep.reduceGrads(t.params); err != nil {
			return nil, 0, err
		}
		if err := t.rep.reduceStats(vals, append(LossKeys[:len(LossKeys):len(LossKeys)], MetricMatchingAccuracy)); err != nil {
			return nil, 0, err
		}
	}
	norm := optim.ClipGradNorm(t.params, t.opts.ClipNorm) // 0: measure only
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return nil, 0, t.nonFinite("gradient norm", norm)
	}
	vals[StatGradNorm] = norm
	if err := t.opt.Step(lr); err != nil {
		return nil, 0, fmt.Errorf("train: step %d: %w", t.state.Step+1, err)
	}
	return vals, samples, nil
}

// micro loads the next (global) batch, runs this process's part of it and
// adds its losses to vals (its share of them in a data-parallel run); it
// returns the global batch's clip count.
func (t *Trainer) micro(it **data.Iter, l *data.Loader, micro int, vals map[string]float64) (int, error) {
	b, err := (*it).Next()
	for errors.Is(err, io.EOF) {
		ep, _ := (*it).Position()
		(*it).Close()
		if *it, err = l.Start(ep+1, 0); err != nil {
			return 0, fmt.Errorf("train: %w", err)
		}
		b, err = (*it).Next()
	}
	if err != nil {
		return 0, fmt.Errorf("train: step %d: loading data: %w", t.state.Step+1, err)
	}
	t.state.Epoch, t.state.Batch = (*it).Position()
	k := t.state.Step*t.opts.GradAccum + micro
	var lb *layers.Batch
	if t.opts.Task == TaskRetrieval {
		lb, err = retrievalBatch(b, t.opts.Seed, k, t.opts.Negatives)
	} else {
		lb, err = toLayers(b, t.m)
	}
	if err != nil {
		return 0, err
	}
	lb.DropoutSeed = dropoutSeed(t.opts.Seed, k)
	if t.rep != nil {
		if lb, err = t.rep.share(lb); err != nil {
			return 0, fmt.Errorf("train: step %d: %w", t.state.Step+1, err)
		}
	}
	prog, res, err := t.progs.run(lb)
	if err != nil {
		return 0, fmt.Errorf("train: step %d: %w", t.state.Step+1, err)
	}
	loss := res.Scalar(MetricLoss)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, t.nonFinite("loss", loss)
	}
	div := float64(t.opts.GradAccum)
	for _, key := range LossKeys {
		if _, ok := res.Outputs[key]; !ok {
			continue
		}
		s := 1.0
		if sc, ok := lb.LossScales[key]; ok && key != MetricLoss {
			s = sc // the total "loss" comes scaled from the program
		}
		vals[key] += res.Scalar(key) * s / div
	}
	if tl, ok := res.Outputs[outMatchingLogits]; ok && lb.MatchingLabels != nil {
		logits, labels := tl.Data().([]float64), lb.MatchingLabels.Data().([]float32)
		right := 0
		for i, x := range logits {
			if matched(x, labels[i]) {
				right++
			}
		}
		// Over the global batch's rows: the ranks' counts add up.
		rows := len(logits) * t.rep.size()
		vals[MetricMatchingAccuracy] += float64(right) / float64(rows) / div
	}
	addMaskRealShares(vals, b, 1/div)
	if err := t.bindGrads(prog); err != nil {
		return 0, err
	}
	return b.Size(), nil
}

// addMaskRealShares adds w times the batch's shares of removed MAE tokens
// that are real (pretraining batches only).
func addMaskRealShares(vals map[string]float64, b *data.Batch, w float64) {
	share := func(ids []int64, l, keep int, mask []float32) float64 {
		removed, real := config.RemovedShare(ids, l, keep, mask)
		if removed == 0 {
			return 0
		}
		return float64(real) / float64(removed)
	}
	if b.PixelIDsShuffle != nil {
		vals[StatPixelMaskRealShare] += w * share(b.PixelIDsShuffle, b.PixelMaskShape[1], b.PixelLenKeep, b.PixelMask)
	}
	if b.AudioIDsShuffle != nil {
		vals[StatAudioMaskRealShare] += w * share(b.AudioIDsShuffle, b.AudioMaskShape[1], b.AudioLenKeep, b.AudioMask)
	}
}

func (t *Trainer) nonFinite(what string, v float64) error {
	last := "no checkpoint was saved yet"
	if cks, _ := ListCheckpoints(t.opts.Out); len(cks) > 0 {
		last = "the last good checkpoint is " + cks[len(cks)-1].Dir
	}
	return fmt.Errorf("train: step %d: %s is %v; stopping (%s; try a lower --lr): %w", t.state.Step+1, what, v, last, ErrNonFinite)
}

func (t *Trainer) interrupted() (*Summary, error) {
	dir := ""
	if t.lastSaved != t.state.Step || t.state.Step == 0 {
		var err error
		if dir, err = t.save(); err != nil {
			return nil, err
		}
	} else if cks, _ := ListCheckpoints(t.opts.Out); len(cks) > 0 {
		dir = cks[len(cks)-1].Dir
	}
	t.log.printf("interrupted at step %d: saved %s; continue with --resume\n", t.state.Step, dir)
	return t.summary(dir), fmt.Errorf("train: step %d: %w (checkpoint %s)", t.state.Step, ErrInterrupted, dir)
}

// evaluate runs the eval split (if any), logs it and updates the best.
func (t *Trainer) evaluate(ctx context.Context) error {
	if len(t.eval) == 0 {
		return nil
	}
	met, _, err := t.evaluator.run(ctx, t.eval, false)
	if err != nil {
		if ctx.Err() != nil {
			return nil // the loop saves and reports the interruption
		}
		return fmt.Errorf("train: evaluation at step %d: %w", t.state.Step, err)
	}
	t.state.Eval = met
	if err := t.log.eval(t.state.Step, t.state.Epoch, "eval", met); err != nil {
		return err
	}
	v, ok := met[t.opts.BestMetric]
	if !ok || math.IsNaN(v) {
		return nil
	}
	better := t.state.BestValue == nil || (HigherIsBetter(t.opts.BestMetric) && v > *t.state.BestValue) ||
		(!HigherIsBetter(t.opts.BestMetric) && v < *t.state.BestValue)
	if better {
		t.state.BestValue, t.state.BestStep = &v, t.state.Step
		// Every rank of a data-parallel run computed the same metrics, so
		// all of them get here together.
		if t.state.Step < t.state.Total && t.lastSaved != t.state.Step {
			if _, err := t.save(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *Trainer) writeConfig() error {
	cfg, err := t.m.Config.Bytes()
	if err != nil {
		return fmt.Errorf("train: config: %w", err)
	}
	return checkpoints.AtomicWriteFile(filepath.Join(t.opts.Out, ConfigFile), bytesWriter(cfg))
}

// writeFinal puts the final weights next to config.json in the run folder
// (the HF layout from_pretrained reads). The model file is written first
// and config.json after it, both atomically.
func (t *Trainer) writeFinal() error {
	if err := t.writeRunModel(); err != nil {
		return fmt.Errorf("train: final model: %w", err)
	}
	return t.writeConfig()
}

func (t *Trainer) summary(dir string) *Summary {
	s := &Summary{Step: t.state.Step, Total: t.state.Total, Train: t.state.Train, Eval: t.state.Eval,
		BestMetric: t.opts.BestMetric, BestStep: t.state.BestStep, Seconds: t.log.seconds(), Checkpoint: dir, BestValue: math.NaN()}
	if t.state.BestValue != nil {
		s.BestValue = *t.state.BestValue
	}
	return s
}

// window averages training metrics between log lines.
type window struct {
	sums    map[string]float64
	steps   int
	samples int
	start   time.Time
}

func newWindow() *window { return &window{sums: map[string]float64{}, start: time.Now()} }

func (w *window) add(v map[string]float64, samples int) {
	for k, x := range v {
		w.sums[k] += x
	}
	w.steps++
	w.samples += samples
}

func (w *window) flush() map[string]float64 {
	out := map[string]float64{}
	for k, x := range w.sums {
		out[k] = x / float64(w.steps)
	}
	if d := time.Since(w.start).Seconds(); d > 0 {
		out[StatSamplesPerSec] = float64(w.samples) / d
	}
	*w = *newWindow()
	return out
}

// globalBatch is the clips of one micro-batch over every rank.
func (t *Trainer) globalBatch() int { return t.opts.BatchSize * t.rep.size() }

// agree gives every rank of a data-parallel run the same verdict on err
// (one rank's failure stops all); alone, it returns err.
func (t *Trainer) agree(err error) error {
	if t.rep == nil {
		return err
	}
	return t.rep.comm.AgreeOnError(err)
}

// save writes a checkpoint (rank 0 in a data-parallel run; the others
// wait for its verdict) and returns its folder.
func (t *Trainer) save() (string, error) {
	var dir string
	var err error
	if t.rep.primary() {
		dir, err = t.saveCheckpoint()
	}
	if err = t.agree(err); err != nil {
		return "", err
	}
	t.lastSaved = t.state.Step
	return dir, nil
}

// stopRequested reports whether the run was cancelled: on any rank of a
// data-parallel run, so that all of them stop after the same step.
func (t *Trainer) stopRequested(ctx context.Context) (bool, error) {
	stop := ctx.Err() != nil
	if t.rep == nil {
		return stop, nil
	}
	flag := []float64{0}
	if stop {
		flag[0] = 1
	}
	if err := t.rep.comm.AllReduceSum64(flag); err != nil {
		return false, fmt.Errorf("train: %w", err)
	}
	return flag[0] > 0, nil
}

// prepareRunFolder checks (and with Overwrite clears) the run folder and
// lists its checkpoints; in a data-parallel run rank 0 does it and the
// others list what it left.
func (t *Trainer) prepareRunFolder() ([]Checkpoint, error) {
	var cks []Checkpoint
	var err error
	if t.rep.primary() {
		if cks, err = ListCheckpoints(t.opts.Out); err == nil {
			cks, err = t.checkRunFolder(cks)
		}
	}
	if err = t.agree(err); err != nil || t.rep.primary() {
		return cks, err
	}
	return ListCheckpoints(t.opts.Out)
}
