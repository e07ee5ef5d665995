package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tvlt-go/tvlt/train"
	"github.com/tvlt-go/tvlt/train/viz"
)

func init() {
	commands["plot"] = command{"draw a run's loss, learning-rate and eval curves as a PNG", runPlot}
}

func runPlot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var run, out, title string
	var width int
	fs := newFlags("plot", "--run DIR [--out FILE.png]", `
Reads the run's metrics.jsonl and draws one PNG with a panel per group of
curves against the step: training losses (total, matching, pixel MAE,
audio MAE, or the fine-tuning loss), learning rate, evaluation losses and
evaluation scores (accuracy, F1, recall...; training matching accuracy is
shown there too) and the gradient norm. Works on a run that is still
going: it plots what has been written so far.`, `
  tvlt plot --run runs/pre
  tvlt plot --run runs/cls --out docs/img/finetune.png --width 1000`, stderr)
	fs.StringVar(&run, "run", "", "run folder (or its metrics.jsonl)")
	fs.StringVar(&out, "out", "", "output PNG (default: RUN/curves.png)")
	fs.StringVar(&title, "title", "", "title above the panels (default: the run folder and its last step)")
	fs.IntVar(&width, "width", 1200, "picture width in pixels")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "run"); err != nil {
		return err
	}
	dir, metrics := run, filepath.Join(run, train.MetricsFile)
	if st, err := os.Stat(run); err == nil && !st.IsDir() {
		dir, metrics = filepath.Dir(run), run
	}
	if out == "" {
		out = filepath.Join(dir, "curves.png")
	}
	recs, err := train.ReadMetrics(metrics)
	if err != nil {
		return err
	}
	if title == "" {
		last := 0
		for _, r := range recs {
			last = max(last, r.Step)
		}
		abs, _ := filepath.Abs(dir)
		title = fmt.Sprintf("%s (step %d)", filepath.Base(abs), last)
	}
	img, err := viz.Curves(recs, viz.CurveOptions{Title: title, Width: width})
	if err != nil {
		return fmt.Errorf("%s: %w", metrics, err)
	}
	if err := viz.WritePNG(out, img); err != nil {
		return err
	}
	nt, ne := 0, 0
	for _, r := range recs {
		switch r.Type {
		case train.RecordTrain:
			nt++
		case train.RecordEval:
			ne++
		}
	}
	fmt.Fprintf(stdout, "wrote %s (%d training and %d evaluation records)\n", out, nt, ne)
	return nil
}
