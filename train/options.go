package train

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/train/dist"
)

// Task is what a run trains or evaluates.
type Task string

// Tasks. Retrieval fine-tunes the matching head of a TvltForPreTraining
// model (MAE off) on in-batch negatives and ranks by its logit. Multilabel
// (num_labels independent yes/no labels, BCE-with-logits) and VQA (answer
// classification on soft answer scores) train the classification head with
// the config's loss_type "multilabel" / "vqa" (tvlt-go extensions).
const (
	TaskPretrain       Task = "pretrain"
	TaskClassification Task = "classification"
	TaskRegression     Task = "regression"
	TaskRetrieval      Task = "retrieval"
	TaskMultilabel     Task = "multilabel"
	TaskVQA            Task = "vqa"
)

// ParseTask validates a task name.
func ParseTask(s string) (Task, error) {
	switch t := Task(s); t {
	case TaskPretrain, TaskClassification, TaskRegression, TaskRetrieval, TaskMultilabel, TaskVQA:
		return t, nil
	}
	return "", fmt.Errorf("train: unknown task %q (want pretrain, classification, regression, retrieval, multilabel or vqa)", s)
}

// Kind is the model class a task trains.
func (t Task) Kind() layers.Kind {
	switch t {
	case TaskClassification, TaskRegression, TaskMultilabel, TaskVQA:
		return layers.Classification
	}
	return layers.Pretraining
}

// LossType is the classification head's config loss_type a task trains
// with, "" for the pretraining model's tasks.
func (t Task) LossType() string {
	switch t {
	case TaskClassification:
		return config.LossClassification
	case TaskRegression:
		return config.LossRegression
	case TaskMultilabel:
		return config.LossMultilabel
	case TaskVQA:
		return config.LossVQA
	}
	return ""
}

// TaskOf infers the task of a trained model from its config: the
// classifier's loss type, or for a pretraining model retrieval when MAE is
// off (a retrieval fine-tune) and pretrain otherwise.
func TaskOf(m *layers.Model) Task {
	switch {
	case m.Kind == layers.Classification && m.Config.LossType == config.LossRegression:
		return TaskRegression
	case m.Kind == layers.Classification && m.Config.LossType == config.LossMultilabel:
		return TaskMultilabel
	case m.Kind == layers.Classification && m.Config.LossType == config.LossVQA:
		return TaskVQA
	case m.Kind == layers.Classification:
		return TaskClassification
	case m.Kind == layers.Pretraining && !m.Config.TaskMAE:
		return TaskRetrieval
	}
	return TaskPretrain
}

// Progress selects how a run reports progress.
type Progress int

// Progress modes: Auto draws a pb/v3 bar on a terminal and prints plain
// lines otherwise (or when CI is set).
const (
	ProgressAuto Progress = iota
	ProgressBar
	ProgressPlain
)

