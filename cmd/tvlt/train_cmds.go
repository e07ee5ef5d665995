package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/train"
	"github.com/tvlt-go/tvlt/train/dist"
)

func init() {
	commands["pretrain"] = command{"MAE + audio-video matching pretraining on unlabelled clips", runPretrain}
	commands["finetune"] = command{"fine-tune for classification, regression, multilabel, vqa or retrieval", runFinetune}
}

// trainFlags are the options pretrain and finetune share. The run options
// are bound straight to their train.Options fields, whose defaults come from
// train.DefaultOptions; every flag means what it says (0 is 0).
type trainFlags struct {
	o                    train.Options
	data, config, preset string
	evalSplit            string
	hiddenDrop, attnDrop float64
	plain                bool
	fs                   *flag.FlagSet
}

// optionFlags names the flag of each train.Options field the flags set, so
// that a rejected value is reported by its flag.
var optionFlags = map[string]string{
	"Out": "out", "Steps": "steps", "Epochs": "epochs", "BatchSize": "batch-size", "EvalBatchSize": "batch-size",
	"GradAccum": "grad-accum", "LR": "lr", "MinLR": "min-lr", "Warmup": "warmup", "Schedule": "schedule",
	"WeightDecay": "weight-decay", "ClipNorm": "clip", "LogEvery": "log-every", "EvalEvery": "eval-every",
	"SaveEvery": "save-every", "KeepLast": "keep", "BestMetric": "best-metric", "Workers": "workers",
	"Negatives": "negatives", "LossWeights": "loss-weights", "NegativeRatio": "negative-ratio",
	"Padding": "pad-to", "MaxPrograms": "max-programs", "AudioResampler": "audio-resampler",
}

// padUsage documents --pad-to for every command that batches clips.
const padUsage = "batch shape: longest (each batch padded to its longest clip, as the reference's processors), max (num_frames and spectrogram_length: one shape) or bucket:N (audio rounded up to N time patches)"

// resamplerUsage documents --audio-resampler.
const resamplerUsage = "resampler of audio files at another rate: torchaudio (torchaudio.functional.resample's defaults, as the original TVLT) or kaiser"

// resamplerFlag parses --audio-resampler into an audio.Resampler.
type resamplerFlag struct{ r *audio.Resampler }

func (f resamplerFlag) String() string {
	if f.r == nil {
		return audio.SincHann.String()
	}
	return f.r.String()
}

func (f resamplerFlag) Set(s string) error {
	r, err := audio.ParseResampler(s)
	if err != nil {
		return err
	}
	*f.r = r
	return nil
}

// padFlag parses --pad-to into a data.Padding.
type padFlag struct{ p *data.Padding }

func (f padFlag) String() string {
	if f.p == nil {
		return "longest" // the zero value, so that -help shows the default
	}
	return f.p.String()
}

func (f padFlag) Set(s string) error {
	p, err := data.ParsePadding(s)
	if err != nil {
		return err
	}
	*f.p = p
	return nil
}

// lossWeightsFlag parses --loss-weights pixel=W,audio=W,matching=W into
// the run's layers.LossWeights; terms not named keep their weight.
type lossWeightsFlag struct{ w *layers.LossWeights }

func (f lossWeightsFlag) String() string {
	if f.w == nil {
		return "" // the zero value, so that -help shows the default
	}
	return f.w.String()
}

func (f lossWeightsFlag) Set(s string) error {
	w := *f.w
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%q: want term=weight (pixel, audio, matching)", part)
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return fmt.Errorf("%s: bad weight %q", k, v)
		}
		switch strings.TrimSpace(k) {
		case "pixel":
			w.PixelMAE = x
		case "audio":
			w.AudioMAE = x
		case "matching":
			w.Matching = x
		default:
			return fmt.Errorf("unknown term %q (want pixel, audio, matching)", k)
		}
	}
	*f.w = w
	return nil
}

