package data

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/data/video"
	"github.com/tvlt-go/tvlt/internal/golden"
)

// randFrames returns n random HWC uint8 frames of h x w.
func randFrames(seed uint64, n, h, w int) Frames {
	r := rand.New(rand.NewPCG(seed, 1))
	pix := make([]uint8, n*h*w*3)
	for i := range pix {
		pix[i] = uint8(r.IntN(256))
	}
	return Frames{N: n, H: h, W: w, Layout: HWC, U8: pix}
}

// toCHW / toF32 re-express frames in another layout / element type.
func toCHW(f Frames) Frames {
	out := Frames{N: f.N, H: f.H, W: f.W, Layout: CHW}
	plane, n := f.H*f.W, f.H*f.W*3
	if f.U8 != nil {
		out.U8 = make([]uint8, len(f.U8))
	} else {
		out.F32 = make([]float32, len(f.F32))
	}
	for i := 0; i < f.N; i++ {
		for p := 0; p < plane; p++ {
			for c := 0; c < 3; c++ {
				if f.U8 != nil {
					out.U8[i*n+c*plane+p] = f.U8[i*n+p*3+c]
				} else {
					out.F32[i*n+c*plane+p] = f.F32[i*n+p*3+c]
				}
			}
		}
	}
	return out
}

func toF32(f Frames, scale float32) Frames {
	out := Frames{N: f.N, H: f.H, W: f.W, Layout: f.Layout, F32: make([]float32, len(f.U8))}
	for i, v := range f.U8 {
		out.F32[i] = float32(v) * scale
	}
	return out
}

func chirp(n, rate int, f0 float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		t := float64(i) / float64(rate)
		x[i] = float32(0.4*math.Sin(2*math.Pi*(f0+300*t)*t) + 0.1*math.Sin(2*math.Pi*3*f0*t))
	}
	return x
}

