package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/train/dist"
)

// EvalOptions configure Evaluate and Predict.
type EvalOptions struct {
	Task      Task   // "" = TaskOf(model)
	BatchSize int    // clips (or retrieval pairs) per forward pass (8)
	Seed      uint64 // matching negatives and MAE masks of pretraining evaluation
	Workers   int
	CacheDir  string
	// SkipBad drops clips that fail to load instead of failing the
	// evaluation; the metrics then carry skipped_clips and Log the list.
	SkipBad bool
	// LossWeights weight a pretraining model's total loss as in training
	// (Options.LossWeights); nil = 1 each. The per-task losses are unweighted.
	LossWeights *layers.LossWeights
	// Padding and MaskRealOnly shape the batches as in training
	// (Options.Padding, Options.MaskRealOnly).
	Padding        data.Padding
	MaskRealOnly   bool
	AudioResampler audio.Resampler
	// MaxPrograms bounds the compiled programs kept (0: 4).
	MaxPrograms int
	// Log receives progress (a bar per pass on a terminal, a line every
	// 10 s otherwise, as Options.Progress); nil = none.
	Log      io.Writer
	Progress Progress
}

// Model outputs the trainer and the evaluator read besides the losses.
const (
	outLogits         = "logits"          // classification / regression head, (B, num_labels)
	outMatchingLogits = "matching_logits" // matching head, (B, 1)
)

// data.LoaderOptions.NegativeRatio of pretraining batches: the share of
// clips whose audio is paired with another clip's video when the model has
// the matching head, and none otherwise (explicit: the loader's 0 means its
// own default).
const (
	matchingNegatives = 0.5
	noNegatives       = -1.0
)

// defaultMaxPrograms is how many compiled programs a run keeps when its
// options name no bound.
const defaultMaxPrograms = 4

// programs caches one compiled graph per input signature (batch shape),
// at most max of them: beyond that the least recently used is closed, so
// padding to each batch's longest clip cannot grow memory without bound.
type programs struct {
	m       *layers.Model
	train   bool
	weights *layers.LossWeights // pretraining loss weights; nil = 1 each
	// lossScales compiles runtime loss factors (data-parallel ranks).
	lossScales bool
	max        int
	byKey      map[string]*layers.Program
	lastUse    map[string]int64
	clock      int64
	compiled   int // programs compiled so far (recompiles after eviction count again)
}

func newPrograms(m *layers.Model, train bool, max int) *programs {
	if max < 1 {
		max = defaultMaxPrograms
	}
	return &programs{m: m, train: train, max: max, byKey: map[string]*layers.Program{}, lastUse: map[string]int64{}}
}

func (p *programs) run(b *layers.Batch) (*layers.Program, *layers.Result, error) {
	sig, err := p.m.Signature(b)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	prog, ok := p.byKey[sig]
	if !ok {
		if len(p.byKey) >= p.max {
			p.evict()
		}
		prog, err = p.m.Compile(b, layers.Options{Train: p.train, LossWeights: p.weights, LossScales: p.lossScales})
		if err != nil {
			return nil, nil, fmt.Errorf("train: compiling %s: %w", sig, err)
		}
		p.byKey[sig] = prog
	}
	p.clock++
	p.lastUse[sig] = p.clock
	res, err := prog.Run(b)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return prog, res, nil
}

// evict closes the least recently used program.
func (p *programs) evict() {
	oldest, at := "", int64(0)
	for sig, t := range p.lastUse {
		if oldest == "" || t < at {
			oldest, at = sig, t
		}
	}
	if prog, ok := p.byKey[oldest]; ok {
		prog.Close()
	}
	delete(p.byKey, oldest)
	delete(p.lastUse, oldest)
}

func (p *programs) close() {
	for _, prog := range p.byKey {
		prog.Close()
	}
	p.byKey, p.lastUse = map[string]*layers.Program{}, map[string]int64{}
}

// Prediction is one clip's model output.
type Prediction struct {
	ID     string    `json:"id"`
	Logits []float64 `json:"logits,omitempty"` // classification / regression outputs
	Score  *float64  `json:"score,omitempty"`  // regression (one target) or matching logit of the clip's own pair
	Label  any       `json:"label"`            // predicted class, sign class (regression), 0/1 per label (multilabel), answer (vqa) or match (bool)
	Target any       `json:"target,omitempty"` // the manifest label, when present
	// Retrieved is, for retrieval, the clip whose video scores highest with
	// this clip's audio.
	Retrieved string `json:"retrieved,omitempty"`
	// Meta carries the clip's extra manifest keys (data.Clip.Meta) through.
	Meta map[string]json.RawMessage `json:"meta,omitempty"`
}

