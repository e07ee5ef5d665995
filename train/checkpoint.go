package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/optim"
	"gorgonia.org/tensor"
)

// State is trainer_state.json: everything besides weights and optimizer
// moments that an exact resume needs, plus the run's bookkeeping.
type State struct {
	Task      Task    `json:"task"`
	Step      int     `json:"step"`  // optimizer steps done
	Epoch     int     `json:"epoch"` // loader position of the next micro-batch:
	Batch     int     `json:"batch"` // batch Batch of epoch Epoch
	Total     int     `json:"total_steps"`
	Seed      uint64  `json:"seed"`
	BatchSize int     `json:"batch_size"`
	GradAccum int     `json:"grad_accum"`
	Samples   int     `json:"samples_seen"`
	Elapsed   float64 `json:"elapsed_s"`

	BestMetric string             `json:"best_metric"`
	BestValue  *float64           `json:"best_value,omitempty"`
	BestStep   int                `json:"best_step,omitempty"`
	Train      map[string]float64 `json:"train_metrics,omitempty"` // last logged
	Eval       map[string]float64 `json:"eval_metrics,omitempty"`  // last evaluation
}

// Checkpoint is one checkpoint-<step> folder of a run.
type Checkpoint struct {
	Step int
	Dir  string
}

// ListCheckpoints returns a run's checkpoint folders by increasing step.
// Hidden temporaries of interrupted saves are not listed.
func ListCheckpoints(run string) ([]Checkpoint, error) {
	ents, err := os.ReadDir(run)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var out []Checkpoint
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), "checkpoint-")
		if !ok || !e.IsDir() {
			continue
		}
		step, err := strconv.Atoi(n)
		if err != nil || step < 0 {
			continue
		}
		out = append(out, Checkpoint{Step: step, Dir: filepath.Join(run, e.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out, nil
}

// ReadState reads a checkpoint's trainer_state.json.
func ReadState(dir string) (State, error) {
	var s State
	buf, err := os.ReadFile(filepath.Join(dir, TrainerStateFile))
	if err != nil {
		return s, fmt.Errorf("train: %w", err)
	}
	if err := json.Unmarshal(buf, &s); err != nil {
		return s, fmt.Errorf("train: %s: %w", filepath.Join(dir, TrainerStateFile), err)
	}
	return s, nil
}

func bytesWriter(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}

// saveCheckpoint writes checkpoint-<step>/ atomically (complete or absent).
func (t *Trainer) saveCheckpoint() (string, error) {
	dir := filepath.Join(t.opts.Out, fmt.Sprintf("checkpoint-%d", t.state.Step))
	cfg, err := t.m.Config.Bytes()
	if err != nil {
		return "", fmt.Errorf("train: config: %w", err)
	}
	model, err := checkpoints.EncodeSafetensorsHeader(t.m.Params.Tensors(), map[string]string{"format": "pt"}, "F32")
	if err != nil {
		return "", fmt.Errorf("train: %s: %w", dir, err)
	}
	st := t.opt.State()
	ot := make(map[string]*tensor.Dense, len(st.Tensors))
	for k, v := range st.Tensors {
		shape := st.Shapes[k]
		if len(shape) == 0 {
			shape = []int{1}
		}
		ot[k] = dense(v, shape...)
	}
	optEnc, err := checkpoints.EncodeSafetensorsHeader(ot, map[string]string{"step": strconv.Itoa(st.Step)}, "F32")
	if err != nil {
		return "", fmt.Errorf("train: %s: optimizer state: %w", dir, err)
	}
	t.state.Elapsed = t.log.seconds()
	state, err := json.MarshalIndent(t.state, "", "  ")
	if err != nil {
		return "", fmt.Errorf("train: trainer state: %w", err)
	}
	err = checkpoints.WriteFolder(dir, map[string]func(io.Writer) error{
		ConfigFile:       bytesWriter(cfg),
		ModelFile:        model.Encode,
		OptimizerFile:    optEnc.Encode,
		TrainerStateFile: bytesWriter(append(state, '\n')),
	})
	if err != nil {
		return "", fmt.Errorf("train: saving checkpoint: %w", err)
	}
	t.lastSaved = t.state.Step
	return dir, t.rotate()
}

// writeRunModel writes the final weights to the run folder's
// model.safetensors, atomically, with their sha256 recorded in the run
// folder's checksums.json, which LoadModel (hf.Load) verifies.
func (t *Trainer) writeRunModel() error {
	enc, err := checkpoints.EncodeSafetensorsHeader(t.m.Params.Tensors(), map[string]string{"format": "pt"}, "F32")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(t.opts.Out, ModelFile), err)
	}
	return checkpoints.WriteFileChecksummed(t.opts.Out, ModelFile, enc.Encode)
}

