package viz

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// MaskGrey fills removed patches in the masked panels. It is darker than
// the grey a zero-valued (mean) normalised pixel decodes to, so removed
// patches stand out from flat mid-grey content.
var MaskGrey = color.RGBA{0x64, 0x64, 0x64, 0xff}

// Layout constants of a reconstruction picture, in pixels.
const (
	margin   = 8
	gap      = 4
	labelW   = 7*len("reconstruction") + 2*margin // row labels left of the panels
	lineH    = 13                                 // basicfont.Face7x13
	sectionH = lineH + 2*gap                      // a heading line
)

// RenderOptions size a reconstruction picture.
type RenderOptions struct {
	// Scale enlarges every frame pixel to Scale×Scale screen pixels
	// (nearest neighbour); 0 picks the smallest integer making frames at
	// least 128 pixels on their long side.
	Scale int
	// Title is the text above the panels, one or more lines ("" = the clip
	// ID and its MAE losses).
	Title string
}

// Layout is where Render put each panel, for callers (and tests) that read
// pixels back: Frames[row][t] are the original (row 0), masked (1) and
// reconstruction (2) panels of frame t, Audio[row] the spectrograms; Scale
// and AudioScale are the enlargement factors (AudioScale: time, frequency).
type Layout struct {
	Size       image.Point
	Frames     [3][]image.Rectangle
	Audio      [3]image.Rectangle
	Scale      int
	AudioScale image.Point
}

// Layout computes the picture geometry without drawing.
func (c *Clip) Layout(o RenderOptions) Layout {
	s := o.Scale
	if s <= 0 {
		s = max(1, (128+max(c.Height, c.Width)-1)/max(c.Height, c.Width))
	}
	l := Layout{Scale: s}
	fw, fh := c.Width*s, c.Height*s
	gridW := c.Frames*fw + (c.Frames-1)*gap
	ax := max(1, gridW/max(1, c.TimeRows))
	ay := max(1, (96+c.Freq-1)/max(1, c.Freq))
	l.AudioScale = image.Pt(ax, ay)
	aw, ah := c.TimeRows*ax, c.Freq*ay
	x0 := margin + labelW
	title := c.titleLines(o)
	y := margin + len(title)*lineH + gap
	y += sectionH // frame headings
	for row := 0; row < 3; row++ {
		l.Frames[row] = make([]image.Rectangle, c.Frames)
		for t := 0; t < c.Frames; t++ {
			x := x0 + t*(fw+gap)
			l.Frames[row][t] = image.Rect(x, y, x+fw, y+fh)
		}
		y += fh + gap
	}
	y += sectionH // spectrogram heading
	for row := 0; row < 3; row++ {
		l.Audio[row] = image.Rect(x0, y, x0+aw, y+ah)
		y += ah + gap
	}
	y += sectionH // axis note
	w := x0 + max(gridW, aw) + margin
	for _, line := range title {
		w = max(w, margin+7*len(line)+margin)
	}
	w = max(w, x0+7*len(footer)+margin)
	l.Size = image.Pt(w, y+margin)
	return l
}

// footer explains the spectrogram axes below the heat maps.
const footer = "time ->, frequency ^, grey: removed"

// titleLines are the lines of text above the panels.
func (c *Clip) titleLines(o RenderOptions) []string {
	if o.Title != "" {
		return strings.Split(o.Title, "\n")
	}
	return []string{c.ID, "loss on removed patches: " + c.Losses()}
}

// pixel de-normalises one frame value of channel ch to 0..255.
func (c *Clip) pixel(x float32, ch int) uint8 {
	ch = min(ch, 2)
	r := c.Rescale
	if r == 0 {
		r = 1.0 / 255
	}
	v := (float64(x)*float64(c.Std[ch]) + float64(c.Mean[ch])) / r
	return uint8(math.Max(0, math.Min(255, math.Round(v))))
}

// frameColor is the colour of frame t at (y, x) from vals (C, H, W planes).
func (c *Clip) frameColor(vals []float32, t, y, x int) color.RGBA {
	var rgb [3]uint8
	hw := c.Height * c.Width
	for ch := 0; ch < 3; ch++ {
		cc := min(ch, c.Channels-1) // grey models repeat their one channel
		rgb[ch] = c.pixel(vals[(t*c.Channels+cc)*hw+y*c.Width+x], cc)
	}
	return color.RGBA{rgb[0], rgb[1], rgb[2], 0xff}
}

