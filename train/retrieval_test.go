package train

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
)

// fakeBatch is a loader batch of B clips whose every value names its clip:
// video values 100·clip + j, audio values −(100·clip + j), masks 1 for
// clip 0's entries and 0.5 for the others'.
func fakeBatch(B int) *data.Batch {
	b := &data.Batch{PixelShape: [5]int{B, 1, 1, 2, 2}, PixelMaskShape: [2]int{B, 3}, AudioShape: [4]int{B, 1, 2, 2}, AudioMaskShape: [2]int{B, 2}}
	for i := 0; i < B; i++ {
		b.IDs = append(b.IDs, fmt.Sprint("clip", i))
		m := float32(0.5)
		if i == 0 {
			m = 1
		}
		for j := 0; j < 4; j++ {
			b.PixelValues = append(b.PixelValues, float32(100*i+j))
			b.AudioValues = append(b.AudioValues, -float32(100*i+j))
		}
		b.PixelMask = append(b.PixelMask, m, m, m)
		b.AudioMask = append(b.AudioMask, m, m)
	}
	return b
}

// retrievalBatchOneShift is retrievalBatch as it was before --negatives:
// one shift r = 1 + IntN(B-1) from the same stream, rows B..2B-1 pairing
// audio i with video (i+r) mod B.
func retrievalBatchOneShift(b *data.Batch, seed uint64, step int) *layers.Batch {
	B := b.Size()
	r := 1 + rand.New(rand.NewPCG(seed, 0x5e7a11+uint64(step))).IntN(B-1)
	vid, pm, aud, am := 4, 3, 4, 2
	pix, pmask := make([]float32, 2*B*vid), make([]float32, 2*B*pm)
	au, amask := make([]float32, 2*B*aud), make([]float32, 2*B*am)
	labels := make([]float32, 2*B)
	for row := 0; row < 2*B; row++ {
		a, v := row%B, row%B
		if row >= B {
			v = (a + r) % B
		} else {
			labels[row] = 1
		}
		copy(pix[row*vid:], b.PixelValues[v*vid:(v+1)*vid])
		copy(pmask[row*pm:], b.PixelMask[v*pm:(v+1)*pm])
		copy(au[row*aud:], b.AudioValues[a*aud:(a+1)*aud])
		copy(amask[row*am:], b.AudioMask[a*am:(a+1)*am])
	}
	return matchingBatch(pix, pmask, au, amask, labels, []int{2 * B, 1, 1, 2, 2}, []int{2 * B, pm}, []int{2 * B, 1, 2, 2}, []int{2 * B, am})
}

func f32(t *testing.T, name string, b *layers.Batch) []float32 {
	t.Helper()
	switch name {
	case "pixel_values":
		return b.PixelValues.Data().([]float32)
	case "pixel_mask":
		return b.PixelMask.Data().([]float32)
	case "audio_values":
		return b.AudioValues.Data().([]float32)
	case "audio_mask":
		return b.AudioMask.Data().([]float32)
	case "pixel_values_mixed":
		return b.PixelValuesMixed.Data().([]float32)
	case "pixel_mask_mixed":
		return b.PixelMaskMixed.Data().([]float32)
	case "matching_labels":
		return b.MatchingLabels.Data().([]float32)
	}
	t.Fatalf("no field %s", name)
	return nil
}

var matchingFields = []string{"pixel_values", "pixel_mask", "audio_values", "audio_mask", "pixel_values_mixed", "pixel_mask_mixed", "matching_labels"}

// TestRetrievalNegativesOne: the default of one negative per clip is
// bit-identical to the one-shift batches of before, for many steps, seeds
// and batch sizes.
func TestRetrievalNegativesOne(t *testing.T) {
	for _, B := range []int{2, 3, 8} {
		b := fakeBatch(B)
		for seed := uint64(0); seed < 3; seed++ {
			for step := 0; step < 20; step++ {
				got, err := retrievalBatch(b, seed, step, 1)
				if err != nil {
					t.Fatal(err)
				}
				want := retrievalBatchOneShift(b, seed, step)
				for _, f := range matchingFields {
					if g, w := f32(t, f, got), f32(t, f, want); !slices.Equal(g, w) {
						t.Fatalf("B %d seed %d step %d: %s = %v, want %v", B, seed, step, f, g, w)
					}
				}
				if !got.PixelValues.Shape().Eq(want.PixelValues.Shape()) || !got.MatchingLabels.Shape().Eq(want.MatchingLabels.Shape()) {
					t.Fatalf("shapes %v %v, want %v %v", got.PixelValues.Shape(), got.MatchingLabels.Shape(), want.PixelValues.Shape(), want.MatchingLabels.Shape())
				}
			}
		}
	}
}

