package data

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// LenKeep is HF's number of kept tokens, int(L*(1-ratio)) in float64 with truncation:
// the subtraction happens first, exactly as Python evaluates it.
func LenKeep(L int, ratio float64) int {
	return int(float64(L) * (1 - ratio))
}

// MaskIndices draws MAE permutations for B rows of L tokens. Each row gets noise
// U[0,1), one value per group of `group` consecutive tokens (group = frequency patches
// per time step gives HF's frame-level audio masking; group = 1 is patch-level), and
// ids_shuffle is a stable ascending argsort of it, so tied tokens of a group stay in
// index order. idsShuffle and idsRestore are (B, L) row-major; idsRestore is the inverse
// permutation of each row.
func MaskIndices(rng *rand.Rand, B, L, group int, ratio float64) (idsShuffle, idsRestore []int64, lenKeep int) {
	if group < 1 {
		group = 1
	}
	groups := (L + group - 1) / group
	noise := make([]float64, B*L)
	u := make([]float64, groups)
	for b := 0; b < B; b++ {
		for g := range u {
			u[g] = rng.Float64()
		}
		row := noise[b*L : (b+1)*L]
		for i := range row {
			row[i] = u[i/group]
		}
	}
	idsShuffle, idsRestore = permutations(noise, B, L)
	return idsShuffle, idsRestore, LenKeep(L, ratio)
}

// PermutationsFromNoise turns injected noise (rows of L values, row-major) into
// ids_shuffle (stable ascending argsort per row) and ids_restore (its inverse); it is
// how recorded noise is replayed.
func PermutationsFromNoise(noise []float64, L int) (idsShuffle, idsRestore []int64, err error) {
	if L <= 0 || len(noise)%L != 0 {
		return nil, nil, fmt.Errorf("data: PermutationsFromNoise: %d noise values are not rows of %d", len(noise), L)
	}
	idsShuffle, idsRestore = permutations(noise, len(noise)/L, L)
	return idsShuffle, idsRestore, nil
}

func permutations(noise []float64, B, L int) (idsShuffle, idsRestore []int64) {
	idsShuffle = make([]int64, B*L)
	idsRestore = make([]int64, B*L)
	idx := make([]int, L)
	for b := 0; b < B; b++ {
		row := noise[b*L : (b+1)*L]
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool { return row[idx[i]] < row[idx[j]] })
		for j, i := range idx {
			idsShuffle[b*L+j] = int64(i)
			idsRestore[b*L+i] = int64(j)
		}
	}
	return idsShuffle, idsRestore
}
