package video

import (
	"math/rand"
	"path/filepath"
	"testing"
)

// BenchmarkProcess224 is one 480×640 frame through the default pipeline
// (Pillow bilinear to 224×298, crop 224×224, normalise).
func BenchmarkProcess224(b *testing.B) {
	f := Frame{H: 480, W: 640, Pix: make([]uint8, 480*640*3)}
	rand.New(rand.NewSource(1)).Read(f.Pix)
	p := DefaultProcessorConfig()
	frames := []Frame{f}
	b.SetBytes(int64(len(f.Pix)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := p.Video(frames, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResize480to224 isolates the resampler.
func BenchmarkResize480to224(b *testing.B) {
	f := Frame{H: 480, W: 640, Pix: make([]uint8, 480*640*3)}
	rand.New(rand.NewSource(1)).Read(f.Pix)
	b.SetBytes(int64(len(f.Pix)))
	for i := 0; i < b.N; i++ {
		ResizeBilinear(f, 224, 298)
	}
}

// BenchmarkDecodeClip decodes a 2 s 320×240 25 fps H.264/AAC clip (or MPEG-4
// if libx264 is absent): 8 sampled frames plus the audio at 44.1 kHz, the
// loader's per-clip ffmpeg cost.
func BenchmarkDecodeClip(b *testing.B) {
	needFFmpeg(b)
	path := filepath.Join(b.TempDir(), "bench.mp4")
	vc := "mpeg4"
	if hasEncoder(b, "libx264") {
		vc = "libx264"
	}
	ffmpegRun(b, "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", testSrcAudio,
		"-t", "2", "-c:v", vc, "-pix_fmt", "yuv420p", "-c:a", "aac", path)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		frames, audio, err := Decode(path, 8, 44100, true)
		if err != nil {
			b.Fatal(err)
		}
		if len(frames) != 8 || len(audio) < 80000 {
			b.Fatalf("got %d frames, %d samples", len(frames), len(audio))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "clips/s")
}

// BenchmarkDecodeAndProcess is the whole video path of one clip: decode 8
// frames with ffmpeg, then Video to (8,3,224,224).
func BenchmarkDecodeAndProcess(b *testing.B) {
	needFFmpeg(b)
	path := filepath.Join(b.TempDir(), "bench.mp4")
	vc := "mpeg4"
	if hasEncoder(b, "libx264") {
		vc = "libx264"
	}
	ffmpegRun(b, "-f", "lavfi", "-i", "testsrc=size=640x480:rate=25", "-t", "2", "-c:v", vc, "-pix_fmt", "yuv420p", path)
	p := DefaultProcessorConfig()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		frames, _, err := Decode(path, 8, 0, false)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := p.Video(frames, 8); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "clips/s")
}
