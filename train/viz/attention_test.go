package viz

import (
	"image/color"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/tvlt-go/tvlt/train"
)

// TestAttentionPNG checks the picture's geometry, that the brightest cell is
// the largest weight (video or audio) and that its colour is viridis' top,
// that a zero weight is viridis' bottom, and that the PNG round-trips.
func TestAttentionPNG(t *testing.T) {
	cfg, err := train.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	hp, wp := cfg.ImageSize[0]/cfg.ImagePatchSize[0], cfg.ImageSize[1]/cfg.ImagePatchSize[1]
	np, f := hp*wp, cfg.FreqPatches()
	const frames, tp = 2, 3
	n := 1 + frames*np + tp*f
	top, bottom := color.RGBA{253, 231, 37, 255}, color.RGBA{68, 1, 84, 255}
	for _, tc := range []struct {
		name string
		hot  int // token index of the largest weight
	}{
		{"video frame 2", 1 + np + wp + 1},       // frame 2, patch row 1, column 1
		{"audio", 1 + frames*np + 2*f + (f - 1)}, // last time patch, highest frequency
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(3))
			cls := make([]float64, n)
			for i := range cls {
				cls[i] = 0.5 * rng.Float64() / float64(n)
			}
			cls[1] = 0 // a padded patch
			cls[tc.hot] = 2.0 / float64(n)
			img, l, err := AttentionPNG(cls, cfg, frames, tp, "clip-1")
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds().Size() != l.Size || len(l.Frames) != frames {
				t.Fatalf("image %v, layout %v with %d frames", img.Bounds().Size(), l.Size, len(l.Frames))
			}
			c := l.Cell.X
			if l.Frames[0].Dx() != wp*c || l.Frames[0].Dy() != hp*c || l.Audio.Dx() != tp*l.AudioCell.X || l.Audio.Dy() != f*l.AudioCell.Y {
				t.Fatalf("layout %+v for %dx%d patches, %dx%d audio patches", l, hp, wp, tp, f)
			}
			if c*max(hp, wp) < 96 {
				t.Errorf("frame heat maps %d pixels, want at least 96", c*max(hp, wp))
			}
			// Centres of every cell, token order.
			centre := func(tok int) (int, int) {
				i := tok - 1
				if i < frames*np {
					r := l.Frames[i/np]
					p := i % np
					return r.Min.X + (p%wp)*c + c/2, r.Min.Y + (p/wp)*c + c/2
				}
				i -= frames * np
				ts, fp := i/f, i%f
				return l.Audio.Min.X + ts*l.AudioCell.X + l.AudioCell.X/2, l.Audio.Max.Y - fp*l.AudioCell.Y - l.AudioCell.Y/2
			}
			best, bestSum := -1, -1
			for tok := 1; tok < n; tok++ {
				x, y := centre(tok)
				p := rgba(img, x, y)
				if s := int(p.R) + int(p.G); s > bestSum { // viridis gets redder and greener as it rises
					best, bestSum = tok, s
				}
			}
			if best != tc.hot {
				t.Errorf("brightest cell is token %d, want %d", best, tc.hot)
			}
			if x, y := centre(tc.hot); !near(rgba(img, x, y), top, 1) {
				t.Errorf("hottest cell colour %v, want %v", rgba(img, x, y), top)
			}
			if x, y := centre(1); !near(rgba(img, x, y), bottom, 1) {
				t.Errorf("zero-weight cell colour %v, want %v", rgba(img, x, y), bottom)
			}
			path := filepath.Join(t.TempDir(), "attn.png")
			if err := WritePNG(path, img); err != nil {
				t.Fatal(err)
			}
			if got := decodePNG(t, path).Bounds().Size(); got != l.Size {
				t.Errorf("decoded PNG %v, want %v", got, l.Size)
			}
		})
	}
	if _, _, err := AttentionPNG(make([]float64, n-1), cfg, frames, tp, ""); err == nil {
		t.Error("wrong token count: no error")
	}
}