// pruningMarker prefixes the hidden name a checkpoint is renamed to before
// it is deleted, so a kill mid-delete never leaves a visible, incomplete
// checkpoint-N (ListCheckpoints skips hidden names).
const pruningMarker = ".pruning-"

// pruneRemove deletes a renamed checkpoint; tests replace it to simulate
// a kill during the delete.
var pruneRemove = os.RemoveAll

// rotate deletes checkpoints beyond the newest KeepLast, sparing the best.
// Each is first renamed to a hidden .pruning-checkpoint-N, then deleted;
// leftovers of an interrupted prune are deleted first.
func (t *Trainer) rotate() error {
	if err := removeStalePrunes(t.opts.Out); err != nil {
		return err
	}
	cks, err := ListCheckpoints(t.opts.Out)
	if err != nil {
		return err
	}
	for i, c := range cks {
		if i >= len(cks)-t.opts.KeepLast || (t.state.BestValue != nil && c.Step == t.state.BestStep) {
			continue
		}
		hidden := filepath.Join(t.opts.Out, pruningMarker+filepath.Base(c.Dir))
		if err := os.RemoveAll(hidden); err != nil {
			return fmt.Errorf("train: removing old checkpoint: %w", err)
		}
		if err := os.Rename(c.Dir, hidden); err != nil {
			return fmt.Errorf("train: removing old checkpoint: %w", err)
		}
		if err := pruneRemove(hidden); err != nil {
			return fmt.Errorf("train: removing old checkpoint: %w", err)
		}
	}
	return nil
}

// removeStalePrunes deletes the hidden folders an interrupted prune left.
func removeStalePrunes(run string) error {
	ents, err := os.ReadDir(run)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), pruningMarker) {
			if err := os.RemoveAll(filepath.Join(run, e.Name())); err != nil {
				return fmt.Errorf("train: removing an interrupted prune: %w", err)
			}
		}
	}
	return nil
}

