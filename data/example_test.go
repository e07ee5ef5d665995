package data_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/data/audio"
)

// Audio features of a WAV file: a generated 1 s, 440 Hz stereo tone written at
// 22.05 kHz, read back, averaged to mono, resampled to the extractor's 44.1 kHz
// and turned into the model's log-mel spectrogram.
func ExampleProcessor_Features() {
	dir, err := os.MkdirTemp("", "tvlt-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	tone := make([]float32, 22050)
	for i := range tone {
		tone[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/22050))
	}
	path := filepath.Join(dir, "tone.wav")
	if err := audio.WriteWAV(path, &audio.Clip{Channels: [][]float32{tone, tone}, Rate: 22050}, audio.PCM16); err != nil {
		panic(err)
	}
	clip, err := audio.ReadWAV(path)
	if err != nil {
		panic(err)
	}
	interleaved := make([]float32, 0, 2*clip.Frames())
	for i := 0; i < clip.Frames(); i++ {
		interleaved = append(interleaved, clip.Channels[0][i], clip.Channels[1][i])
	}
	cfg := config.Default() // 128 mel bins, up to 2048 spectrogram rows
	proc, err := data.NewProcessor(cfg, data.DefaultProcessorOptions(cfg))
	if err != nil {
		panic(err)
	}
	feat, rows, err := proc.Features(data.Wave{Samples: interleaved, Channels: 2, Rate: clip.Rate})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d Hz, %d channels -> spectrogram (%d, %d)\n", clip.Rate, len(clip.Channels), rows, len(feat)/rows)
	// Output:
	// 22050 Hz, 2 channels -> spectrogram (86, 128)
}

// The Go TvltProcessor: one call turns in-memory clips (here one image and one
// 3-frame video, float32 channel-first, with 0.4 s and 0.2 s of audio) into a
// padded batch with masks and MAE permutations, as the file loader would.
func ExampleProcessor_Process() {
	cfg := config.Default()
	cfg.ImageSize, cfg.ImagePatchSize, cfg.NumFrames = [2]int{32, 32}, [2]int{16, 16}, 4
	opts := data.DefaultProcessorOptions(cfg)
	opts.MaskPixel, opts.MaskAudio, opts.Seed = true, true, 1
	proc, err := data.NewProcessor(cfg, opts)
	if err != nil {
		panic(err)
	}
	frames := func(n int) data.Frames {
		v := make([]float32, n*3*40*60)
		for i := range v {
			v[i] = float32(i % 256)
		}
		return data.Frames{N: n, H: 40, W: 60, Layout: data.CHW, F32: v}
	}
	silence := func(seconds float64) data.Wave {
		return data.Wave{Samples: make([]float32, int(seconds*44100)), Rate: 44100}
	}
	b, err := proc.Process(
		data.Input{ID: "image", Frames: frames(1), Audio: silence(0.4)},
		data.Input{ID: "video", Frames: frames(3), Audio: silence(0.2)},
	)
	if err != nil {
		panic(err)
	}
	fmt.Println("pixel_values", b.PixelShape, "pixel_mask", b.PixelMask[:8])
	fmt.Println("audio_values", b.AudioShape, "audio_mask", b.AudioMaskShape)
	fmt.Println("MAE keeps", b.PixelLenKeep, "of", b.PixelMaskShape[1], "pixel and", b.AudioLenKeep, "of", b.AudioMaskShape[1], "audio tokens")
	// Output:
	// pixel_values [2 3 3 32 32] pixel_mask [1 1 1 1 0 0 0 0]
	// audio_values [2 1 48 128] audio_mask [2 24]
	// MAE keeps 3 of 12 pixel and 20 of 24 audio tokens
}