func newProc(t *testing.T, cfg config.Config, set func(*ProcessorOptions)) *Processor {
	t.Helper()
	o := DefaultProcessorOptions(cfg)
	if set != nil {
		set(&o)
	}
	p, err := NewProcessor(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func process(t *testing.T, p *Processor, in ...Input) *Batch {
	t.Helper()
	b, err := p.Process(in...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v, want %v (bit-identical)", name, i, got[i], want[i])
		}
	}
}

// TestProcessorMatchesLoader writes in-memory clips to files (PNG frame folders,
// float WAVs at 44.1 kHz, 22.05 kHz and in stereo) and checks that the loader's batch
// and the processor's batch of the same clips are bit-identical, masks and MAE
// permutations included (the processor's Seed draws the loader's epoch-0 masks).
func TestProcessorMatchesLoader(t *testing.T) {
	cfg := tinyConfig()
	dir := t.TempDir()
	type spec struct {
		n, h, w, rate, ch int
		secs              float64
	}
	specs := []spec{{2, 40, 48, 44100, 1, 0.5}, {6, 48, 64, 22050, 1, 0.3}, {3, 50, 30, 44100, 2, 0.7}}
	var clips []Clip
	var ins []Input
	for i, s := range specs {
		id := fmt.Sprintf("m%d", i)
		fr := randFrames(uint64(i+1), s.n, s.h, s.w)
		fd := filepath.Join(dir, id)
		if err := os.MkdirAll(fd, 0o755); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < s.n; k++ {
			u8, _ := fr.hwc(k)
			if err := video.WritePNG(filepath.Join(fd, fmt.Sprintf("%03d.png", k)), video.Frame{H: s.h, W: s.w, Pix: u8}); err != nil {
				t.Fatal(err)
			}
		}
		n := int(s.secs * float64(s.rate))
		chans := make([][]float32, s.ch)
		inter := make([]float32, n*s.ch)
		for c := range chans {
			chans[c] = chirp(n, s.rate, 200*float64(i+c+1))
			for k, v := range chans[c] {
				inter[k*s.ch+c] = v
			}
		}
		wav := filepath.Join(dir, id+".wav")
		if err := audio.WriteWAV(wav, &audio.Clip{Channels: chans, Rate: s.rate}, audio.Float32); err != nil {
			t.Fatal(err)
		}
		clips = append(clips, Clip{ID: id, Frames: fd, Audio: wav, Label: Label{Kind: LabelClass, Class: i}})
		fcopy := fr
		ins = append(ins, Input{ID: id, Label: Label{Kind: LabelClass, Class: i}, Frames: fr,
			Audio: Wave{Samples: inter, Channels: s.ch, Rate: s.rate}, Mixed: &fcopy, MixedMatches: true})
	}
	for _, fixed := range []bool{false, true} {
		t.Run(fmt.Sprintf("fixed=%v", fixed), func(t *testing.T) {
			pad := Padding{}
			if fixed {
				pad.Mode = PadMax
			}
			l, err := NewLoader(clips, cfg, LoaderOptions{BatchSize: 3, Workers: 1, Seed: 7, Pretraining: true, NegativeRatio: -1, Padding: pad})
			if err != nil {
				t.Fatal(err)
			}
			want := collect(t, l.Epoch(0))[0]
			p := newProc(t, cfg, func(o *ProcessorOptions) {
				o.MaskPixel, o.MaskAudio, o.Seed, o.FixedShapes = true, true, 7, fixed
			})
			got := process(t, p, ins...)
			got.Epoch, got.Index = want.Epoch, want.Index
			sameBits(t, "pixel_values", got.PixelValues, want.PixelValues)
			sameBits(t, "audio_values", got.AudioValues, want.AudioValues)
			sameBits(t, "pixel_mask", got.PixelMask, want.PixelMask)
			sameBits(t, "audio_mask", got.AudioMask, want.AudioMask)
			sameBits(t, "pixel_values_mixed", got.PixelValuesMixed, want.PixelValuesMixed)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("batches differ:\n got shapes %v %v ids %v labels %v partners %v match %v keep %d/%d\nwant shapes %v %v ids %v labels %v partners %v match %v keep %d/%d",
					got.PixelShape, got.AudioShape, got.IDs, got.Labels, got.Partners, got.MatchingLabels, got.PixelLenKeep, got.AudioLenKeep,
					want.PixelShape, want.AudioShape, want.IDs, want.Labels, want.Partners, want.MatchingLabels, want.PixelLenKeep, want.AudioLenKeep)
			}
		})
	}
}

// TestProcessorLayouts: HWC and CHW, uint8 and float32 (0..255) give the same
// pixels, and the general per-switch path equals the loader's fast path on
// the default switches.
func TestProcessorLayouts(t *testing.T) {
	cfg := tinyConfig()
	p := newProc(t, cfg, nil)
	fr := randFrames(9, 3, 45, 61)
	want, n, h, w, err := p.Video(fr)
	if err != nil || n != 3 || h != 32 || w != 32 {
		t.Fatalf("Video: %v frames %d %dx%d", err, n, h, w)
	}
	for name, f := range map[string]Frames{
		"CHW u8": toCHW(fr), "HWC f32": toF32(fr, 1), "CHW f32": toCHW(toF32(fr, 1)),
	} {
		got, _, _, _, err := p.Video(f)
		if err != nil {
			t.Fatal(name, err)
		}
		sameBits(t, name, got, want)
	}
	slow := make([]float32, len(want))
	per := 3 * 32 * 32
	for i := 0; i < 3; i++ {
		u8, _ := fr.hwc(i)
		if err := p.frame(slow[i*per:(i+1)*per], u8, nil, 45, 61, 32, 32); err != nil {
			t.Fatal(err)
		}
	}
	sameBits(t, "general path", slow, want)
	// Frames in [0, 1] are scaled to bytes for the resize and back (the
	// reference's PIL conversion); with do_rescale off they match bytes.
	p01 := newProc(t, cfg, func(o *ProcessorOptions) { o.DoRescale = false })
	got01, _, _, _, err := p01.Video(toF32(fr, 1.0/255))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got01 {
		if math.Abs(float64(v-want[i])) > 2.0/255*2 { // the ×255 truncation may lose one level
			t.Fatalf("[0,1] frames: value %d = %v, bytes give %v", i, v, want[i])
		}
	}
	bad := toF32(fr, 1)
	bad.F32[5] = 300.5
	if _, _, _, _, err := p.Video(bad); err == nil || !strings.Contains(err.Error(), "[0, 1]") {
		t.Fatalf("float frame with 300.5: err %v", err)
	}
}