// checkRunFolder refuses to start a run over the results of another:
// model.safetensors, metrics.jsonl or checksums.json in Out (a finished run
// whose checkpoints were pruned, an imported folder) or its checkpoints,
// unless Resume continues those checkpoints or Overwrite deletes it all
// first. It returns the checkpoints left.
func (t *Trainer) checkRunFolder(cks []Checkpoint) ([]Checkpoint, error) {
	o := &t.opts
	if o.Resume && o.Overwrite {
		return cks, fmt.Errorf("train: %s: --resume continues the run and --overwrite deletes it; pass one", o.Out)
	}
	if o.Resume && len(cks) > 0 {
		return cks, nil
	}
	var held []string
	for _, name := range []string{ModelFile, MetricsFile, checkpoints.ChecksumsFile} {
		if _, err := os.Lstat(filepath.Join(o.Out, name)); err == nil {
			held = append(held, name)
		}
	}
	for _, c := range cks {
		held = append(held, filepath.Base(c.Dir))
	}
	switch {
	case len(held) == 0:
		return cks, nil
	case o.Overwrite:
	case o.Resume:
		return cks, fmt.Errorf("train: %s holds %s but no checkpoint-* folder to resume from: pass --overwrite to start over (deleting them) or choose another --out", o.Out, strings.Join(held, ", "))
	case len(cks) > 0:
		return cks, fmt.Errorf("train: %s already holds checkpoints (%s ...): pass --resume to continue it, --overwrite to start over (deleting it) or choose another --out", o.Out, filepath.Base(cks[0].Dir))
	default:
		return cks, fmt.Errorf("train: %s already holds %s (a finished or imported run): pass --overwrite to start over (deleting them) or choose another --out", o.Out, strings.Join(held, ", "))
	}
	fmt.Fprintf(o.Log, "--overwrite: deleting %s from %s\n", strings.Join(held, ", "), o.Out)
	// The manifest first: a kill part-way then leaves no stale checksums.
	for _, name := range []string{checkpoints.ChecksumsFile, ModelFile, MetricsFile} {
		if err := os.Remove(filepath.Join(o.Out, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return cks, fmt.Errorf("train: --overwrite: %w", err)
		}
	}
	for _, c := range cks {
		hidden := filepath.Join(o.Out, pruningMarker+filepath.Base(c.Dir))
		if err := os.Rename(c.Dir, hidden); err != nil {
			return cks, fmt.Errorf("train: --overwrite: %w", err)
		}
		if err := os.RemoveAll(hidden); err != nil {
			return cks, fmt.Errorf("train: --overwrite: %w", err)
		}
	}
	return nil, nil
}

// checkIntact reports why a checkpoint folder cannot be resumed from: a
// file the trainer writes is missing or unrecorded, or a recorded file
// does not match its checksum.
func checkIntact(dir string) error {
	sums, err := checkpoints.ReadChecksums(dir)
	if err != nil {
		return err
	}
	for _, name := range []string{ConfigFile, ModelFile, OptimizerFile, TrainerStateFile} {
		if _, ok := sums.Files[name]; !ok {
			return fmt.Errorf("%s: %s is not recorded in %s", dir, name, checkpoints.ChecksumsFile)
		}
	}
	return checkpoints.VerifyFolder(dir)
}

// resume restores the newest intact checkpoint of cks (sorted by step):
// an incomplete or corrupt newer one (a save or prune killed half-way, a
// damaged disk) is skipped with a warning. Other errors (another task,
// seed or config) stop the resume. It returns the folder resumed from.
func (t *Trainer) resume(cks []Checkpoint) (string, error) {
	var skipped []string
	for i := len(cks) - 1; i >= 0; i-- {
		dir := cks[i].Dir
		if err := checkIntact(dir); err != nil {
			fmt.Fprintf(t.opts.Log, "warning: not resuming from %s, which is incomplete or corrupt (%v); trying the previous checkpoint\n", dir, err)
			skipped = append(skipped, filepath.Base(dir))
			continue
		}
		if err := t.loadVerified(dir); err != nil {
			return "", err
		}
		return dir, nil
	}
	return "", fmt.Errorf("train: resume: no intact checkpoint in %s (%s incomplete or corrupt)", t.opts.Out, strings.Join(skipped, ", "))
}

func sortedNames(m map[string]*tensor.Dense) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// loadVerified restores weights, optimizer moments and trainer state from
// a checkpoint whose checksums were verified (checkIntact).
func (t *Trainer) loadVerified(dir string) error {
	st, err := ReadState(dir)
	if err != nil {
		return err
	}
	if st.Task != t.opts.Task {
		return fmt.Errorf("train: resume: %s is a %s run, not %s", dir, st.Task, t.opts.Task)
	}
	if st.Seed != t.opts.Seed || st.BatchSize != t.globalBatch() || st.GradAccum != t.opts.GradAccum {
		return fmt.Errorf("train: resume: %s was trained with seed %d, batch size %d, grad accum %d; got %d, %d, %d (an exact resume needs the same; batch size is over all ranks)",
			dir, st.Seed, st.BatchSize, st.GradAccum, t.opts.Seed, t.globalBatch(), t.opts.GradAccum)
	}
	cfgBuf, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	mine, _ := t.m.Config.Bytes()
	if !bytes.Equal(bytes.TrimSpace(cfgBuf), bytes.TrimSpace(mine)) {
		return fmt.Errorf("train: resume: %s has another model config than this run", dir)
	}
	weights, _, err := checkpoints.ReadSafetensors(filepath.Join(dir, ModelFile))
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	for _, name := range sortedNames(weights) {
		if err := checkpoints.CheckFinite(name, weights[name]); err != nil {
			return fmt.Errorf("train: resume: %s: %w", filepath.Join(dir, ModelFile), err)
		}
	}
	if err := t.m.Params.Load(weights); err != nil {
		return fmt.Errorf("train: resume: %s: %w", dir, err)
	}
	moments, _, err := checkpoints.ReadSafetensors(filepath.Join(dir, OptimizerFile))
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	ost := optim.State{Step: st.Step, Tensors: map[string][]float32{}, Shapes: map[string][]int{}}
	for k, v := range moments {
		ost.Tensors[k] = v.Data().([]float32)
		ost.Shapes[k] = v.Shape().Clone()
	}
	if err := t.opt.LoadState(ost); err != nil {
		return fmt.Errorf("train: resume: %s: %w", dir, err)
	}
	t.state = st
	t.lastSaved = st.Step
	return nil
}
