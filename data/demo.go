package data

import (
	"bufio"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/tvlt-go/tvlt/data/audio"
)

// DemoOptions sizes the synthetic audio-visual set; start from DefaultDemoOptions.
type DemoOptions struct {
	Clips         int     // number of clips (256)
	Seed          uint64  // same seed, same files
	Width, Height int     // frame size in pixels (32 x 32)
	Frames        int     // frames per clip (4)
	Seconds       float64 // audio length (0.75 s = 64 spectrogram rows at hop 512)
	// MinFrames and MinSeconds, when positive, make clips of varied
	// length: each clip's frame count and audio length are drawn uniformly
	// from [MinFrames, Frames] and [MinSeconds, Seconds] (0: every clip
	// has Frames and Seconds), for trying padding and masking on short
	// clips.
	MinFrames    int
	MinSeconds   float64
	SampleRate   int     // WAV rate (44100)
	ValFraction  float64 // share of clips in split "val" (0.1)
	TestFraction float64 // share of clips in split "test" (0.1)
}

// DefaultDemoOptions are the demo set's sizes: 256 clips of 4 frames of
// 32x32 and 0.75 s of 44.1 kHz audio, 10% val and 10% test.
func DefaultDemoOptions() DemoOptions {
	return DemoOptions{Clips: 256, Width: 32, Height: 32, Frames: 4, Seconds: 0.75, SampleRate: 44100, ValFraction: 0.1, TestFraction: 0.1}
}

// validate names the first option GenerateDemo cannot honour.
func (o DemoOptions) validate() error {
	switch {
	case o.Clips < 1:
		return fmt.Errorf("data: demo: Clips %d must be at least 1", o.Clips)
	case o.Width < 1 || o.Height < 1:
		return fmt.Errorf("data: demo: frame size %dx%d must be positive", o.Width, o.Height)
	case o.Frames < 1:
		return fmt.Errorf("data: demo: Frames %d must be at least 1", o.Frames)
	case !(o.Seconds > 0):
		return fmt.Errorf("data: demo: Seconds %v must be positive", o.Seconds)
	case o.MinFrames < 0 || o.MinFrames > o.Frames:
		return fmt.Errorf("data: demo: MinFrames %d must be in [0, Frames %d]", o.MinFrames, o.Frames)
	case !(o.MinSeconds >= 0 && o.MinSeconds <= o.Seconds):
		return fmt.Errorf("data: demo: MinSeconds %v must be in [0, Seconds %v]", o.MinSeconds, o.Seconds)
	case o.SampleRate < 1:
		return fmt.Errorf("data: demo: SampleRate %d must be positive", o.SampleRate)
	case !(o.ValFraction >= 0 && o.TestFraction >= 0 && o.ValFraction+o.TestFraction <= 1):
		return fmt.Errorf("data: demo: ValFraction %v and TestFraction %v must be non-negative and sum to at most 1", o.ValFraction, o.TestFraction)
	}
	return nil
}

// DemoClasses is the number of classes in the demo set.
const DemoClasses = 4

// A demo clip has four hidden yes/no attributes, each shown in both modalities by a
// full-contrast pattern that is the same in every patch of every frame and in every
// patch of the spectrogram, so every token (and the pooled one) sees every attribute and
// a mismatch flips a large share of the values of every patch:
//
//	attribute  video: 4 frames, 2x2 patches of 16x16 px        audio: 64x32 log-mel, 4x2 patches of 16x16
//	rows       red lit in the lower / upper 8 rows of a patch  chords sound in the 2nd / 1st 8 frames of a patch
//	cols       green lit in the right / left 8 columns         chords in the upper / lower half of each mel patch
//	stripes    blue lit in rows 4-7,12-15 / 0-3,8-11           chords in the upper / lower 4 bins of that half
//	floor      unlit channels grey / black                     a hiss under and between the chords / silence
//
// The class (the label) is rows + 2·cols, readable from either modality alone. The 16
// combinations are equally likely, so a video paired with a random other clip's audio
// disagrees on some attribute ~94% of the time, and a fixed rule reads every attribute
// back from the decoded tensors (TestDemoCues). Why so blunt: with local or narrow cues
// (a small shape in one patch, a tone in one mel bin, a cue in only one of the two mel
// patches) the demo model's matching loss stayed at chance for hundreds of steps, or it
// learned one attribute and not the others; these are all learned within the demo's
// 500 pretraining steps.
type demoClip struct {
	class         int     // rows + 2*cols
	stripes, hiss bool    // the other two attributes (hiss: the floor attribute)
	shade         float64 // brightness jitter (x0.85-1)
	detune        float64 // pitch jitter (x0.98-1.02)
	gain          float64 // loudness jitter (-2..+2 dB)
}

func (a demoClip) rows() bool { return a.class&1 == 1 }
func (a demoClip) cols() bool { return a.class&2 == 2 }

