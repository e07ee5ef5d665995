package data

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/data/video"
)

// tinyConfig has the golden tiny model's input sizes: 4 frames of 32x32 with
// 8x8 patches, a 64 x 32 spectrogram with 8x8 audio patches (4 frequency
// patches per time step), the reference's mask ratios and frame-level masking.
func tinyConfig() config.Config {
	c := config.Default()
	c.NumFrames, c.ImageSize, c.ImagePatchSize = 4, [2]int{32, 32}, [2]int{8, 8}
	c.SpectrogramLength, c.FrequencyLength, c.AudioPatchSize = 64, 32, [2]int{8, 8}
	return c
}

// writeFrames writes n solid-colour w x h PNG frames; frame k has colour col + k*10 (red).
func writeFrames(t testing.TB, dir string, n, w, h int, col color.RGBA) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	for k := 0; k < n; k++ {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		c := col
		c.R += uint8(10 * k)
		for i := 0; i < w*h; i++ {
			img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = c.R, c.G, c.B, 255
		}
		if err := writePNG(filepath.Join(dir, fmt.Sprintf("f%03d.png", k)), img, &enc); err != nil {
			t.Fatal(err)
		}
	}
}

// sine returns seconds of a sine at f Hz, amplitude 0.5, at 44.1 kHz.
func sine(seconds, f float64) []float32 {
	n := int(seconds * 44100)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(0.5 * math.Sin(2*math.Pi*f*float64(i)/44100))
	}
	return x
}

func writeWave(t testing.TB, path string, x []float32) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeWAV16(path, x, 44100); err != nil {
		t.Fatal(err)
	}
}