func (f *trainFlags) register(fs *flag.FlagSet) {
	d := train.DefaultOptions(train.TaskPretrain) // BestMetric aside, the defaults do not depend on the task
	o := &f.o
	*o = d // the fields of command-specific flags keep their defaults when the command has no such flag
	f.fs = fs
	fs.StringVar(&f.data, "data", "", "manifest (JSON Lines) with the clips; its \"split\" field selects train/val")
	fs.StringVar(&o.Out, "out", "", "run folder (created): config.json, model.safetensors, metrics.jsonl, checkpoint-*/")
	fs.StringVar(&f.config, "config", "", "model config.json (HF TvltConfig); overrides --preset")
	fs.StringVar(&f.preset, "preset", "small", "model size: "+strings.Join(train.Presets, ", "))
	fs.Float64Var(&f.hiddenDrop, "hidden-dropout", 0, "hidden_dropout_prob for this run, overriding the config (after the attention and MLP output projections; training only)")
	fs.Float64Var(&f.attnDrop, "attention-dropout", 0, "attention_probs_dropout_prob for this run, overriding the config (training only)")
	fs.IntVar(&o.Steps, "steps", d.Steps, "optimizer steps (0: --epochs × steps per epoch)")
	fs.IntVar(&o.Epochs, "epochs", d.Epochs, "epochs when --steps is 0 (at least 1)")
	fs.IntVar(&o.BatchSize, "batch-size", d.BatchSize, "clips per micro-batch and per evaluation pass (at least 1; retrieval: 2)")
	fs.IntVar(&o.GradAccum, "grad-accum", d.GradAccum, "micro-batches per optimizer step (at least 1)")
	fs.Float64Var(&o.LR, "lr", d.LR, "peak learning rate (> 0)")
	fs.Float64Var(&o.MinLR, "min-lr", d.MinLR, "learning rate at the end of the decay (0 to --lr)")
	fs.IntVar(&o.Warmup, "warmup", d.Warmup, "linear warmup steps")
	fs.StringVar(&o.Schedule, "schedule", d.Schedule, "learning-rate decay: cosine, linear or constant")
	fs.Float64Var(&o.WeightDecay, "weight-decay", d.WeightDecay, "AdamW weight decay, never on biases, norms, embeddings (0: none)")
	fs.Float64Var(&o.ClipNorm, "clip", d.ClipNorm, "global gradient-norm clip (0: off)")
	fs.Uint64Var(&o.Seed, "seed", d.Seed, "seed of model init, data order, masks and negatives")
	fs.IntVar(&o.LogEvery, "log-every", d.LogEvery, "steps between log lines and metrics.jsonl records (0: the last step only)")
	fs.IntVar(&o.EvalEvery, "eval-every", d.EvalEvery, "steps between evaluations on --eval-split (0: at the end only)")
	fs.IntVar(&o.SaveEvery, "save-every", d.SaveEvery, "steps between checkpoints (0: at the end only)")
	fs.IntVar(&o.KeepLast, "keep", d.KeepLast, "newest checkpoints kept besides the best one (at least 1: --resume continues the newest)")
	fs.StringVar(&o.BestMetric, "best-metric", "", "eval metric selecting the best checkpoint (default: loss, accuracy, mae, mean_weighted_accuracy, vqa_score or recall_mean by task)")
	fs.StringVar(&f.evalSplit, "eval-split", "val", "split evaluated during training (\"none\" to skip)")
	fs.BoolVar(&o.Resume, "resume", d.Resume, "continue the newest checkpoint in --out exactly")
	fs.BoolVar(&o.Overwrite, "overwrite", d.Overwrite, "start afresh in an --out holding another run's model, metrics or checkpoints, deleting them (without it or --resume such an --out is refused)")
	fs.StringVar(&o.CacheDir, "cache", d.CacheDir, "folder caching decoded features between epochs")
	fs.IntVar(&o.Workers, "workers", d.Workers, "decoding goroutines (default: one per core)")
	fs.Var(padFlag{&o.Padding}, "pad-to", padUsage)
	fs.Var(resamplerFlag{&o.AudioResampler}, "audio-resampler", resamplerUsage)
	fs.IntVar(&o.MaxPrograms, "max-programs", d.MaxPrograms, "compiled programs kept, one per batch shape; the least recently used is dropped beyond it (at least 1)")
	fs.BoolVar(&o.SkipBad, "skip-bad", d.SkipBad, "drop clips that fail to load (listed at the end and in metrics.jsonl) instead of stopping")
	fs.BoolVar(&f.plain, "plain", false, "plain log lines instead of a progress bar")
}

