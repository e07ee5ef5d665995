package viz

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tvlt-go/tvlt/checkpoints"
	"github.com/tvlt-go/tvlt/train"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// CurveOptions size and title the curves picture.
type CurveOptions struct {
	Title     string // above the panels ("" = none)
	Width     int    // pixels (1200)
	RowHeight int    // pixels per row of two panels (380)
}

// Panel is one chart of the curves picture: a titled set of named series.
type Panel struct {
	Title  string
	YLabel string
	Log    bool // logarithmic y axis when every value is positive (losses span decades)
	Series []Series
}

// Series is one line of a panel; Points marks every value (evaluations are
// sparse, so a lone point must stay visible).
type Series struct {
	Name   string
	X, Y   []float64
	Points bool
}

// Panels groups a run's records into charts, leaving out empty ones:
// training losses (every "*loss" key), learning rate, gradient norm,
// evaluation losses and errors (metrics where lower is better) and
// evaluation scores (accuracy, F1, recall, correlation; training accuracies
// join them, marked "(train)").
func Panels(recs []train.Record) []Panel {
	recs = append([]train.Record(nil), recs...)
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Step < recs[j].Step })
	trainKeys, evalKeys := map[string]bool{}, map[string]bool{}
	for _, r := range recs {
		for k := range r.Values {
			switch r.Type {
			case train.RecordTrain:
				trainKeys[k] = true
			case train.RecordEval:
				evalKeys[k] = true
			}
		}
	}
	series := func(typ, key, name string, points bool) Series {
		s := Series{Name: name, Points: points}
		for _, r := range recs {
			v, ok := r.Values[key]
			if r.Type != typ || !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			s.X = append(s.X, float64(r.Step))
			s.Y = append(s.Y, v)
		}
		return s
	}
	var losses, scores, evalLosses []Series
	for _, k := range orderedKeys(trainKeys) {
		switch {
		case slices.Contains(train.TrainStats, k):
		case strings.HasSuffix(k, "loss"):
			losses = append(losses, series(train.RecordTrain, k, k, false))
		case strings.Contains(k, "accuracy"):
			scores = append(scores, series(train.RecordTrain, k, k+" (train)", false))
		}
	}
	var evalScores []Series
	for _, k := range orderedKeys(evalKeys) {
		if train.HigherIsBetter(k) {
			evalScores = append(evalScores, series(train.RecordEval, k, k, true))
		} else {
			evalLosses = append(evalLosses, series(train.RecordEval, k, k, true))
		}
	}
	scores = append(evalScores, scores...)
	panels := []Panel{
		{Title: "Training loss", YLabel: "loss", Log: true, Series: losses},
		{Title: "Learning rate", YLabel: "learning rate", Series: []Series{series(train.RecordTrain, train.StatLR, train.StatLR, false)}},
		{Title: "Evaluation loss", YLabel: "loss / error", Log: true, Series: evalLosses},
		{Title: "Evaluation metrics", YLabel: "score", Series: scores},
		{Title: "Gradient norm (before clipping)", YLabel: "global L2 norm", Series: []Series{series(train.RecordTrain, train.StatGradNorm, train.StatGradNorm, false)}},
	}
	var out []Panel
	for _, p := range panels {
		var keep []Series
		for _, s := range p.Series {
			if len(s.X) > 0 {
				keep = append(keep, s)
			}
		}
		if len(keep) > 0 {
			p.Series = keep
			out = append(out, p)
		}
	}
	return out
}

// orderedKeys puts the losses of train.LossKeys first, in the order the
// trainer logs them (so colours stay stable between runs), then the rest
// sorted.
func orderedKeys(set map[string]bool) []string {
	var out []string
	for _, k := range train.LossKeys {
		if set[k] {
			out = append(out, k)
		}
	}
	var rest []string
	for k := range set {
		if !slices.Contains(train.LossKeys, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// palette is a colour-blind-friendly cycle (Okabe–Ito).
var palette = []color.RGBA{
	{0x00, 0x72, 0xb2, 0xff}, {0xd5, 0x5e, 0x00, 0xff}, {0x00, 0x9e, 0x73, 0xff},
	{0xcc, 0x79, 0xa7, 0xff}, {0xe6, 0x9f, 0x00, 0xff}, {0x56, 0xb4, 0xe9, 0xff},
	{0x00, 0x00, 0x00, 0xff}, {0xf0, 0xe4, 0x42, 0xff},
}

// dashes and glyphs tell series apart where they overlap (a constant
// metric under another, the same values in two splits): series i has
// dashes[i] and, when drawn with points, glyphs[i].
var (
	dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)},
		{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)}, {vg.Points(10), vg.Points(5)}}
	glyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{}}
)

// legendMargin keeps the legend off the panel's (and the image's) edge.
var legendMargin = vg.Points(8)