// Options configure a training run. Start from DefaultOptions, which holds
// the defaults in brackets, and set what differs: every field means what it
// says (0 is 0), and New rejects settings that make no sense (Validate).
type Options struct {
	Task Task
	Out  string // run folder (required)

	Steps     int // optimizer steps; 0 = Epochs × steps per epoch (0)
	Epochs    int // epochs when Steps is 0, at least 1 then (1)
	BatchSize int // clips per micro-batch, at least 1; retrieval at least 2 (8)
	Negatives int // retrieval: in-batch negatives per clip, 1..BatchSize-1; rows per step BatchSize·(1+Negatives) (1)
	GradAccum int // micro-batches per optimizer step, at least 1 (1)

	LR          float64 // peak learning rate, > 0 (1e-4)
	MinLR       float64 // floor of the decay, in [0, LR] (0)
	Warmup      int     // linear warmup steps, at most the run's steps (0)
	Schedule    string  // "cosine", "linear" or "constant" (cosine)
	WeightDecay float64 // AdamW decoupled decay, >= 0, none on biases, norms, embeddings; 0 = no decay (0.01)
	ClipNorm    float64 // global gradient-norm clip, >= 0; 0 = no clipping (1)
	Seed        uint64  // data order, masks, negatives; model init is the caller's (0)

	LogEvery   int    // steps between log lines / metrics.jsonl records; 0 = the last step only (10)
	EvalEvery  int    // steps between evaluations on the eval clips; 0 = at the end only (0)
	SaveEvery  int    // steps between checkpoints; 0 = at the end only (0)
	KeepLast   int    // newest checkpoints kept besides the best, at least 1: --resume continues the newest (2)
	BestMetric string // eval metric selecting the best checkpoint, one of EvalMetrics(Task) (DefaultMetric(Task))

	// Pretraining: the weights of the loss terms in the total loss (the
	// original TVLT's loss weights), each finite and >= 0; the logged
	// per-task losses stay unweighted (1, 1, 1).
	LossWeights layers.LossWeights
	// Pretraining with matching: the share of clips whose audio is paired
	// with another clip's video, in [0, 1]; 0 = true pairs only (0.5).
	// Evaluation keeps 0.5, so matching_accuracy stays comparable.
	NegativeRatio float64

	FreezeEncoder bool // train only the heads (parameters outside "tvlt.") (false)
	Resume        bool // continue from the newest checkpoint in Out (false)
	// Overwrite starts afresh in an Out that holds another run's results
	// (model.safetensors, metrics.jsonl, checksums.json, checkpoint-*),
	// deleting them first; without it (or Resume) such an Out is refused.
	Overwrite bool // (false)

	// Padding is the shape batches are padded to (--pad-to): the batch's
	// longest clip as the reference's processors (the zero value), the
	// maximum, or audio rounded up to buckets; training and evaluation.
	Padding data.Padding
	// MaskRealOnly masks each clip's real tokens as the reference would
	// mask the clip alone, padding aside (config.RealOnlyNoise; not the
	// reference's masking, whose keep count counts padding) (false).
	MaskRealOnly bool
	// AudioResampler resamples audio files at another rate than the
	// feature extractor's (torchaudio's by default, as the original TVLT).
	AudioResampler audio.Resampler
	// MaxPrograms bounds the compiled programs kept (one per batch shape);
	// the least recently used is dropped beyond it, at least 1 (4).
	MaxPrograms int

	EvalBatchSize int // clips (retrieval: pairs) per evaluation pass, at least 1 (8, like BatchSize)
	Workers       int // loader goroutines, at least 1 (GOMAXPROCS)
	// SkipBad drops clips that fail to load from their batch instead of
	// stopping the run; the skipped clips are listed at the end (Log,
	// metrics.jsonl and Summary.Skipped).
	SkipBad  bool
	CacheDir string // decoded-feature cache; "" = none ("")

	// Comm runs the job data-parallel over its processes (train/dist: MPI
	// under mpirun): each rank trains BatchSize clips of every global batch
	// of Size × BatchSize, the gradients are summed, and rank 0 logs,
	// evaluates and writes the run folder. nil = this process alone.
	Comm dist.Comm

	Log      io.Writer // progress bar / log lines; nil = discarded (nil)
	Progress Progress  // (ProgressAuto)

	// OnStep runs after every optimizer step (after logging, evaluation and
	// saving) with the step's training metrics; tests use it to stop a run
	// or to corrupt it.
	OnStep func(step int, metrics map[string]float64)
}

// DefaultOptions are the documented defaults of a run of task t; Out must
// still be set.
func DefaultOptions(t Task) Options {
	return Options{
		Task:          t,
		Epochs:        1,
		BatchSize:     8,
		Negatives:     1,
		GradAccum:     1,
		LossWeights:   layers.DefaultLossWeights(),
		NegativeRatio: matchingNegatives,
		LR:            1e-4,
		Schedule:      "cosine",
		WeightDecay:   0.01,
		ClipNorm:      1,
		LogEvery:      10,
		KeepLast:      2,
		BestMetric:    DefaultMetric(t),
		MaxPrograms:   4,
		EvalBatchSize: 8,
		Workers:       runtime.GOMAXPROCS(0),
		Progress:      ProgressAuto,
	}
}

// OptionError is a setting Validate rejects: the Options field, its value
// and why.
type OptionError struct {
	Field  string
	Value  string // as written in messages: numbers plain, strings quoted
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("train: %s %s: %s", e.Field, e.Value, e.Reason)
}

