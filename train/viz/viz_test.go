package viz

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
	"github.com/tvlt-go/tvlt/train"
)

// metricsLines is a short pretraining log: train records every 10 steps,
// two evaluations, a null value and a partial last line (a run that is
// still writing).
const metricsLines = `{"type":"train","step":10,"epoch":0,"time":"t","elapsed_s":1,"loss":1.4,"matching_loss":0.69,"pixel_mae_loss":0.5,"audio_mae_loss":0.2,"matching_accuracy":0.5,"grad_norm":0.6,"lr":0.0005,"samples_per_s":70}
{"type":"train","step":20,"epoch":0,"time":"t","elapsed_s":2,"loss":0.9,"matching_loss":0.69,"pixel_mae_loss":0.1,"audio_mae_loss":0.1,"matching_accuracy":0.55,"grad_norm":null,"lr":0.001,"samples_per_s":71}
{"type":"eval","step":20,"epoch":0,"time":"t","elapsed_s":2,"split":"eval","loss":0.95,"pixel_mae_loss":0.12,"matching_accuracy":0.5}
{"type":"train","step":30,"epoch":1,"time":"t","elapsed_s":3,"loss":0.8,"matching_loss":0.68,"pixel_mae_loss":0.07,"audio_mae_loss":0.05,"matching_accuracy":0.6,"grad_norm":0.3,"lr":0.0008,"samples_per_s":72}
{"type":"eval","step":30,"epoch":1,"time":"t","elapsed_s":3,"split":"eval","loss":0.85,"pixel_mae_loss":0.08,"matching_accuracy":0.52}
{"type":"train","step":40,"epoch":1,"time":"t","elapsed_s":4,"lo`

func writeMetrics(t *testing.T) []train.Record {
	t.Helper()
	path := filepath.Join(t.TempDir(), train.MetricsFile)
	if err := os.WriteFile(path, []byte(metricsLines), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := train.ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("read %d records, want 5 (partial last line skipped)", len(recs))
	}
	return recs
}

func TestPanels(t *testing.T) {
	panels := Panels(writeMetrics(t))
	type want struct {
		title  string
		series []string
		log    bool
	}
	wants := []want{
		{"Training loss", []string{"loss", "matching_loss", "pixel_mae_loss", "audio_mae_loss"}, true},
		{"Learning rate", []string{"lr"}, false},
		{"Evaluation loss", []string{"loss", "pixel_mae_loss"}, true},
		{"Evaluation metrics", []string{"matching_accuracy", "matching_accuracy (train)"}, false},
		{"Gradient norm (before clipping)", []string{"grad_norm"}, false},
	}
	if len(panels) != len(wants) {
		t.Fatalf("%d panels, want %d: %+v", len(panels), len(wants), panels)
	}
	for i, w := range wants {
		p := panels[i]
		var names []string
		for _, s := range p.Series {
			names = append(names, s.Name)
		}
		if p.Title != w.title || strings.Join(names, ",") != strings.Join(w.series, ",") || p.Log != w.log {
			t.Errorf("panel %d: %q %v log %v, want %q %v log %v", i, p.Title, names, p.Log, w.title, w.series, w.log)
		}
	}
	// Values and steps come through; the null gradient norm is left out.
	check := func(s Series, xs, ys []float64) {
		t.Helper()
		if len(s.X) != len(xs) || len(s.Y) != len(ys) {
			t.Fatalf("%s: %v/%v, want %v/%v", s.Name, s.X, s.Y, xs, ys)
		}
		for i := range xs {
			if s.X[i] != xs[i] || s.Y[i] != ys[i] {
				t.Errorf("%s point %d: (%v, %v), want (%v, %v)", s.Name, i, s.X[i], s.Y[i], xs[i], ys[i])
			}
		}
	}
	check(panels[0].Series[2], []float64{10, 20, 30}, []float64{0.5, 0.1, 0.07})
	check(panels[1].Series[0], []float64{10, 20, 30}, []float64{0.0005, 0.001, 0.0008})
	check(panels[2].Series[0], []float64{20, 30}, []float64{0.95, 0.85})
	check(panels[4].Series[0], []float64{10, 30}, []float64{0.6, 0.3})
	if !panels[2].Series[0].Points || panels[0].Series[0].Points {
		t.Error("evaluation series should be drawn with points, training series without")
	}

	// A fine-tuning log: its loss, an error metric (lower is better) and scores.
	ft := []train.Record{
		{Type: "train", Step: 5, Values: map[string]float64{"loss": 1.2, "lr": 1e-4}},
		{Type: "eval", Step: 5, Values: map[string]float64{"loss": 1.1, "mae": 0.4, "pearson": 0.2}},
	}
	panels = Panels(ft)
	var got []string
	for _, p := range panels {
		for _, s := range p.Series {
			got = append(got, p.Title+"/"+s.Name)
		}
	}
	if w := "Training loss/loss,Learning rate/lr,Evaluation loss/loss,Evaluation loss/mae,Evaluation metrics/pearson"; strings.Join(got, ",") != w {
		t.Errorf("fine-tuning panels %v, want %s", got, w)
	}
}