// pixelAt is byte v of frame fr at (y, x, c) processed by hand.
func norm(v uint8, rescale bool, mean, std float32) float32 {
	x := float32(v)
	if rescale {
		x = float32(float64(v) * (1.0 / 255))
	}
	return (x - mean) / std
}

func TestProcessorImageSwitches(t *testing.T) {
	cfg := tinyConfig()
	fr := randFrames(3, 1, 40, 48)
	u8 := fr.U8
	at := func(y, x, c int) uint8 { return u8[(y*48+x)*3+c] }
	one := func(p *Processor) *Batch {
		return process(t, p, Input{Frames: fr, Audio: Wave{Samples: chirp(8000, 44100, 300), Rate: 44100}})
	}
	t.Run("no resize", func(t *testing.T) {
		b := one(newProc(t, cfg, func(o *ProcessorOptions) { o.DoResize = false }))
		// crop 32x32 straight from 40x48: top 4, left 8.
		for c := 0; c < 3; c++ {
			for _, yx := range [][2]int{{0, 0}, {31, 31}, {10, 20}} {
				got := b.PixelValues[c*1024+yx[0]*32+yx[1]]
				if want := norm(at(yx[0]+4, yx[1]+8, c), true, 0.5, 0.5); got != want {
					t.Fatalf("c%d %v: %v, want %v", c, yx, got, want)
				}
			}
		}
	})
	t.Run("no crop", func(t *testing.T) {
		b := one(newProc(t, cfg, func(o *ProcessorOptions) { o.DoCenterCrop = false }))
		if b.PixelShape != [5]int{1, 1, 3, 32, 38} || b.PixelMaskShape != [2]int{1, 4 * 4} {
			t.Fatalf("shapes %v %v, want (1,1,3,32,38) and 16 patches (floor 38/8 = 4 columns)", b.PixelShape, b.PixelMaskShape)
		}
		b = one(newProc(t, cfg, func(o *ProcessorOptions) { o.DoCenterCrop, o.DoResize = false, false }))
		if b.PixelShape != [5]int{1, 1, 3, 40, 48} || b.PixelMask[29] != 1 {
			t.Fatalf("no resize, no crop: shape %v", b.PixelShape)
		}
		if got, want := b.PixelValues[2*40*48+7*48+9], norm(at(7, 9, 2), true, 0.5, 0.5); got != want {
			t.Fatalf("pixel: %v, want %v", got, want)
		}
		b = one(newProc(t, cfg, func(o *ProcessorOptions) {
			o.DoCenterCrop, o.Size = false, Size{Height: 16, Width: 24}
		}))
		if b.PixelShape != [5]int{1, 1, 3, 16, 24} {
			t.Fatalf("size height/width: shape %v", b.PixelShape)
		}
	})
	t.Run("rescale normalize mean std", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			set       func(*ProcessorOptions)
			rescale   bool
			mean, std [3]float32
		}{
			{"rescale off", func(o *ProcessorOptions) { o.DoRescale = false }, false, [3]float32{0.5, 0.5, 0.5}, [3]float32{0.5, 0.5, 0.5}},
			{"normalize off", func(o *ProcessorOptions) { o.DoNormalize = false }, true, [3]float32{}, [3]float32{1, 1, 1}},
			{"both off", func(o *ProcessorOptions) { o.DoNormalize, o.DoRescale = false, false }, false, [3]float32{}, [3]float32{1, 1, 1}},
			{"imagenet", func(o *ProcessorOptions) {
				o.ImageMean, o.ImageStd = [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}
			}, true, [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				base := one(newProc(t, cfg, func(o *ProcessorOptions) { o.DoRescale, o.DoNormalize = false, false }))
				b := one(newProc(t, cfg, func(o *ProcessorOptions) { o.DoResize = true; tc.set(o) }))
				for i, raw := range base.PixelValues { // raw = resized+cropped bytes as floats
					c := i / 1024
					if want := norm(uint8(raw), tc.rescale, tc.mean[c], tc.std[c]); b.PixelValues[i] != want {
						t.Fatalf("value %d: %v, want %v (byte %v)", i, b.PixelValues[i], want, raw)
					}
				}
			})
		}
	})
	t.Run("num_frames", func(t *testing.T) {
		vid := randFrames(5, 6, 32, 32)
		b := process(t, newProc(t, cfg, func(o *ProcessorOptions) { o.NumFrames = 3 }), Input{Frames: vid, Audio: Wave{Samples: chirp(8000, 44100, 300), Rate: 44100}})
		if b.PixelShape[1] != 3 {
			t.Fatalf("frames %d, want 3", b.PixelShape[1])
		}
		sel := Frames{N: 3, H: 32, W: 32, U8: slices.Concat(vid.U8[0:3072], vid.U8[2*3072:3*3072], vid.U8[4*3072:5*3072])}
		want, _, _, _, _ := newProc(t, cfg, nil).Video(sel)
		sameBits(t, "frames 0,2,4", b.PixelValues, want)
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			set  func(*ProcessorOptions)
			want string
		}{
			{func(o *ProcessorOptions) { o.Resample = "lanczos" }, `resample "lanczos"`},
			{func(o *ProcessorOptions) { o.SamplingRate = 22050 }, "sampling_rate 22050"},
			{func(o *ProcessorOptions) { o.ImageStd[1] = 0 }, "image_std"},
			{func(o *ProcessorOptions) { o.NumFrames = 0 }, "num_frames"},
			{func(o *ProcessorOptions) { o.CropSize = [2]int{0, 4} }, "crop_size"},
		} {
			o := DefaultProcessorOptions(cfg)
			tc.set(&o)
			if _, err := NewProcessor(cfg, o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want an error naming %q, got %v", tc.want, err)
			}
		}
		p := newProc(t, cfg, func(o *ProcessorOptions) { o.DoCenterCrop = false })
		_, err := p.Process(Input{Frames: fr, Audio: Wave{Samples: chirp(8000, 44100, 300), Rate: 44100}},
			Input{Frames: randFrames(1, 1, 32, 64), Audio: Wave{Samples: chirp(8000, 44100, 300), Rate: 44100}})
		if err == nil || !strings.Contains(err.Error(), "one size") {
			t.Fatalf("mixed frame sizes without crop: %v", err)
		}
	})
}