// Validate reports the first setting that makes no sense as an
// *OptionError naming the field.
func (o *Options) Validate() error {
	if _, err := ParseTask(string(o.Task)); err != nil {
		return err
	}
	bad := func(field string, v any, reason string) error {
		format := "%v"
		if _, ok := v.(string); ok {
			format = "%q"
		}
		return &OptionError{Field: field, Value: fmt.Sprintf(format, v), Reason: reason}
	}
	switch {
	case o.Out == "":
		return bad("Out", o.Out, "a run folder is required")
	case o.Steps < 0:
		return bad("Steps", o.Steps, "must be >= 0 (0: train for whole epochs)")
	case o.Steps == 0 && o.Epochs < 1:
		return bad("Epochs", o.Epochs, "must be >= 1 unless a step count is given")
	case o.BatchSize < 1:
		return bad("BatchSize", o.BatchSize, "must be >= 1")
	case o.Task == TaskRetrieval && o.BatchSize < 2:
		return bad("BatchSize", o.BatchSize, "retrieval needs >= 2 (in-batch negatives)")
	case o.Negatives < 1:
		return bad("Negatives", o.Negatives, "must be >= 1")
	case o.Task == TaskRetrieval && o.Negatives > o.BatchSize-1:
		return bad("Negatives", o.Negatives, fmt.Sprintf("at most batch size - 1 = %d (in-batch negatives are the other clips of the batch)", o.BatchSize-1))
	case o.LossWeights.Validate() != nil:
		return bad("LossWeights", o.LossWeights.String(), "each weight must be finite and >= 0")
	case !(o.NegativeRatio >= 0 && o.NegativeRatio <= 1):
		return bad("NegativeRatio", o.NegativeRatio, "must be in [0, 1] (0: true pairs only)")
	case o.GradAccum < 1:
		return bad("GradAccum", o.GradAccum, "must be >= 1")
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return bad("LR", o.LR, "must be finite and > 0 (a zero learning rate never changes the weights; evaluate the model instead)")
	case !(o.MinLR >= 0) || o.MinLR > o.LR:
		return bad("MinLR", o.MinLR, fmt.Sprintf("must be in [0, %v] (at most the peak learning rate)", o.LR))
	case o.Warmup < 0:
		return bad("Warmup", o.Warmup, "must be >= 0")
	case o.Schedule != "cosine" && o.Schedule != "linear" && o.Schedule != "constant":
		return bad("Schedule", o.Schedule, "want cosine, linear or constant")
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return bad("WeightDecay", o.WeightDecay, "must be finite and >= 0 (0: no decay)")
	case !(o.ClipNorm >= 0) || math.IsInf(o.ClipNorm, 0):
		return bad("ClipNorm", o.ClipNorm, "must be finite and >= 0 (0: no clipping)")
	case o.LogEvery < 0:
		return bad("LogEvery", o.LogEvery, "must be >= 0 (0: log the last step only)")
	case o.EvalEvery < 0:
		return bad("EvalEvery", o.EvalEvery, "must be >= 0 (0: evaluate at the end only)")
	case o.SaveEvery < 0:
		return bad("SaveEvery", o.SaveEvery, "must be >= 0 (0: save at the end only)")
	case o.KeepLast < 1:
		return bad("KeepLast", o.KeepLast, "must be >= 1 (the newest checkpoint is the one a resume continues; the best is kept besides)")
	case !slices.Contains(EvalMetrics(o.Task), o.BestMetric):
		return bad("BestMetric", o.BestMetric, fmt.Sprintf("%s evaluation reports %s", o.Task, strings.Join(EvalMetrics(o.Task), ", ")))
	case o.Padding.Mode == data.PadBucket && o.Padding.Bucket < 1:
		return bad("Padding", o.Padding.String(), "the bucket must be at least 1 audio time patch")
	case o.MaxPrograms < 1:
		return bad("MaxPrograms", o.MaxPrograms, "must be >= 1 (one compiled program per batch shape is kept at least)")
	case o.EvalBatchSize < 1:
		return bad("EvalBatchSize", o.EvalBatchSize, "must be >= 1")
	case o.Workers < 1:
		return bad("Workers", o.Workers, "must be >= 1")
	}
	return nil
}

// DefaultMetric is the eval metric that selects the best checkpoint unless
// Options.BestMetric names another.
func DefaultMetric(t Task) string {
	switch t {
	case TaskClassification:
		return MetricAccuracy
	case TaskRegression:
		return MetricMAE
	case TaskRetrieval:
		return MetricRecallMean
	case TaskMultilabel:
		return MetricMeanWeightedAccuracy
	case TaskVQA:
		return MetricVQAScore
	}
	return MetricLoss
}

// HigherIsBetter says which way a metric improves: losses and errors go
// down, everything else (accuracy, F1, correlation, recall) up.
func HigherIsBetter(metric string) bool {
	return !(metric == MetricMAE || strings.HasSuffix(metric, MetricLoss))
}