// options completes the parsed options for task and validates them, so
// that a bad value fails before any data is read, reported by its flag.
func (f *trainFlags) options(task train.Task, stderr io.Writer) (train.Options, error) {
	o := f.o
	o.Task = task
	if !isSet(f.fs, "best-metric") {
		o.BestMetric = train.DefaultMetric(task)
	}
	o.EvalBatchSize = o.BatchSize
	o.Log = stderr
	if f.plain {
		o.Progress = train.ProgressPlain
	}
	if err := o.Validate(); err != nil {
		var oe *train.OptionError
		if errors.As(err, &oe) && optionFlags[oe.Field] != "" {
			return o, usageError(f.fs, "--%s %s: %s", optionFlags[oe.Field], oe.Value, oe.Reason)
		}
		return o, err
	}
	return o, nil
}

// modelConfig is --config if given, else --preset.
func (f *trainFlags) modelConfig() (config.Config, error) {
	if f.config != "" {
		return config.Read(f.config)
	}
	return train.Preset(f.preset)
}

// withDropout applies --hidden-dropout and --attention-dropout to the
// run's model config.
func (f *trainFlags) withDropout(c config.Config) (config.Config, error) {
	if isSet(f.fs, "hidden-dropout") {
		c.HiddenDropoutProb = f.hiddenDrop
	}
	if isSet(f.fs, "attention-dropout") {
		c.AttentionProbsDropoutProb = f.attnDrop
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("--hidden-dropout / --attention-dropout: %w", err)
	}
	return c, nil
}

// splits reads the manifest: the train split (all clips when no clip has a
// split) and the eval split.
func (f *trainFlags) splits() (trainClips, evalClips []data.Clip, err error) {
	clips, err := data.ReadManifest(f.data)
	if err != nil {
		return nil, nil, err
	}
	trainClips = data.FilterSplit(clips, "train")
	if len(trainClips) == 0 {
		trainClips = data.FilterSplit(clips, "")
	}
	if len(trainClips) == 0 {
		return nil, nil, fmt.Errorf("%s: no clips with split \"train\" (or without split)", f.data)
	}
	if f.evalSplit != "none" && f.evalSplit != "" {
		evalClips = data.FilterSplit(clips, f.evalSplit)
	}
	return trainClips, evalClips, nil
}

// report prints the run summary; the final metrics go to stdout as one JSON
// object on the last line.
func report(stdout, stderr io.Writer, out string, s *train.Summary) error {
	fmt.Fprintf(stderr, "finished %d steps in %.1fs; model in %s", s.Step, s.Seconds, out)
	if !math.IsNaN(s.BestValue) {
		fmt.Fprintf(stderr, "; best %s %.4f at step %d", s.BestMetric, s.BestValue, s.BestStep)
	}
	fmt.Fprintln(stderr)
	met := s.Eval
	if met == nil {
		met = s.Train
	}
	return printJSON(stdout, met)
}

// printJSON writes metrics as one JSON line, NaN as null.
func printJSON(w io.Writer, v map[string]float64) error {
	m := map[string]interface{}{}
	for k, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			m[k] = nil
		} else {
			m[k] = x
		}
	}
	return printLine(w, m)
}