// near reports whether two colours differ by at most tol per channel.
func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) bool { return math.Abs(float64(x)-float64(y)) <= float64(tol) }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s is not a PNG", path)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func TestCurvesPNG(t *testing.T) {
	recs := writeMetrics(t)
	img, err := Curves(recs, CurveOptions{Title: "test run", Width: 800, RowHeight: 300})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sub", "curves.png")
	if err := WritePNG(out, img); err != nil {
		t.Fatal(err)
	}
	got := decodePNG(t, out)
	// 5 panels → 3 rows of 2, plus the title strip.
	if b := got.Bounds(); b.Dx() != 800 || b.Dy() != 3*300+30 {
		t.Errorf("curves picture is %v, want 800x930", b.Size())
	}
	// Every series colour is drawn: count pixels of the first three colours.
	counts := make([]int, 3)
	b := got.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(got.At(x, y)).(color.RGBA)
			for i := range counts {
				if near(c, palette[i], 10) {
					counts[i]++
				}
			}
		}
	}
	for i, n := range counts {
		if n < 30 {
			t.Errorf("colour %d (%v) has %d pixels, want lines drawn", i, palette[i], n)
		}
	}
	if _, err := Curves(nil, CurveOptions{}); err == nil {
		t.Error("no records: no error")
	}
}