// Render draws the clip: three rows of frames (original, masked input,
// reconstruction with kept patches pasted from the input) and three
// spectrogram heat maps (time to the right, low frequencies at the bottom;
// values -1..1, the feature extractor's range).
func (c *Clip) Render(o RenderOptions) (*image.RGBA, Layout) {
	l := c.Layout(o)
	img := image.NewRGBA(image.Rectangle{Max: l.Size})
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for i, line := range c.titleLines(o) {
		text(img, margin, margin+i*lineH, line)
	}
	np := (c.Height / c.PatchH) * (c.Width / c.PatchW)
	gw := c.Width / c.PatchW
	s := l.Scale
	for t := 0; t < c.Frames; t++ {
		text(img, l.Frames[0][t].Min.X, l.Frames[0][t].Min.Y-sectionH+gap, fmt.Sprintf("frame %d", t+1))
	}
	labels := [3]string{"original", "masked", "reconstruction"}
	for row := 0; row < 3; row++ {
		r0 := l.Frames[row][0]
		text(img, margin, r0.Min.Y+(r0.Dy()-lineH)/2, labels[row])
		for t := 0; t < c.Frames; t++ {
			r := l.Frames[row][t]
			for y := 0; y < c.Height; y++ {
				for x := 0; x < c.Width; x++ {
					p := t*np + (y/c.PatchH)*gw + x/c.PatchW
					col := c.frameColor(c.Pixels, t, y, x)
					switch {
					case row == 1 && c.PixelRemoved[p]:
						col = MaskGrey
					case row == 2 && c.PixelRemoved[p] && c.PixelReal[p]:
						col = c.frameColor(c.PixelsRecon, t, y, x)
					}
					fill(img, image.Rect(r.Min.X+x*s, r.Min.Y+y*s, r.Min.X+(x+1)*s, r.Min.Y+(y+1)*s), col)
				}
			}
		}
	}
	a0 := l.Audio[0]
	text(img, a0.Min.X, a0.Min.Y-sectionH+gap, "spectrogram (log-mel, -1..1)")
	gf := c.Freq / c.PatchF
	ax, ay := l.AudioScale.X, l.AudioScale.Y
	for row := 0; row < 3; row++ {
		r := l.Audio[row]
		text(img, margin, r.Min.Y+(r.Dy()-lineH)/2, labels[row])
		for ts := 0; ts < c.TimeRows; ts++ {
			for f := 0; f < c.Freq; f++ {
				p := (ts/c.PatchT)*gf + f/c.PatchF
				v := c.Audio[ts*c.Freq+f]
				col := heat(v)
				switch {
				case row == 1 && c.AudioRemoved[p]:
					col = MaskGrey
				case row == 2 && c.AudioRemoved[p] && c.AudioReal[p]:
					col = heat(c.AudioRecon[ts*c.Freq+f])
				}
				yy := r.Max.Y - (f+1)*ay // low frequencies at the bottom
				fill(img, image.Rect(r.Min.X+ts*ax, yy, r.Min.X+(ts+1)*ax, yy+ay), col)
			}
		}
	}
	a2 := l.Audio[2]
	text(img, a2.Min.X, a2.Max.Y+gap, footer)
	return img, l
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, &image.Uniform{C: c}, image.Point{}, draw.Src)
}

// text writes one line with its top-left corner at (x, y).
func text(img *image.RGBA, x, y int, s string) {
	d := font.Drawer{Dst: img, Src: image.Black, Face: basicfont.Face7x13,
		Dot: fixed.P(x, y+basicfont.Face7x13.Ascent)}
	d.DrawString(s)
}

// viridis control points (matplotlib), low to high.
var viridis = [...][3]float64{
	{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37},
}

// heat maps a feature value in -1..1 (clamped) to a viridis colour.
func heat(v float32) color.RGBA {
	u := (math.Max(-1, math.Min(1, float64(v))) + 1) / 2 * float64(len(viridis)-1)
	i := min(int(u), len(viridis)-2)
	f := u - float64(i)
	var c [3]uint8
	for k := range c {
		c[k] = uint8(math.Round(viridis[i][k]*(1-f) + viridis[i+1][k]*f))
	}
	return color.RGBA{c[0], c[1], c[2], 0xff}
}

// encodePNG writes img with the best compression (pictures are committed
// to repositories and embedded in READMEs).
func encodePNG(w io.Writer, img image.Image) error {
	bw := bufio.NewWriter(w)
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(bw, img); err != nil {
		return err
	}
	return bw.Flush()
}
