package viz

import (
	"image/color"
	"strconv"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// TestConstantSeriesTicks: a constant (or near-constant) metric gets
// distinct, increasing tick labels, linear or log (was 1.1, 1.1, 1.1, 1).
func TestConstantSeriesTicks(t *testing.T) {
	for _, tc := range []struct {
		name string
		y    []float64
		log  bool
	}{
		{"constant", []float64{1.1, 1.1, 1.1}, false},
		{"constant log", []float64{1.1, 1.1, 1.1}, true},
		{"near-constant", []float64{1.1, 1.1000001, 1.1}, false},
		{"zero", []float64{0, 0, 0}, false},
		{"large", []float64{5000, 5000, 5000}, false},
	} {
		pl, err := newPlot(Panel{Title: tc.name, Log: tc.log, Series: []Series{{Name: "a", X: []float64{1, 2, 3}, Y: tc.y}}})
		if err != nil {
			t.Fatal(err)
		}
		var labels []float64
		for _, tk := range pl.Y.Tick.Marker.Ticks(pl.Y.Min, pl.Y.Max) {
			if tk.Label == "" {
				continue
			}
			v, err := strconv.ParseFloat(tk.Label, 64)
			if err != nil {
				t.Fatalf("%s: tick label %q", tc.name, tk.Label)
			}
			labels = append(labels, v)
		}
		if len(labels) < 2 {
			t.Errorf("%s: labelled ticks %v, want at least 2", tc.name, labels)
		}
		for i := 1; i < len(labels); i++ {
			if labels[i] <= labels[i-1] {
				t.Errorf("%s: tick labels %v not distinct and increasing", tc.name, labels)
				break
			}
		}
		if pl.Y.Min > tc.y[0] || pl.Y.Max < tc.y[0] {
			t.Errorf("%s: range [%v, %v] leaves out %v", tc.name, pl.Y.Min, pl.Y.Max, tc.y[0])
		}
	}
}

// TestOverlappingSeriesDistinct: series drawn on each other differ in dash
// pattern (lines) or glyph (points), not only in colour.
func TestOverlappingSeriesDistinct(t *testing.T) {
	x, y := []float64{1, 2, 3}, []float64{0.5, 0.5, 0.5}
	var ss []Series
	for _, n := range []string{"a", "b", "c"} {
		ss = append(ss, Series{Name: n, X: x, Y: y})
	}
	for i := 0; i < 3; i++ {
		for j := i + 1; j < 3; j++ {
			if len(dashes[i]) == len(dashes[j]) && (len(dashes[i]) == 0 || dashes[i][0] == dashes[j][0]) {
				t.Errorf("series %d and %d share a dash pattern", i, j)
			}
			if glyphs[i] == glyphs[j] {
				t.Errorf("series %d and %d share a glyph", i, j)
			}
		}
	}
	if _, err := newPlot(Panel{Title: "overlap", Series: ss}); err != nil {
		t.Fatal(err)
	}
}

// TestLegendInside: the legend, drawn alone on a panel-sized canvas,
// keeps at least legendMargin from every edge.
func TestLegendInside(t *testing.T) {
	pl, err := newPlot(Panel{Title: "p", Series: []Series{
		{Name: "training loss", X: []float64{1, 2}, Y: []float64{1, 2}},
		{Name: "matching_accuracy", X: []float64{1, 2}, Y: []float64{2, 1}, Points: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	const dpi = 96
	c := vgimg.NewWith(vgimg.UseWH(vg.Inch*4, vg.Inch*3), vgimg.UseDPI(dpi))
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	pl.Legend.Draw(dc)
	img := c.Image()
	b := img.Bounds()
	minX, minY, maxX, maxY := b.Max.X, b.Max.Y, -1, -1
	for yy := b.Min.Y; yy < b.Max.Y; yy++ {
		for xx := b.Min.X; xx < b.Max.X; xx++ {
			r, g, bl, _ := img.At(xx, yy).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				minX, minY, maxX, maxY = min(minX, xx), min(minY, yy), max(maxX, xx), max(maxY, yy)
			}
		}
	}
	if maxX < 0 {
		t.Fatal("no legend drawn")
	}
	margin := int(legendMargin.Points()*dpi/72) - 1
	if minX < margin || minY < margin || b.Max.X-1-maxX < margin || b.Max.Y-1-maxY < margin {
		t.Errorf("legend spans x %d..%d, y %d..%d of %v: want %d px from every edge", minX, maxX, minY, maxY, b, margin)
	}
}
