package data

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tvlt-go/tvlt/config"
)

// benchEpochs runs whole epochs and reports decoded clips per second.
func benchEpochs(b *testing.B, clips []Clip, cfg config.Config, opts LoaderOptions, warm bool) {
	l, err := NewLoader(clips, cfg, opts)
	if err != nil {
		b.Fatal(err)
	}
	if warm {
		collect(b, l.Epoch(0))
	}
	b.ResetTimer()
	start := time.Now()
	n := 0
	for i := 0; i < b.N; i++ {
		for _, bt := range collect(b, l.Epoch(i+1)) {
			n += bt.Size()
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "clips/s")
}

// BenchmarkLoaderDemo: the built-in demo set (32x32, 4 frames, 0.75 s) at the tiny
// model's shapes, pretraining batches of 32.
func BenchmarkLoaderDemo(b *testing.B) {
	dir := b.TempDir()
	mp, err := GenerateDemo(dir, demoOptions(func(o *DemoOptions) { o.Clips = 256 }))
	if err != nil {
		b.Fatal(err)
	}
	clips, _ := ReadManifest(mp)
	benchEpochs(b, clips, tinyConfig(), LoaderOptions{BatchSize: 32, Shuffle: true, Pretraining: true}, false)
}

// baseFrameClips writes 16 frame-folder + WAV clips (320x240, 8 frames, 5 s) for the
// base config (224x224, 8 frames, 128 mel bins, 2048 spectrogram rows).
func baseFrameClips(b *testing.B) []Clip {
	dir := b.TempDir()
	mp, err := GenerateDemo(dir, demoOptions(func(o *DemoOptions) { o.Clips, o.Width, o.Height, o.Frames, o.Seconds = 16, 320, 240, 8, 5 }))
	if err != nil {
		b.Fatal(err)
	}
	clips, _ := ReadManifest(mp)
	return clips
}

func BenchmarkLoaderBaseFrames(b *testing.B) {
	benchEpochs(b, baseFrameClips(b), config.Default(), LoaderOptions{BatchSize: 8, Shuffle: true}, false)
}

func BenchmarkLoaderBaseFramesPretraining(b *testing.B) {
	benchEpochs(b, baseFrameClips(b), config.Default(), LoaderOptions{BatchSize: 8, Shuffle: true, Pretraining: true}, false)
}

func BenchmarkLoaderBaseFramesCached(b *testing.B) {
	benchEpochs(b, baseFrameClips(b), config.Default(), LoaderOptions{BatchSize: 8, Shuffle: true, CacheDir: b.TempDir()}, true)
}

// baseMP4Clips encodes one 10 s 640x360 25 fps H.264 + AAC clip and lists it 8 times.
func baseMP4Clips(b *testing.B) []Clip {
	ff := requireFFmpeg(b)
	dir := b.TempDir()
	out := filepath.Join(dir, "clip.mp4")
	cmd := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=640x360:rate=25:duration=10",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=10:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, msg)
	}
	clips := make([]Clip, 8)
	for i := range clips {
		clips[i] = Clip{ID: fmt.Sprintf("mp4_%d", i), Video: out}
	}
	return clips
}

func BenchmarkLoaderBaseMP4(b *testing.B) {
	benchEpochs(b, baseMP4Clips(b), config.Default(), LoaderOptions{BatchSize: 4}, false)
}

func BenchmarkLoaderBaseMP4Cached(b *testing.B) {
	benchEpochs(b, baseMP4Clips(b), config.Default(), LoaderOptions{BatchSize: 4, CacheDir: b.TempDir()}, true)
}