// TestRetrievalNegativesK: with K = 3 negatives per clip of a batch of 5,
// the batch has 5·4 = 20 rows: the 5 true pairs (label 1) then three blocks
// of 5 negatives (label 0); within a block audio i meets the video of
// (i + r) mod 5 for one shift r ≠ 0, the three shifts are distinct, so
// every clip's audio meets three different other videos, and every row's
// masks follow its video and audio.
func TestRetrievalNegativesK(t *testing.T) {
	const B, K = 5, 3
	b := fakeBatch(B)
	for step := 0; step < 10; step++ {
		lb, err := retrievalBatch(b, 7, step, K)
		if err != nil {
			t.Fatal(err)
		}
		rows := B * (1 + K)
		if s := lb.PixelValues.Shape(); !s.Eq([]int{rows, 1, 1, 2, 2}) {
			t.Fatalf("pixel_values shape %v", s)
		}
		if s := lb.AudioValues.Shape(); !s.Eq([]int{rows, 1, 2, 2}) {
			t.Fatalf("audio_values shape %v", s)
		}
		if s := lb.MatchingLabels.Shape(); !s.Eq([]int{rows, 1}) {
			t.Fatalf("matching_labels shape %v", s)
		}
		pix, au, lab := f32(t, "pixel_values", lb), f32(t, "audio_values", lb), f32(t, "matching_labels", lb)
		pm, am := f32(t, "pixel_mask", lb), f32(t, "audio_mask", lb)
		var shifts []int
		met := make([]map[int]bool, B)
		for i := range met {
			met[i] = map[int]bool{}
		}
		for row := 0; row < rows; row++ {
			v, a := int(pix[row*4])/100, int(-au[row*4])/100
			if a != row%B {
				t.Fatalf("row %d holds audio %d, want %d", row, a, row%B)
			}
			if want := float32(0.5); v == 0 {
				want = 1
				if pm[row*3] != want {
					t.Fatalf("row %d: pixel mask %v for video %d", row, pm[row*3], v)
				}
			} else if pm[row*3] != want {
				t.Fatalf("row %d: pixel mask %v for video %d", row, pm[row*3], v)
			}
			if (a == 0) != (am[row*2] == 1) {
				t.Fatalf("row %d: audio mask %v for audio %d", row, am[row*2], a)
			}
			if row < B {
				if v != a || lab[row] != 1 {
					t.Fatalf("true pair row %d: audio %d video %d label %v", row, a, v, lab[row])
				}
				continue
			}
			r := (v - a + B) % B
			if row%B == 0 {
				shifts = append(shifts, r)
			} else if r != shifts[len(shifts)-1] {
				t.Fatalf("row %d: shift %d inside a block of shift %d", row, r, shifts[len(shifts)-1])
			}
			if r == 0 || lab[row] != 0 || met[a][v] {
				t.Fatalf("negative row %d: audio %d video %d label %v (met before: %v)", row, a, v, lab[row], met[a][v])
			}
			met[a][v] = true
		}
		if len(shifts) != K {
			t.Fatalf("shifts %v", shifts)
		}
		one, _ := retrievalBatch(b, 7, step, 1)
		if r0 := (int(f32(t, "pixel_values", one)[B*4])/100 + B) % B; r0 != shifts[0] {
			t.Errorf("step %d: first shift %d, the one-negative batch's %d", step, shifts[0], r0)
		}
	}
	for _, k := range []int{0, B} {
		if _, err := retrievalBatch(b, 7, 0, k); err == nil {
			t.Errorf("%d negatives for a batch of %d accepted", k, B)
		}
	}
	o := DefaultOptions(TaskRetrieval)
	o.Out, o.BatchSize, o.Negatives = "x", 4, 4
	if err := o.Validate(); err == nil {
		t.Error("Validate accepted 4 negatives for batches of 4")
	}
	o.Negatives = 3
	if err := o.Validate(); err != nil {
		t.Error(err)
	}
}
