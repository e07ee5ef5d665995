package config

import (
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/tvlt-go/tvlt/internal/golden"
)

// maskIndices draws b rows of ids_shuffle as the loader does (one noise row
// after the other from rng) and their ids_restore, with len_keep.
func maskIndices(rng *rand.Rand, b, l, group int, ratio float64) (idsShuffle, idsRestore []int64, lenKeep int) {
	for r := 0; r < b; r++ {
		ids, err := IDsShuffle(Noise(rng, l, group), l)
		if err != nil {
			panic(err)
		}
		idsShuffle = append(idsShuffle, ids...)
	}
	m, err := Replay(idsShuffle, b, l, max(LenKeep(l, ratio), 1), nil)
	if err != nil {
		panic(err)
	}
	return idsShuffle, m.IDsRestore, LenKeep(l, ratio)
}

// permutationsFromNoise is ids_shuffle and ids_restore of recorded noise.
func permutationsFromNoise(noise []float64, l int) (idsShuffle, idsRestore []int64, err error) {
	idsShuffle, err = IDsShuffle(noise, l)
	if err != nil {
		return nil, nil, err
	}
	m, err := Replay(idsShuffle, len(noise)/l, l, l, nil)
	if err != nil {
		return nil, nil, err
	}
	return idsShuffle, m.IDsRestore, nil
}

func TestLenKeep(t *testing.T) {
	cases := []struct {
		L     int
		ratio float64
		want  int
	}{
		{32, 0.75, 8}, {32, 0.15, 27}, {1568, 0.75, 392}, {96, 0.15, 81}, {1024, 0.15, 870}, {10, 0, 10}, {10, 1, 0},
	}
	for _, c := range cases {
		if got := LenKeep(c.L, c.ratio); got != c.want {
			t.Errorf("LenKeep(%d, %v) = %d, want %d", c.L, c.ratio, got, c.want)
		}
		_, _, got := maskIndices(rand.New(rand.NewPCG(1, 2)), 1, c.L, 1, c.ratio)
		if got != c.want {
			t.Errorf("MaskIndices lenKeep(%d, %v) = %d, want %d", c.L, c.ratio, got, c.want)
		}
	}
}

func TestMaskIndicesPermutation(t *testing.T) {
	for _, c := range []struct{ B, L, group int }{{3, 32, 1}, {2, 96, 8}, {2, 32, 4}, {1, 1568, 1}, {2, 30, 4}} {
		shuf, rest, _ := maskIndices(rand.New(rand.NewPCG(7, uint64(c.L))), c.B, c.L, c.group, 0.15)
		if len(shuf) != c.B*c.L || len(rest) != c.B*c.L {
			t.Fatalf("%+v: lengths %d %d", c, len(shuf), len(rest))
		}
		for b := 0; b < c.B; b++ {
			s, r := shuf[b*c.L:(b+1)*c.L], rest[b*c.L:(b+1)*c.L]
			seen := make([]bool, c.L)
			for j := 0; j < c.L; j++ {
				if seen[s[j]] {
					t.Fatalf("%+v row %d: %d repeated", c, b, s[j])
				}
				seen[s[j]] = true
				if r[s[j]] != int64(j) || s[r[j]] != int64(j) {
					t.Fatalf("%+v row %d: restore is not the inverse at %d", c, b, j)
				}
			}
			// Groups: members of a group are contiguous in the shuffled order and in index order.
			if c.group > 1 {
				for j := 1; j < c.L; j++ {
					prev, cur := s[j-1], s[j]
					if int(cur)/c.group == int(prev)/c.group && cur != prev+1 {
						t.Fatalf("%+v row %d: tie order %d then %d", c, b, prev, cur)
					}
					if int(cur)%c.group != 0 && int(cur)/c.group != int(prev)/c.group {
						t.Fatalf("%+v row %d: group of %d split (after %d)", c, b, cur, prev)
					}
				}
			}
		}
		if c.B > 1 && reflect.DeepEqual(shuf[:c.L], shuf[c.L:2*c.L]) {
			t.Errorf("%+v: rows 0 and 1 identical", c)
		}
	}
}

func TestMaskIndicesDeterministic(t *testing.T) {
	a1, b1, _ := maskIndices(rand.New(rand.NewPCG(42, 0)), 2, 64, 8, 0.15)
	a2, b2, _ := maskIndices(rand.New(rand.NewPCG(42, 0)), 2, 64, 8, 0.15)
	a3, _, _ := maskIndices(rand.New(rand.NewPCG(43, 0)), 2, 64, 8, 0.15)
	if !reflect.DeepEqual(a1, a2) || !reflect.DeepEqual(b1, b2) {
		t.Fatal("same seed, different permutations")
	}
	if reflect.DeepEqual(a1, a3) {
		t.Fatal("different seeds, same permutation")
	}
}

