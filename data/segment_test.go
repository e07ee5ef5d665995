package data

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/data/video"
)

func TestWAVSegmentSamples(t *testing.T) {
	dir := t.TempDir()
	// A float32 ramp, x[i] = i/2^20, so every sample names its own index exactly.
	for _, rate := range []int{8000, 44100} {
		n := 3 * rate
		ramp := make([]float32, n)
		for i := range ramp {
			ramp[i] = float32(i) / (1 << 20)
		}
		p := filepath.Join(dir, fmt.Sprintf("ramp%d.wav", rate))
		if err := audio.WriteWAV(p, &audio.Clip{Channels: [][]float32{ramp}, Rate: rate}, audio.Float32); err != nil {
			t.Fatal(err)
		}
		for _, g := range [][2]float64{{0, 1}, {0.3, 1.1}, {1.1, 2.3}, {2.3, 0}, {2.9999, 0}, {1, 9}} {
			got, err := audio.LoadMonoSegment(p, rate, g[0], g[1])
			if err != nil {
				t.Fatalf("%d Hz %v: %v", rate, g, err)
			}
			// Sample-accurate: samples ⌊start·rate⌋ .. ⌊end·rate⌋ (exclusive), decimal times exact.
			i0 := int(math.Round(g[0]*1e6)) * rate / 1e6
			i1 := n
			if g[1] > 0 {
				i1 = min(int(math.Round(g[1]*1e6))*rate/1e6, n)
			}
			if !slices.Equal(got, ramp[i0:i1]) {
				t.Errorf("%d Hz %v: %d samples from %v, want %d from %v", rate, g, len(got), got[0]*(1<<20), i1-i0, i0)
			}
		}
		if _, err := audio.LoadMonoSegment(p, rate, 3, 0); err == nil || !strings.Contains(err.Error(), "past the end of the audio") || !strings.Contains(err.Error(), p) {
			t.Errorf("start at the end: %v", err)
		}
	}
	// Stereo is cut, then averaged; resampling applies to the cut part.
	l, r := make([]float32, 16000), make([]float32, 16000)
	for i := range l {
		l[i], r[i] = float32(i)/(1<<16), -float32(i)/(1<<17)
	}
	p := filepath.Join(dir, "stereo.wav")
	if err := audio.WriteWAV(p, &audio.Clip{Channels: [][]float32{l, r}, Rate: 16000}, audio.Float32); err != nil {
		t.Fatal(err)
	}
	got, err := audio.LoadMonoSegment(p, 16000, 0.25, 0.5)
	if err != nil || len(got) != 4000 || got[0] != float32(4000)/(1<<18) || got[3999] != float32(7999)/(1<<18) {
		t.Fatalf("stereo cut: %d samples, %v", len(got), err)
	}
	cut, err := audio.LoadMonoSegment(p, 44100, 0.25, 0.5)
	whole := audio.Resample(audio.Downmix([][]float32{l[4000:8000], r[4000:8000]}), 16000, 44100)
	if err != nil || !slices.Equal(cut, whole) {
		t.Fatalf("resampled cut differs from resampling the hand-cut part: %v", err)
	}
}

