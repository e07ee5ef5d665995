package video

import (
	"fmt"
)

// ProcessorConfig mirrors TvltImageProcessor's settings (same defaults).
type ProcessorConfig struct {
	ShortestEdge  int        // short side after resizing (224)
	CropH, CropW  int        // center crop size (224, 224)
	PatchSize     [2]int     // pixel patch (height, width) for the mask (16, 16)
	NumFrames     int        // most frames per clip; longer clips are sampled (8)
	Mean, Std     [3]float32 // per-channel normalisation (0.5)
	RescaleFactor float64    // applied in float64 before normalising (1/255)
}

// DefaultProcessorConfig returns TvltImageProcessor's defaults.
func DefaultProcessorConfig() ProcessorConfig {
	return ProcessorConfig{
		ShortestEdge:  224,
		CropH:         224,
		CropW:         224,
		PatchSize:     [2]int{16, 16},
		NumFrames:     8,
		Mean:          [3]float32{0.5, 0.5, 0.5},
		Std:           [3]float32{0.5, 0.5, 0.5},
		RescaleFactor: 1.0 / 255.0,
	}
}

// Validate rejects settings that would give wrong shapes or divide by zero.
func (p ProcessorConfig) Validate() error {
	switch {
	case p.ShortestEdge <= 0:
		return fmt.Errorf("video: ShortestEdge %d must be positive", p.ShortestEdge)
	case p.CropH <= 0 || p.CropW <= 0:
		return fmt.Errorf("video: crop %dx%d must be positive", p.CropH, p.CropW)
	case p.PatchSize[0] <= 0 || p.PatchSize[1] <= 0:
		return fmt.Errorf("video: PatchSize %v must be positive", p.PatchSize)
	case p.CropH%p.PatchSize[0] != 0 || p.CropW%p.PatchSize[1] != 0:
		return fmt.Errorf("video: crop %dx%d is not a multiple of PatchSize %v", p.CropH, p.CropW, p.PatchSize)
	case p.NumFrames < 0:
		return fmt.Errorf("video: NumFrames %d is negative", p.NumFrames)
	case !(p.RescaleFactor > 0):
		return fmt.Errorf("video: RescaleFactor %v must be positive", p.RescaleFactor)
	}
	for c, s := range p.Std {
		if s == 0 {
			return fmt.Errorf("video: Std[%d] is zero", c)
		}
	}
	return nil
}

// PatchesPerFrame is the number of pixel-mask entries per frame. The
// reference computes (ShortestEdge/PatchSize[0])²; this uses the crop, which
// is what the model's patch embedding actually sees. Both agree whenever the
// crop is square, equals ShortestEdge and the patches are square (the
// defaults and the golden set).
func (p ProcessorConfig) PatchesPerFrame() int {
	return (p.CropH / p.PatchSize[0]) * (p.CropW / p.PatchSize[1])
}

// ResizeShape returns the reference's shortest-edge output size: the short
// side becomes ShortestEdge and the long side int(ShortestEdge·long/short),
// truncated (computed in float64 as Python does).
func (p ProcessorConfig) ResizeShape(h, w int) (newH, newW int) {
	s := p.ShortestEdge
	if w <= h {
		return int(float64(s*h) / float64(w)), s
	}
	return s, int(float64(s*w) / float64(h))
}

// lut maps every byte value to its normalised float32 per channel, computed
// exactly as the reference: x·RescaleFactor in float64, cast to float32, then
// (x − mean)/std in float32.
func (p ProcessorConfig) lut() [3][256]float32 {
	var t [3][256]float32
	for c := 0; c < 3; c++ {
		for v := 0; v < 256; v++ {
			x := float32(float64(v) * p.RescaleFactor)
			t[c][v] = (x - p.Mean[c]) / p.Std[c]
		}
	}
	return t
}