func TestProcessorAudioSwitches(t *testing.T) {
	cfg := tinyConfig()
	img := randFrames(2, 1, 32, 32)
	wave := chirp(22050*7/10, 22050, 250) // 0.7 s at 22.05 kHz
	feats := func(rate, length int, w []float32) ([]float32, int) {
		fc := FeatureConfig(cfg)
		fc.SamplingRate, fc.SpectrogramLength = rate, length
		e, err := audio.NewExtractor(fc)
		if err != nil {
			t.Fatal(err)
		}
		f, n, err := e.Features(w)
		if err != nil {
			t.Fatal(err)
		}
		return f, n
	}
	for _, rate := range []int{44100, 16000} {
		t.Run(fmt.Sprint("sampling_rate ", rate), func(t *testing.T) {
			p := newProc(t, cfg, func(o *ProcessorOptions) { o.SamplingRate, o.SpectrogramLength = rate, 1000 })
			b := process(t, p, Input{Frames: img, Audio: Wave{Samples: wave, Rate: 22050}})
			want, rows := feats(rate, 1000, audio.Resample(wave, 22050, rate))
			hop := rate / 86
			if rows != audio.ResampledLen(len(wave), 22050, rate)/hop {
				t.Fatalf("rows %d", rows)
			}
			tp := (rows + 7) / 8
			if b.AudioShape != [4]int{1, 1, tp * 8, 32} || b.AudioMaskShape != [2]int{1, tp * 4} {
				t.Fatalf("shapes %v %v for %d rows", b.AudioShape, b.AudioMaskShape, rows)
			}
			sameBits(t, "audio_values", b.AudioValues[:rows*32], want)
			// Input already at the extractor's rate is not resampled.
			direct := chirp(rate/2, rate, 250)
			b = process(t, p, Input{Frames: img, Audio: Wave{Samples: direct, Rate: rate}})
			want, rows = feats(rate, 1000, direct)
			sameBits(t, "audio_values at rate", b.AudioValues[:rows*32], want)
		})
	}
	t.Run("spectrogram_length", func(t *testing.T) {
		full := process(t, newProc(t, cfg, nil), Input{Frames: img, Audio: Wave{Samples: wave, Rate: 22050}})
		b := process(t, newProc(t, cfg, func(o *ProcessorOptions) { o.SpectrogramLength = 20 }), Input{Frames: img, Audio: Wave{Samples: wave, Rate: 22050}})
		if full.AudioShape[2] != 64 || b.AudioShape != [4]int{1, 1, 24, 32} || b.AudioMaskShape[1] != 12 {
			t.Fatalf("shapes: full %v, capped %v %v", full.AudioShape, b.AudioShape, b.AudioMaskShape)
		}
		sameBits(t, "first 20 rows", b.AudioValues[:20*32], full.AudioValues[:20*32])
		for _, v := range b.AudioValues[20*32:] {
			if v != 0 {
				t.Fatal("rows past spectrogram_length must be padding")
			}
		}
	})
	t.Run("padding_value and fixed shapes", func(t *testing.T) {
		in := []Input{
			{Frames: randFrames(1, 2, 32, 32), Audio: Wave{Samples: chirp(44100/2, 44100, 300), Rate: 44100}},
			{Frames: img, Audio: Wave{Samples: chirp(44100/5, 44100, 300), Rate: 44100}},
		}
		b := process(t, newProc(t, cfg, func(o *ProcessorOptions) { o.PaddingValue = -1.5 }), in...)
		// 0.5 s: 43 rows -> 6 patches (48 rows); 0.2 s: 17 rows -> 3 patches.
		if b.AudioShape != [4]int{2, 1, 48, 32} || b.PixelShape != [5]int{2, 2, 3, 32, 32} {
			t.Fatalf("shapes %v %v", b.AudioShape, b.PixelShape)
		}
		for r := 0; r < 48; r++ {
			v0, v1 := b.AudioValues[r*32], b.AudioValues[(48+r)*32]
			if (r >= 43) != (v0 == -1.5) || (r >= 17) != (v1 == -1.5) {
				t.Fatalf("row %d: %v %v", r, v0, v1)
			}
		}
		if m := b.AudioMask[24:48]; slices.Index(m, 0) != 12 || b.AudioMask[23] != 1 || b.PixelMask[16+15] != 1 || b.PixelMask[32+16] != 0 {
			t.Fatalf("masks: audio %v pixel %v", b.AudioMask, b.PixelMask)
		}
		b = process(t, newProc(t, cfg, func(o *ProcessorOptions) { o.FixedShapes = true }), in...)
		if b.AudioShape != [4]int{2, 1, 64, 32} || b.PixelShape != [5]int{2, 4, 3, 32, 32} || b.PixelMaskShape[1] != 64 || b.AudioMaskShape[1] != 32 {
			t.Fatalf("fixed shapes %v %v %v %v", b.PixelShape, b.AudioShape, b.PixelMaskShape, b.AudioMaskShape)
		}
	})
	t.Run("bad audio", func(t *testing.T) {
		p := newProc(t, cfg, nil)
		for _, w := range []Wave{{Rate: 44100}, {Samples: []float32{1, 2, 3}, Channels: 2, Rate: 44100}, {Samples: wave}, {Samples: []float32{float32(math.NaN())}, Rate: 44100}} {
			if _, err := p.Process(Input{Frames: img, Audio: w}); err == nil {
				t.Errorf("wave %d samples, %d channels, %d Hz: no error", len(w.Samples), w.Channels, w.Rate)
			}
		}
	})
}

