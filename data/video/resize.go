package video

import (
	"fmt"
	"math"
)

// precisionBits is Pillow's fixed-point precision for 8-bit resampling:
// 32 bits minus 8 for the pixel value minus 2 guard bits for filters whose
// coefficients sum above 1 or go negative.
const precisionBits = 32 - 8 - 2

// kernel holds one resampling pass: for output position i, the input window
// starts at start[i], has count[i] taps, and uses the fixed-point weights
// weights[i*ksize : i*ksize+count[i]].
type kernel struct {
	ksize   int
	start   []int
	count   []int
	weights []int32
}

// Filter is a Pillow resampling filter.
type Filter int

// The filters the reference's image processor offers (PIL's resample).
const (
	Bilinear Filter = iota // PIL.Image.BILINEAR, the reference default
	Bicubic                // PIL.Image.BICUBIC (a = −0.5)
	Nearest                // PIL.Image.NEAREST
)

// ParseFilter reads a resample name: "bilinear", "bicubic" or "nearest".
func ParseFilter(name string) (Filter, error) {
	switch name {
	case "bilinear", "":
		return Bilinear, nil
	case "bicubic":
		return Bicubic, nil
	case "nearest":
		return Nearest, nil
	}
	return 0, fmt.Errorf("video: resample %q: want bilinear, bicubic or nearest", name)
}

// String names the filter as ParseFilter reads it.
func (f Filter) String() string {
	switch f {
	case Bicubic:
		return "bicubic"
	case Nearest:
		return "nearest"
	}
	return "bilinear"
}

// support is the filter's half-width before stretching, and weight its
// value at x, as Pillow's filter table defines them.
func (f Filter) support() float64 {
	if f == Bicubic {
		return 2
	}
	return 1
}

func (f Filter) weight(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if f == Bicubic {
		const a = -0.5
		if x < 1 {
			return float64(float64(float64(float64((a+2)*x)-(a+3))*x)*x) + 1
		}
		if x < 2 {
			return float64(float64(float64(float64(float64(x-5)*x)+8)*x)-4) * a
		}
		return 0
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// newKernel computes the coefficients of one axis the way Pillow's
// precompute_coeffs + normalize_coeffs_8bpc do for the box (0, inSize): the
// filter is stretched by the downscale factor (antialiasing), each window is
// normalised to sum 1 in float64, then rounded half away from zero to
// precisionBits fixed point. The float64 expressions keep Pillow's evaluation
// order (and explicit conversions stop Go from fusing multiply-adds) so the
// rounded weights are identical.
func newKernel(inSize, outSize int, flt Filter) kernel {
	scale := float64(inSize) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := flt.support() * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	k := kernel{
		ksize:   ksize,
		start:   make([]int, outSize),
		count:   make([]int, outSize),
		weights: make([]int32, outSize*ksize),
	}
	w := make([]float64, ksize)
	ss := 1.0 / filterscale
	for xx := 0; xx < outSize; xx++ {
		center := float64((float64(xx) + 0.5) * scale)
		// C's (int) cast truncates toward zero, as Go's conversion does.
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			v := flt.weight(float64((float64(x+xmin) - center + 0.5) * ss))
			w[x] = v
			ww += v
		}
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			f := float64(v * (1 << precisionBits))
			if v < 0 {
				k.weights[xx*ksize+x] = int32(-0.5 + f)
			} else {
				k.weights[xx*ksize+x] = int32(0.5 + f)
			}
		}
		k.start[xx] = xmin
		k.count[xx] = xmax
	}
	return k
}