// testClips writes n frame-folder + WAV clips of varying length (frames 2..4, audio
// 0.3..0.75 s) and returns them as read back from a manifest.
func testClips(t testing.TB, dir string, n int) []Clip {
	t.Helper()
	var clips []Clip
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("c%02d", i)
		fd := filepath.Join(dir, "frames", id)
		writeFrames(t, fd, 2+i%3, 40+i, 32, color.RGBA{uint8(20 * i), 100, 200, 255})
		wp := filepath.Join(dir, "audio", id+".wav")
		writeWave(t, wp, sine(0.3+0.05*float64(i%10), 300+50*float64(i)))
		clips = append(clips, Clip{ID: id, Frames: fd, Audio: wp, Label: Label{Kind: LabelClass, Class: i % 3}})
	}
	mp := filepath.Join(dir, "manifest.jsonl")
	if err := WriteManifest(mp, clips); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func collect(t testing.TB, it *Iter) []*Batch {
	t.Helper()
	var out []*Batch
	for {
		b, err := it.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

// loadSample decodes one clip the way the loader does, with the default
// decoders and no cache.
func loadSample(c Clip, cfg config.Config) (*Sample, error) {
	sl, err := newSampleLoader(cfg, Decoders{}, audio.SincHann, "")
	if err != nil {
		return nil, err
	}
	return sl.load(c, true)
}

func TestLoadSampleValues(t *testing.T) {
	dir := t.TempDir()
	fd := filepath.Join(dir, "fr")
	writeFrames(t, fd, 6, 48, 32, color.RGBA{30, 128, 255, 255}) // 6 frames > NumFrames 4: sampled
	wave := sine(0.5, 440)
	wp := filepath.Join(dir, "a.wav")
	writeWave(t, wp, wave)
	s, err := loadSample(Clip{ID: "x", Frames: fd, Audio: wp}, tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	if s.NumFrames != 4 || len(s.Pixels) != 4*3*32*32 {
		t.Fatalf("frames %d, %d values", s.NumFrames, len(s.Pixels))
	}
	// SampleIndices(6, 4) = [0 1 3 4]: red channels 30, 40, 60, 70.
	for k, red := range []float64{30, 40, 60, 70} {
		for ch, v := range []float64{red, 128, 255} {
			want := float32((float32(v/255) - 0.5) / 0.5)
			if got := s.Pixels[k*3*1024+ch*1024+17*32+5]; got != want {
				t.Errorf("frame %d channel %d: %v, want %v", k, ch, got, want)
			}
		}
	}
	// 22050 samples -> floor(22050/512) = 43 rows, compared with the extractor on the WAV's samples.
	if s.AudioFrames != 43 || len(s.Audio) != 43*32 {
		t.Fatalf("audio rows %d, %d values", s.AudioFrames, len(s.Audio))
	}
	mono, err := audio.LoadMono(wp, 44100)
	if err != nil {
		t.Fatal(err)
	}
	ext, _ := audio.NewExtractor(FeatureConfig(tinyConfig()))
	want, _, _ := ext.Features(mono)
	if !reflect.DeepEqual(s.Audio, want) {
		t.Fatal("audio features differ from the extractor's")
	}
	// Silent audio is valid: every feature is the -1 floor.
	writeWave(t, wp, make([]float32, 9000))
	s, err = loadSample(Clip{ID: "x", Frames: fd, Audio: wp}, tinyConfig())
	if err != nil {
		t.Fatalf("silent audio: %v", err)
	}
	for i, v := range s.Audio {
		if v != -1 {
			t.Fatalf("silent feature %d = %v, want -1", i, v)
		}
	}
}

func TestLoaderBatches(t *testing.T) {
	dir := t.TempDir()
	clips := testClips(t, dir, 7)
	sh := tinyConfig()
	l, err := NewLoader(clips, sh, LoaderOptions{BatchSize: 3, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 3 {
		t.Fatalf("Len %d, want 3", l.Len())
	}
	bs := collect(t, l.Epoch(0))
	if len(bs) != 3 || bs[2].Size() != 1 {
		t.Fatalf("%d batches, last of %d", len(bs), bs[len(bs)-1].Size())
	}
	// Batch 0 = clips 0,1,2: frames 2,3,4; audio 0.3,0.35,0.4 s -> 25,30,34 rows -> 4,4,5 time patches.
	b := bs[0]
	if b.PixelShape != [5]int{3, 4, 3, 32, 32} || b.PixelMaskShape != [2]int{3, 64} {
		t.Fatalf("pixel shapes %v %v", b.PixelShape, b.PixelMaskShape)
	}
	if b.AudioShape != [4]int{3, 1, 40, 32} || b.AudioMaskShape != [2]int{3, 20} {
		t.Fatalf("audio shapes %v %v", b.AudioShape, b.AudioMaskShape)
	}
	for j, frames := range []int{2, 3, 4} {
		ones := 0
		for _, v := range b.PixelMask[j*64 : (j+1)*64] {
			ones += int(v)
		}
		if ones != frames*16 {
			t.Errorf("row %d: %d real pixel patches, want %d", j, ones, frames*16)
		}
		// Padding frames are zeros.
		if frames < 4 {
			for _, v := range b.PixelValues[(j*4+frames)*3072 : (j+1)*4*3072] {
				if v != 0 {
					t.Fatalf("row %d: non-zero padding frame", j)
				}
			}
		}
	}
	for j, patches := range []int{4, 4, 5} {
		ones := 0
		for _, v := range b.AudioMask[j*20 : (j+1)*20] {
			ones += int(v)
		}
		if ones != patches*4 {
			t.Errorf("row %d: %d real audio patches, want %d", j, ones, patches*4)
		}
	}
	if !reflect.DeepEqual(b.IDs, []string{"c00", "c01", "c02"}) || b.Labels[2].Class != 2 {
		t.Fatalf("ids %v labels %+v", b.IDs, b.Labels)
	}
	if b.PixelIDsShuffle != nil || b.MatchingLabels != nil {
		t.Fatal("pretraining tensors without Pretraining")
	}

	// FixedShapes: every batch is (B, NumFrames, ...) and (B, 1, SpectrogramLength, F).
	l, _ = NewLoader(clips, sh, LoaderOptions{BatchSize: 3, Padding: Padding{Mode: PadMax}, DropLast: true})
	bs = collect(t, l.Epoch(0))
	if len(bs) != 2 {
		t.Fatalf("DropLast: %d batches", len(bs))
	}
	for _, b := range bs {
		if b.PixelShape != [5]int{3, 4, 3, 32, 32} || b.AudioShape != [4]int{3, 1, 64, 32} || b.AudioMaskShape != [2]int{3, 32} {
			t.Fatalf("fixed shapes %v %v %v", b.PixelShape, b.AudioShape, b.AudioMaskShape)
		}
	}
}

func TestLoaderPretraining(t *testing.T) {
	dir := t.TempDir()
	clips := testClips(t, dir, 12)
	sh := tinyConfig()
	l, err := NewLoader(clips, sh, LoaderOptions{BatchSize: 4, Shuffle: true, Seed: 5, Pretraining: true, Padding: Padding{Mode: PadMax}})
	if err != nil {
		t.Fatal(err)
	}
	negs, total := 0, 0
	for e := 0; e < 8; e++ {
		for _, b := range collect(t, l.Epoch(e)) {
			B := b.Size()
			Lp, La := 4*16, 8*4
			if b.PixelLenKeep != 16 || b.AudioLenKeep != 27 {
				t.Fatalf("len_keep %d %d, want 16 27", b.PixelLenKeep, b.AudioLenKeep)
			}
			if len(b.PixelIDsShuffle) != B*Lp || len(b.AudioIDsShuffle) != B*La {
				t.Fatalf("index tensor sizes %d %d", len(b.PixelIDsShuffle), len(b.AudioIDsShuffle))
			}
			restore, err := config.Replay(b.AudioIDsShuffle, B, La, b.AudioLenKeep, nil)
			if err != nil {
				t.Fatal(err)
			}
			for j := 0; j < B; j++ {
				ash, re := b.AudioIDsShuffle[j*La:(j+1)*La], restore.IDsRestore[j*La:(j+1)*La]
				for i := range ash {
					if re[ash[i]] != int64(i) {
						t.Fatal("audio restore is not the inverse of shuffle")
					}
				}
				// Frame-level: patches of one time step are adjacent and in order.
				for i := 1; i < La; i++ {
					if ash[i]%4 != 0 && ash[i] != ash[i-1]+1 {
						t.Fatalf("frame-level group split: %v", ash)
					}
				}
				total++
				fsz := 4 * 3 * 32 * 32
				mixed := b.PixelValuesMixed[j*fsz : (j+1)*fsz]
				if b.MatchingLabels[j] == 1 {
					if b.Partners[j] != b.Indices[j] || !reflect.DeepEqual(mixed, b.PixelValues[j*fsz:(j+1)*fsz]) {
						t.Fatal("true pair with a foreign video")
					}
					continue
				}
				negs++
				if b.Partners[j] == b.Indices[j] {
					t.Fatal("negative drawn from the same clip")
				}
				p, err := loadSample(clips[b.Partners[j]], sh)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(mixed[:len(p.Pixels)], p.Pixels) {
					t.Fatal("mixed video is not the partner's")
				}
				ones := 0
				for _, v := range b.PixelMaskMixed[j*Lp : (j+1)*Lp] {
					ones += int(v)
				}
				if ones != p.NumFrames*16 {
					t.Fatalf("mixed mask has %d ones, want %d", ones, p.NumFrames*16)
				}
			}
		}
	}
	// 96 draws at p = 0.5: 48 ± 4.9; allow ±4 sigma.
	if negs < 28 || negs > 68 {
		t.Fatalf("%d negatives of %d", negs, total)
	}
	l, _ = NewLoader(clips, sh, LoaderOptions{BatchSize: 4, Pretraining: true, NegativeRatio: -1})
	for _, b := range collect(t, l.Epoch(0)) {
		for _, m := range b.MatchingLabels {
			if m != 1 {
				t.Fatal("NegativeRatio -1 produced a negative")
			}
		}
	}
}

// TestLoaderDeterminism: 1 vs 4 workers give bit-identical batches over 2 epochs, and
// resuming at batch k gives the tail of the uninterrupted epoch.
func TestLoaderDeterminism(t *testing.T) {
	dir := t.TempDir()
	clips := testClips(t, dir, 10)
	run := func(workers, prefetch int) [][]*Batch {
		l, err := NewLoader(clips, tinyConfig(), LoaderOptions{BatchSize: 3, Shuffle: true, Seed: 11, Workers: workers, Prefetch: prefetch, Pretraining: true})
		if err != nil {
			t.Fatal(err)
		}
		return [][]*Batch{collect(t, l.Epoch(0)), collect(t, l.Epoch(1))}
	}
	a, b := run(1, 1), run(4, 3)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("1 and 4 workers give different batches")
	}
	if reflect.DeepEqual(a[0][0].IDs, a[1][0].IDs) && reflect.DeepEqual(a[0][1].IDs, a[1][1].IDs) {
		t.Fatal("epochs 0 and 1 have the same order")
	}
	l, _ := NewLoader(clips, tinyConfig(), LoaderOptions{BatchSize: 3, Shuffle: true, Seed: 11, Workers: 2, Pretraining: true})
	it, err := l.Start(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if tail := collect(t, it); !reflect.DeepEqual(tail, a[1][2:]) {
		t.Fatal("Start(1, 2) differs from batches 2.. of epoch 1")
	}
	if e, k := it.Position(); e != 1 || k != 4 {
		t.Fatalf("position after the epoch: %d %d", e, k)
	}
	it = l.Epoch(0)
	if _, err := it.Next(); err != nil {
		t.Fatal(err)
	}
	if _, k := it.Position(); k != 1 {
		t.Fatalf("position after one batch: %d", k)
	}
	it.Close()
	if _, err := it.Next(); err == nil {
		t.Fatal("Next after Close succeeded")
	}
	if _, err := l.Start(0, 5); err == nil {
		t.Fatal("Start beyond Len accepted")
	}
	c, _ := NewLoader(clips, tinyConfig(), LoaderOptions{BatchSize: 3, Shuffle: true, Seed: 12, Pretraining: true})
	if reflect.DeepEqual(collect(t, c.Epoch(0))[0].PixelIDsShuffle, a[0][0].PixelIDsShuffle) {
		t.Fatal("another seed gives the same masks")
	}
}

// countingDecoders wrap the real readers and count calls.
func countingDecoders(frames, audios, videos *atomic.Int64) Decoders {
	return Decoders{
		ReadFrameDir: func(dir string) ([]video.Frame, error) { frames.Add(1); return video.ReadFrameDir(dir) },
		LoadAudio:    func(p string, r int) ([]float32, error) { audios.Add(1); return audio.LoadMono(p, r) },
		DecodeVideo: func(p string, n, r int, w bool) ([]video.Frame, []float32, error) {
			videos.Add(1)
			return video.Decode(p, n, r, w)
		},
	}
}

func TestLoaderCache(t *testing.T) {
	dir := t.TempDir()
	clips := testClips(t, dir, 6)
	var nf, na, nv atomic.Int64
	cache := filepath.Join(dir, "cache")
	opts := LoaderOptions{BatchSize: 4, Shuffle: true, Pretraining: true, CacheDir: cache, Decoders: countingDecoders(&nf, &na, &nv)}
	l, err := NewLoader(clips, tinyConfig(), opts)
	if err != nil {
		t.Fatal(err)
	}
	e0 := collect(t, l.Epoch(0))
	// Negatives' videos are decoded concurrently with their own clips in epoch 0, so a
	// frame folder may be read twice before its entry lands; after that, never again.
	f0 := nf.Load()
	if f0 < 6 || na.Load() != 6 {
		t.Fatalf("epoch 0 decoded %d frame folders and %d WAVs, want >= 6 and 6", f0, na.Load())
	}
	e1 := collect(t, l.Epoch(1))
	if nf.Load() != f0 || na.Load() != 6 {
		t.Fatalf("epoch 1 decoded again: %d frame folders, %d WAVs", nf.Load()-f0, na.Load()-6)
	}
	// Cached batches equal uncached ones bit for bit.
	ref, _ := NewLoader(clips, tinyConfig(), LoaderOptions{BatchSize: 4, Shuffle: true, Pretraining: true})
	if !reflect.DeepEqual(e0, collect(t, ref.Epoch(0))) || !reflect.DeepEqual(e1, collect(t, ref.Epoch(1))) {
		t.Fatal("cached batches differ from decoded ones")
	}
	// A new loader (next run) reuses the files; other settings do not.
	l2, _ := NewLoader(clips, tinyConfig(), opts)
	collect(t, l2.Epoch(0))
	if nf.Load() != f0 || na.Load() != 6 {
		t.Fatal("a second loader on the same cache decoded again")
	}
	sh := tinyConfig()
	sh.NumFrames = 2
	opts.Pretraining = false // no negatives: exactly one read per clip
	l3, _ := NewLoader(clips, sh, opts)
	collect(t, l3.Epoch(0))
	if nf.Load() != f0+6 || na.Load() != 6 {
		t.Fatalf("changed NumFrames: %d frame reads (want 6), %d WAV reads (want 0)", nf.Load()-f0, na.Load()-6)
	}
	// Editing a source invalidates its entry; a corrupt entry is recomputed.
	writeWave(t, clips[0].Audio, sine(0.5, 1000))
	corrupted := 0
	filepath.Walk(cache, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".vid") {
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0xff
			os.WriteFile(p, b, 0o644)
			corrupted++
		}
		return nil
	})
	if corrupted != 12 {
		t.Fatalf("%d video entries in the cache, want 12 (6 clips x 2 frame settings)", corrupted)
	}
	l4, _ := NewLoader(clips, tinyConfig(), opts)
	e := collect(t, l4.Epoch(0))
	if na.Load() != 7 || nf.Load() != f0+12 {
		t.Fatalf("after edit + corruption: %d WAV reads (want 1), %d frame reads (want 6)", na.Load()-6, nf.Load()-f0-6)
	}
	ref, _ = NewLoader(clips, tinyConfig(), LoaderOptions{BatchSize: 4, Shuffle: true})
	if !reflect.DeepEqual(e, collect(t, ref.Epoch(0))) {
		t.Fatal("batches after invalidation differ from fresh decoding")
	}
}

func TestLoaderLabelKinds(t *testing.T) {
	dir := t.TempDir()
	clips := testClips(t, dir, 2)
	clips[1].Label = Label{Kind: LabelScore, Score: 0.5}
	_, err := NewLoader(clips, tinyConfig(), LoaderOptions{BatchSize: 2})
	if err == nil || !strings.Contains(err.Error(), "manifest.jsonl:2: label is a score but") {
		t.Fatalf("mixed label kinds: %v", err)
	}
	if _, err := NewLoader(clips, tinyConfig(), LoaderOptions{}); err == nil {
		t.Fatal("BatchSize 0 accepted")
	}
	sh := tinyConfig()
	sh.AudioMaskType = "time-level"
	if _, err := NewLoader(clips[:1], sh, LoaderOptions{BatchSize: 1}); err == nil || !strings.Contains(err.Error(), "time-level") {
		t.Fatalf("bad mask type: %v", err)
	}
}