// makeLongRecording writes a 3 s, 8 fps video (frame k solid (10k, 120, 200),
// with an AAC track of the WAV if withTrack) and a 3 s WAV of a tone at 440 Hz
// for t < 1, 1760 Hz for 1 <= t < 2 and 880 Hz after.
func makeLongRecording(t *testing.T, dir string, withTrack bool) (mp4, wav string, wave []float32) {
	t.Helper()
	ff := requireFFmpeg(t)
	wave = make([]float32, 3*44100)
	for i := range wave {
		f := []float64{440, 1760, 880}[i/44100]
		wave[i] = float32(0.5 * math.Sin(2*math.Pi*f*float64(i)/44100))
	}
	wav = filepath.Join(dir, "long.wav")
	writeWave(t, wav, wave)
	mp4 = filepath.Join(dir, "long.mp4")
	args := []string{"-nostdin", "-hide_banner", "-v", "error", "-y",
		"-f", "lavfi", "-i", "nullsrc=s=48x40:r=8,format=rgb24,geq=r='10*N':g=120:b=200"}
	if withTrack {
		args = append(args, "-i", wav, "-c:a", "aac", "-b:a", "192k")
	}
	args = append(args, "-t", "3", "-c:v", "mpeg4", "-q:v", "1", "-g", "10", mp4)
	if b, err := exec.Command(ff, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return mp4, wav, wave
}

// segmentConfig is the tiny config with a spectrogram long enough for 1.5 s.
func segmentConfig() config.Config {
	c := tinyConfig()
	c.SpectrogramLength = 136
	return c
}

// frameReds returns the mean red level of each frame of a sample.
func frameReds(s *Sample, cfg config.Config) []int {
	hw := cfg.ImageSize[0] * cfg.ImageSize[1]
	out := make([]int, s.NumFrames)
	for k := range out {
		sum := 0.0
		for _, v := range s.Pixels[k*3*hw : k*3*hw+hw] {
			sum += float64(v)
		}
		out[k] = int(math.Round((sum/float64(hw) + 1) / 2 * 255))
	}
	return out
}

func TestSegmentsOfOneRecording(t *testing.T) {
	dir := t.TempDir()
	_, _, wave := makeLongRecording(t, dir, true)
	mp := filepath.Join(dir, "manifest.jsonl")
	writeText(t, mp, `{"video": "long.mp4", "audio": "long.wav", "start": 0, "end": 1, "label": 0}
{"video": "long.mp4", "audio": "long.wav", "start": 1, "end": 2.5, "label": 1}
{"video": "long.mp4", "start": 2, "label": 2}
`)
	clips, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	cfg := segmentConfig()
	ext, err := audio.NewExtractor(FeatureConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []struct {
		id     string
		reds   []int // frame k is red 10k: the frames sampled from the segment's own frames
		i0, i1 int   // samples of the WAV the segment holds (-1: no WAV, from the track)
	}{
		// [0, 1): frames 0..7, 8 sampled to 4 = 0, 2, 4, 6.
		{"long@0-1", []int{0, 20, 40, 60}, 0, 44100},
		// [1, 2.5): frames 8..19, 12 sampled to 4 = ⌊3i⌋ = 8, 11, 14, 17.
		{"long@1-2.5", []int{80, 110, 140, 170}, 44100, 110250},
		// [2, end): frames 16..23 -> 16, 18, 20, 22.
		{"long@2-end", []int{160, 180, 200, 220}, -1, -1},
	} {
		c := clips[i]
		if c.ID != w.id {
			t.Fatalf("clip %d: id %q, want %q", i, c.ID, w.id)
		}
		s, err := loadSample(c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := frameReds(s, cfg)
		ok := len(got) == len(w.reds)
		for k := 0; ok && k < len(got); k++ {
			ok = math.Abs(float64(got[k]-w.reds[k])) <= 3 // lossy codec
		}
		if !ok {
			t.Errorf("%s: frame reds %v, want %v", c.ID, got, w.reds)
		}
		if w.i0 < 0 {
			// 1 s of the AAC track: 86 spectrogram rows as for 1 s of WAV (±1 for codec padding).
			if s.AudioFrames < 85 || s.AudioFrames > 87 {
				t.Errorf("%s: %d audio rows from the track, want 86±1", c.ID, s.AudioFrames)
			}
			continue
		}
		// The WAV segment gives exactly the features of the file cut by hand.
		hand := filepath.Join(dir, fmt.Sprintf("hand%d.wav", i))
		writeWave(t, hand, wave[w.i0:w.i1])
		handWave, err := audio.LoadMono(hand, 44100)
		if err != nil {
			t.Fatal(err)
		}
		feat, rows, err := ext.Features(handWave)
		if err != nil {
			t.Fatal(err)
		}
		if s.AudioFrames != rows || !slices.Equal(s.Audio, feat) {
			t.Errorf("%s: %d spectrogram rows, want %d; equal to the hand-cut file's: %v", c.ID, s.AudioFrames, rows, slices.Equal(s.Audio, feat))
		}
		// 1 s at hop 512 = 87 STFT frames, the last dropped; 1.5 s -> 129 rows.
		if want := map[int]int{0: 86, 1: 129}[i]; s.AudioFrames != want {
			t.Errorf("%s: %d rows, want %d", c.ID, s.AudioFrames, want)
		}
	}
}

func TestSegmentCache(t *testing.T) {
	dir := t.TempDir()
	mp4, wav, _ := makeLongRecording(t, dir, false)
	clips := []Clip{
		{ID: "a", Video: mp4, Audio: wav, Start: 0, End: 1, Label: Label{Kind: LabelClass, Class: 0}},
		{ID: "b", Video: mp4, Audio: wav, Start: 1, End: 2, Label: Label{Kind: LabelClass, Class: 1}},
		{ID: "whole", Video: mp4, Audio: wav, Label: Label{Kind: LabelClass, Class: 1}},
	}
	cfg := segmentConfig()
	fc, err := newFeatureCache(filepath.Join(dir, "k"), cfg, ProcessorConfig(cfg), FeatureConfig(cfg), audio.SincHann)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, c := range clips {
		v, a, err := fc.keys(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{v, a} {
			if other, dup := seen[k]; dup {
				t.Errorf("clips %s and %s share cache key %s", other, c.ID, k)
			}
			seen[k] = c.ID
		}
	}

	var nv, na, nsv, nsa atomic.Int64
	dec := Decoders{
		DecodeVideo: func(p string, n, r int, w bool) ([]video.Frame, []float32, error) {
			nv.Add(1)
			return video.Decode(p, n, r, w)
		},
		LoadAudio: func(p string, r int) ([]float32, error) { na.Add(1); return audio.LoadMono(p, r) },
		DecodeVideoSegment: func(p string, s, e float64, n, r int, w bool) ([]video.Frame, []float32, error) {
			nsv.Add(1)
			return video.DecodeSegment(p, s, e, n, r, w)
		},
		LoadAudioSegment: func(p string, r int, s, e float64) ([]float32, error) {
			nsa.Add(1)
			return audio.LoadMonoSegment(p, r, s, e)
		},
	}
	cache := filepath.Join(dir, "cache")
	l, err := NewLoader(clips[:2], cfg, LoaderOptions{BatchSize: 2, CacheDir: cache, Decoders: dec})
	if err != nil {
		t.Fatal(err)
	}
	e0 := collect(t, l.Epoch(0))
	if nsv.Load() != 2 || nsa.Load() != 2 || nv.Load() != 0 || na.Load() != 0 {
		t.Fatalf("epoch 0: %d video and %d WAV segment decodes (want 2, 2), %d and %d whole-file ones (want 0)", nsv.Load(), nsa.Load(), nv.Load(), na.Load())
	}
	b := e0[0]
	half := len(b.PixelValues) / 2
	if slices.Equal(b.PixelValues[:half], b.PixelValues[half:]) {
		t.Fatal("the two segments have the same frames")
	}
	ahalf := len(b.AudioValues) / 2
	if slices.Equal(b.AudioValues[:ahalf], b.AudioValues[ahalf:]) {
		t.Fatal("the two segments have the same spectrogram")
	}
	e1 := collect(t, l.Epoch(1))
	if nsv.Load() != 2 || nsa.Load() != 2 {
		t.Fatalf("epoch 1 decoded again: %d video, %d WAV segments", nsv.Load()-2, nsa.Load()-2)
	}
	e1[0].Epoch = 0 // the only difference allowed
	if !reflect.DeepEqual(e0, e1) {
		t.Fatal("cached segments differ from decoded ones")
	}
	entries := 0
	filepath.Walk(cache, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			entries++
		}
		return nil
	})
	if entries != 4 {
		t.Fatalf("%d cache entries, want 4 (2 segments x video, audio)", entries)
	}
	// The whole file is a third entry pair, decoded by the whole-file readers.
	l2, _ := NewLoader(clips, cfg, LoaderOptions{BatchSize: 3, CacheDir: cache, Decoders: dec})
	collect(t, l2.Epoch(0))
	if nv.Load() != 1 || na.Load() != 1 || nsv.Load() != 2 || nsa.Load() != 2 {
		t.Fatalf("whole file: %d/%d whole-file decodes (want 1/1), %d/%d segment decodes (want 2/2)", nv.Load(), na.Load(), nsv.Load(), nsa.Load())
	}
}

func TestSegmentLoadErrors(t *testing.T) {
	dir := t.TempDir()
	mp4, _, wave := makeLongRecording(t, dir, false)
	short := filepath.Join(dir, "short.wav")
	writeWave(t, short, wave[:44100])
	writeFrames(t, filepath.Join(dir, "fr"), 3, 16, 16, color.RGBA{10, 20, 30, 255})
	mp := filepath.Join(dir, "manifest.jsonl")
	writeText(t, mp, `{"video": "long.mp4", "audio": "long.wav", "start": 4}
{"video": "long.mp4", "audio": "short.wav", "start": 2, "end": 3}
{"video": "long.mp4", "audio": "long.wav", "start": 1, "end": 2}
`)
	clips, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	cfg := segmentConfig()
	for i, want := range []struct{ file, msg string }{
		{mp4, "starts past the end of the file"},
		{short, "starts past the end of the audio"},
	} {
		_, err := loadSample(clips[i], cfg)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s:%d", mp, i+1)) || !strings.Contains(err.Error(), want.file) || !strings.Contains(err.Error(), want.msg) {
			t.Errorf("line %d: %v, want %q naming the line and %s", i+1, err, want.msg, want.file)
		}
	}
	if _, err := loadSample(clips[2], cfg); err != nil {
		t.Fatal(err)
	}
	// Clips built in code get the same checks.
	c := Clip{ID: "fr", Frames: filepath.Join(dir, "fr"), Audio: short, Start: 0.5}
	if _, err := loadSample(c, cfg); err == nil || !strings.Contains(err.Error(), "frame folder has no timestamps") {
		t.Errorf("frames with start: %v", err)
	}
	c = Clip{ID: "neg", Video: mp4, Audio: short, Start: -1}
	if _, err := loadSample(c, cfg); err == nil || !strings.Contains(err.Error(), "start -1") {
		t.Errorf("negative start: %v", err)
	}
}