// clip8 converts a fixed-point accumulator to a byte with saturation, like
// Pillow's clip8 lookup table.
func clip8(acc int32) uint8 {
	v := acc >> precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// ResizeBilinear is Resize with Pillow's BILINEAR filter.
func ResizeBilinear(f Frame, newH, newW int) Frame { return Resize(f, newH, newW, Bilinear) }

// Resize reproduces Pillow's Image.resize((newW, newH), filter) on an RGB
// frame bit for bit. Bilinear and bicubic are a separable convolution whose
// support grows with the downscale factor (so downscaling antialiases),
// horizontal pass first, then vertical, each skipped when that axis keeps
// its size, with 22-bit fixed-point weights and round-half-up accumulation;
// nearest takes the input pixel under each output pixel's centre. It
// returns a zero Frame if the input is malformed or a size is not positive.
func Resize(f Frame, newH, newW int, filter Filter) Frame {
	if newH <= 0 || newW <= 0 || f.H <= 0 || f.W <= 0 || len(f.Pix) != f.H*f.W*3 {
		return Frame{}
	}
	if newH == f.H && newW == f.W {
		return Frame{H: f.H, W: f.W, Pix: append([]uint8(nil), f.Pix...)}
	}
	if filter == Nearest {
		return resizeNearest(f, newH, newW)
	}
	vert := newKernel(f.H, newH, filter)
	src, srcW := f.Pix, f.W
	rowOffset := 0
	if newW != f.W {
		// Only the input rows the vertical pass reads are resampled
		// horizontally (Pillow does the same; it changes no value).
		first := vert.start[0]
		last := vert.start[newH-1] + vert.count[newH-1]
		horiz := newKernel(f.W, newW, filter)
		rows := last - first
		tmp := make([]uint8, rows*newW*3)
		half := int32(1) << (precisionBits - 1)
		for y := 0; y < rows; y++ {
			in := f.Pix[(y+first)*f.W*3 : (y+first+1)*f.W*3]
			out := tmp[y*newW*3 : (y+1)*newW*3]
			for xx := 0; xx < newW; xx++ {
				base := horiz.start[xx] * 3
				ws := horiz.weights[xx*horiz.ksize : xx*horiz.ksize+horiz.count[xx]]
				r, g, b := half, half, half
				for i, w := range ws {
					p := in[base+3*i : base+3*i+3]
					r += int32(p[0]) * w
					g += int32(p[1]) * w
					b += int32(p[2]) * w
				}
				out[3*xx] = clip8(r)
				out[3*xx+1] = clip8(g)
				out[3*xx+2] = clip8(b)
			}
		}
		src, srcW, rowOffset = tmp, newW, first
	}
	if newH == f.H {
		return Frame{H: newH, W: srcW, Pix: src}
	}
	out := make([]uint8, newH*srcW*3)
	half := int32(1) << (precisionBits - 1)
	stride := srcW * 3
	acc := make([]int32, stride)
	for yy := 0; yy < newH; yy++ {
		for i := range acc {
			acc[i] = half
		}
		ymin := vert.start[yy] - rowOffset
		ws := vert.weights[yy*vert.ksize : yy*vert.ksize+vert.count[yy]]
		for j, w := range ws {
			row := src[(ymin+j)*stride : (ymin+j+1)*stride]
			for i, p := range row {
				acc[i] += int32(p) * w
			}
		}
		dst := out[yy*stride : (yy+1)*stride]
		for i, a := range acc {
			dst[i] = clip8(a)
		}
	}
	return Frame{H: newH, W: srcW, Pix: out}
}

// resizeNearest is Pillow's NEAREST resize (ImagingScaleAffine): output
// pixel x samples input ⌊x₀⌋ with x₀ starting at scale/2 and growing by
// scale = W/newW per pixel — an accumulated float64 sum, as Pillow adds it,
// which rounds differently from (x+0.5)·scale.
func resizeNearest(f Frame, newH, newW int) Frame {
	sx, sy := float64(f.W)/float64(newW), float64(f.H)/float64(newH)
	cols := make([]int, newW)
	xo := sx * 0.5
	for x := range cols {
		cols[x] = min(int(xo), f.W-1)
		xo += sx
	}
	out := make([]uint8, newH*newW*3)
	yo := sy * 0.5
	for y := 0; y < newH; y++ {
		yin := min(int(yo), f.H-1)
		yo += sy
		row := f.Pix[yin*f.W*3:]
		dst := out[y*newW*3:]
		for x, xin := range cols {
			copy(dst[3*x:3*x+3], row[3*xin:3*xin+3])
		}
	}
	return Frame{H: newH, W: newW, Pix: out}
}