// Cue strengths and the patch geometry the cues are aligned to.
const (
	demoLit        = 255.0 // value of a lit channel, before shading
	demoGrey       = 128.0 // value of an unlit channel on a grey floor
	demoToneAmp    = 0.08  // amplitude of each of the 8 tones
	demoHissLevel  = 0.008 // standard deviation of the hiss
	demoNoiseLevel = 1e-4  // white noise of every clip (the features' floor)
	demoPatch      = 16    // pixels per image patch side, spectrogram frames per audio patch
	demoHop        = 512   // STFT hop at 44.1 kHz
	demoQuarter    = 4     // mel bins per sounding quarter of a mel patch
)

// demoMelCentre is the centre frequency in Hz of the audio features' mel bin m (Slaney
// scale, 32 bins over 0-22.05 kHz, as in the feature extractor).
func demoMelCentre(m int) float64 {
	const linStep, logStart = 200.0 / 3, 15.0
	logStep := math.Log(6.4) / 27
	top := logStart + math.Log(22050/1000.0)/logStep
	mel := top * float64(m+1) / 33
	if mel < logStart {
		return mel * linStep
	}
	return 1000 * math.Exp((mel-logStart)*logStep)
}

func demoAttrs(o DemoOptions, i int) demoClip {
	rng := rand.New(rand.NewPCG(o.Seed, 0xdead0000+uint64(i)))
	return demoClip{
		class:   i % DemoClasses,
		stripes: rng.IntN(2) == 1,
		hiss:    rng.IntN(2) == 1,
		shade:   0.85 + 0.15*rng.Float64(),
		detune:  0.98 + 0.04*rng.Float64(),
		gain:    math.Pow(10, (rng.Float64()*2-1)*0.1),
	}
}

// GenerateDemo writes a small synthetic audio-visual data set into dir — PNG frame
// folders, 16-bit PCM WAV files and manifest.jsonl with train/val/test splits and class
// labels — in pure Go, so training runs on a machine without ffmpeg or downloads.
// Classification: the class is where red and green are lit in each image patch, and when
// and in which mel bins the chords sound. Matching: besides the class, the blue stripes'
// phase sets the high chord's bins, and a grey floor in the frames goes with a hiss.
func GenerateDemo(dir string, opts DemoOptions) (string, error) {
	o := opts
	if err := o.validate(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("data: demo: %w", err)
	}
	// Balanced, seeded split assignment.
	order := rand.New(rand.NewPCG(o.Seed, 0x5eed5)).Perm(o.Clips)
	nVal := int(math.Round(o.ValFraction * float64(o.Clips)))
	nTest := int(math.Round(o.TestFraction * float64(o.Clips)))
	splits := make([]string, o.Clips)
	for j, i := range order {
		switch {
		case j < nVal:
			splits[i] = "val"
		case j < nVal+nTest:
			splits[i] = "test"
		default:
			splits[i] = "train"
		}
	}
	clips := make([]Clip, o.Clips)
	img := image.NewRGBA(image.Rect(0, 0, o.Width, o.Height))
	enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngPool{}}
	for i := 0; i < o.Clips; i++ {
		a := demoAttrs(o, i)
		id := fmt.Sprintf("demo_%04d", i)
		frameDir := filepath.Join(dir, "frames", id)
		if err := os.MkdirAll(frameDir, 0o755); err != nil {
			return "", fmt.Errorf("data: demo: %w", err)
		}
		noise := rand.New(rand.NewPCG(o.Seed, 0xf00d0000+uint64(i)))
		frames, secs := o.clipLength(i)
		for k := 0; k < frames; k++ {
			drawDemoFrame(img, o, a, noise)
			p := filepath.Join(frameDir, fmt.Sprintf("%03d.png", k))
			if err := writePNG(p, img, &enc); err != nil {
				return "", err
			}
		}
		wav := demoAudio(o, secs, a, noise)
		wavPath := filepath.Join(dir, "audio", id+".wav")
		if err := os.MkdirAll(filepath.Dir(wavPath), 0o755); err != nil {
			return "", fmt.Errorf("data: demo: %w", err)
		}
		if err := writeWAV16(wavPath, wav, o.SampleRate); err != nil {
			return "", err
		}
		clips[i] = Clip{ID: id, Frames: frameDir, Audio: wavPath, Split: splits[i], Label: Label{Kind: LabelClass, Class: a.class}}
	}
	mp := filepath.Join(dir, "manifest.jsonl")
	if err := WriteManifest(mp, clips); err != nil {
		return "", err
	}
	return mp, nil
}

