package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/train"
	"gorgonia.org/tensor"
)

func init() {
	commands["features"] = command{"write the model's inputs per clip (pixel_values, audio_values, masks, ids) to an .npz", runFeatures}
}

const featuresDescription = `
Writes what the model sees for every clip of a manifest (one split, or all)
to one .npz that numpy.load reads, so the preprocessing can be inspected and
compared with other tools. The clips go through the loader exactly as in
training and evaluation (frames sampled, resized, cropped and normalised;
audio averaged to mono, resampled, log-mel features), padded to the longest
clip (or --pad-to), in manifest order:

  pixel_values  float32 (N, T, 3, H, W)     frames; padding frames are zeros
  pixel_mask    float32 (N, T·P)            1 for the patches of real frames
  audio_values  float32 (N, 1, time, freq)  log-mel rows; padding rows are 0
  audio_mask    float32 (N, patches)        1 for real audio patches
  index         int64   (N,)                each clip's position in the
                                            manifest (0-based, every split)
  ids           uint8   (N, L)              each clip's id, UTF-8, zero-padded:
      ids = [bytes(r).rstrip(b"\0").decode() for r in np.load(F)["ids"]]

The model's sizes (image size, patch sizes, num_frames, spectrogram_length,
frequency_length) come from --ckpt (a run or checkpoint folder's
config.json), --config, or --preset (default base: the reference's
TvltConfig(), which TvltProcessor's defaults match). Audio files at another
rate than the feature extractor's 44.1 kHz are resampled with
--audio-resampler: torchaudio (torchaudio.functional.resample's defaults, as
the original TVLT; matches torchaudio to 1e-5) or kaiser (a sharper filter
the pretrained weights never saw). A video's own audio track is resampled
by ffmpeg.`

const featuresExamples = `  tvlt features --data clips.jsonl --out features.npz
  tvlt features --data clips.jsonl --ckpt runs/cls --split test --out test-inputs.npz
  tvlt features --data clips.jsonl --preset small --pad-to max --audio-resampler kaiser --out kaiser.npz`

func runFeatures(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		manifest, out, split, ckpt, cfgPath, preset string
		pad                                         data.Padding
		rs                                          audio.Resampler
	)
	fs := newFlags("features", "--data MANIFEST --out FILE.npz [--split NAME] [flags]", featuresDescription, featuresExamples, stderr)
	fs.StringVar(&manifest, "data", "", "manifest (JSON Lines) (required)")
	fs.StringVar(&out, "out", "", "output file (.npz) (required)")
	fs.StringVar(&split, "split", "all", "clips of this split (\"all\" for every clip)")
	fs.StringVar(&ckpt, "ckpt", "", "run or checkpoint folder whose config.json sets the sizes")
	fs.StringVar(&cfgPath, "config", "", "config.json setting the sizes")
	fs.StringVar(&preset, "preset", "base", "model sizes when neither --ckpt nor --config is given: "+strings.Join(train.Presets, ", "))
	fs.Var(resamplerFlag{&rs}, "audio-resampler", resamplerUsage)
	fs.Var(padFlag{&pad}, "pad-to", padUsage)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "data", "out"); err != nil {
		return err
	}
	if ckpt != "" && cfgPath != "" || (ckpt != "" || cfgPath != "") && isSet(fs, "preset") {
		return usageError(fs, "give one of --ckpt, --config and --preset")
	}
	cfg, err := featuresConfig(ckpt, cfgPath, preset)
	if err != nil {
		return err
	}
	all, err := data.ReadManifest(manifest)
	if err != nil {
		return err
	}
	clips, index := all, make([]int64, len(all))
	for i := range index {
		index[i] = int64(i)
	}
	if split != "all" {
		clips, index = nil, nil
		for i, c := range all {
			if c.Split == split {
				clips, index = append(clips, c), append(index, int64(i))
			}
		}
		if len(clips) == 0 {
			return fmt.Errorf("%s: no clips in split %q (use --split all, train, val or test)", manifest, split)
		}
	}
	b, err := loadFeatures(ctx, clips, cfg, pad, rs)
	if err != nil {
		return err
	}
	arrays, err := featureArrays(b, index)
	if err != nil {
		return err
	}
	if err := checkpoints.WriteNPZ(out, arrays); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d clips to %s: pixel_values %v, audio_values %v (audio resampled with %s)\n",
		b.Size(), out, b.PixelShape, b.AudioShape, rs)
	return nil
}

// featuresConfig reads the model config from a checkpoint folder, a
// config file or a preset.
func featuresConfig(ckpt, cfgPath, preset string) (config.Config, error) {
	switch {
	case ckpt != "":
		dir, err := train.ResolveModelDir(ckpt)
		if err != nil {
			return config.Config{}, err
		}
		return config.Read(filepath.Join(dir, train.ConfigFile))
	case cfgPath != "":
		return config.Read(cfgPath)
	}
	return train.Preset(preset)
}

// loadFeatures loads every clip into one batch, through the loader as
// training does (so padding spans all clips), without MAE masks or
// matching pairs, resampling audio files with rs.
func loadFeatures(ctx context.Context, clips []data.Clip, cfg config.Config, pad data.Padding, rs audio.Resampler) (*data.Batch, error) {
	l, err := data.NewLoader(clips, cfg, data.LoaderOptions{
		BatchSize: len(clips), Padding: pad, AudioResampler: rs,
	})
	if err != nil {
		return nil, err
	}
	it := l.Epoch(0)
	defer it.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := it.Next()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("features: the loader gave no batch")
	}
	return b, err
}

// featureArrays lays the batch out as the .npz arrays; index maps the
// loader's clip positions to manifest positions.
func featureArrays(b *data.Batch, index []int64) (map[string]*tensor.Dense, error) {
	n := b.Size()
	dense := func(v []float32, shape ...int) *tensor.Dense {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	pos := make([]int64, n)
	width := 1
	for j, i := range b.Indices {
		if i < 0 || i >= len(index) {
			return nil, fmt.Errorf("features: batch clip %d has loader index %d of %d", j, i, len(index))
		}
		pos[j] = index[i]
		width = max(width, len(b.IDs[j]))
	}
	ids := make([]uint8, n*width)
	for j, id := range b.IDs {
		copy(ids[j*width:], id)
	}
	return map[string]*tensor.Dense{
		"pixel_values": dense(b.PixelValues, b.PixelShape[:]...),
		"pixel_mask":   dense(b.PixelMask, b.PixelMaskShape[:]...),
		"audio_values": dense(b.AudioValues, b.AudioShape[:]...),
		"audio_mask":   dense(b.AudioMask, b.AudioMaskShape[:]...),
		"index":        tensor.New(tensor.WithShape(n), tensor.WithBacking(pos)),
		"ids":          tensor.New(tensor.WithShape(n, width), tensor.WithBacking(ids)),
	}, nil
}