// tinyRecon builds the tiny preset pretraining model and a batch of two
// generated clips with the loader's MAE masks.
func tinyRecon(t *testing.T) (*layers.Model, *data.Batch) {
	t.Helper()
	cfg, err := train.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := train.NewModel(layers.Pretraining, cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := data.GenerateDemo(t.TempDir(), demoOpts(4, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	clips, err := data.ReadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadBatch(clips[:2], cfg, 7, data.Padding{}, "")
	if err != nil {
		t.Fatal(err)
	}
	return m, b
}

func TestReconstructLosses(t *testing.T) {
	m, b := tinyRecon(t)
	r, err := NewReconstructor(m)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	clips, err := r.Run(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(clips) != 2 {
		t.Fatalf("%d clips, want 2", len(clips))
	}
	// tiny: 2 frames of 4x4 patches (32 tokens, keep int(32·0.25) = 8) and a
	// 64x32 spectrogram of 8x8 patches (8x4 tokens, keep int(32·0.85) = 27
	// tokens; frame-level masking removes whole time steps of 4 patches).
	c := clips[0]
	if c.Frames != 2 || c.Height != 32 || c.Width != 32 || c.TimeRows != 64 || c.Freq != 32 {
		t.Fatalf("clip shape: %d frames %dx%d, spectrogram %dx%d", c.Frames, c.Height, c.Width, c.TimeRows, c.Freq)
	}
	count := func(v []bool) int {
		n := 0
		for _, x := range v {
			if x {
				n++
			}
		}
		return n
	}
	if n := count(c.PixelRemoved); n != 24 {
		t.Errorf("%d pixel patches removed, want 24", n)
	}
	if n := count(c.AudioRemoved); n != 5 {
		t.Errorf("%d audio patches removed, want 5 (32 − 27)", n)
	}
	// The model's own MAE losses of each single clip equal the per-clip
	// losses computed from the unpatchified reconstruction, which checks
	// the patch layouts end to end.
	for j, c := range clips {
		one := &data.Batch{IDs: b.IDs[j : j+1], PixelShape: b.PixelShape, PixelMaskShape: b.PixelMaskShape,
			AudioShape: b.AudioShape, AudioMaskShape: b.AudioMaskShape, PixelLenKeep: b.PixelLenKeep, AudioLenKeep: b.AudioLenKeep}
		one.PixelShape[0], one.PixelMaskShape[0], one.AudioShape[0], one.AudioMaskShape[0] = 1, 1, 1, 1
		cut := func(v []float32) []float32 { n := len(v) / 2; return v[j*n : (j+1)*n] }
		cuti := func(v []int64) []int64 { n := len(v) / 2; return v[j*n : (j+1)*n] }
		one.PixelValues, one.PixelMask, one.AudioValues, one.AudioMask = cut(b.PixelValues), cut(b.PixelMask), cut(b.AudioValues), cut(b.AudioMask)
		one.PixelIDsShuffle, one.AudioIDsShuffle = cuti(b.PixelIDsShuffle), cuti(b.AudioIDsShuffle)
		lb := toLayers(one)
		prog, err := m.Compile(lb, layers.Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := prog.Run(lb)
		prog.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []struct {
			name      string
			got, want float64
		}{{"pixel", c.PixelLoss, res.Scalar("pixel_mae_loss")}, {"audio", c.AudioLoss, res.Scalar("audio_mae_loss")}} {
			if math.IsNaN(k.got) || math.Abs(k.got-k.want) > 1e-5*math.Max(1, k.want) {
				t.Errorf("clip %d %s loss %.7f, model says %.7f", j, k.name, k.got, k.want)
			}
		}
	}
	// Reconstructing a model without the MAE decoder is refused.
	cfg := m.Config
	cfg.TaskMAE = false
	mm, err := train.NewModel(layers.Pretraining, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewReconstructor(mm); err == nil || !strings.Contains(err.Error(), "task_mae") {
		t.Errorf("matching-only model: %v", err)
	}
}

func rgba(img image.Image, x, y int) color.RGBA {
	return color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
}

func TestRenderReconstruction(t *testing.T) {
	m, b := tinyRecon(t)
	r, err := NewReconstructor(m)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	clips, err := r.Run(b)
	if err != nil {
		t.Fatal(err)
	}
	c := clips[1]
	img, l := c.Render(RenderOptions{})
	path := filepath.Join(t.TempDir(), "recon.png")
	if err := WritePNG(path, img); err != nil {
		t.Fatal(err)
	}
	got := decodePNG(t, path)
	if got.Bounds().Size() != l.Size {
		t.Fatalf("PNG is %v, layout says %v", got.Bounds().Size(), l.Size)
	}
	// 32-pixel frames are enlarged 4x to 128 pixels; the 64-row spectrogram
	// spans the two frames' width (2·128 + 4 = 260 → 4 pixels per row), and
	// 32 mel bins are drawn 3 pixels high.
	if l.Scale != 4 || l.AudioScale != image.Pt(4, 3) {
		t.Errorf("scale %d, audio scale %v; want 4 and (4,3)", l.Scale, l.AudioScale)
	}
	if w := l.Frames[0][0].Size(); w != image.Pt(128, 128) {
		t.Errorf("frame panel %v, want 128x128", w)
	}
	s := l.Scale
	gw := c.Width / c.PatchW
	np := gw * (c.Height / c.PatchH)
	var removedSeen, keptSeen, differ int
	for t0 := 0; t0 < c.Frames; t0++ {
		for p := 0; p < np; p++ {
			tok := t0*np + p
			py, px := p/gw*c.PatchH, p%gw*c.PatchW
			for y := py; y < py+c.PatchH; y++ {
				for x := px; x < px+c.PatchW; x++ {
					// Sample the centre of each enlarged source pixel.
					at := func(row int) color.RGBA {
						r := l.Frames[row][t0]
						return rgba(got, r.Min.X+x*s+s/2, r.Min.Y+y*s+s/2)
					}
					orig, masked, recon := at(0), at(1), at(2)
					if want := c.frameColor(c.Pixels, t0, y, x); orig != want {
						t.Fatalf("frame %d (%d,%d): original panel %v, want input %v", t0, x, y, orig, want)
					}
					if c.PixelRemoved[tok] {
						removedSeen++
						if masked != MaskGrey {
							t.Fatalf("frame %d (%d,%d) removed: masked panel %v, want grey", t0, x, y, masked)
						}
						if want := c.frameColor(c.PixelsRecon, t0, y, x); recon != want {
							t.Fatalf("frame %d (%d,%d) removed: reconstruction %v, want prediction %v", t0, x, y, recon, want)
						}
						if recon != orig {
							differ++
						}
					} else {
						keptSeen++
						if masked != orig || recon != orig {
							t.Fatalf("frame %d (%d,%d) kept: masked %v / reconstruction %v, want the input %v", t0, x, y, masked, recon, orig)
						}
					}
				}
			}
		}
	}
	if removedSeen != 24*64 || keptSeen != 8*64 {
		t.Errorf("checked %d removed and %d kept pixels, want %d and %d", removedSeen, keptSeen, 24*64, 8*64)
	}
	if differ < removedSeen/2 {
		t.Errorf("only %d of %d removed pixels differ from the input: reconstruction not drawn?", differ, removedSeen)
	}
	// Spectrogram: time to the right, low frequency at the bottom.
	gf := c.Freq / c.PatchF
	ax, ay := l.AudioScale.X, l.AudioScale.Y
	var audioRemoved int
	for ts := 0; ts < c.TimeRows; ts++ {
		for f := 0; f < c.Freq; f++ {
			tok := ts/c.PatchT*gf + f/c.PatchF
			at := func(row int) color.RGBA {
				r := l.Audio[row]
				return rgba(got, r.Min.X+ts*ax+ax/2, r.Max.Y-(f+1)*ay+ay/2)
			}
			orig, masked, recon := at(0), at(1), at(2)
			if want := heat(c.Audio[ts*c.Freq+f]); orig != want {
				t.Fatalf("spectrogram (%d,%d): %v, want %v", ts, f, orig, want)
			}
			if c.AudioRemoved[tok] {
				audioRemoved++
				if masked != MaskGrey || recon != heat(c.AudioRecon[ts*c.Freq+f]) {
					t.Fatalf("spectrogram (%d,%d) removed: masked %v, reconstruction %v", ts, f, masked, recon)
				}
			} else if masked != orig || recon != orig {
				t.Fatalf("spectrogram (%d,%d) kept: masked %v / reconstruction %v, want %v", ts, f, masked, recon, orig)
			}
		}
	}
	if audioRemoved != 5*64 {
		t.Errorf("%d removed spectrogram cells, want %d", audioRemoved, 5*64)
	}
}

func TestHeatAndPixel(t *testing.T) {
	for _, tc := range []struct {
		v    float32
		want color.RGBA
	}{
		{-1, color.RGBA{68, 1, 84, 255}}, {-5, color.RGBA{68, 1, 84, 255}},
		{0, color.RGBA{33, 145, 140, 255}}, {1, color.RGBA{253, 231, 37, 255}},
		{0.25, color.RGBA{64, 173, 119, 255}},
	} {
		if got := heat(tc.v); got != tc.want {
			t.Errorf("heat(%v) = %v, want %v", tc.v, got, tc.want)
		}
	}
	c := Clip{Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}, Rescale: 1.0 / 255}
	for _, tc := range []struct {
		x    float32
		want uint8
	}{{-1, 0}, {1, 255}, {0, 128}, {-2, 0}, {3, 255}, {0.6, 204}} {
		if got := c.pixel(tc.x, 0); got != tc.want {
			t.Errorf("pixel(%v) = %d, want %d", tc.x, got, tc.want)
		}
	}
}

func demoOpts(clips, frames int, seed uint64) data.DemoOptions {
	o := data.DefaultDemoOptions()
	o.Clips, o.Frames, o.Seed = clips, frames, seed
	return o
}