// printLine writes v as one JSON line.
func printLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func runPretrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f trainFlags
	var tasks string
	var vizEvery int
	fs := newFlags("pretrain", "--data MANIFEST --out DIR [flags]", `
Pretrains a TvltForPreTraining model with masked autoencoding of video
patches and spectrogram patches (MAE) and audio-video matching (true pairs
vs a clip's audio with another clip's video). Clips need no labels.
Checkpoints hold weights, AdamW moments and the loader position, so
--resume continues bit for bit. Ctrl-C saves a checkpoint and exits (130).`, `
  tvlt pretrain --data clips.jsonl --out runs/pre --preset small --steps 2000 --batch-size 16 --lr 5e-4 --warmup 200
  tvlt pretrain --data clips.jsonl --out runs/pre --tasks mae --save-every 500
  tvlt pretrain --data clips.jsonl --out runs/pre --loss-weights pixel=1,audio=1,matching=0.5 --negative-ratio 0.3
  tvlt pretrain --data clips.jsonl --out runs/pre --resume`, stderr)
	f.register(fs)
	fs.StringVar(&tasks, "tasks", "mae,matching", "pretraining objectives: mae, matching or both")
	fs.IntVar(&vizEvery, "viz-every", 0, "steps between MAE reconstruction pictures of a fixed eval clip in OUT/viz/step-N.png (0: none)")
	fs.Var(lossWeightsFlag{&f.o.LossWeights}, "loss-weights", "weights of the loss terms in the total loss, pixel=W,audio=W,matching=W (unnamed terms keep 1; logged per-task losses are unweighted)")
	fs.Float64Var(&f.o.NegativeRatio, "negative-ratio", f.o.NegativeRatio, "share of matching pairs whose video comes from another clip, 0 to 1 (0: true pairs only; evaluation keeps 0.5)")
	fs.BoolVar(&f.o.MaskRealOnly, "mask-real-only", false, "MAE masks each clip's real tokens as the reference would mask the clip alone, padding aside; not the reference's masking, whose keep count counts padding")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data", "out"); err != nil {
		return err
	}
	o, err := f.options(train.TaskPretrain, stderr)
	if err != nil {
		return err
	}
	cfg, err := f.modelConfig()
	if err != nil {
		return err
	}
	cfg.TaskMAE, cfg.TaskMatching = false, false
	for _, t := range strings.Split(tasks, ",") {
		switch strings.TrimSpace(t) {
		case "mae":
			cfg.TaskMAE = true
		case "matching":
			cfg.TaskMatching = true
		default:
			return fmt.Errorf("--tasks: unknown task %q (want mae, matching)", t)
		}
	}
	if cfg, err = f.withDropout(cfg); err != nil {
		return err
	}
	trainClips, evalClips, err := f.splits()
	if err != nil {
		return err
	}
	m, err := train.NewModel(layers.Pretraining, cfg, o.Seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "pretraining %s (%d parameters) on %d clips (%d for eval)\n", m.Kind, m.Params.NumParams(), len(trainClips), len(evalClips))
	if vizEvery > 0 {
		hook, done, err := newVizHook(m, evalClips, trainClips, o.Out, vizEvery, o.Seed, o.Padding, o.CacheDir, stderr)
		if err != nil {
			return err
		}
		defer done()
		o.OnStep = hook
	}
	return trainAndReport(ctx, m, trainClips, evalClips, o, stdout, stderr)
}

// trainAndReport runs the training job and prints its summary (report).
func trainAndReport(ctx context.Context, m *layers.Model, trainClips, evalClips []data.Clip, o train.Options, stdout, stderr io.Writer) error {
	// Under mpirun (a -tags mpi build) every process is one rank of a
	// data-parallel run; alone, Init is a no-op communicator.
	comm, err := dist.Init()
	if err != nil {
		return err
	}
	defer comm.Close()
	if comm.Size() > 1 {
		o.Comm = comm
		if comm.Rank() == 0 {
			fmt.Fprintf(stderr, "data-parallel over %d ranks: global batch %d (--batch-size %d per rank)\n", comm.Size(), comm.Size()*o.BatchSize, o.BatchSize)
		} else {
			// Rank 0 reports; the others only return their errors.
			stdout, stderr, o.OnStep = io.Discard, io.Discard, nil
		}
	}
	tr, err := train.New(m, trainClips, evalClips, o)
	if err != nil {
		return err
	}
	s, err := tr.Run(ctx)
	if err != nil {
		return err
	}
	return report(stdout, stderr, o.Out, s)
}

