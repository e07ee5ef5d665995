package video

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// solid returns an h×w frame filled with one RGB colour.
func solid(h, w int, r, g, b uint8) Frame {
	pix := make([]uint8, h*w*3)
	for i := 0; i < h*w; i++ {
		pix[3*i], pix[3*i+1], pix[3*i+2] = r, g, b
	}
	return Frame{H: h, W: w, Pix: pix}
}

// norm is the reference's value for byte v with mean = std = 0.5.
func norm(v uint8) float32 { return (float32(float64(v)*(1.0/255)) - 0.5) / 0.5 }

func TestSampleIndices(t *testing.T) {
	cases := []struct {
		total, n int
		want     []int
	}{
		{10, 4, []int{0, 2, 5, 7}},
		{10, 3, []int{0, 3, 6}},
		{100, 8, []int{0, 12, 25, 37, 50, 62, 75, 87}},
		{9, 8, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{49, 7, []int{0, 7, 14, 21, 28, 35, 42}},
		{8, 8, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{5, 8, []int{0, 1, 2, 3, 4}},
		{1, 8, []int{0}},
		{0, 8, nil},
		{5, 0, nil},
	}
	for _, c := range cases {
		if got := SampleIndices(c.total, c.n); !reflect.DeepEqual(got, c.want) {
			t.Errorf("SampleIndices(%d, %d) = %v, want %v", c.total, c.n, got, c.want)
		}
	}
}

func TestResizeBilinearHandComputed(t *testing.T) {
	// One row 0,70,140,210 halved: the stretched triangle gives weights
	// (3,3,1)/7 and (1,3,3)/7, i.e. 50 and 160 after fixed-point rounding.
	in := Frame{H: 1, W: 4, Pix: []uint8{0, 0, 0, 70, 70, 70, 140, 140, 140, 210, 210, 210}}
	got := ResizeBilinear(in, 1, 2)
	want := []uint8{50, 50, 50, 160, 160, 160}
	if got.H != 1 || got.W != 2 || !reflect.DeepEqual(got.Pix, want) {
		t.Fatalf("ResizeBilinear = %dx%d %v, want 1x2 %v", got.H, got.W, got.Pix, want)
	}
	// The same column resized vertically must give the same numbers.
	col := Frame{H: 4, W: 1, Pix: in.Pix}
	if got := ResizeBilinear(col, 2, 1); !reflect.DeepEqual(got.Pix, want) {
		t.Fatalf("vertical ResizeBilinear = %v, want %v", got.Pix, want)
	}
	// Upscaling 2 -> 4 (support 1, no antialiasing): plain linear
	// interpolation with edge clamping: 0,25,75,100 for 0,100.
	up := ResizeBilinear(Frame{H: 1, W: 2, Pix: []uint8{0, 0, 0, 100, 100, 100}}, 1, 4)
	if want := []uint8{0, 0, 0, 25, 25, 25, 75, 75, 75, 100, 100, 100}; !reflect.DeepEqual(up.Pix, want) {
		t.Fatalf("upscale = %v, want %v", up.Pix, want)
	}
}

func TestResizeBilinearProperties(t *testing.T) {
	for _, sz := range [][4]int{{48, 64, 32, 42}, {50, 30, 53, 32}, {480, 640, 224, 298}, {7, 5, 7, 11}, {9, 9, 3, 9}, {3, 3, 3, 3}} {
		f := solid(sz[0], sz[1], 17, 128, 250)
		g := ResizeBilinear(f, sz[2], sz[3])
		if g.H != sz[2] || g.W != sz[3] || len(g.Pix) != sz[2]*sz[3]*3 {
			t.Fatalf("%v: got %dx%d with %d bytes", sz, g.H, g.W, len(g.Pix))
		}
		for i := 0; i < len(g.Pix); i += 3 {
			if g.Pix[i] != 17 || g.Pix[i+1] != 128 || g.Pix[i+2] != 250 {
				t.Fatalf("%v: constant image changed at byte %d: %v", sz, i, g.Pix[i:i+3])
			}
		}
	}
	for _, bad := range []struct {
		f    Frame
		h, w int
	}{
		{solid(4, 4, 1, 2, 3), 0, 4},
		{solid(4, 4, 1, 2, 3), 4, -1},
		{Frame{H: 2, W: 2, Pix: make([]uint8, 5)}, 1, 1},
	} {
		if g := ResizeBilinear(bad.f, bad.h, bad.w); g.H != 0 || g.W != 0 || g.Pix != nil {
			t.Errorf("invalid resize to %dx%d returned %dx%d", bad.h, bad.w, g.H, g.W)
		}
	}
}

func TestResizeShape(t *testing.T) {
	p := DefaultProcessorConfig()
	for _, c := range [][4]int{{480, 640, 224, 298}, {640, 480, 298, 224}, {224, 224, 224, 224}, {100, 300, 224, 672}, {1080, 1920, 224, 398}} {
		if h, w := p.ResizeShape(c[0], c[1]); h != c[2] || w != c[3] {
			t.Errorf("ResizeShape(%d, %d) = %d, %d, want %d, %d", c[0], c[1], h, w, c[2], c[3])
		}
	}
}

func TestProcessCropAndPad(t *testing.T) {
	p := DefaultProcessorConfig()
	p.ShortestEdge, p.CropH, p.CropW, p.PatchSize = 4, 7, 6, [2]int{1, 1}
	// 4x8 white image: already at the target size, so the resize is exact.
	// Height 4 < 7: placed at row ceil(3/2) = 2 of a zero canvas (HF's
	// center_crop); width 8 >= 6: columns 1..6.
	f := solid(4, 8, 255, 255, 255)
	for x := 0; x < 8; x++ {
		f.Pix[(0*8+x)*3] = uint8(x) // mark columns in the red channel of row 0
	}
	out, _, err := p.Video([]Frame{f}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3*7*6 {
		t.Fatalf("len = %d, want %d", len(out), 3*7*6)
	}
	for c := 0; c < 3; c++ {
		for y := 0; y < 7; y++ {
			for x := 0; x < 6; x++ {
				want := norm(0)
				if y >= 2 && y < 6 {
					want = norm(255)
					if c == 0 && y == 2 {
						want = norm(uint8(x + 1))
					}
				}
				if got := out[c*42+y*6+x]; got != want {
					t.Fatalf("channel %d (%d,%d) = %v, want %v", c, y, x, got, want)
				}
			}
		}
	}
	if norm(0) != -1 || norm(255) != 1 {
		t.Fatalf("normalisation endpoints %v, %v, want -1, 1", norm(0), norm(255))
	}
}

func TestVideoPadAndSample(t *testing.T) {
	p := DefaultProcessorConfig()
	p.ShortestEdge, p.CropH, p.CropW, p.PatchSize, p.NumFrames = 8, 8, 8, [2]int{4, 4}, 4
	per, ppf := 3*8*8, 4
	frames := make([]Frame, 10)
	for i := range frames {
		frames[i] = solid(8, 8, uint8(20*i), 0, 255)
	}

	// 3 frames padded to 4.
	vals, mask, err := p.Video(frames[:3], 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 4*per || len(mask) != 4*ppf {
		t.Fatalf("got %d values, %d mask entries; want %d, %d", len(vals), len(mask), 4*per, 4*ppf)
	}
	wantMask := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}
	if !reflect.DeepEqual(mask, wantMask) {
		t.Errorf("mask = %v, want %v", mask, wantMask)
	}
	for i := 0; i < 3; i++ {
		if got := vals[i*per]; got != norm(uint8(20*i)) {
			t.Errorf("frame %d red = %v, want %v", i, got, norm(uint8(20*i)))
		}
		if got := vals[i*per+2*64]; got != 1 {
			t.Errorf("frame %d blue = %v, want 1", i, got)
		}
	}
	for i, v := range vals[3*per:] {
		if v != 0 {
			t.Fatalf("padding value %d = %v, want 0", i, v)
		}
	}

	// 10 frames, NumFrames 4: frames 0, 2, 5, 7 are used, no padding.
	vals, mask, err = p.Video(frames, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 4*per || len(mask) != 4*ppf {
		t.Fatalf("sampled: got %d values, %d mask; want %d, %d", len(vals), len(mask), 4*per, 4*ppf)
	}
	for k, src := range []int{0, 2, 5, 7} {
		if got := vals[k*per]; got != norm(uint8(20*src)) {
			t.Errorf("sampled frame %d red = %v, want frame %d's %v", k, got, src, norm(uint8(20*src)))
		}
	}
	for _, m := range mask {
		if m != 1 {
			t.Fatalf("sampled mask %v, want all ones", mask)
		}
	}

	// Errors.
	if _, _, err := p.Video(nil, 4); err == nil {
		t.Error("no frames: no error")
	}
	if _, _, err := p.Video(frames[:3], 2); err == nil || !strings.Contains(err.Error(), "padTo") {
		t.Errorf("padTo below frame count: err = %v", err)
	}
	bad := []Frame{frames[0], {H: 8, W: 8, Pix: make([]uint8, 10)}}
	if _, _, err := p.Video(bad, 0); err == nil || !strings.Contains(err.Error(), "frame 1") {
		t.Errorf("malformed frame: err = %v, want one naming frame 1", err)
	}
	q := p
	q.PatchSize = [2]int{3, 3}
	if _, _, err := q.Video(frames[:1], 0); err == nil || !strings.Contains(err.Error(), "PatchSize") {
		t.Errorf("crop not divisible by patch: err = %v", err)
	}
	q = p
	q.Std[1] = 0
	if _, _, err := q.Video(frames[:1], 0); err == nil {
		t.Error("zero std: no error")
	}
}

func TestReadFrameDir(t *testing.T) {
	dir := t.TempDir()
	names := []string{"frame_10.png", "frame_2.png", "frame_1.png"}
	want := map[string]Frame{}
	rng := rand.New(rand.NewSource(1))
	for _, n := range names {
		f := Frame{H: 6, W: 5, Pix: make([]uint8, 6*5*3)}
		rng.Read(f.Pix)
		if err := WritePNG(filepath.Join(dir, n), f); err != nil {
			t.Fatal(err)
		}
		want[n] = f
	}
	// A JPEG frame (lossy: compared loosely), and files to ignore.
	jpg := solid(6, 5, 200, 40, 90)
	writeJPEG(t, filepath.Join(dir, "frame_3.JPG"), jpg)
	for _, n := range []string{"notes.txt", "audio.wav", ".hidden.png"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("not an image"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	frames, err := ReadFrameDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"frame_1.png", "frame_2.png", "frame_3.JPG", "frame_10.png"}
	if len(frames) != len(order) {
		t.Fatalf("got %d frames, want %d", len(frames), len(order))
	}
	for i, n := range order {
		if n == "frame_3.JPG" {
			if d := meanAbsDiff(frames[i], jpg); d > 3 {
				t.Errorf("JPEG frame differs by %.2f on average", d)
			}
			continue
		}
		if !reflect.DeepEqual(frames[i], want[n]) {
			t.Errorf("frame %d is not %s", i, n)
		}
	}

	// Errors name the file or folder.
	missing := filepath.Join(dir, "nope")
	if _, err := ReadFrameDir(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing dir: err = %v", err)
	}
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "readme.txt"), []byte("x"), 0o644)
	if _, err := ReadFrameDir(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("empty dir: err = %v", err)
	}
	corrupt := t.TempDir()
	WritePNG(filepath.Join(corrupt, "a.png"), solid(2, 2, 1, 2, 3))
	os.WriteFile(filepath.Join(corrupt, "b.png"), []byte("\x89PNG\r\n\x1a\ngarbage"), 0o644)
	if _, err := ReadFrameDir(corrupt); err == nil || !strings.Contains(err.Error(), "b.png") {
		t.Errorf("corrupt frame: err = %v, want one naming b.png", err)
	}
	mixed := t.TempDir()
	WritePNG(filepath.Join(mixed, "a.png"), solid(2, 2, 1, 2, 3))
	WritePNG(filepath.Join(mixed, "b.png"), solid(3, 2, 1, 2, 3))
	if _, err := ReadFrameDir(mixed); err == nil || !strings.Contains(err.Error(), "b.png") || !strings.Contains(err.Error(), "3x2") {
		t.Errorf("mixed sizes: err = %v, want one naming b.png and its size", err)
	}
}

func writeJPEG(t *testing.T, path string, f Frame) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, f.W, f.H))
	for i := 0; i < f.H*f.W; i++ {
		copy(img.Pix[4*i:4*i+3], f.Pix[3*i:3*i+3])
		img.Pix[4*i+3] = 255
	}
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := jpeg.Encode(fh, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
}

func TestReadImageColourModels(t *testing.T) {
	dir := t.TempDir()
	save := func(name string, img image.Image) string {
		p := filepath.Join(dir, name)
		fh, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		if err := png.Encode(fh, img); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nrgba := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	nrgba.SetNRGBA(0, 0, color.NRGBA{10, 20, 30, 0})     // transparent: colour kept, alpha dropped
	nrgba.SetNRGBA(1, 0, color.NRGBA{200, 100, 50, 128}) // half transparent
	gray := image.NewGray(image.Rect(0, 0, 2, 1))
	gray.SetGray(0, 0, color.Gray{7})
	gray.SetGray(1, 0, color.Gray{250})
	g16 := image.NewGray16(image.Rect(0, 0, 1, 1))
	g16.SetGray16(0, 0, color.Gray16{0xABCD})
	for _, c := range []struct {
		name string
		img  image.Image
		want []uint8
	}{
		{"nrgba.png", nrgba, []uint8{10, 20, 30, 200, 100, 50}},
		{"gray.png", gray, []uint8{7, 7, 7, 250, 250, 250}},
		{"gray16.png", g16, []uint8{0xAB, 0xAB, 0xAB}},
	} {
		f, err := ReadImage(save(c.name, c.img))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(f.Pix, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, f.Pix, c.want)
		}
	}
	if _, err := ReadImage(filepath.Join(dir, "missing.png")); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestNaturalLess(t *testing.T) {
	in := []string{"f10.png", "f2.png", "f01.png", "f1.png", "a.png", "f1a.png", "g.png"}
	want := []string{"a.png", "f01.png", "f1.png", "f1a.png", "f2.png", "f10.png", "g.png"}
	got := append([]string(nil), in...)
	sortNatural(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("natural order = %v, want %v", got, want)
	}
}

func sortNatural(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && naturalLess(s[j], s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
