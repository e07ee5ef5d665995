package video

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/internal/allocs"
)

// fuzzImages returns small PNG and JPEG files of the kinds the decoders
// return: NRGBA/RGBA, grey, 16-bit, paletted, 4:2:0 YCbCr and grey JPEG.
func fuzzImages(f *testing.F) (pngs, jpegs [][]byte) {
	enc := func(img image.Image, asJPEG bool) []byte {
		var buf bytes.Buffer
		var err error
		if asJPEG {
			err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 75})
		} else {
			err = png.Encode(&buf, img)
		}
		if err != nil {
			f.Fatal(err)
		}
		return buf.Bytes()
	}
	rgba := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	gray := image.NewGray(image.Rect(0, 0, 4, 4))
	gray16 := image.NewGray16(image.Rect(0, 0, 3, 2))
	pal := image.NewPaletted(image.Rect(0, 0, 6, 2), color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}})
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 37)
	}
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 16)
	}
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	for _, img := range []image.Image{rgba, gray, gray16, pal} {
		pngs = append(pngs, enc(img, false))
	}
	jpegs = append(jpegs, enc(rgba, true), enc(gray, true))
	return pngs, jpegs
}

// fuzzPNGSize rewrites a PNG's IHDR width and height (fixing its CRC).
func fuzzPNGSize(b []byte, w, h uint32) []byte {
	b = append([]byte(nil), b...)
	be := binary.BigEndian
	be.PutUint32(b[16:], w)
	be.PutUint32(b[20:], h)
	be.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// fuzzJPEGSize rewrites a JPEG's SOF0 height and width.
func fuzzJPEGSize(b []byte, w, h uint16) []byte {
	b = append([]byte(nil), b...)
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

// FuzzReadFrameDir writes the input as the only frame of a frame folder,
// named .png or .jpg, and reads the folder. ReadFrameDir must not panic; it
// returns either an error naming the file or one well-formed RGB frame. An
// image may declare at most max(minFramePixels, maxPixelsPerByte × file
// size) pixels, the densest a real PNG or JPEG can be, so the decoders never
// allocate for a size a few header bytes merely claim; allocation stays
// within 64 MiB plus 64 bytes per allowed pixel (decoder buffers, JPEG
// coefficients, the frame itself).
func FuzzReadFrameDir(f *testing.F) {
	pngs, jpegs := fuzzImages(f)
	for _, b := range pngs {
		f.Add(b, false)
	}
	for _, b := range jpegs {
		f.Add(b, true)
	}
	// Tiny files claiming huge images.
	f.Add(fuzzPNGSize(pngs[0], 30000, 30000), false)
	f.Add(fuzzJPEGSize(jpegs[0], 60000, 60000), true)
	f.Add(fuzzJPEGSize(jpegs[1], 20000, 1), true)
	f.Add(pngs[0][:40], false)
	f.Add([]byte("GIF89a"), false)

	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte, isJPEG bool) {
		name := "frame_0001.png"
		if isJPEG {
			name = "frame_0001.jpg"
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		budget := max(minFramePixels, maxPixelsPerByte*uint64(len(b)))
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(b)); err == nil {
			if px := uint64(cfg.Width) * uint64(cfg.Height); px > 1<<22 && px <= budget {
				return // a large image the file could really hold: slow to decode, nothing to learn
			}
		}
		var frames []Frame
		var err error
		alloc := allocs.Of(func() { frames, err = ReadFrameDir(dir) })
		if limit := uint64(64<<20) + 64*budget; alloc > limit {
			t.Fatalf("reading a %d byte image allocated %d bytes (limit %d)", len(b), alloc, limit)
		}
		if err != nil {
			if frames != nil || !strings.HasPrefix(err.Error(), "video: "+path+": ") {
				t.Fatalf("error does not name the file (or comes with frames): %v", err)
			}
			return
		}
		if len(frames) != 1 {
			t.Fatalf("%d frames from one file", len(frames))
		}
		if err := frames[0].check(); err != nil {
			t.Fatalf("malformed frame: %v", err)
		}
		if px := uint64(frames[0].H) * uint64(frames[0].W); px > budget {
			t.Fatalf("%dx%d frame from %d bytes exceeds the budget of %d pixels", frames[0].H, frames[0].W, len(b), budget)
		}
	})
}
