package data_test

import (
	"errors"
	"io"
	"math"
	"testing"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/internal/reftest"
)

// shortClips writes n demo clips of 1..4 frames and 0.15..0.75 s of audio.
func shortClips(t *testing.T, n int) []data.Clip {
	t.Helper()
	o := data.DefaultDemoOptions()
	o.Clips, o.Seed, o.MinFrames, o.MinSeconds = n, 11, 1, 0.15
	mp, err := data.GenerateDemo(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	clips, err := data.ReadManifest(mp)
	if err != nil {
		t.Fatal(err)
	}
	return clips
}

// padTestConfig is a model config for the demo clips: 4 frames of 32x32 in
// 8x8 patches, 64 spectrogram rows of 32 mel bins in 8x8 patches (8 time
// patches), so short clips leave much of the maximum shape as padding.
func padTestConfig() config.Config {
	c := config.Default()
	c.NumFrames, c.ImageSize, c.ImagePatchSize = 4, [2]int{32, 32}, [2]int{8, 8}
	c.SpectrogramLength, c.FrequencyLength, c.AudioPatchSize = 64, 32, [2]int{8, 8}
	return c
}

func loadAll(t *testing.T, clips []data.Clip, cfg config.Config, o data.LoaderOptions) []*data.Batch {
	t.Helper()
	l, err := data.NewLoader(clips, cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	it := l.Epoch(0)
	defer it.Close()
	var out []*data.Batch
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

// TestBatchesPaddedAsReference loads short clips of different lengths as
// pretraining batches and checks them against HF's processors run on the
// same clips, one call per batch: by default (PadLongest) the shapes,
// masks and values are the reference's, and the MAE masks remove as many
// real tokens as HF's random_masking does with the same permutations;
// padded to the maximum they remove fewer real tokens, the departure
// PadLongest fixes, and MaskRealOnly removes real tokens only.
func TestBatchesPaddedAsReference(t *testing.T) {
	if _, err := reftest.Available(); err != nil {
		t.Skip(err)
	}
	cfg := padTestConfig()
	clips := shortClips(t, 9)
	opts := data.LoaderOptions{BatchSize: 3, Workers: 1, Seed: 5, Pretraining: true, NegativeRatio: -1}
	longest := loadAll(t, clips, cfg, opts)
	ref, err := reftest.Batches(t.TempDir(), cfg, clips, longest)
	if err != nil {
		t.Fatal(err)
	}
	opts.Padding = data.Padding{Mode: data.PadMax}
	maxed := loadAll(t, clips, cfg, opts)
	opts.Padding, opts.MaskRealOnly = data.Padding{}, true
	realOnly := loadAll(t, clips, cfg, opts)

	shorter := 0
	for i, b := range longest {
		r := ref[i]
		if !sameInts(b.PixelShape[:], r.PixelValuesShape) || !sameInts(b.AudioShape[:], r.AudioValuesShape) {
			t.Fatalf("batch %d: shapes pixel %v audio %v, reference %v %v", i, b.PixelShape, b.AudioShape, r.PixelValuesShape, r.AudioValuesShape)
		}
		if b.AudioShape[2] < cfg.SpectrogramLength || b.PixelShape[1] < cfg.NumFrames {
			shorter++
		}
		checkMask(t, i, "pixel_mask", b.PixelMask, b.PixelMaskShape, r.PixelMask)
		checkMask(t, i, "audio_mask", b.AudioMask, b.AudioMaskShape, r.AudioMask)
		checkClose(t, i, "pixel_values", b.PixelValues, r.PixelValues, 1e-6)
		checkClose(t, i, "audio_values", b.AudioValues, r.AudioValues, 1e-5)
		for _, m := range []struct {
			name             string
			ids              []int64
			l, keep, refKeep int
			mask             []float32
			refRemoved       int
			refReal          float64
		}{
			{"pixel", b.PixelIDsShuffle, b.PixelMaskShape[1], b.PixelLenKeep, r.PixelLenKeep, b.PixelMask, r.PixelRemoved, r.PixelRealRemoved},
			{"audio", b.AudioIDsShuffle, b.AudioMaskShape[1], b.AudioLenKeep, r.AudioLenKeep, b.AudioMask, r.AudioRemoved, r.AudioRealRemoved},
		} {
			removed, real := config.RemovedShare(m.ids, m.l, m.keep, m.mask)
			if m.keep != m.refKeep || removed != m.refRemoved || float64(real) != m.refReal {
				t.Errorf("batch %d %s: len_keep %d, %d removed, %d real; HF's random_masking: %d, %d, %v", i, m.name, m.keep, removed, real, m.refKeep, m.refRemoved, m.refReal)
			}
			refShare := m.refReal / float64(m.refRemoved)

			mb := maxed[i]
			ids, l, keep, mask := mb.AudioIDsShuffle, mb.AudioMaskShape[1], mb.AudioLenKeep, mb.AudioMask
			if m.name == "pixel" {
				ids, l, keep, mask = mb.PixelIDsShuffle, mb.PixelMaskShape[1], mb.PixelLenKeep, mb.PixelMask
			}
			mr, mreal := config.RemovedShare(ids, l, keep, mask)
			t.Logf("batch %d %s: real share of removed tokens %.3f (reference %.3f), padded to the maximum %.3f", i, m.name, float64(real)/float64(removed), refShare, float64(mreal)/float64(mr))

			ro := realOnly[i]
			ids, l, keep, mask = ro.AudioIDsShuffle, ro.AudioMaskShape[1], ro.AudioLenKeep, ro.AudioMask
			ratio := cfg.AudioMaskRatio
			if m.name == "pixel" {
				ids, l, keep, mask, ratio = ro.PixelIDsShuffle, ro.PixelMaskShape[1], ro.PixelLenKeep, ro.PixelMask, cfg.PixelMaskRatio
			}
			checkRealOnly(t, i, m.name, ids, l, keep, mask, ratio)
		}
	}
	if shorter == 0 {
		t.Fatal("no batch was shorter than the maximum: the clips do not exercise padding")
	}
	// Padding to the maximum makes the removed audio tokens mostly padding.
	var refReal, refRemoved, maxReal, maxRemoved float64
	for i, b := range maxed {
		refReal += ref[i].AudioRealRemoved
		refRemoved += float64(ref[i].AudioRemoved)
		r, real := config.RemovedShare(b.AudioIDsShuffle, b.AudioMaskShape[1], b.AudioLenKeep, b.AudioMask)
		maxReal += float64(real)
		maxRemoved += float64(r)
	}
	if !(maxReal/maxRemoved < refReal/refRemoved) {
		t.Errorf("padded to the maximum, %.3f of the removed audio tokens are real, the reference %.3f: want fewer", maxReal/maxRemoved, refReal/refRemoved)
	}
}

// checkRealOnly checks MaskRealOnly's masks clip by clip: of a clip's R
// real tokens the first int(R·(1−ratio)) of ids_shuffle are real (what
// the reference keeps of the clip alone), then come the padded tokens,
// then the rest of the real ones.
func checkRealOnly(t *testing.T, batch int, name string, ids []int64, l, keep int, mask []float32, ratio float64) {
	t.Helper()
	for r := 0; r*l < len(ids); r++ {
		row, real := ids[r*l:(r+1)*l], mask[r*l:(r+1)*l]
		n := 0
		for _, v := range real {
			if v != 0 {
				n++
			}
		}
		k := config.LenKeep(n, ratio)
		for j, id := range row {
			isReal := real[id] != 0
			want := j < k || j >= k+(l-n)
			if isReal != want {
				t.Fatalf("batch %d %s clip %d: position %d of ids_shuffle holds a real=%v token; want %d real, %d padded, %d real", batch, name, r, j, isReal, k, l-n, n-k)
			}
		}
		if n < l && keep < k {
			t.Fatalf("batch %d %s clip %d: len_keep %d below the clip's own %d", batch, name, r, keep, k)
		}
	}
}

func sameInts(a []int, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func checkMask(t *testing.T, batch int, name string, got []float32, shape [2]int, want [][]float32) {
	t.Helper()
	if len(want) != shape[0] {
		t.Fatalf("batch %d %s: %d rows, reference %d", batch, name, shape[0], len(want))
	}
	for r, row := range want {
		if len(row) != shape[1] {
			t.Fatalf("batch %d %s: rows of %d, reference %d", batch, name, shape[1], len(row))
		}
		for j, v := range row {
			if got[r*shape[1]+j] != v {
				t.Fatalf("batch %d %s[%d][%d] = %v, reference %v", batch, name, r, j, got[r*shape[1]+j], v)
			}
		}
	}
}

func checkClose(t *testing.T, batch int, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("batch %d %s: %d values, reference %d", batch, name, len(got), len(want))
	}
	worst := 0.0
	for i := range got {
		worst = max(worst, math.Abs(float64(got[i])-float64(want[i])))
	}
	if worst > tol {
		t.Errorf("batch %d %s: max |Go - reference| %.3g > %g", batch, name, worst, tol)
	}
}

func TestParsePadding(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{"longest", "longest", false}, {"", "longest", false}, {"max", "max", false},
		{"bucket:4", "bucket:4", false}, {"bucket:0", "", true}, {"bucket:x", "", true}, {"shortest", "", true},
	} {
		p, err := data.ParsePadding(tc.in)
		if (err != nil) != tc.err {
			t.Fatalf("ParsePadding(%q) error %v, want error %v", tc.in, err, tc.err)
		}
		if err == nil && p.String() != tc.want {
			t.Fatalf("ParsePadding(%q) = %s, want %s", tc.in, p, tc.want)
		}
	}
}

// TestPaddingModes checks every batch's shape under each policy on clips
// of 1..4 frames and 0.15..0.75 s: longest pads to the batch's most frames
// and longest audio, max to the config's sizes, bucket:N rounds the audio
// time patches up to a multiple of N (capped); the padding modes differ
// only in shape, never in the clips' real values.
func TestPaddingModes(t *testing.T) {
	cfg := padTestConfig()
	clips := shortClips(t, 9)
	pT, maxTP := cfg.AudioPatchSize[0], cfg.MaxTimePatches()
	load := func(p data.Padding) []*data.Batch {
		return loadAll(t, clips, cfg, data.LoaderOptions{BatchSize: 3, Workers: 1, Seed: 5, Pretraining: true, NegativeRatio: -1, Padding: p})
	}
	longest := load(data.Padding{})
	for _, p := range []data.Padding{{Mode: data.PadMax}, {Mode: data.PadBucket, Bucket: 3}, {Mode: data.PadBucket, Bucket: 1}} {
		for i, b := range load(p) {
			lb := longest[i]
			tp, ltp := b.AudioShape[2]/pT, lb.AudioShape[2]/pT
			var wantT, wantTP int
			switch p.Mode {
			case data.PadMax:
				wantT, wantTP = cfg.NumFrames, maxTP
			default:
				wantT, wantTP = lb.PixelShape[1], min(maxTP, (ltp+p.Bucket-1)/p.Bucket*p.Bucket)
			}
			if b.PixelShape[1] != wantT || tp != wantTP {
				t.Fatalf("%s batch %d: %d frames, %d audio time patches; want %d, %d (longest: %d, %d)", p, i, b.PixelShape[1], tp, wantT, wantTP, lb.PixelShape[1], ltp)
			}
			if b.AudioMaskShape[1] != tp*cfg.FreqPatches() || b.PixelMaskShape[1] != wantT*cfg.PatchesPerFrame() {
				t.Fatalf("%s batch %d: mask shapes %v %v", p, i, b.PixelMaskShape, b.AudioMaskShape)
			}
			// The real part of each clip is the same whatever the padding.
			F := cfg.FrequencyLength
			for j := 0; j < b.Size(); j++ {
				n := lb.AudioShape[2] * F
				got, want := b.AudioValues[j*tp*pT*F:][:n], lb.AudioValues[j*n:][:n]
				for k := range want {
					if got[k] != want[k] {
						t.Fatalf("%s batch %d clip %d: audio value %d differs from the longest padding's", p, i, j, k)
					}
				}
			}
		}
	}
}
