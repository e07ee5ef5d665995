package train

import (
	"fmt"
	"io"
	"strings"

	"github.com/tvlt-go/tvlt/layers"
)

// Task is what a run trains or evaluates.
type Task string

// Tasks. Retrieval fine-tunes the matching head of a TvltForPreTraining
// model (MAE off) on in-batch negatives and ranks by its logit.
const (
	TaskPretrain       Task = "pretrain"
	TaskClassification Task = "classification"
	TaskRegression     Task = "regression"
	TaskRetrieval      Task = "retrieval"
)

// ParseTask validates a task name.
func ParseTask(s string) (Task, error) {
	switch t := Task(s); t {
	case TaskPretrain, TaskClassification, TaskRegression, TaskRetrieval:
		return t, nil
	}
	return "", fmt.Errorf("train: unknown task %q (want pretrain, classification, regression or retrieval)", s)
}

// Kind is the model class a task trains.
func (t Task) Kind() layers.Kind {
	switch t {
	case TaskClassification, TaskRegression:
		return layers.Classification
	}
	return layers.Pretraining
}

// TaskOf infers the task of a trained model from its config: the
// classifier's loss type, or for a pretraining model retrieval when MAE is
// off (a retrieval fine-tune) and pretrain otherwise.
func TaskOf(m *layers.Model) Task {
	switch {
	case m.Kind == layers.Classification && m.Config.LossType == "regression":
		return TaskRegression
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

// Options configure a training run. Zero values take the defaults listed.
type Options struct {
	Task Task
	Out  string // run folder (required)

	Steps     int // optimizer steps; 0 = Epochs × steps per epoch
	Epochs    int // used when Steps is 0 (default 1)
	BatchSize int // clips per micro-batch (8)
	GradAccum int // micro-batches per optimizer step (1)

	LR          float64 // peak learning rate (1e-4)
	MinLR       float64 // floor of the decay (0)
	Warmup      int     // linear warmup steps (0)
	Schedule    string  // "cosine" (default), "linear" or "constant"
	WeightDecay float64 // AdamW decoupled decay (0.01; none on biases, norms, embeddings)
	ClipNorm    float64 // global gradient-norm clip (1.0; negative disables)
	Seed        uint64  // data order, masks, negatives (model init is the caller's)

	LogEvery   int    // steps between log lines / metrics.jsonl records (10)
	EvalEvery  int    // steps between evaluations on the eval clips (0 = at the end only)
	SaveEvery  int    // steps between checkpoints (0 = at the end only)
	KeepLast   int    // checkpoints kept besides the best (2)
	BestMetric string // eval metric selecting the best checkpoint (task default)

	FreezeEncoder bool // train only the heads (parameters outside "tvlt.")
	Resume        bool // continue from the newest checkpoint in Out

	EvalBatchSize int    // (BatchSize)
	Workers       int    // loader goroutines (GOMAXPROCS)
	CacheDir      string // decoded-feature cache ("" = none)

	Log      io.Writer // progress bar / log lines (nil: discarded)
	Progress Progress

	// OnStep runs after every optimizer step (after logging, evaluation and
	// saving) with the step's training metrics; tests use it to stop a run
	// or to corrupt it.
	OnStep func(step int, metrics map[string]float64)
}

func (o *Options) defaults() error {
	if o.Out == "" {
		return fmt.Errorf("train: no run folder (Out)")
	}
	if _, err := ParseTask(string(o.Task)); err != nil {
		return err
	}
	if o.Epochs <= 0 {
		o.Epochs = 1
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 8
	}
	if o.GradAccum <= 0 {
		o.GradAccum = 1
	}
	if o.LR == 0 {
		o.LR = 1e-4
	}
	if o.Schedule == "" {
		o.Schedule = "cosine"
	}
	switch o.Schedule {
	case "cosine", "linear", "constant":
	default:
		return fmt.Errorf("train: unknown schedule %q (want cosine, linear or constant)", o.Schedule)
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 0.01
	}
	if o.WeightDecay < 0 {
		o.WeightDecay = 0
	}
	if o.ClipNorm == 0 {
		o.ClipNorm = 1
	}
	if o.LogEvery <= 0 {
		o.LogEvery = 10
	}
	if o.KeepLast <= 0 {
		o.KeepLast = 2
	}
	if o.BestMetric == "" {
		o.BestMetric = DefaultMetric(o.Task)
	}
	if o.EvalBatchSize <= 0 {
		o.EvalBatchSize = o.BatchSize
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Task == TaskRetrieval && o.BatchSize < 2 {
		return fmt.Errorf("train: retrieval needs --batch-size >= 2 (in-batch negatives)")
	}
	return nil
}

// DefaultMetric is the eval metric that selects the best checkpoint.
func DefaultMetric(t Task) string {
	switch t {
	case TaskClassification:
		return "accuracy"
	case TaskRegression:
		return "mae"
	case TaskRetrieval:
		return "recall_mean"
	}
	return "loss"
}

// HigherIsBetter says which way a metric improves: losses and errors go
// down, everything else (accuracy, F1, correlation, recall) up.
func HigherIsBetter(metric string) bool {
	return !(metric == "mae" || strings.HasSuffix(metric, "loss"))
}