// processInto writes one frame into out as normalised channel-first floats
// (3, CropH, CropW) flattened: shortest-edge Pillow-bilinear resize, center
// crop (top = (h−CropH)//2; zero-padded, i.e. −1 after normalising, where the
// image is smaller than the crop), rescale and normalise.
func (p ProcessorConfig) processInto(out []float32, f Frame, t *[3][256]float32) error {
	if err := f.check(); err != nil {
		return err
	}
	nh, nw := p.ResizeShape(f.H, f.W)
	if nh <= 0 || nw <= 0 {
		return fmt.Errorf("frame %dx%d cannot be resized to short side %d", f.H, f.W, p.ShortestEdge)
	}
	r := ResizeBilinear(f, nh, nw)
	// Per axis: take the window starting at (size−crop)//2 when the image is
	// large enough, otherwise place the image at ceil((crop−size)/2) inside a
	// zero canvas (HF's center_crop).
	srcY, dstY, hN := cropAxis(r.H, p.CropH)
	srcX, dstX, wN := cropAxis(r.W, p.CropW)
	plane := p.CropH * p.CropW
	for c := 0; c < 3; c++ {
		zero := t[c][0]
		pl := out[c*plane : (c+1)*plane]
		if hN != p.CropH || wN != p.CropW {
			for i := range pl {
				pl[i] = zero
			}
		}
		for y := 0; y < hN; y++ {
			src := r.Pix[((srcY+y)*r.W+srcX)*3:]
			dst := pl[(dstY+y)*p.CropW+dstX:]
			for x := 0; x < wN; x++ {
				dst[x] = t[c][src[3*x+c]]
			}
		}
	}
	return nil
}

// cropAxis returns the source offset, destination offset and length of the
// copied span for one axis of the center crop.
func cropAxis(size, crop int) (src, dst, n int) {
	if size >= crop {
		return (size - crop) / 2, 0, crop
	}
	return 0, (crop - size + 1) / 2, size
}

// SampleIndices picks n frame indices spread uniformly over [0, total), the
// rule of the original TVLT (rawvideo_utils: np.linspace(0, total, n,
// endpoint=False).astype(int), i.e. the first frame of each of n equal
// segments, floor(i·total/n) evaluated in float64 exactly as numpy does).
// All indices 0..total−1 are returned when total <= n; nil when total <= 0.
func SampleIndices(total, n int) []int {
	if total <= 0 || n <= 0 {
		return nil
	}
	if total <= n {
		idx := make([]int, total)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	step := float64(total) / float64(n)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = int(float64(i) * step)
	}
	return idx
}

// Video processes one clip: clips longer than NumFrames are first sampled
// with SampleIndices (the reference raises instead), then every frame is
// resized, center-cropped, rescaled and normalised as the reference does
// (zero-padded, i.e. −1 after normalising, where a frame is smaller than the
// crop). values is (T,3,CropH,CropW) flattened and mask has
// PatchesPerFrame ones per real frame, where T = max(frames used, padTo);
// padding frames are all zeros with mask 0 (the reference only pads the
// mask). padTo = 0 means no padding; a padTo below the number of frames used
// is an error.
func (p ProcessorConfig) Video(frames []Frame, padTo int) (values []float32, mask []float32, err error) {
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	if len(frames) == 0 {
		return nil, nil, fmt.Errorf("video: %w", errNoFrames)
	}
	if p.NumFrames > 0 && len(frames) > p.NumFrames {
		idx := SampleIndices(len(frames), p.NumFrames)
		sel := make([]Frame, len(idx))
		for i, j := range idx {
			sel[i] = frames[j]
		}
		frames = sel
	}
	if padTo < 0 {
		return nil, nil, fmt.Errorf("video: padTo %d is negative", padTo)
	}
	if padTo > 0 && padTo < len(frames) {
		return nil, nil, fmt.Errorf("video: %d frames do not fit padTo %d", len(frames), padTo)
	}
	total := len(frames)
	if padTo > total {
		total = padTo
	}
	per := 3 * p.CropH * p.CropW
	values = make([]float32, total*per)
	ppf := p.PatchesPerFrame()
	mask = make([]float32, total*ppf)
	t := p.lut()
	for i, f := range frames {
		if err := p.processInto(values[i*per:(i+1)*per], f, &t); err != nil {
			return nil, nil, fmt.Errorf("video: frame %d: %w", i, err)
		}
		for j := 0; j < ppf; j++ {
			mask[i*ppf+j] = 1
		}
	}
	return values, mask, nil
}
