package data

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// DemoOptions sizes the synthetic audio-visual set; zero fields take the defaults.
type DemoOptions struct {
	Clips         int     // number of clips (256)
	Seed          uint64  // same seed, same files
	Width, Height int     // frame size in pixels (32 x 32)
	Frames        int     // frames per clip (4)
	Seconds       float64 // audio length (0.75 s = 64 spectrogram rows at hop 512)
	SampleRate    int     // WAV rate (44100)
	ValFraction   float64 // share of clips in split "val" (0.1)
	TestFraction  float64 // share of clips in split "test" (0.1)
}

func (o DemoOptions) withDefaults() DemoOptions {
	if o.Clips <= 0 {
		o.Clips = 256
	}
	if o.Width <= 0 {
		o.Width = 32
	}
	if o.Height <= 0 {
		o.Height = 32
	}
	if o.Frames <= 0 {
		o.Frames = 4
	}
	if o.Seconds <= 0 {
		o.Seconds = 0.75
	}
	if o.SampleRate <= 0 {
		o.SampleRate = 44100
	}
	if o.ValFraction <= 0 {
		o.ValFraction = 0.1
	}
	if o.TestFraction <= 0 {
		o.TestFraction = 0.1
	}
	return o
}

// DemoClasses is the number of classes in the demo set.
const DemoClasses = 4

// demoColours are the class colours; demoPitches the matching tone frequencies in Hz.
// The pitches are ~9 semitones apart and no pitch is near another's octave, so the
// harmonic that marks leftward motion never looks like a different class.
var (
	demoColours = [DemoClasses]color.RGBA{{220, 40, 40, 255}, {40, 200, 60, 255}, {50, 90, 235, 255}, {235, 215, 40, 255}}
	demoPitches = [DemoClasses]float64{300, 500, 840, 1400}
)

// Motion directions of the demo shape; each one has its own audio signature.
const (
	dirRight = iota // steady pure tone
	dirLeft         // tone plus its octave
	dirDown         // falling glide
	dirUp           // rising glide
)

// demoClip holds the hidden attributes of one synthetic clip. The class ties colour to
// pitch; the per-clip visibility pattern (shape shown in frame k iff the tone sounds in
// audio segment k) and the motion direction give 15 x 4 x 4 = 240 audio-visual
// combinations, so a video paired with another clip's audio almost always disagrees.
type demoClip struct {
	class, pattern, dir int
	disk                bool
	bg                  uint8
	x0, y0, size        float64
	gain                float64
	split               string
}

func demoAttrs(o DemoOptions, i int) demoClip {
	rng := rand.New(rand.NewPCG(o.Seed, 0xdead0000+uint64(i)))
	c := demoClip{
		class:   i % DemoClasses,
		pattern: 1 + rng.IntN(15),
		dir:     rng.IntN(4),
		disk:    rng.IntN(2) == 1,
		bg:      uint8(rng.IntN(60)),
		gain:    0.35 + 0.3*rng.Float64(),
	}
	w, h := float64(o.Width), float64(o.Height)
	c.size = 0.3 * math.Min(w, h)
	travel := demoStep(o) * float64(o.Frames-1)
	// Start so that the whole path stays inside the frame.
	minX, maxX := 0.0, w-c.size
	minY, maxY := 0.0, h-c.size
	switch c.dir {
	case dirRight:
		maxX -= travel
	case dirLeft:
		minX += travel
	case dirDown:
		maxY -= travel
	case dirUp:
		minY += travel
	}
	c.x0 = minX + rng.Float64()*math.Max(0, maxX-minX)
	c.y0 = minY + rng.Float64()*math.Max(0, maxY-minY)
	return c
}

func demoStep(o DemoOptions) float64 {
	return 0.4 * math.Min(float64(o.Width), float64(o.Height)) / float64(max(1, o.Frames-1))
}

