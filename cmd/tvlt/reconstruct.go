package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/train"
	"github.com/tvlt-go/tvlt/train/viz"
)

func init() {
	commands["reconstruct"] = command{"draw MAE reconstructions (frames and spectrogram) of a pretraining model as PNGs", runReconstruct}
}

func runReconstruct(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var ckpt, manifest, split, out, cache string
	var n, scale int
	var seed uint64
	var pad data.Padding
	fs := newFlags("reconstruct", "--ckpt DIR --data MANIFEST --out DIR [flags]", `
Runs the MAE branch of a pretraining model (TvltForPreTraining with
task_mae) on the first --n clips of --split and writes one PNG per clip to
--out: per frame the original, the masked input (removed patches grey) and
the reconstruction (kept patches pasted back from the input, removed ones
predicted, de-normalised with the image processor's mean and std), and
below them the spectrogram original / masked / reconstructed as heat maps
(time to the right, low frequencies at the bottom). The masks are the ones
the training loader draws for --seed (epoch 0), so the same seed shows the
same masks.`, `
  tvlt reconstruct --ckpt runs/pre --data clips.jsonl --out recon
  tvlt reconstruct --ckpt runs/pre/checkpoint-500 --data clips.jsonl --n 8 --seed 3 --split test --out recon`, stderr)
	fs.StringVar(&ckpt, "ckpt", "", "pretraining run or checkpoint folder")
	fs.StringVar(&manifest, "data", "", "manifest (JSON Lines)")
	fs.StringVar(&split, "split", "val", "clips of this split (\"all\" for every clip)")
	fs.StringVar(&out, "out", "", "folder for the PNGs (created)")
	fs.IntVar(&n, "n", 4, "clips to draw (the first ones of the split)")
	fs.Uint64Var(&seed, "seed", 0, "seed of the MAE masks")
	fs.IntVar(&scale, "scale", 0, "screen pixels per frame pixel (0: frames at least 128 pixels)")
	fs.StringVar(&cache, "cache", "", "folder caching decoded features")
	fs.Var(padFlag{&pad}, "pad-to", padUsage)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "ckpt", "data", "out"); err != nil {
		return err
	}
	if n < 1 {
		return usageError(fs, "--n %d: want at least 1", n)
	}
	clips, err := data.ReadManifest(manifest)
	if err != nil {
		return err
	}
	if split != "all" {
		clips = data.FilterSplit(clips, split)
		if len(clips) == 0 {
			return fmt.Errorf("%s: no clips in split %q (use --split all, train, val or test)", manifest, split)
		}
	}
	clips = clips[:min(n, len(clips))]
	m, err := train.LoadModel(ckpt)
	if err != nil {
		return err
	}
	rec, err := viz.NewReconstructor(m)
	if err != nil {
		return fmt.Errorf("%s: %w", ckpt, err)
	}
	defer rec.Close()
	b, err := viz.LoadBatch(clips, m.Config, int64(seed), pad, cache)
	if err != nil {
		return err
	}
	res, err := rec.Run(b)
	if err != nil {
		return err
	}
	for i, c := range res {
		img, _ := c.Render(viz.RenderOptions{Scale: scale})
		path := filepath.Join(out, fmt.Sprintf("recon-%02d-%s.png", i, fileSafe(c.ID)))
		if err := viz.WritePNG(path, img); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%s: MAE loss %s)\n", path, c.ID, c.Losses())
	}
	return nil
}

// fileSafe turns a clip ID (often a relative media path) into a file name.
func fileSafe(id string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, id)
	if len(s) > 60 {
		s = s[len(s)-60:]
	}
	return strings.Trim(s, ".")
}

// vizDir is the run subfolder --viz-every writes into.
const vizDir = "viz"

// newVizHook prepares --viz-every: the first eval clip (the first training
// clip when there is no eval split) is decoded once with the MAE masks of
// seed, and the returned callback, run after every optimizer step, writes
// OUT/viz/step-N.png every `every` steps with the model as it is then. A
// failed picture is reported on log and does not stop training. done
// releases the compiled graph.
func newVizHook(m *layers.Model, evalClips, trainClips []data.Clip, out string, every int, seed uint64, pad data.Padding, cache string, log io.Writer) (hook func(int, map[string]float64), done func(), err error) {
	rec, err := viz.NewReconstructor(m)
	if err != nil {
		return nil, nil, fmt.Errorf("--viz-every: %w", err)
	}
	clip := trainClips[0]
	if len(evalClips) > 0 {
		clip = evalClips[0]
	}
	b, err := viz.LoadBatch([]data.Clip{clip}, m.Config, int64(seed), pad, cache)
	if err != nil {
		rec.Close()
		return nil, nil, fmt.Errorf("--viz-every: %w", err)
	}
	hook = func(step int, _ map[string]float64) {
		if step%every != 0 {
			return
		}
		res, err := rec.Run(b)
		if err == nil {
			c := res[0]
			img, _ := c.Render(viz.RenderOptions{Title: fmt.Sprintf("step %d: %s\nloss on removed patches: %s", step, c.ID, c.Losses())})
			err = viz.WritePNG(filepath.Join(out, vizDir, fmt.Sprintf("step-%d.png", step)), img)
		}
		if err != nil {
			fmt.Fprintf(log, "--viz-every: step %d: %v\n", step, err)
		}
	}
	return hook, rec.Close, nil
}
