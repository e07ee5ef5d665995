package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/train"
	"github.com/tvlt-go/tvlt/train/dist"
	"github.com/tvlt-go/tvlt/train/viz"
	"gorgonia.org/tensor"
)

func init() {
	commands["eval"] = command{"evaluate a checkpoint; metrics as JSON on the last stdout line", runEval}
	commands["predict"] = command{"write one JSON line of predictions per clip", runPredict}
	commands["bench"] = command{"time training or inference steps of a preset", runBench}
	commands["demo"] = command{"synthetic data → pretrain → fine-tune → held-out metrics, in minutes", runDemo}
}

// evalFlags are shared by eval and predict.
type evalFlags struct {
	skipBad                        bool
	pad                            data.Padding
	resampler                      audio.Resampler
	data, ckpt, split, task, cache string
	answers                        string
	batch                          int
	seed                           uint64
	allowNonFinite                 bool
	plain                          bool
	log                            io.Writer // progress (stderr)
}

func (f *evalFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "", "manifest (JSON Lines)")
	fs.StringVar(&f.ckpt, "ckpt", "", "run folder or checkpoint folder")
	fs.StringVar(&f.split, "split", "test", "clips of this split (\"all\" for every clip)")
	fs.StringVar(&f.task, "task", "", "pretrain, classification, regression, multilabel, vqa or retrieval (default: from the checkpoint)")
	fs.IntVar(&f.batch, "batch-size", 8, "clips (retrieval: pairs) per forward pass")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of pretraining evaluation's negatives and masks")
	fs.StringVar(&f.cache, "cache", "", "folder caching decoded features")
	fs.Var(padFlag{&f.pad}, "pad-to", padUsage)
	fs.Var(resamplerFlag{&f.resampler}, "audio-resampler", resamplerUsage)
	fs.BoolVar(&f.allowNonFinite, "allow-nonfinite", false, "load weights holding NaN or ±Inf anyway (forensics; by default they are an error naming the tensor)")
	fs.BoolVar(&f.plain, "plain", false, "plain progress lines (every 10 s) instead of a progress bar")
	fs.BoolVar(&f.skipBad, "skip-bad", false, "drop clips that fail to load (listed at the end; skipped_clips in the metrics) instead of stopping")
	fs.StringVar(&f.answers, "answers", "", "vqa: answer vocabulary (one answer per line) naming the predicted answers; default: the checkpoint's id2label")
}