func TestProcessorMasksAndMixed(t *testing.T) {
	cfg := tinyConfig()
	w := Wave{Samples: chirp(30000, 44100, 300), Rate: 44100}
	a, bvid := randFrames(1, 2, 32, 32), randFrames(2, 3, 40, 40)
	in := []Input{{Frames: a, Audio: w, Mixed: &bvid}, {Frames: bvid, Audio: w}}
	p := newProc(t, cfg, func(o *ProcessorOptions) { o.MaskPixel, o.Seed = true, 3 })
	b := process(t, p, in...)
	if b.AudioIDsShuffle != nil || b.PixelLenKeep != cfg.PixelLenKeep(3*16) {
		t.Fatalf("mask_pixel only: audio ids %v, len_keep %d", b.AudioIDsShuffle != nil, b.PixelLenKeep)
	}
	if _, err := config.Replay(b.PixelIDsShuffle, 2, 48, b.PixelLenKeep, nil); err != nil {
		t.Fatal(err)
	}
	if again := process(t, p, in...); !reflect.DeepEqual(again.PixelIDsShuffle, b.PixelIDsShuffle) {
		t.Fatal("same seed, different permutations")
	}
	p4 := newProc(t, cfg, func(o *ProcessorOptions) { o.MaskPixel, o.Seed = true, 4 })
	if reflect.DeepEqual(process(t, p4, in...).PixelIDsShuffle, b.PixelIDsShuffle) {
		t.Fatal("another seed, same permutations")
	}
	if !reflect.DeepEqual(b.MatchingLabels, []float32{0, 1}) || !reflect.DeepEqual(b.Partners, []int{-1, 1}) {
		t.Fatalf("matching labels %v partners %v", b.MatchingLabels, b.Partners)
	}
	per := 3 * 32 * 32
	sameBits(t, "mixed of clip 0 = clip 1's video", b.PixelValuesMixed[:3*per], b.PixelValues[3*per:])
	sameBits(t, "mixed of clip 1 = own", b.PixelValuesMixed[3*per:], b.PixelValues[3*per:])
	sameBits(t, "mixed mask", b.PixelMaskMixed[:48], b.PixelMask[48:])
	b = process(t, newProc(t, cfg, func(o *ProcessorOptions) { o.MaskAudio = true }), in[1])
	if b.PixelIDsShuffle != nil || b.PixelValuesMixed != nil || len(b.AudioIDsShuffle) != b.AudioMaskShape[1] {
		t.Fatal("mask_audio only / no mixed input")
	}
}