func TestPermutationsFromNoiseTies(t *testing.T) {
	noise := []float64{0.5, 0.5, 0.1, 0.1, 0.9, 0.9, 0.1, 0.1}
	s, r, err := permutationsFromNoise(noise, 8)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{2, 3, 6, 7, 0, 1, 4, 5}; !reflect.DeepEqual(s, want) {
		t.Fatalf("shuffle %v, want %v", s, want)
	}
	if want := []int64{4, 5, 0, 1, 6, 7, 2, 3}; !reflect.DeepEqual(r, want) {
		t.Fatalf("restore %v, want %v", r, want)
	}
	if _, _, err := permutationsFromNoise(noise, 3); err == nil {
		t.Fatal("want error for 8 values in rows of 3")
	}
}

// TestGoldenPixelNoiseReplay: HF's pixel noise has no ties, so a stable ascending
// argsort of it must reproduce torch's ids_shuffle and ids_restore exactly.
func TestGoldenPixelNoiseReplay(t *testing.T) {
	dir := golden.Dir(t)
	cfg, err := Read(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	g := golden.Load(t, dir, "pretraining.npz")
	noise := golden.Float64s(g["pixel_noise"])
	shape := g["pixel_noise"].Shape()
	L := shape[1]
	s, r, err := permutationsFromNoise(noise, L)
	if err != nil {
		t.Fatal(err)
	}
	wantS, wantR := golden.Float64s(g["pixel_ids_shuffle"]), golden.Float64s(g["pixel_ids_restore"])
	for i := range s {
		if float64(s[i]) != wantS[i] || float64(r[i]) != wantR[i] {
			t.Fatalf("index %d: shuffle %d restore %d, want %v %v", i, s[i], r[i], wantS[i], wantR[i])
		}
	}
	if keep := golden.Float64s(g["pixel_len_keep"])[0]; LenKeep(L, cfg.PixelMaskRatio) != int(keep) {
		t.Fatalf("pixel len_keep %d (ratio %v), want %v", LenKeep(L, cfg.PixelMaskRatio), cfg.PixelMaskRatio, keep)
	}
	LA := g["audio_noise"].Shape()[1]
	if keep := golden.Float64s(g["audio_len_keep"])[0]; LenKeep(LA, cfg.AudioMaskRatio) != int(keep) {
		t.Fatalf("audio len_keep %d (ratio %v), want %v", LenKeep(LA, cfg.AudioMaskRatio), cfg.AudioMaskRatio, keep)
	}
	// Frame-level audio noise has ties: the stable order differs from torch's (README),
	// but the tied groups must still come out as whole contiguous runs.
	an := golden.Float64s(g["audio_noise"])
	as, _, err := permutationsFromNoise(an, LA)
	if err != nil {
		t.Fatal(err)
	}
	for j := 1; j < LA; j++ {
		if an[as[j]] < an[as[j-1]] {
			t.Fatalf("audio shuffle not ascending at %d", j)
		}
	}
}

// TestRealOnlyNoise checks --mask-real-only's order on hand-made rows: the
// clip's own keep count of real tokens (smallest noise first), the padding,
// then the other real tokens; a row without padding is left as drawn.
func TestRealOnlyNoise(t *testing.T) {
	for _, tc := range []struct {
		name  string
		noise []float64
		real  []float32
		ratio float64
		want  []int64
	}{
		{"no padding", []float64{0.5, 0.1, 0.9, 0.3}, []float32{1, 1, 1, 1}, 0.5, []int64{1, 3, 0, 2}},
		{"half padded, keep 1 of 2", []float64{0.5, 0.1, 0.05, 0.3}, []float32{1, 1, 0, 0}, 0.5, []int64{1, 2, 3, 0}},
		{"75% masking keeps int(4·0.25)=1", []float64{0.2, 0.7, 0.4, 0.1, 0.0, 0.0}, []float32{1, 1, 1, 1, 0, 0}, 0.75, []int64{3, 4, 5, 0, 2, 1}},
		{"grouped ties keep index order", []float64{0.2, 0.2, 0.6, 0.6, 0.1, 0.1}, []float32{1, 1, 1, 1, 0, 0}, 0.5, []int64{0, 1, 4, 5, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noise := append([]float64(nil), tc.noise...)
			RealOnlyNoise(noise, tc.real, tc.ratio)
			got, err := IDsShuffle(noise, len(noise))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ids_shuffle %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRemovedShare counts removed and removed real tokens over rows.
func TestRemovedShare(t *testing.T) {
	ids := []int64{2, 0, 1, 3, 3, 1, 0, 2} // two rows of 4, len_keep 2
	real := []float32{1, 1, 0, 0, 1, 0, 1, 1}
	removed, realRemoved := RemovedShare(ids, 4, 2, real)
	// row 0 removes 1 (real) and 3 (pad); row 1 removes 0 (real) and 2 (real).
	if removed != 4 || realRemoved != 3 {
		t.Fatalf("RemovedShare = %d, %d; want 4, 3", removed, realRemoved)
	}
	if removed, realRemoved = RemovedShare(ids, 4, 2, nil); removed != 4 || realRemoved != 4 {
		t.Fatalf("without a mask: %d, %d; want 4, 4", removed, realRemoved)
	}
}