// evaluator holds the inference programs across evaluations of a run.
type evaluator struct {
	m       *layers.Model
	opts    EvalOptions
	progs   *programs
	loaders []*data.Loader // of the passes run, for SkipBad's summary
	// onStatus, when set, receives the progress instead of opts.Log (an
	// evaluation inside a training run, shown in the run's bar).
	onStatus func(string)
	// unlabeled: Predict on clips without any label, which gets
	// predictions and no metrics.
	unlabeled bool
	// comm splits the forward passes over the ranks of a data-parallel
	// run (batch k on rank k mod size) and shares their outputs, so every
	// rank computes the same metrics; nil = this process runs them all.
	comm dist.Comm
}

func (e *evaluator) rank() int {
	if e.comm == nil {
		return 0
	}
	return e.comm.Rank()
}

func (e *evaluator) size() int {
	if e.comm == nil {
		return 1
	}
	return e.comm.Size()
}

// phase starts the progress report of one pass of total units.
func (e *evaluator) phase(label, unit string, total int) *phase {
	return newPhase(e.opts.Log, e.opts.Progress, e.onStatus, label, unit, total)
}

func newEvaluator(m *layers.Model, opts EvalOptions) *evaluator {
	if opts.Task == "" {
		opts.Task = TaskOf(m)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 8
	}
	progs := newPrograms(m, false, opts.MaxPrograms)
	progs.weights = opts.LossWeights
	return &evaluator{m: m, opts: opts, progs: progs}
}

// Evaluate computes the task's metrics over clips:
//   - classification: loss, accuracy, macro_f1;
//   - regression: loss, mae, pearson, binary_accuracy (sign, zero labels left
//     out), binary_accuracy_with_zero;
//   - pretrain: loss and the enabled task losses (pixel_mae_loss,
//     audio_mae_loss, matching_loss) and matching_accuracy (logit > 0 vs the
//     pair label), with negatives and masks drawn from Seed;
//   - retrieval: a2v_r1/r5/r10 and v2a_r1/r5/r10 over the whole split (every
//     audio against every video, scored by the matching logit), their mean
//     recall_mean, and pair_accuracy (balanced over true and false pairs);
//   - multilabel: loss, weighted_accuracy/<i> and f1/<i> for every label i
//     (logit > 0 against label > 0) and their means mean_weighted_accuracy
//     and mean_f1;
//   - vqa: loss and vqa_score (the target score of each clip's argmax
//     answer, averaged).
func Evaluate(ctx context.Context, m *layers.Model, clips []data.Clip, opts EvalOptions) (map[string]float64, error) {
	e := newEvaluator(m, opts)
	defer e.progs.close()
	met, _, err := e.run(ctx, clips, false)
	e.noteSkipped(met)
	return met, err
}

// Predict writes one JSON line per clip (id, logits or score, predicted
// label, and the manifest label as target when present) and returns the
// metrics of the same pass (none when a classifier predicts clips without
// any label).
func Predict(ctx context.Context, m *layers.Model, clips []data.Clip, opts EvalOptions, w io.Writer) (map[string]float64, error) {
	e := newEvaluator(m, opts)
	defer e.progs.close()
	e.unlabeled = m.Kind == layers.Classification
	for _, c := range clips {
		e.unlabeled = e.unlabeled && c.Label.Kind == data.LabelNone
	}
	met, preds, err := e.run(ctx, clips, true)
	if err != nil {
		return nil, err
	}
	e.noteSkipped(met)
	meta := make(map[string]map[string]json.RawMessage, len(clips))
	for _, c := range clips {
		if c.Meta != nil {
			meta[c.ID] = c.Meta
		}
	}
	enc := json.NewEncoder(w)
	for _, p := range preds {
		p.Meta = meta[p.ID]
		if err := enc.Encode(p); err != nil {
			return nil, fmt.Errorf("train: writing predictions: %w", err)
		}
	}
	return met, nil
}

func (e *evaluator) loader(clips []data.Clip, pretraining bool) (*data.Loader, error) {
	neg := noNegatives
	if pretraining && e.m.Config.TaskMatching && len(clips) > 1 {
		neg = matchingNegatives
	}
	l, err := data.NewLoader(clips, e.m.Config, data.LoaderOptions{
		BatchSize: e.opts.BatchSize, Seed: int64(e.opts.Seed), Workers: e.opts.Workers,
		Pretraining: pretraining, NegativeRatio: neg, Padding: e.opts.Padding, MaskRealOnly: e.opts.MaskRealOnly, AudioResampler: e.opts.AudioResampler, CacheDir: e.opts.CacheDir,
		SkipBad: e.opts.SkipBad,
	})
	if err != nil {
		return nil, fmt.Errorf("train: eval: %w", err)
	}
	e.loaders = append(e.loaders, l)
	return l, nil
}