func runFinetune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f trainFlags
	var task, init, answers string
	var numLabels int
	var freeze bool
	fs := newFlags("finetune", "--data MANIFEST --out DIR --task classification|regression|multilabel|vqa|retrieval [flags]", `
Fine-tunes a model on labelled clips:
  classification  TvltForAudioVisualClassification, cross-entropy on integer labels;
                  eval: accuracy, macro_f1
  regression      the same head with MSE on score labels (num_labels scores per clip);
                  eval: mae, pearson, binary_accuracy (sign, MOSEI Acc-2)
  multilabel      the same head with BCE-with-logits on lists of num_labels 0/1 (or
                  [0, 1]) labels, e.g. MOSEI emotions; eval: weighted_accuracy/<i>
                  and f1/<i> per label, mean_weighted_accuracy, mean_f1
  vqa             the same head as answer classifier: labels are [answer id, score]
                  pairs ([[3, 1.0], [7, 0.3]]), BCE-with-logits over the answers
                  × num_answers (ViLT/TVLT's VQA loss); --answers FILE names the
                  vocabulary (one answer per line, stored as id2label); eval: vqa_score
  retrieval       the matching head of TvltForPreTraining on in-batch negatives
                  (each clip's audio with the videos of --negatives K distinct shifts
                  of the same batch: B·(1+K) pairs per micro-batch);
                  eval: a2v/v2a Recall@1/5/10 over the whole split
--init takes a pretraining (or any) run or checkpoint folder: the encoder is
loaded, heads it lacks start fresh. Without --init the model starts from
--config/--preset.`, `
  tvlt finetune --data labelled.jsonl --out runs/cls --task classification --init runs/pre --num-labels 4 --epochs 5
  tvlt finetune --data mosei.jsonl --out runs/reg --task regression --init runs/pre --lr 5e-5 --best-metric pearson
  tvlt finetune --data emotions.jsonl --out runs/emo --task multilabel --init runs/pre --num-labels 6
  tvlt finetune --data vqa.jsonl --out runs/vqa --task vqa --init runs/pre --answers answers.txt
  tvlt finetune --data pairs.jsonl --out runs/ret --task retrieval --init runs/pre --batch-size 16`, stderr)
	f.register(fs)
	fs.StringVar(&task, "task", "", "classification, regression, multilabel, vqa or retrieval")
	fs.StringVar(&init, "init", "", "run or checkpoint folder to start from")
	fs.IntVar(&numLabels, "num-labels", 0, "classes (classification), scores per clip (regression) or labels per clip (multilabel); default: from the labels")
	fs.BoolVar(&freeze, "freeze-encoder", false, "train only the head")
	fs.IntVar(&f.o.Negatives, "negatives", f.o.Negatives, "retrieval: in-batch negatives per clip (1 to --batch-size - 1), each clip's audio with the videos of that many distinct shifts of the batch")
	fs.StringVar(&answers, "answers", "", "vqa: answer vocabulary, one answer per line (num_labels = its line count; answer ids index it)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data", "out", "task"); err != nil {
		return err
	}
	t, err := train.ParseTask(task)
	if err != nil || t == train.TaskPretrain {
		return fmt.Errorf("--task %q: want classification, regression, multilabel, vqa or retrieval", task)
	}
	o, err := f.options(t, stderr)
	if err != nil {
		return err
	}
	o.FreezeEncoder = freeze
	trainClips, evalClips, err := f.splits()
	if err != nil {
		return err
	}
	var cfg config.Config
	if init != "" && f.config == "" {
		dir, err := train.ResolveModelDir(init)
		if err != nil {
			return err
		}
		if cfg, err = config.Read(dir + "/" + train.ConfigFile); err != nil {
			return err
		}
	} else if cfg, err = f.modelConfig(); err != nil {
		return err
	}
	switch t {
	case train.TaskClassification:
		if err := checkClassLabels(trainClips, evalClips); err != nil {
			return err
		}
		cfg.LossType = "classification"
		if numLabels == 0 {
			numLabels = inferClasses(trainClips)
		}
	case train.TaskRegression:
		cfg.LossType = "regression"
		if numLabels == 0 {
			numLabels = 1
			if l := trainClips[0].Label; l.Kind == data.LabelMulti {
				numLabels = len(l.Multi)
			}
		}
	case train.TaskMultilabel:
		cfg.LossType = config.LossMultilabel
		if numLabels == 0 {
			if l := trainClips[0].Label; l.Kind == data.LabelMulti {
				numLabels = len(l.Multi)
			} else {
				return fmt.Errorf("--task multilabel: the labels are %s, want lists of 0/1 (or [0, 1]) values, one per label", l.Kind)
			}
		}
	case train.TaskVQA:
		cfg.LossType = config.LossVQA
		if l := trainClips[0].Label; l.Kind != data.LabelAnswers {
			return fmt.Errorf("--task vqa: the labels are %s, want lists of [answer id, score] pairs", l.Kind)
		}
		if answers == "" && numLabels == 0 {
			numLabels = inferAnswers(trainClips, evalClips)
		}
	case train.TaskRetrieval:
		cfg.TaskMAE, cfg.TaskMatching = false, true
	}
	var vocab map[int]string
	if answers != "" {
		if t != train.TaskVQA {
			return fmt.Errorf("--answers is for --task vqa")
		}
		if vocab, err = readAnswers(answers); err != nil {
			return err
		}
		if numLabels != 0 && numLabels != len(vocab) {
			return fmt.Errorf("--num-labels %d but --answers %s has %d answers", numLabels, answers, len(vocab))
		}
		numLabels = len(vocab)
	}
	if numLabels > 0 {
		if numLabels != cfg.NumLabels {
			cfg.ID2Label = nil
		}
		cfg.NumLabels = numLabels
	}
	if vocab != nil {
		cfg.ID2Label = vocab
	}
	if cfg, err = f.withDropout(cfg); err != nil {
		return err
	}
	m, err := train.NewModel(t.Kind(), cfg, o.Seed)
	if err != nil {
		return err
	}
	if init != "" {
		rep, err := train.InitFrom(m, init)
		if err != nil {
			return err
		}
		fmt.Fprintln(stderr, rep.String())
	}
	fmt.Fprintf(stderr, "fine-tuning %s for %s (%d parameters) on %d clips (%d for eval)\n", m.Kind, t, m.Params.NumParams(), len(trainClips), len(evalClips))
	return trainAndReport(ctx, m, trainClips, evalClips, o, stdout, stderr)
}