func (f *evalFlags) load() ([]data.Clip, train.EvalOptions, *modelAndTask, error) {
	clips, err := data.ReadManifest(f.data)
	if err != nil {
		return nil, train.EvalOptions{}, nil, err
	}
	if f.split != "all" {
		clips = data.FilterSplit(clips, f.split)
		if len(clips) == 0 {
			return nil, train.EvalOptions{}, nil, fmt.Errorf("%s: no clips in split %q (use --split all, train, val or test)", f.data, f.split)
		}
	}
	m, err := train.LoadModelWith(f.ckpt, train.ModelLoadOptions{AllowNonFinite: f.allowNonFinite})
	if err != nil {
		return nil, train.EvalOptions{}, nil, nonFiniteHint(err)
	}
	if f.answers != "" {
		vocab, err := readAnswers(f.answers)
		if err != nil {
			return nil, train.EvalOptions{}, nil, err
		}
		if len(vocab) != m.Config.NumLabels {
			return nil, train.EvalOptions{}, nil, fmt.Errorf("--answers %s has %d answers, the model %d (num_labels)", f.answers, len(vocab), m.Config.NumLabels)
		}
		m.Config.ID2Label = vocab
	}
	t := train.TaskOf(m)
	if f.task != "" {
		if t, err = train.ParseTask(f.task); err != nil {
			return nil, train.EvalOptions{}, nil, err
		}
	}
	if t == train.TaskClassification {
		if err := checkClassLabels(clips); err != nil {
			return nil, train.EvalOptions{}, nil, err
		}
	}
	eo := train.EvalOptions{Task: t, BatchSize: f.batch, Seed: f.seed, CacheDir: f.cache, Log: f.log, SkipBad: f.skipBad, Padding: f.pad, AudioResampler: f.resampler}
	if f.plain {
		eo.Progress = train.ProgressPlain
	}
	return clips, eo, &modelAndTask{m: m, task: t}, nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := evalFlags{log: stderr}
	fs := newFlags("eval", "--data MANIFEST --ckpt DIR [--split test] [flags]", `
Evaluates a model on one split of a manifest and prints the metrics as one
JSON object on the last line of stdout. The task follows the checkpoint
(classification, regression, retrieval or pretrain) unless --task is given.`, `
  tvlt eval --data labelled.jsonl --ckpt runs/cls
  tvlt eval --data clips.jsonl --ckpt runs/pre/checkpoint-1000 --split val
  tvlt eval --data pairs.jsonl --ckpt runs/pre --task retrieval --batch-size 32`, stderr)
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data", "ckpt"); err != nil {
		return err
	}
	clips, eo, mt, err := f.load()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "evaluating %s (%s) on %d clips of %s\n", f.ckpt, mt.task, len(clips), f.split)
	met, err := train.Evaluate(ctx, mt.m, clips, eo)
	if err != nil {
		return err
	}
	return printJSON(stdout, met)
}

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := evalFlags{log: stderr}
	var out, attnDir, outputs, outNPZ string
	fs := newFlags("predict", "--data MANIFEST --ckpt DIR --out FILE.jsonl [flags]", `
Writes one JSON line per clip: {"id", "logits" or "score", "label" (the
predicted class; for regression 1 if the score is positive; for multilabel
0/1 per label (logit > 0); for vqa the predicted answer's string from the
model's id2label or --answers), "target" (the manifest label, if any),
"retrieved" (retrieval: the clip whose video best matches this audio)}.
For a pretraining checkpoint (task pretrain) with the matching head, each
clip is scored as the pair the evaluation pass builds: about half of the
clips have their audio paired with another clip's video (drawn from
--seed, as in eval), so "score" is the matching logit of that pair,
"label" whether the model calls it a match (score > 0) and "target"
true if the pair is the clip's own audio and video, false if its video was
swapped (not the manifest label). Without the matching head only "id" is
written.
The metrics of the same pass are printed as JSON on the last stdout line.
With --attention DIR, DIR/attn-<id>.png shows for every clip where the CLS
token of the last encoder layer looks (mean over heads): a heat map over
each frame's patches and one over the audio patches. With --outputs LIST
--out-npz FILE, FILE holds the encoder's outputs per clip, as the
reference's output_hidden_states / output_attentions: <id>/last_hidden_state
(S, D), <id>/hidden_states/<i> (S, D; the embedding output, then every
layer), <id>/attentions/<l> (heads, S, S), float32.`, `
  tvlt predict --data new.jsonl --ckpt runs/cls --split all --out preds.jsonl
  tvlt predict --data new.jsonl --ckpt runs/cls --out preds.jsonl --attention attn
  tvlt predict --data new.jsonl --ckpt runs/cls --out preds.jsonl --outputs hidden_states,attentions --out-npz enc.npz`, stderr)
	f.register(fs)
	fs.StringVar(&out, "out", "", "output file (JSON Lines)")
	fs.StringVar(&attnDir, "attention", "", "folder for CLS attention heat maps (PNG per clip)")
	fs.StringVar(&outputs, "outputs", "", "encoder outputs for --out-npz: comma-separated "+strings.Join(encoderOutputs, ", "))
	fs.StringVar(&outNPZ, "out-npz", "", "file for the --outputs arrays (.npz)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data", "ckpt", "out"); err != nil {
		return err
	}
	if (outputs == "") != (outNPZ == "") {
		return usageError(fs, "--outputs and --out-npz go together")
	}
	clips, eo, mt, err := f.load()
	if err != nil {
		return err
	}
	var met map[string]float64
	err = checkpoints.AtomicWriteFile(out, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		var err error
		if met, err = train.Predict(ctx, mt.m, clips, eo, bw); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %d predictions to %s\n", len(clips), out)
	if attnDir != "" {
		if err := writeAttention(ctx, mt.m, clips, f, attnDir); err != nil {
			return fmt.Errorf("--attention: %w", err)
		}
		fmt.Fprintf(stderr, "wrote %d attention maps to %s\n", len(clips), attnDir)
	}
	if outNPZ != "" {
		n, err := writeOutputs(ctx, mt.m, clips, f, outputs, outNPZ)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %d arrays of %d clips to %s\n", n, len(clips), outNPZ)
	}
	return printJSON(stdout, met)
}

