package viz

import (
	"fmt"
	"image"
	"image/draw"
	"math"

	"github.com/tvlt-go/tvlt/config"
)

// AttentionLayout is where AttentionPNG put each heat map: Frames[t] is
// frame t's patch grid, Audio the audio patch grid (time to the right, low
// frequencies at the bottom); Cell and AudioCell are the screen pixels of
// one patch.
type AttentionLayout struct {
	Size      image.Point
	Frames    []image.Rectangle
	Audio     image.Rectangle
	Cell      image.Point
	AudioCell image.Point
}

// attnFooter explains the colour scale below the heat maps.
const attnFooter = "colour: weight / brightest patch (viridis)"

// AttentionPNG draws one clip's CLS attention over its tokens ([CLS, frames·
// patches, time patches·frequency patches], as the layers package orders
// them; e.g. attentions/last_cls of one example): a heat map over the patch
// grid of every frame and one over the audio patch grid. Colours are scaled
// to the largest patch weight so the brightest cell is where the CLS token
// looks most; the CLS token's weight on itself is printed, not drawn. title
// ("" = none) is written above, one line per "\n"-free string.
func AttentionPNG(cls []float64, cfg config.Config, frames, timePatches int, title string) (*image.RGBA, AttentionLayout, error) {
	hp, wp := cfg.ImageSize[0]/max(1, cfg.ImagePatchSize[0]), cfg.ImageSize[1]/max(1, cfg.ImagePatchSize[1])
	f := cfg.FreqPatches()
	np := hp * wp
	if frames < 1 || timePatches < 1 || np < 1 || f < 1 {
		return nil, AttentionLayout{}, fmt.Errorf("viz: attention picture of %d frames of %dx%d patches and %dx%d audio patches: nothing to draw", frames, hp, wp, timePatches, f)
	}
	if want := 1 + frames*np + timePatches*f; len(cls) != want {
		return nil, AttentionLayout{}, fmt.Errorf("viz: attention over %d tokens, want 1 + %d·%d + %d·%d = %d", len(cls), frames, np, timePatches, f, want)
	}
	var l AttentionLayout
	c := max(4, (96+max(hp, wp)-1)/max(hp, wp))
	l.Cell = image.Pt(c, c)
	fw, fh := wp*c, hp*c
	gridW := frames*fw + (frames-1)*gap
	ac := max(4, (96+f-1)/f)
	l.AudioCell = image.Pt(max(4, min(ac, gridW/timePatches)), ac)
	aw, ah := timePatches*l.AudioCell.X, f*l.AudioCell.Y
	x0 := margin + labelW
	lines := 0
	if title != "" {
		lines = 1
	}
	y := margin + lines*lineH + gap + sectionH
	for t := 0; t < frames; t++ {
		x := x0 + t*(fw+gap)
		l.Frames = append(l.Frames, image.Rect(x, y, x+fw, y+fh))
	}
	y += fh + gap + sectionH
	l.Audio = image.Rect(x0, y, x0+aw, y+ah)
	y += ah + gap + 2*lineH
	peak, video, audio := 0.0, 0.0, 0.0
	for i, v := range cls[1:] {
		peak = math.Max(peak, v)
		if i < frames*np {
			video += v
		} else {
			audio += v
		}
	}
	summary := fmt.Sprintf("CLS itself %.3f, video %.3f, audio %.3f; brightest %.4f", cls[0], video, audio, peak)
	w := max(x0+max(gridW, aw), margin+7*len(title), margin+7*len(attnFooter), margin+7*len(summary)) + margin
	l.Size = image.Pt(w, y+margin)
	col := func(v float64) float64 {
		if peak <= 0 {
			return -1
		}
		return 2*v/peak - 1
	}
	img := image.NewRGBA(image.Rectangle{Max: l.Size})
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	if title != "" {
		text(img, margin, margin, title)
	}
	for t, r := range l.Frames {
		text(img, r.Min.X, r.Min.Y-sectionH+gap, fmt.Sprintf("frame %d", t+1))
		for py := 0; py < hp; py++ {
			for px := 0; px < wp; px++ {
				v := cls[1+t*np+py*wp+px]
				fill(img, image.Rect(r.Min.X+px*c, r.Min.Y+py*c, r.Min.X+(px+1)*c, r.Min.Y+(py+1)*c), heat(float32(col(v))))
			}
		}
	}
	r0 := l.Frames[0]
	text(img, margin, r0.Min.Y+(r0.Dy()-lineH)/2, "video")
	text(img, l.Audio.Min.X, l.Audio.Min.Y-sectionH+gap, "audio patches (time ->, frequency ^)")
	text(img, margin, l.Audio.Min.Y+(l.Audio.Dy()-lineH)/2, "audio")
	ax, ay := l.AudioCell.X, l.AudioCell.Y
	for ts := 0; ts < timePatches; ts++ {
		for fp := 0; fp < f; fp++ {
			v := cls[1+frames*np+ts*f+fp]
			yy := l.Audio.Max.Y - (fp+1)*ay // low frequencies at the bottom
			fill(img, image.Rect(l.Audio.Min.X+ts*ax, yy, l.Audio.Min.X+(ts+1)*ax, yy+ay), heat(float32(col(v))))
		}
	}
	text(img, margin, l.Audio.Max.Y+gap, summary)
	text(img, margin, l.Audio.Max.Y+gap+lineH, attnFooter)
	return img, l, nil
}
