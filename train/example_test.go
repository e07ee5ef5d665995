package train_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/train"
)

// A clip that exists only in memory (frames and a waveform, e.g. from a
// camera and a microphone) is classified by a model built in Go: the
// processor makes the batch, ModelBatch the model input.
func ExampleModelBatch() {
	cfg, _ := train.Preset("tiny") // 32x32 frames, 64x32 spectrogram
	cfg.NumLabels = 3
	m, err := train.NewModel(layers.Classification, cfg, 1) // or train.LoadModel(dir)
	if err != nil {
		panic(err)
	}
	proc, err := data.NewProcessor(cfg, data.DefaultProcessorOptions(cfg))
	if err != nil {
		panic(err)
	}
	// Two 48x64 RGB frames (a horizontal ramp) and 0.5 s of a 440 Hz tone at 16 kHz.
	const n, h, w = 2, 48, 64
	pix := make([]uint8, n*h*w*3)
	for i := range pix {
		pix[i] = uint8((i / 3 % w) * 4)
	}
	wave := make([]float32, 8000)
	for i := range wave {
		wave[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/16000))
	}
	b, err := proc.Process(data.Input{
		Frames: data.Frames{N: n, H: h, W: w, Layout: data.HWC, U8: pix},
		Audio:  data.Wave{Samples: wave, Rate: 16000}, // resampled to 44.1 kHz
	})
	if err != nil {
		panic(err)
	}
	lb, err := train.ModelBatch(b, m)
	if err != nil {
		panic(err)
	}
	prog, err := m.Compile(lb, layers.Options{})
	if err != nil {
		panic(err)
	}
	defer prog.Close()
	res, err := prog.Run(lb)
	if err != nil {
		panic(err)
	}
	logits := res.Outputs["logits"].Data().([]float64)
	best := 0
	for k, v := range logits {
		if v > logits[best] {
			best = k
		}
	}
	fmt.Println("pixel_values", b.PixelShape, "audio_values", b.AudioShape)
	fmt.Println("logits", len(logits), "predicted class", best)
	// Output:
	// pixel_values [1 2 3 32 32] audio_values [1 1 48 32]
	// logits 3 predicted class 1
}

// Fine-tuning from Go code, without the CLI: a classifier trained for a few
// steps on generated demo clips.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "tvlt-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	opts := data.DefaultDemoOptions()
	opts.Clips, opts.Frames = 8, 2
	manifest, err := data.GenerateDemo(filepath.Join(dir, "data"), opts)
	if err != nil {
		panic(err)
	}
	clips, err := data.ReadManifest(manifest)
	if err != nil {
		panic(err)
	}
	cfg, _ := train.Preset("tiny")
	cfg.NumLabels = data.DemoClasses
	m, err := train.NewModel(layers.Classification, cfg, 1)
	if err != nil {
		panic(err)
	}
	o := train.DefaultOptions(train.TaskClassification)
	o.Out = filepath.Join(dir, "run")
	o.Steps, o.BatchSize, o.LR, o.Workers = 3, 4, 1e-3, 1
	t, err := train.New(m, clips, nil, o)
	if err != nil {
		panic(err)
	}
	sum, err := t.Run(context.Background())
	if err != nil {
		panic(err)
	}
	loss := sum.Train["loss"]
	fmt.Println("steps", sum.Step, "finite loss", !math.IsNaN(loss) && !math.IsInf(loss, 0))
	// Output:
	// steps 3 finite loss true
}