// encoderRuns runs the model's encoder over clips in batches of f.batch
// (frames and audio padded to the config's full sizes, as in training),
// compiled with opts (plus Inspect, so a pretraining model runs a plain
// batch through its encoder), and hands each batch's result to each.
func encoderRuns(ctx context.Context, m *layers.Model, clips []data.Clip, f evalFlags, opts layers.Options, each func(*data.Batch, *layers.Result) error) error {
	progs := map[string]*layers.Program{}
	defer func() {
		for _, p := range progs {
			p.Close()
		}
	}()
	opts.Inspect = true
	bsz := max(1, f.batch)
	for lo := 0; lo < len(clips); lo += bsz {
		if err := ctx.Err(); err != nil {
			return err
		}
		db, err := viz.LoadBatch(clips[lo:min(lo+bsz, len(clips))], m.Config, int64(f.seed), f.pad, f.cache)
		if err != nil {
			return err
		}
		tensorOf := func(v []float32, shape ...int) *tensor.Dense {
			return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float32(nil), v...)))
		}
		b := &layers.Batch{
			PixelValues: tensorOf(db.PixelValues, db.PixelShape[:]...),
			PixelMask:   tensorOf(db.PixelMask, db.PixelMaskShape[:]...),
			AudioValues: tensorOf(db.AudioValues, db.AudioShape[:]...),
			AudioMask:   tensorOf(db.AudioMask, db.AudioMaskShape[:]...),
		}
		sig, err := m.Signature(b)
		if err != nil {
			return err
		}
		p, ok := progs[sig]
		if !ok {
			if p, err = m.Compile(b, opts); err != nil {
				return err
			}
			progs[sig] = p
		}
		res, err := p.Run(b)
		if err != nil {
			return err
		}
		if err := each(db, res); err != nil {
			return err
		}
	}
	return nil
}

// writeAttention writes DIR/attn-<id>.png of attentions/last_cls per clip.
func writeAttention(ctx context.Context, m *layers.Model, clips []data.Clip, f evalFlags, dir string) error {
	c := m.Config
	return encoderRuns(ctx, m, clips, f, layers.Options{}, func(db *data.Batch, res *layers.Result) error {
		att, ok := res.Outputs["attentions/last_cls"]
		if !ok {
			return fmt.Errorf("%s model returned no attentions/last_cls", m.Kind)
		}
		w := att.Data().([]float64)
		s := att.Shape()[1]
		frames, tp := db.PixelShape[1], db.AudioShape[2]/c.AudioPatchSize[0]
		for i, id := range db.IDs {
			img, _, err := viz.AttentionPNG(w[i*s:(i+1)*s], c, frames, tp, id+": CLS attention, last layer, mean of heads")
			if err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			if err := viz.WritePNG(filepath.Join(dir, "attn-"+fileSafe(id)+".png"), img); err != nil {
				return err
			}
		}
		return nil
	})
}

// encoderOutputs are the names --outputs accepts.
var encoderOutputs = []string{"last_hidden_state", "hidden_states", "attentions"}