// GenerateDemo writes a small synthetic audio-visual data set into dir — PNG frame
// folders, 16-bit PCM WAV files and manifest.jsonl with train/val/test splits and class
// labels — in pure Go, so training runs on a machine without ffmpeg or downloads.
// Classification: class = colour of a moving shape = pitch of a tone. Matching: the shape
// is visible exactly in the frames whose audio segment holds the tone, and the motion
// direction sets the tone's shape (steady, with octave, falling, rising).
func GenerateDemo(dir string, opts DemoOptions) (string, error) {
	o := opts.withDefaults()
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
		for k := 0; k < o.Frames; k++ {
			drawDemoFrame(img, o, a, k, noise)
			p := filepath.Join(frameDir, fmt.Sprintf("%03d.png", k))
			if err := writePNG(p, img, &enc); err != nil {
				return "", err
			}
		}
		wav := demoAudio(o, a, noise)
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

func drawDemoFrame(img *image.RGBA, o DemoOptions, a demoClip, k int, noise *rand.Rand) {
	visible := a.pattern>>uint(k*4/o.Frames)&1 == 1 // frame k shows during audio segment k*4/Frames
	x, y := a.x0, a.y0
	step := demoStep(o) * float64(k)
	switch a.dir {
	case dirRight:
		x += step
	case dirLeft:
		x -= step
	case dirDown:
		y += step
	case dirUp:
		y -= step
	}
	col := demoColours[a.class]
	r := a.size / 2
	cx, cy := x+r, y+r
	for py := 0; py < o.Height; py++ {
		for px := 0; px < o.Width; px++ {
			fx, fy := float64(px)+0.5, float64(py)+0.5
			inside := false
			if visible {
				if a.disk {
					inside = (fx-cx)*(fx-cx)+(fy-cy)*(fy-cy) <= r*r
				} else {
					inside = fx >= x && fx < x+a.size && fy >= y && fy < y+a.size
				}
			}
			n := noise.IntN(17) - 8
			var c [3]int
			if inside {
				c = [3]int{int(col.R) + n, int(col.G) + n, int(col.B) + n}
			} else {
				c = [3]int{int(a.bg) + n, int(a.bg) + n, int(a.bg) + n}
			}
			o := img.PixOffset(px, py)
			for ch := 0; ch < 3; ch++ {
				img.Pix[o+ch] = uint8(min(255, max(0, c[ch])))
			}
			img.Pix[o+3] = 255
		}
	}
}

// demoAudio splits the clip into 4 equal segments (one per frame of a 4-frame clip);
// segment k carries the class tone iff the shape is visible in frame k.
func demoAudio(o DemoOptions, a demoClip, noise *rand.Rand) []float32 {
	n := int(o.Seconds * float64(o.SampleRate))
	out := make([]float32, n)
	sr := float64(o.SampleRate)
	seg := n / 4
	fade := int(0.005 * sr)
	f0 := demoPitches[a.class]
	const glide = 1.19 // three semitones over one segment
	for k := 0; k < 4; k++ {
		if a.pattern>>uint(k)&1 == 0 {
			continue
		}
		start, end := k*seg, (k+1)*seg
		if k == 3 {
			end = n
		}
		phase := 0.0
		for i := start; i < end; i++ {
			t := float64(i-start) / float64(end-start)
			f := f0
			switch a.dir {
			case dirDown:
				f = f0 * math.Pow(glide, 1-2*t)
			case dirUp:
				f = f0 * math.Pow(glide, 2*t-1)
			}
			phase += 2 * math.Pi * f / sr
			v := math.Sin(phase)
			if a.dir == dirLeft {
				v = 0.6*v + 0.4*math.Sin(2*phase)
			}
			env := 1.0
			if d := i - start; d < fade {
				env = float64(d) / float64(fade)
			}
			if d := end - 1 - i; d < fade {
				env = math.Min(env, float64(d)/float64(fade))
			}
			out[i] = float32(a.gain * env * v)
		}
	}
	for i := range out {
		out[i] += float32(0.003 * noise.NormFloat64())
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

// writeWAV16 writes mono 16-bit PCM; it keeps the demo generator free of other packages.
func writeWAV16(path string, x []float32, rate int) error {
	dataLen := uint32(2 * len(x))
	b := make([]byte, 44+2*len(x))
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], 36+dataLen)
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], dataLen)
	for i, v := range x {
		s := math.Round(float64(v) * 32767)
		s = math.Max(-32768, math.Min(32767, s))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(int16(s)))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("data: demo: %w", err)
	}
	return nil
}
