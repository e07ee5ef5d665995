package video

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Frame is one RGB image, row-major HWC uint8 (Pix has H*W*3 bytes).
type Frame struct {
	H, W int
	Pix  []uint8
}

// check reports a malformed frame, so processing never reads out of bounds.
func (f Frame) check() error {
	if f.H <= 0 || f.W <= 0 {
		return fmt.Errorf("frame size %dx%d is not positive", f.H, f.W)
	}
	if len(f.Pix) != f.H*f.W*3 {
		return fmt.Errorf("frame %dx%d has %d bytes, want %d (H*W*3)", f.H, f.W, len(f.Pix), f.H*f.W*3)
	}
	return nil
}

// imageExts lists the extensions ReadFrameDir treats as frames; other files
// (manifests, audio, hidden files) in the folder are ignored.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true}

// ReadImage decodes a PNG or JPEG file into an RGB frame. Alpha is dropped
// without compositing (like Pillow's convert("RGB")), grey becomes R=G=B and
// 16-bit samples keep their high byte.
func ReadImage(path string) (Frame, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Frame{}, fmt.Errorf("video: %w", err)
	}
	var img image.Image
	var cfg image.Config
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		if cfg, err = png.DecodeConfig(bytes.NewReader(b)); err == nil {
			err = checkPixels(cfg, len(b))
		}
		if err == nil {
			img, err = png.Decode(bytes.NewReader(b))
		}
	case ".jpg", ".jpeg":
		if cfg, err = jpeg.DecodeConfig(bytes.NewReader(b)); err == nil {
			err = checkPixels(cfg, len(b))
		}
		if err == nil {
			img, err = jpeg.Decode(bytes.NewReader(b))
		}
	default:
		if cfg, _, err = image.DecodeConfig(bytes.NewReader(b)); err == nil {
			err = checkPixels(cfg, len(b))
		}
		if err == nil {
			img, _, err = image.Decode(bytes.NewReader(b))
		}
	}
	if err != nil {
		return Frame{}, fmt.Errorf("video: %s: cannot decode image: %w", path, err)
	}
	f := toFrame(img)
	if f.H == 0 || f.W == 0 {
		return Frame{}, fmt.Errorf("video: %s: empty image", path)
	}
	return f, nil
}

// The decoders allocate the whole image from the header's width and height
// before reading any pixel data, so a file of a few hundred bytes claiming
// 60000x60000 pixels would cost gigabytes before failing. A real file cannot
// be that dense: deflate expands at most ~1032:1 and a 1-bit PNG packs 8
// pixels a byte, and a JPEG spends at least a bit on each 8x8 block. So an
// image may declare at most maxPixelsPerByte pixels per file byte (or
// minFramePixels, whatever the file size).
const (
	maxPixelsPerByte = 8 * 1100
	minFramePixels   = 1 << 20
)

func checkPixels(cfg image.Config, size int) error {
	px := uint64(max(cfg.Width, 0)) * uint64(max(cfg.Height, 0))
	if limit := max(minFramePixels, maxPixelsPerByte*uint64(size)); px > limit {
		return fmt.Errorf("%dx%d pixels (%d) is more than a %d byte file can hold (at most %d)", cfg.Width, cfg.Height, px, size, limit)
	}
	return nil
}

// toFrame converts any decoded image to packed RGB, with fast paths for the
// types the PNG and JPEG decoders return.
func toFrame(img image.Image) Frame {
	b := img.Bounds()
	h, w := b.Dy(), b.Dx()
	pix := make([]uint8, h*w*3)
	switch m := img.(type) {
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w*4]
			for x := 0; x < w; x++ {
				copy(pix[(y*w+x)*3:(y*w+x)*3+3], row[x*4:x*4+3])
			}
		}
	case *image.RGBA:
		// Premultiplied: un-premultiply like color.NRGBAModel would; opaque
		// pixels (the usual case) are copied unchanged.
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w*4]
			for x := 0; x < w; x++ {
				p := row[x*4 : x*4+4]
				o := pix[(y*w+x)*3 : (y*w+x)*3+3]
				if p[3] == 255 {
					copy(o, p[:3])
					continue
				}
				c := color.NRGBAModel.Convert(color.RGBA{p[0], p[1], p[2], p[3]}).(color.NRGBA)
				o[0], o[1], o[2] = c.R, c.G, c.B
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				o := pix[(y*w+x)*3 : (y*w+x)*3+3]
				o[0], o[1], o[2] = v, v, v
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := m.YCbCrAt(b.Min.X+x, b.Min.Y+y)
				o := pix[(y*w+x)*3 : (y*w+x)*3+3]
				o[0], o[1], o[2] = color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				o := pix[(y*w+x)*3 : (y*w+x)*3+3]
				o[0], o[1], o[2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
			}
		}
	}
	return Frame{H: h, W: w, Pix: pix}
}

// ReadFrameDir reads every PNG/JPEG file of dir as one clip, in natural
// file-name order (digit runs compare by value, so frame2 sorts before
// frame10; zero-padded names sort the same either way). Other files are
// ignored. All frames must have the same size.
func ReadFrameDir(dir string) ([]Frame, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("video: frame folder: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("video: frame folder %s: no .png/.jpg/.jpeg files", dir)
	}
	sort.SliceStable(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	frames := make([]Frame, 0, len(names))
	for _, n := range names {
		p := filepath.Join(dir, n)
		f, err := ReadImage(p)
		if err != nil {
			return nil, err
		}
		if len(frames) > 0 && (f.H != frames[0].H || f.W != frames[0].W) {
			return nil, fmt.Errorf("video: %s: frame is %dx%d (HxW) but %s is %dx%d; all frames of a folder must have one size",
				p, f.H, f.W, filepath.Join(dir, names[0]), frames[0].H, frames[0].W)
		}
		frames = append(frames, f)
	}
	return frames, nil
}

// naturalLess orders names with embedded numbers by value ("f2" < "f10"),
// falling back to byte order so the order is total and deterministic.
func naturalLess(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			continue
		}
		if ca != cb {
			return ca < cb
		}
		i++
		j++
	}
	if len(a)-i != len(b)-j {
		return len(a)-i < len(b)-j
	}
	return a < b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// WritePNG stores a frame as an 8-bit RGB PNG (no alpha channel).
func WritePNG(path string, f Frame) error {
	if err := f.check(); err != nil {
		return fmt.Errorf("video: %s: %w", path, err)
	}
	img := image.NewRGBA(image.Rect(0, 0, f.W, f.H))
	for i := 0; i < f.H*f.W; i++ {
		copy(img.Pix[i*4:i*4+3], f.Pix[i*3:i*3+3])
		img.Pix[i*4+3] = 255
	}
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("video: %w", err)
	}
	if err := png.Encode(fh, img); err != nil {
		fh.Close()
		return fmt.Errorf("video: %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("video: %s: %w", path, err)
	}
	return nil
}

// errNoFrames is returned (wrapped) when a clip has no frames at all.
var errNoFrames = errors.New("no frames")