// writeOutputs writes the requested encoder outputs of every clip to one
// .npz: <id>/last_hidden_state (S, D), <id>/hidden_states/<i> (S, D),
// <id>/attentions/<l> (heads, S, S), float32.
func writeOutputs(ctx context.Context, m *layers.Model, clips []data.Clip, f evalFlags, list, path string) (int, error) {
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(encoderOutputs, name) {
			return 0, fmt.Errorf("--outputs: unknown output %q (want a comma-separated list of %s)", name, strings.Join(encoderOutputs, ", "))
		}
		want[name] = true
	}
	opts := layers.Options{OutputHiddenStates: want["hidden_states"], OutputAttentions: want["attentions"]}
	arrays := map[string]*tensor.Dense{}
	err := encoderRuns(ctx, m, clips, f, opts, func(db *data.Batch, res *layers.Result) error {
		for name, t := range res.Outputs {
			kind, _, _ := strings.Cut(name, "/")
			if !want[kind] || (kind == "attentions" && strings.HasSuffix(name, "/last_cls")) {
				continue
			}
			per := t.Shape()[1:]
			n := per.TotalSize()
			v := t.Data().([]float64)
			for i, id := range db.IDs {
				row := make([]float32, n)
				for j := range row {
					row[j] = float32(v[i*n+j])
				}
				arrays[id+"/"+name] = tensor.New(tensor.WithShape(per.Clone()...), tensor.WithBacking(row))
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := checkpoints.WriteNPZ(path, arrays); err != nil {
		return 0, err
	}
	return len(arrays), nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var preset, task, configPath string
	var batch, steps, warmup int
	fs := newFlags("bench", "--preset P --task pretrain|finetune|infer [flags]", `
Times the real step on random inputs of the preset's full shapes after
--warmup untimed steps: pretrain = TvltForPreTraining forward (MAE +
matching), backward and AdamW; finetune = classification forward, backward
and AdamW; infer = classification forward only. Prints one JSON object on
the last stdout line: preset, task, batch_size, steps, ms_per_step_median,
ms_per_step_min, samples_per_s, peak_rss_mb (VmHWM), params, blas (the GEMM
in use: go-avx512, go-avx2, go or openblas) and gflops_per_s (the step's
matrix-product FLOPs over its median time). Under mpirun (a -tags mpi build)
every rank prints its own line with rank, ranks, allreduce_ms (one float32
all-reduce of a gradient of params values) and allreduce_share (its share
of a data-parallel step).`, `
  tvlt bench --preset tiny --task pretrain
  tvlt bench --preset small --task finetune --batch-size 16 --steps 5
  tvlt bench --preset base-reduced --task infer --batch-size 1 --steps 3 --warmup 1`, stderr)
	fs.StringVar(&preset, "preset", "tiny", "model size: "+strings.Join(train.Presets, ", "))
	fs.StringVar(&configPath, "config", "", "config.json to time instead of a preset")
	fs.StringVar(&task, "task", "pretrain", "pretrain, finetune or infer")
	fs.IntVar(&batch, "batch-size", 8, "clips per step")
	fs.IntVar(&steps, "steps", 10, "timed steps")
	fs.IntVar(&warmup, "warmup", 2, "untimed steps first")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := train.Preset(preset)
	if configPath != "" {
		cfg, err = config.Read(configPath)
		preset = filepath.Base(configPath)
	}
	if err != nil {
		return err
	}
	comm, err := dist.Init()
	if err != nil {
		return err
	}
	defer comm.Close()
	r, err := train.Bench(cfg, task, batch, steps, warmup)
	if err != nil {
		return err
	}
	r.Preset = preset
	if comm.Size() > 1 {
		// Under mpirun: each rank's step, plus the all-reduce of a
		// gradient the size of the model that a data-parallel step adds.
		d, err := dist.TimeAllReduce(comm, r.Params, max(steps, 3))
		if err != nil {
			return err
		}
		r.Rank, r.Ranks = comm.Rank(), comm.Size()
		r.AllReduceMs = float64(d.Microseconds()) / 1000
		r.AllReduceShare = r.AllReduceMs / (r.MsMedian + r.AllReduceMs)
	}
	return printLine(stdout, r)
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := train.DefaultDemoOptions()
	var plain, keep bool
	fs := newFlags("demo", "[--dir DIR] [flags]", `
Generates the built-in synthetic audio-visual set (4 frames of 32x32 and
0.75 s of audio per clip; four hidden yes/no attributes each shown in
both modalities — where red/green is lit ↔ when/where in frequency chords
sound, blue stripe phase ↔ which mel bins, grey/black background ↔
hiss/silence — the class being the first two), pretrains a small TVLT on
it (MAE + matching), fine-tunes a 4-class classifier from that
checkpoint, and prints the held-out (test split) metrics; the last stdout
line is a JSON object with every number. Takes a few minutes on 2 cores.`, `
  tvlt demo
  tvlt demo --dir runs/demo --keep
  tvlt demo --pretrain-steps 100 --finetune-steps 50   # quicker, weaker`, stderr)
	fs.StringVar(&o.Dir, "dir", "", "work folder (default: a temporary folder, removed unless --keep)")
	fs.BoolVar(&keep, "keep", false, "keep the temporary work folder")
	fs.IntVar(&o.Clips, "clips", o.Clips, "synthetic clips")
	fs.IntVar(&o.PretrainSteps, "pretrain-steps", o.PretrainSteps, "pretraining steps")
	fs.IntVar(&o.FinetuneSteps, "finetune-steps", o.FinetuneSteps, "fine-tuning steps")
	fs.IntVar(&o.BatchSize, "batch-size", o.BatchSize, "clips per step")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of data, model and training")
	fs.BoolVar(&plain, "plain", false, "plain log lines instead of progress bars")
	if err := parse(fs, args); err != nil {
		return err
	}
	removed := false
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "tvlt-demo-")
		if err != nil {
			return err
		}
		o.Dir = dir
		if !keep {
			removed = true
			defer os.RemoveAll(dir)
		}
	}
	o.Log = stderr
	if plain {
		o.Progress = train.ProgressPlain
	}
	r, err := train.Demo(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo: %d parameters, %d train / %d test clips\n", r.Params, r.TrainClips, r.TestClips)
	fmt.Fprintf(stdout, "pretraining (%d steps, %.0fs): test pixel MAE loss %.4f -> %.4f, audio MAE loss %.4f -> %.4f, matching accuracy %.3f -> %.3f\n",
		r.PretrainSteps, r.PretrainSeconds, r.Before[train.MetricPixelMAELoss], r.Pretrain[train.MetricPixelMAELoss],
		r.Before[train.MetricAudioMAELoss], r.Pretrain[train.MetricAudioMAELoss], r.Before[train.MetricMatchingAccuracy], r.Pretrain[train.MetricMatchingAccuracy])
	fmt.Fprintf(stdout, "fine-tuning (%d steps, %.0fs): test accuracy %.3f, macro F1 %.3f\n",
		r.FinetuneSteps, r.FinetuneSeconds, r.Finetune[train.MetricAccuracy], r.Finetune[train.MetricMacroF1])
	if removed {
		// The temporary folder goes when the demo returns: name no path in it.
		fmt.Fprintf(stdout, "total wall time %.0fs; the runs were in a temporary folder, now removed (keep them with --keep or --dir DIR)\n", r.TotalSeconds)
		r.Data, r.PretrainRun, r.FinetuneRun, r.EvalCommands, r.Removed = "", "", "", nil, true
		return printLine(stdout, r)
	}
	fmt.Fprintf(stdout, "total wall time %.0fs; runs in %s\n", r.TotalSeconds, o.Dir)
	fmt.Fprintln(stdout, "reproduce the test metrics with:")
	for _, c := range r.EvalCommands {
		fmt.Fprintln(stdout, "  "+c)
	}
	return printLine(stdout, r)
}

// modelAndTask pairs a loaded model with the task it is evaluated on.
type modelAndTask struct {
	m    *layers.Model
	task train.Task
}