// TestProcessorGolden runs the reference's batches through Process: the feature
// extractor's two waveforms (default set) and the image processor's 3-frame video
// batched with its first two frames. data/audio and data/video test the pieces; this
// tests the processor's own padding and masks against the same files.
func TestProcessorGolden(t *testing.T) {
	dir := golden.Dir(t)
	if golden.Has(dir, "feature_extractor.npz") {
		m := golden.Load(t, dir, "feature_extractor.npz")
		cfg := config.Default() // 128 mel bins, 16x16 audio patches, 2048 rows
		var in []Input
		for k := 0; k < 2; k++ {
			v := golden.Float64s(m[fmt.Sprintf("waveform_%d", k)])
			w := make([]float32, len(v))
			for i, x := range v {
				w[i] = float32(x)
			}
			in = append(in, Input{Frames: randFrames(1, 1, 16, 16), Audio: Wave{Samples: w, Rate: 44100}})
		}
		b := process(t, newProc(t, cfg, nil), in...)
		want := m["default/audio_values"]
		if !slices.Equal(want.Shape(), []int{b.AudioShape[0], b.AudioShape[1], b.AudioShape[2], b.AudioShape[3]}) {
			t.Fatalf("audio_values shape %v, golden %v", b.AudioShape, want.Shape())
		}
		for i, x := range golden.Float64s(want) {
			if float32(x) != b.AudioValues[i] {
				t.Fatalf("audio_values[%d] = %v, golden %v", i, b.AudioValues[i], x)
			}
		}
		for i, x := range golden.Float64s(m["default/audio_mask"]) {
			if float32(x) != b.AudioMask[i] {
				t.Fatalf("audio_mask[%d] = %v, golden %v", i, b.AudioMask[i], x)
			}
		}
	} else {
		t.Log("no feature_extractor.npz")
	}
	if !golden.Has(dir, "image_processor.npz") {
		t.Skip("no image_processor.npz")
	}
	m := golden.Load(t, dir, "image_processor.npz")
	cfg := tinyConfig() // 32x32 crop, 8x8 patches, 4 frames
	var frames []video.Frame
	for k := 0; k < 3; k++ {
		d := m[fmt.Sprintf("video/frame_%d", k)]
		v := golden.Float64s(d)
		pix := make([]uint8, len(v))
		for i, x := range v {
			pix[i] = uint8(x)
		}
		frames = append(frames, video.Frame{H: d.Shape()[0], W: d.Shape()[1], Pix: pix})
	}
	vid, err := FramesOf(frames)
	if err != nil {
		t.Fatal(err)
	}
	first2, _ := FramesOf(frames[:2])
	w := Wave{Samples: chirp(10000, 44100, 300), Rate: 44100}
	b := process(t, newProc(t, cfg, nil), Input{Frames: vid, Audio: w}, Input{Frames: first2, Audio: w})
	per := 3 * 32 * 32
	check := func(name string, got []float32) {
		for i, x := range golden.Float64s(m[name]) {
			if float32(x) != got[i] {
				t.Fatalf("%s[%d] = %v, golden %v", name, i, got[i], x)
			}
		}
	}
	check("batch/pixel_values_0", b.PixelValues[:3*per])
	check("batch/pixel_values_1", b.PixelValues[3*per:5*per])
	check("batch/pixel_mask", b.PixelMask)
	for _, v := range b.PixelValues[5*per:] {
		if v != 0 {
			t.Fatal("padding frame must be zeros")
		}
	}
}