// newPlot draws one panel.
func newPlot(p Panel) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.X.Label.Text = "step"
	pl.Y.Label.Text = p.YLabel
	pl.Add(plotter.NewGrid())
	pl.Legend.Top = true
	pl.Legend.XOffs, pl.Legend.YOffs = -legendMargin, -legendMargin
	logY := p.Log
	for _, s := range p.Series {
		for _, y := range s.Y {
			logY = logY && y > 0
		}
	}
	if logY {
		pl.Y.Scale = plot.LogScale{}
		pl.Y.Tick.Marker = distinctTicks{plot.LogTicks{Prec: -1}}
	} else {
		pl.Y.Tick.Marker = distinctTicks{plot.DefaultTicks{}}
	}
	for i, s := range p.Series {
		xy := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xy[j].X, xy[j].Y = s.X[j], s.Y[j]
		}
		col := palette[i%len(palette)]
		if s.Points || len(xy) == 1 {
			lp, pts, err := plotter.NewLinePoints(xy)
			if err != nil {
				return nil, fmt.Errorf("viz: %s: %s: %w", p.Title, s.Name, err)
			}
			lp.Color, lp.Width, lp.Dashes = col, vg.Points(1.5), dashes[i%len(dashes)]
			pts.Color, pts.Shape, pts.Radius = col, glyphs[i%len(glyphs)], vg.Points(3)
			pl.Add(lp, pts)
			pl.Legend.Add(s.Name, lp, pts)
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, fmt.Errorf("viz: %s: %s: %w", p.Title, s.Name, err)
		}
		l.Color, l.Width, l.Dashes = col, vg.Points(1.5), dashes[i%len(dashes)]
		pl.Add(l)
		pl.Legend.Add(s.Name, l)
	}
	padRange(pl, logY)
	headroom(pl, len(p.Series), logY)
	return pl, nil
}

// distinctTicks relabels ticks whose labels repeat (gonum rounds 1.08,
// 1.1 and 1.12 all to "1.1") with as many digits as make them distinct.
type distinctTicks struct{ plot.Ticker }

func (d distinctTicks) Ticks(min, max float64) []plot.Tick {
	ts := d.Ticker.Ticks(min, max)
	for prec := -1; prec <= 12; prec++ {
		seen := map[string]bool{}
		repeat := false
		for _, t := range ts {
			if t.Label == "" {
				continue
			}
			repeat = repeat || seen[t.Label]
			seen[t.Label] = true
		}
		if !repeat {
			return ts
		}
		for i := range ts {
			if ts[i].Label != "" {
				p := prec + 2
				ts[i].Label = strconv.FormatFloat(ts[i].Value, 'g', p, 64)
			}
		}
	}
	return ts
}

// padRange widens a constant or near-constant y range (less than 1% of
// its magnitude) to ±2% around its middle, so the ticks get distinct
// labels instead of "1.1, 1.1, 1.1, 1".
func padRange(pl *plot.Plot, logY bool) {
	lo, hi := pl.Y.Min, pl.Y.Max
	if logY {
		if hi/lo < 1.01 {
			mid := math.Sqrt(lo * hi)
			pl.Y.Min, pl.Y.Max = mid/1.1, mid*1.1
		}
		return
	}
	mid := (lo + hi) / 2
	mag := math.Max(math.Abs(mid), 1e-3)
	if hi-lo < 0.01*mag {
		pl.Y.Min, pl.Y.Max = mid-0.02*mag, mid+0.02*mag
	}
}

// headroom raises the top of the y axis so that the legend (top right)
// sits above the curves instead of on them.
func headroom(pl *plot.Plot, entries int, logY bool) {
	h := math.Min(0.45, 0.06*float64(entries)+0.02)
	lo, hi := pl.Y.Min, pl.Y.Max
	if logY {
		lo, hi = math.Log(lo), math.Log(hi)
	}
	span := hi - lo
	if span <= 0 {
		span = math.Max(math.Abs(hi), 1)
		if logY {
			span = 1
		}
	}
	hi += span * h / (1 - h)
	if logY {
		hi = math.Exp(hi)
	}
	pl.Y.Max = hi
}

// Curves renders the panels of a run's records, two per row, into an
// image. Records with no plottable values give an error.
func Curves(recs []train.Record, o CurveOptions) (image.Image, error) {
	if o.Width <= 0 {
		o.Width = 1200
	}
	if o.RowHeight <= 0 {
		o.RowHeight = 380
	}
	panels := Panels(recs)
	if len(panels) == 0 {
		return nil, fmt.Errorf("viz: no metrics to plot (%d records)", len(recs))
	}
	const cols = 2
	rows := (len(panels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	// One step range for every panel, so that the panels line up.
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, p := range panels {
		for _, s := range p.Series {
			for _, x := range s.X {
				xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			}
		}
	}
	for i, p := range panels {
		pl, err := newPlot(p)
		if err != nil {
			return nil, err
		}
		if xmax > xmin {
			pl.X.Min, pl.X.Max = xmin, xmax
		}
		grid[i/cols][i%cols] = pl
	}
	const dpi = 96
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / dpi }
	titleH := 0
	if o.Title != "" {
		titleH = 30
	}
	c := vgimg.NewWith(vgimg.UseWH(px(o.Width), px(rows*o.RowHeight+titleH)), vgimg.UseDPI(dpi))
	dc := draw.New(c)
	if o.Title != "" {
		sty := draw.TextStyle{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler,
			XAlign: draw.XCenter, YAlign: draw.YTop}
		sty.Font.Size = vg.Points(14)
		dc.FillText(sty, vg.Point{X: dc.Center().X, Y: dc.Max.Y - px(6)}, o.Title)
		dc.Max.Y -= px(titleH)
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: px(24), PadY: px(20),
		PadTop: px(8), PadBottom: px(8), PadLeft: px(8), PadRight: px(16)}
	canvases := plot.Align(grid, tiles, dc)
	for r := range grid {
		for k, pl := range grid[r] {
			if pl != nil {
				pl.Draw(canvases[r][k])
			}
		}
	}
	return c.Image(), nil
}

// WritePNG encodes img as PNG into path atomically (a reader never sees a
// half-written picture, which matters while a run keeps overwriting it).
func WritePNG(path string, img image.Image) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("viz: %w", err)
		}
	}
	if err := checkpoints.AtomicWriteFile(path, func(w io.Writer) error { return encodePNG(w, img) }); err != nil {
		return fmt.Errorf("viz: %s: %w", path, err)
	}
	return nil
}
