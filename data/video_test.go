package data

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tvlt-go/tvlt/data/audio"
)

// requireFFmpeg skips without ffmpeg, except in CI (CI=true), which installs it and
// must therefore run these tests.
func requireFFmpeg(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ffmpeg not found but CI=true: the CI script installs it (apt-get install ffmpeg)")
		}
		t.Skip("ffmpeg not installed (apt-get install ffmpeg)")
	}
	return p
}

// makeMP4 encodes n w x h frames (frame k: red = 30k, green 120, blue 200) at 8 fps
// and, if wave is not nil, a 44.1 kHz AAC track.
func makeMP4(t testing.TB, dir, name string, n, w, h int, wave []float32) string {
	t.Helper()
	ff := requireFFmpeg(t)
	src := filepath.Join(dir, name+"_src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	for k := 0; k < n; k++ {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := 0; i < w*h; i++ {
			img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = uint8(30*k), 120, 200, 255
		}
		if err := writePNG(filepath.Join(src, fmt.Sprintf("%03d.png", k)), img, &enc); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, name+".mp4")
	args := []string{"-hide_banner", "-loglevel", "error", "-y", "-framerate", "8", "-i", filepath.Join(src, "%03d.png")}
	if wave != nil {
		wp := filepath.Join(src, "a.wav")
		writeWave(t, wp, wave)
		args = append(args, "-i", wp, "-c:a", "aac", "-b:a", "192k")
	}
	args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", "-pix_fmt", "yuv444p", out)
	if b, err := exec.Command(ff, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return out
}

func TestLoaderMP4(t *testing.T) {
	dir := t.TempDir()
	wave := sine(1.0, 880)
	makeMP4(t, dir, "av", 8, 64, 48, wave)
	silent := makeMP4(t, dir, "mute", 8, 64, 48, nil)
	wp := filepath.Join(dir, "other.wav")
	writeWave(t, wp, sine(0.5, 440))
	mp := filepath.Join(dir, "manifest.jsonl")
	writeText(t, mp, `{"video": "av.mp4", "id": "av", "label": 1}
{"video": "mute.mp4", "audio": "other.wav", "id": "mute+wav", "label": 0}
{"video": "mute.mp4", "id": "mute", "label": 0}
`)
	clips, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	sh := tinyConfig()
	s, err := loadSample(clips[0], sh)
	if err != nil {
		t.Fatal(err)
	}
	// 8 frames sampled to 4: indices 0, 2, 4, 6 -> red 0, 60, 120, 180 (lossy codec: ±3 levels).
	if s.NumFrames != 4 {
		t.Fatalf("%d frames, want 4", s.NumFrames)
	}
	for k, red := range []float64{0, 60, 120, 180} {
		for ch, want := range []float64{red, 120, 200} {
			sum := 0.0
			plane := s.Pixels[(k*3+ch)*1024 : (k*3+ch+1)*1024]
			for _, v := range plane {
				sum += float64(v)
			}
			got := (sum/1024 + 1) / 2 * 255
			if math.Abs(got-want) > 3 {
				t.Errorf("frame %d channel %d: mean %.1f, want %.0f", k, ch, got, want)
			}
		}
	}
	// The AAC track gives ~1 s: truncated to SpectrogramLength 64 rows; its loudest
	// mel band is the 880 Hz tone's, as in the WAV it came from.
	if s.AudioFrames != 64 {
		t.Fatalf("%d audio rows, want 64", s.AudioFrames)
	}
	loudest := func(feat []float32) int {
		best, bi := math.Inf(-1), -1
		for m := 0; m < 32; m++ {
			sum := 0.0
			for r := 0; r < len(feat)/32; r++ {
				sum += float64(feat[r*32+m])
			}
			if sum > best {
				best, bi = sum, m
			}
		}
		return bi
	}
	ext := featuresOf(t, wave)
	if a, b := loudest(s.Audio), loudest(ext); a != b {
		t.Fatalf("loudest mel band %d from the mp4, %d from the WAV", a, b)
	}
	// A separate audio file overrides the (missing) track.
	if s, err := loadSample(clips[1], sh); err != nil || s.AudioFrames != 43 {
		t.Fatalf("mp4 + wav: %v", err)
	}
	// No audio file and no track: clear error naming the line and the file.
	_, err = loadSample(clips[2], sh)
	if err == nil || !strings.Contains(err.Error(), mp+":3") || !strings.Contains(err.Error(), silent) || !strings.Contains(err.Error(), "no audio track") {
		t.Fatalf("mute video: %v", err)
	}
	// Loader: one ffmpeg run per clip per epoch decodes frames and audio together;
	// with the cache, epoch 1 runs ffmpeg zero times. The mute clip is skipped.
	var nf, na, nv atomic.Int64
	l, err := NewLoader(clips, sh, LoaderOptions{BatchSize: 3, SkipBad: true, CacheDir: filepath.Join(dir, "cache"), Decoders: countingDecoders(&nf, &na, &nv)})
	if err != nil {
		t.Fatal(err)
	}
	bs := collect(t, l.Epoch(0))
	if len(bs) != 1 || strings.Join(bs[0].IDs, ",") != "av,mute+wav" || nv.Load() != 3 {
		t.Fatalf("epoch 0: %d batches, ids %v, %d ffmpeg runs (want 3)", len(bs), bs[0].IDs, nv.Load())
	}
	collect(t, l.Epoch(1))
	if nv.Load() != 4 { // only the always-failing mute clip is decoded again
		t.Fatalf("epoch 1 ran ffmpeg %d times, want 1 (the uncacheable bad clip)", nv.Load()-3)
	}
	if sk := l.Skipped(); len(sk) != 1 || sk[0].File != silent || !strings.Contains(sk[0].Reason, "no audio track") {
		t.Fatalf("skipped: %+v", sk)
	}
}

// featuresOf runs the tiny config's feature extractor on a waveform.
func featuresOf(t testing.TB, wave []float32) []float32 {
	t.Helper()
	ext, err := audio.NewExtractor(FeatureConfig(tinyConfig()))
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := ext.Features(wave)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