// refImageScript runs HF's TvltImageProcessor with switches on raw frames.
const refImageScript = `
import sys, json, numpy as np
sys.path.insert(0, sys.argv[1])
from hftvlt.models.deprecated.tvlt.image_processing_tvlt import TvltImageProcessor
d = sys.argv[2]
cases = json.load(open(d + "/cases.json"))
for i, c in enumerate(cases):
    img = np.fromfile("%s/in_%d.raw" % (d, i), dtype=np.uint8).reshape(c["h"], c["w"], 3)
    if c["float01"]:
        img = img.astype(np.float32) / np.float32(255)
    kw = dict(c["kw"])
    p = TvltImageProcessor(patch_size=[8, 8], num_frames=4)
    out = p([img], **kw)["pixel_values"][0][0]
    np.asarray(out, dtype=np.float32).tofile("%s/out_%d.raw" % (d, i))
`

// TestProcessorAgainstReference checks the image switches against HF's own
// TvltImageProcessor when /usr/bin/python3 has numpy and Pillow and the reference
// tree is present; otherwise it skips.
func TestProcessorAgainstReference(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python; skipped with -short")
	}
	ref, _ := filepath.Abs("../../shared/reference")
	if _, err := os.Stat(filepath.Join(ref, "hftvlt")); err != nil {
		t.Skip("no reference tree at ../../shared/reference")
	}
	if exec.Command("/usr/bin/python3", "-c", "import numpy, PIL.Image").Run() != nil {
		t.Skip("no /usr/bin/python3 with numpy and Pillow")
	}
	cfg := tinyConfig()
	type tc struct {
		kw      map[string]any
		set     func(*ProcessorOptions)
		float01 bool
	}
	def := map[string]any{"size": map[string]int{"shortest_edge": 32}, "crop_size": map[string]int{"height": 32, "width": 32}}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range def {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []tc{
		{with(), func(*ProcessorOptions) {}, false},
		{with("do_resize", false), func(o *ProcessorOptions) { o.DoResize = false }, false},
		{with("do_center_crop", false), func(o *ProcessorOptions) { o.DoCenterCrop = false }, false},
		{with("crop_size", map[string]int{"height": 48, "width": 40}), func(o *ProcessorOptions) { o.CropSize = [2]int{48, 40} }, false},
		{with("do_rescale", false), func(o *ProcessorOptions) { o.DoRescale = false }, false},
		{with("do_normalize", false), func(o *ProcessorOptions) { o.DoNormalize = false }, false},
		{with("image_mean", []float64{0.485, 0.456, 0.406}, "image_std", []float64{0.229, 0.224, 0.225}, "rescale_factor", 0.005),
			func(o *ProcessorOptions) {
				o.ImageMean, o.ImageStd, o.RescaleFactor = [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}, 0.005
			}, false},
		// (A height/width size is not compared: the reference's preprocess reads
		// size["shortest_edge"] for the mask and raises KeyError on it.)
		{with("do_rescale", false), func(o *ProcessorOptions) { o.DoRescale = false }, true},
		{with("do_resize", false, "do_rescale", false), func(o *ProcessorOptions) { o.DoResize, o.DoRescale = false, false }, true},
		// PIL's resampling codes: 3 = BICUBIC, 0 = NEAREST.
		{with("resample", 3), func(o *ProcessorOptions) { o.Resample = "bicubic" }, false},
		{with("resample", 0), func(o *ProcessorOptions) { o.Resample = "nearest" }, false},
		{with("resample", 3, "size", map[string]int{"shortest_edge": 80}), func(o *ProcessorOptions) { o.Resample, o.Size.ShortestEdge = "bicubic", 80 }, false},
	}
	dir := t.TempDir()
	var meta []map[string]any
	var frames []Frames
	for i, c := range cases {
		f := randFrames(uint64(40+i), 1, 45+i, 61-2*i)
		frames = append(frames, f)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("in_%d.raw", i)), f.U8, 0o644); err != nil {
			t.Fatal(err)
		}
		meta = append(meta, map[string]any{"h": f.H, "w": f.W, "kw": c.kw, "float01": c.float01})
	}
	js, _ := json.Marshal(meta)
	if err := os.WriteFile(filepath.Join(dir, "cases.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", "-c", refImageScript, ref, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference: %v\n%s", err, out)
	}
	for i, c := range cases {
		p := newProc(t, cfg, c.set)
		f := frames[i]
		if c.float01 {
			f = toF32(f, 1)
			for k := range f.F32 {
				f.F32[k] /= 255
			}
		}
		got, _, h, w, err := p.Video(f)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out_%d.raw", i)))
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 4*len(got) {
			t.Fatalf("case %d (%v): reference gives %d values, Go %d (%dx%d)", i, c.kw, len(raw)/4, len(got), h, w)
		}
		for k := range got {
			want := math.Float32frombits(uint32(raw[4*k]) | uint32(raw[4*k+1])<<8 | uint32(raw[4*k+2])<<16 | uint32(raw[4*k+3])<<24)
			if got[k] != want {
				t.Fatalf("case %d (%v): value %d = %v, reference %v", i, c.kw, k, got[k], want)
			}
		}
	}
}