// skipped lists the clips the evaluation's passes dropped (SkipBad).
func (e *evaluator) skipped() []SkippedClip {
	seen := map[string]bool{}
	var out []SkippedClip
	for _, l := range e.loaders {
		for _, s := range skippedClips(l.Skipped()) {
			if key := s.ID + "\x00" + s.File; !seen[key] {
				seen[key] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// noteSkipped adds skipped_clips to the metrics and lists the clips on Log.
func (e *evaluator) noteSkipped(met map[string]float64) {
	if !e.opts.SkipBad || met == nil {
		return
	}
	skips := e.skipped()
	met[MetricSkippedClips] = float64(len(skips))
	if e.opts.Log != nil {
		reportSkipped(e.opts.Log, "evaluation", skips)
	}
}

// batches iterates an epoch-0 pass over a loader, counting its batches in p.
func batches(ctx context.Context, l *data.Loader, p *phase, fn func(*data.Batch) error) error {
	it := l.Epoch(0)
	defer it.Close()
	defer p.finish()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("train: eval: %w", err)
		}
		if err := fn(b); err != nil {
			return err
		}
		p.add(1)
	}
}

func (e *evaluator) run(ctx context.Context, clips []data.Clip, keep bool) (map[string]float64, []Prediction, error) {
	if len(clips) == 0 {
		return nil, nil, fmt.Errorf("train: eval: no clips")
	}
	if e.comm != nil {
		// The ranks of a data-parallel run walk every batch together,
		// whatever their own contexts say; the training loop agrees on
		// stopping after the evaluation.
		ctx = context.Background()
	}
	switch e.opts.Task {
	case TaskClassification, TaskRegression:
		if e.m.Kind != layers.Classification {
			return nil, nil, fmt.Errorf("train: eval: task %s needs a classification model, the checkpoint is %s", e.opts.Task, e.m.Kind)
		}
		return e.supervised(ctx, clips, keep)
	case TaskMultilabel, TaskVQA:
		if e.m.Kind != layers.Classification || e.m.Config.LossType != e.opts.Task.LossType() {
			return nil, nil, fmt.Errorf("train: eval: task %s needs a classification model with loss_type %q, the checkpoint is a %s with %q", e.opts.Task, e.opts.Task.LossType(), e.m.Kind, e.m.Config.LossType)
		}
		return e.soft(ctx, clips, keep)
	case TaskPretrain:
		if e.m.Kind != layers.Pretraining {
			return nil, nil, fmt.Errorf("train: eval: task pretrain needs a TvltForPreTraining checkpoint, got %s", e.m.Kind)
		}
		return e.pretrain(ctx, clips, keep)
	case TaskRetrieval:
		if e.m.Kind != layers.Pretraining || !e.m.Config.TaskMatching {
			return nil, nil, fmt.Errorf("train: eval: retrieval needs a TvltForPreTraining checkpoint with the matching head, got %s", e.m.Kind)
		}
		return e.retrieval(ctx, clips, keep)
	}
	return nil, nil, fmt.Errorf("train: eval: unknown task %q", e.opts.Task)
}

func labelOf(l data.Label) any {
	switch l.Kind {
	case data.LabelClass:
		return l.Class
	case data.LabelScore:
		return l.Score
	case data.LabelMulti:
		return l.Multi
	case data.LabelAnswers:
		pairs := make([][2]float64, len(l.Answers))
		for i, a := range l.Answers {
			pairs[i] = [2]float64{float64(a.ID), a.Score}
		}
		return pairs
	}
	return nil
}

// forEach runs every batch of clips (an epoch-0 pass of the eval loader)
// through the inference program and hands fn the batch and the outputs.
func (e *evaluator) forEach(ctx context.Context, clips []data.Clip, pretraining bool, fn func(*data.Batch, *layers.Result) error) error {
	l, err := e.loader(clips, pretraining)
	if err != nil {
		return err
	}
	p := e.phase(fmt.Sprintf("eval %s (%d clips)", e.opts.Task, len(clips)), "batch", l.Len())
	k := -1
	return batches(ctx, l, p, func(b *data.Batch) error {
		k++
		var res *layers.Result
		var err error
		if owner := k % e.size(); owner == e.rank() {
			var lb *layers.Batch
			if lb, err = modelBatch(b, e.m, !e.unlabeled); err == nil {
				_, res, err = e.progs.run(lb)
			}
		}
		if e.comm != nil {
			res, err = shareResult(e.comm, k%e.size(), res, err)
		}
		if err != nil {
			return err
		}
		return fn(b, res)
	})
}

// addLosses adds loss·mul/div to sums for each of LossKeys that res holds.
func addLosses(sums map[string]float64, res *layers.Result, mul, div float64) {
	for _, k := range LossKeys {
		if _, ok := res.Outputs[k]; ok {
			sums[k] += res.Scalar(k) * mul / div
		}
	}
}

// matched says whether a matching logit agrees with its pair label (1 =
// the audio and video belong together).
func matched(logit float64, label float32) bool { return (logit > 0) == (label == 1) }

func (e *evaluator) supervised(ctx context.Context, clips []data.Clip, keep bool) (map[string]float64, []Prediction, error) {
	c := e.m.Config
	reg := c.LossType == "regression"
	var lossSum float64
	var n int
	var predC, labC []int
	var predR, labR []float64
	var preds []Prediction
	err := e.forEach(ctx, clips, false, func(b *data.Batch, res *layers.Result) error {
		B := b.Size()
		lossSum += res.Scalar(MetricLoss) * float64(B)
		n += B
		logits := res.Outputs[outLogits].Data().([]float64)
		k := c.NumLabels
		for i := 0; i < B; i++ {
			row := append([]float64(nil), logits[i*k:(i+1)*k]...)
			p := Prediction{ID: b.IDs[i], Logits: row, Target: labelOf(b.Labels[i])}
			if reg {
				for j, v := range row {
					predR = append(predR, v)
					if e.unlabeled {
						continue
					}
					if b.Labels[i].Kind == data.LabelScore {
						labR = append(labR, b.Labels[i].Score)
					} else {
						labR = append(labR, b.Labels[i].Multi[j])
					}
				}
				s := row[0]
				p.Score, p.Logits = &s, nil
				if k > 1 {
					p.Score, p.Logits = nil, row
				}
				p.Label = b0(row[0] > 0)
			} else {
				predC = append(predC, argmax(row))
				if !e.unlabeled {
					labC = append(labC, b.Labels[i].Class)
				}
				p.Label = argmax(row)
			}
			if keep {
				preds = append(preds, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if e.unlabeled {
		return map[string]float64{}, preds, nil
	}
	met := map[string]float64{MetricLoss: lossSum / float64(n)}
	if reg {
		met[MetricMAE], _ = MeanAbsError(predR, labR)
		met[MetricPearson], _ = Pearson(predR, labR)
		met[MetricBinaryAccuracy], met[MetricBinaryAccuracyWithZero], _ = BinaryAccuracyBySign(predR, labR)
	} else {
		met[MetricAccuracy], _ = Accuracy(predC, labC)
		met[MetricMacroF1], _ = MacroF1(predC, labC)
	}
	return met, preds, nil
}

func b0(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (e *evaluator) pretrain(ctx context.Context, clips []data.Clip, keep bool) (map[string]float64, []Prediction, error) {
	sums := map[string]float64{}
	var n, right, pairs int
	var preds []Prediction
	err := e.forEach(ctx, clips, true, func(b *data.Batch, res *layers.Result) error {
		B := b.Size()
		n += B
		addLosses(sums, res, float64(B), 1)
		if t, ok := res.Outputs[outMatchingLogits]; ok {
			logits := t.Data().([]float64)
			for i := 0; i < B; i++ {
				match := logits[i] > 0
				if matched(logits[i], b.MatchingLabels[i]) {
					right++
				}
				pairs++
				if keep {
					s := logits[i]
					preds = append(preds, Prediction{ID: b.IDs[i], Score: &s, Label: match, Target: b.MatchingLabels[i] == 1})
				}
			}
		} else if keep {
			for i := 0; i < B; i++ {
				preds = append(preds, Prediction{ID: b.IDs[i]})
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	met := map[string]float64{}
	for k, v := range sums {
		met[k] = v / float64(n)
	}
	if pairs > 0 {
		met[MetricMatchingAccuracy] = float64(right) / float64(pairs)
	}
	return met, preds, nil
}

// clipFeatures is one clip's decoded inputs, kept for pair scoring.
type clipFeatures struct {
	id                 string
	pix, pmask, au, am []float32
	label              data.Label
}

// retrieval scores every (audio i, video j) pair of the split with the
// matching head: N² forward passes in batches (padded to one shape), which
// is what the metric needs; it is meant for evaluation splits of hundreds
// of clips, not tens of thousands.
func (e *evaluator) retrieval(ctx context.Context, clips []data.Clip, keep bool) (map[string]float64, []Prediction, error) {
	l, err := e.loader(clips, false)
	if err != nil {
		return nil, nil, err
	}
	var feats []clipFeatures
	var ps [5]int
	var pms, as, ams int
	err = batches(ctx, l, e.phase(fmt.Sprintf("eval retrieval: decoding %d clips", len(clips)), "batch", l.Len()), func(b *data.Batch) error {
		ps = b.PixelShape
		vid := ps[1] * ps[2] * ps[3] * ps[4]
		pms = b.PixelMaskShape[1]
		as = b.AudioShape[1] * b.AudioShape[2] * b.AudioShape[3]
		ams = b.AudioMaskShape[1]
		for i := 0; i < b.Size(); i++ {
			feats = append(feats, clipFeatures{
				id: b.IDs[i], label: b.Labels[i],
				pix:   b.PixelValues[i*vid : (i+1)*vid],
				pmask: b.PixelMask[i*pms : (i+1)*pms],
				au:    b.AudioValues[i*as : (i+1)*as],
				am:    b.AudioMask[i*ams : (i+1)*ams],
			})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	N := len(feats)
	score := make([][]float64, N)
	for i := range score {
		score[i] = make([]float64, N)
	}
	B := e.opts.BatchSize
	vid := ps[1] * ps[2] * ps[3] * ps[4]
	total := N * N
	p := e.phase(fmt.Sprintf("eval retrieval: scoring %d pairs", total), "batch", (total+B-1)/B)
	defer p.finish()
	for start := 0; start < total; start += B {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		pix := make([]float32, B*vid)
		pmask := make([]float32, B*pms)
		au := make([]float32, B*as)
		am := make([]float32, B*ams)
		labels := make([]float32, B)
		for r := 0; r < B; r++ {
			k := min(start+r, total-1) // pad the last batch with the last pair
			a, v := feats[k/N], feats[k%N]
			copy(pix[r*vid:], v.pix)
			copy(pmask[r*pms:], v.pmask)
			copy(au[r*as:], a.au)
			copy(am[r*ams:], a.am)
			labels[r] = float32(b0(k/N == k%N))
		}
		lb := matchingBatch(pix, pmask, au, am, labels,
			[]int{B, ps[1], ps[2], ps[3], ps[4]}, []int{B, pms}, []int{B, 1, as / e.m.Config.FrequencyLength, e.m.Config.FrequencyLength}, []int{B, ams})
		_, res, err := e.progs.run(lb)
		if err != nil {
			return nil, nil, err
		}
		logits := res.Outputs[outMatchingLogits].Data().([]float64)
		for r := 0; r < B && start+r < total; r++ {
			k := start + r
			score[k/N][k%N] = logits[r]
		}
		p.add(1)
	}
	a2v, err := RecallAtK(score, recallKs)
	if err != nil {
		return nil, nil, err
	}
	v2a, _ := RecallAtK(transpose(score), recallKs)
	met := map[string]float64{}
	mean := 0.0
	for _, k := range recallKs {
		met[recallMetric(metricAudioToVideo, k)] = a2v[k]
		met[recallMetric(metricVideoToAudio, k)] = v2a[k]
		mean += a2v[k] + v2a[k]
	}
	met[MetricRecallMean] = mean / float64(2*len(recallKs))
	var pos, neg, npos, nneg float64
	for i := range score {
		for j, s := range score[i] {
			if i == j {
				npos++
				if s > 0 {
					pos++
				}
			} else {
				nneg++
				if s <= 0 {
					neg++
				}
			}
		}
	}
	met[MetricPairAccuracy] = 0.5 * pos / npos
	if nneg > 0 {
		met[MetricPairAccuracy] += 0.5 * neg / nneg
	} else {
		met[MetricPairAccuracy] *= 2
	}
	var preds []Prediction
	if keep {
		for i, f := range feats {
			s := score[i][i]
			best := argmax(score[i])
			preds = append(preds, Prediction{ID: f.id, Score: &s, Label: s > 0, Target: labelOf(f.label), Retrieved: feats[best].id})
		}
	}
	for k, v := range met {
		if math.IsNaN(v) {
			delete(met, k)
		}
	}
	return met, preds, nil
}