// clipLength is clip i's frame count and audio length: Frames and Seconds,
// or with MinFrames / MinSeconds a draw of its own random stream (so the
// rest of the clip is the same as in a fixed-length set).
func (o DemoOptions) clipLength(i int) (int, float64) {
	frames, secs := o.Frames, o.Seconds
	r := rand.New(rand.NewPCG(o.Seed, 0x1e9900000+uint64(i)))
	if o.MinFrames > 0 {
		frames = o.MinFrames + r.IntN(o.Frames-o.MinFrames+1)
	}
	if o.MinSeconds > 0 {
		secs = o.MinSeconds + r.Float64()*(o.Seconds-o.MinSeconds)
	}
	return frames, secs
}

// demoOn reports which channels of pixel (px, py) are lit: red in one half of the
// patch rows, green in one half of its columns, blue in alternate 4-row stripes.
func demoOn(a demoClip, px, py int) [3]bool {
	return [3]bool{
		(py%demoPatch >= demoPatch/2) == a.rows(),
		(px%demoPatch >= demoPatch/2) == a.cols(),
		(py%(demoPatch/2) >= demoPatch/4) == a.stripes,
	}
}

func drawDemoFrame(img *image.RGBA, o DemoOptions, a demoClip, noise *rand.Rand) {
	floor := 0.0
	if a.hiss {
		floor = demoGrey
	}
	for py := 0; py < o.Height; py++ {
		for px := 0; px < o.Width; px++ {
			on := demoOn(a, px, py)
			o := img.PixOffset(px, py)
			for ch := 0; ch < 3; ch++ {
				v := floor
				if on[ch] {
					v = demoLit * a.shade
				}
				v += float64(noise.IntN(17) - 8)
				img.Pix[o+ch] = uint8(min(255, max(0, math.Round(v))))
			}
			img.Pix[o+3] = 255
		}
	}
}

// demoAudio is two chords — one tone at the centre of each mel bin of one half of the
// low and one half of the high mel patch — gated on in the first or second half of
// every 16-frame audio patch, with or without a hiss, plus a little noise.
func demoAudio(o DemoOptions, secs float64, a demoClip, noise *rand.Rand) []float32 {
	n := int(secs * float64(o.SampleRate))
	out := make([]float32, n)
	sr := float64(o.SampleRate)
	amp := demoToneAmp * a.gain
	var freqs, phases []float64
	q := demoQuarter * (2*b2i(a.cols()) + b2i(a.stripes))
	for _, start := range []int{q, 4*demoQuarter + q} {
		for m := start; m < start+demoQuarter; m++ {
			if f := demoMelCentre(m) * a.detune; f < sr/2 {
				freqs, phases = append(freqs, f), append(phases, noise.Float64()*2*math.Pi)
			}
		}
	}
	// Spectrogram frame r is centred on sample r*hop (hop scaled to the WAV rate); a
	// gate of half a patch covers frames [8j, 8j+8): samples from 8j frames minus half
	// a hop on.
	hop := float64(demoHop) * sr / 44100
	gate := float64(demoPatch/2) * hop
	fade := 0.005 * sr
	for i := range out {
		pos := float64(i) + hop/2
		half := int(pos / gate)
		if (half%2 == 1) != a.rows() {
			continue
		}
		d := math.Min(pos-float64(half)*gate, float64(half+1)*gate-pos)
		env := math.Min(1, d/fade)
		t := float64(i) / sr
		v := 0.0
		for k, f := range freqs {
			v += math.Sin(phases[k] + 2*math.Pi*f*t)
		}
		out[i] = float32(amp * env * v)
	}
	level := demoNoiseLevel
	if a.hiss {
		level = demoHissLevel
	}
	for i := range out {
		out[i] += float32(level * noise.NormFloat64())
	}
	return out
}

// pngPool reuses one encoder buffer (the flate state is ~1 MB per PNG otherwise).
type pngPool struct{ b *png.EncoderBuffer }

func (p *pngPool) Get() *png.EncoderBuffer  { return p.b }
func (p *pngPool) Put(b *png.EncoderBuffer) { p.b = b }

func writePNG(path string, img image.Image, enc *png.Encoder) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("data: demo: %w", err)
	}
	w := bufio.NewWriter(f)
	if err := enc.Encode(w, img); err != nil {
		f.Close()
		return fmt.Errorf("data: demo: %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("data: demo: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("data: demo: %s: %w", path, err)
	}
	return nil
}

// writeWAV16 writes x as mono 16-bit PCM with audio.WriteWAV, at the
// levels the demo has always written: full scale is 32767 (audio.EncodeWAV's
// is 32768), so each sample is first rounded to its 16-bit step and passed
// as that step over 32768, which the encoder maps back exactly. The files
// stay bit-identical to the generator's earlier ones (same seed, same files).
func writeWAV16(path string, x []float32, rate int) error {
	steps := make([]float32, len(x))
	for i, v := range x {
		steps[i] = float32(math.Round(float64(v)*32767) / 32768)
	}
	if err := audio.WriteWAV(path, &audio.Clip{Channels: [][]float32{steps}, Rate: rate}, audio.PCM16); err != nil {
		return fmt.Errorf("data: demo: %w", err)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
