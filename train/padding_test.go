package train

import (
	"context"
	"errors"
	"io"
	"math"
	"path/filepath"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/internal/reftest"
	"github.com/tvlt-go/tvlt/layers"
)

// TestMaskRealShareMatchesReference pretrains on the demo clips (all of
// the maximum length) and on short clips of 1..4 frames and 0.15..0.75 s,
// and checks the pixel_mask_real_share and audio_mask_real_share that
// metrics.jsonl records for every step against HF's pipeline on the same
// batches: its processors on the clips, its random_masking with the
// batch's permutations.
func TestMaskRealShareMatchesReference(t *testing.T) {
	if _, err := reftest.Available(); err != nil {
		t.Skip(err)
	}
	short := data.DefaultDemoOptions()
	short.Clips, short.Seed, short.MinFrames, short.MinSeconds = 8, 4, 1, 0.15
	full := data.DefaultDemoOptions()
	full.Clips, full.Seed = 8, 4
	for _, set := range []struct {
		name string
		o    data.DemoOptions
	}{{"demo", full}, {"short", short}} {
		t.Run(set.name, func(t *testing.T) {
			mp, err := data.GenerateDemo(t.TempDir(), set.o)
			if err != nil {
				t.Fatal(err)
			}
			clips, err := data.ReadManifest(mp)
			if err != nil {
				t.Fatal(err)
			}
			m := tinyModel(t, layers.Pretraining, func(c *config.Config) { c.NumFrames = 4 })
			o := pretrainOpts(filepath.Join(t.TempDir(), "run"))
			o.Steps, o.BatchSize, o.LogEvery, o.SaveEvery, o.Workers = 4, 2, 1, 0, 1
			tr, err := New(m, clips, nil, o)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			recs, err := ReadMetrics(filepath.Join(o.Out, MetricsFile))
			if err != nil {
				t.Fatal(err)
			}
			var logged []map[string]float64
			for _, r := range recs {
				if r.Type == "train" {
					logged = append(logged, r.Values)
				}
			}
			// The same batches, from the run's own loader.
			l, err := tr.loader()
			if err != nil {
				t.Fatal(err)
			}
			it, err := l.Start(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var batches []*data.Batch
			for len(batches) < o.Steps {
				b, err := it.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				batches = append(batches, b)
			}
			it.Close()
			if len(logged) != len(batches) {
				t.Fatalf("%d train records for %d batches", len(logged), len(batches))
			}
			ref, err := reftest.Batches(t.TempDir(), m.Config, clips, batches)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range ref {
				for _, c := range []struct {
					key           string
					real, removed float64
				}{
					{StatPixelMaskRealShare, r.PixelRealRemoved, float64(r.PixelRemoved)},
					{StatAudioMaskRealShare, r.AudioRealRemoved, float64(r.AudioRemoved)},
				} {
					got, ok := logged[i][c.key]
					if !ok {
						t.Fatalf("step %d: metrics.jsonl has no %s", i+1, c.key)
					}
					if want := c.real / c.removed; math.Abs(got-want) > 1e-12 {
						t.Errorf("step %d %s = %v, the reference pipeline's %v", i+1, c.key, got, want)
					}
					t.Logf("step %d %s %.3f", i+1, c.key, got)
				}
			}
		})
	}
}