// inferAnswers is 1 + the largest answer id of the clips' labels.
func inferAnswers(clips ...[]data.Clip) int {
	n := 0
	for _, cs := range clips {
		for _, c := range cs {
			for _, a := range c.Label.Answers {
				n = max(n, a.ID+1)
			}
		}
	}
	return max(n, 1)
}

// readAnswers reads an answer vocabulary: one answer per line, line i
// (from 0) naming answer id i. Blank and repeated answers are errors
// naming the line; a final newline is optional.
func readAnswers(path string) (map[int]string, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--answers: %w", err)
	}
	text := strings.TrimSuffix(strings.ReplaceAll(string(buf), "\r\n", "\n"), "\n")
	if text == "" {
		return nil, fmt.Errorf("--answers %s: no answers", path)
	}
	vocab := map[int]string{}
	seen := map[string]int{}
	for i, a := range strings.Split(text, "\n") {
		if strings.TrimSpace(a) == "" {
			return nil, fmt.Errorf("--answers %s:%d: blank answer", path, i+1)
		}
		if j, dup := seen[a]; dup {
			return nil, fmt.Errorf("--answers %s:%d: answer %q repeats line %d", path, i+1, a, j+1)
		}
		seen[a], vocab[i] = i, a
	}
	return vocab, nil
}

// inferClasses is 1 + the largest class label.
func inferClasses(clips []data.Clip) int {
	n := 0
	for _, c := range clips {
		if c.Label.Kind == data.LabelClass && c.Label.Class+1 > n {
			n = c.Label.Class + 1
		}
	}
	return max(n, 2)
}

// checkClassLabels rejects score labels for classification, naming the
// clip and its manifest line. One non-integer label makes every label of
// a manifest a score (data.ReadManifest), so the clip to blame is the
// first whose score is not a whole number, not the first of a batch.
func checkClassLabels(clips ...[]data.Clip) error {
	var first *data.Clip
	for _, cs := range clips {
		for i := range cs {
			c := &cs[i]
			if c.Label.Kind != data.LabelScore {
				continue
			}
			if c.Label.Score != math.Trunc(c.Label.Score) {
				return classLabelError(c)
			}
			if first == nil {
				first = c
			}
		}
	}
	if first != nil {
		return classLabelError(first)
	}
	return nil
}

func classLabelError(c *data.Clip) error {
	where := fmt.Sprintf("clip %q", c.ID)
	if c.Source != "" && c.Line > 0 {
		where = fmt.Sprintf("%s:%d: clip %q", c.Source, c.Line, c.ID)
	}
	return fmt.Errorf("%s: label %v is not an integer class; --task classification needs integer labels 0, 1, ... (a manifest with any non-integer label is read as scores: use --task regression for those)", where, c.Label.Score)
}
