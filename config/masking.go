package config

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// This file is MAE's random_masking, split where tvlt-go splits it: the data
// loader draws the noise and ids_shuffle on the host (seeded per clip, so
// resume and worker counts never change a mask), and the model replays
// ids_shuffle into ids_keep, ids_restore and the loss's label mask. Every
// keep count and every permutation comes from here.

// LenKeep is random_masking's len_keep = int(L·(1 − mask_ratio)), evaluated
// in float64 as Python does: the subtraction first, then truncation. It
// counts padded tokens too, as the reference does.
func LenKeep(l int, ratio float64) int { return int(float64(l) * (1 - ratio)) }

// Noise draws random_masking's noise for one row of l tokens: U[0,1), one
// value per group of `group` consecutive tokens (AudioMaskGroup), so a group
// is kept or removed as a whole.
func Noise(rng *rand.Rand, l, group int) []float64 {
	group = max(group, 1)
	noise := make([]float64, l)
	for g := 0; g*group < l; g++ {
		u := rng.Float64()
		for i := g * group; i < min((g+1)*group, l); i++ {
			noise[i] = u
		}
	}
	return noise
}

// IDsShuffle is random_masking's ids_shuffle = argsort(noise) for rows of l
// values: ascending and stable, so the tied tokens of a group keep their
// index order (torch's argsort does not promise that, see the README).
func IDsShuffle(noise []float64, l int) ([]int64, error) {
	if l <= 0 || len(noise)%l != 0 {
		return nil, fmt.Errorf("config: %d noise values are not rows of %d", len(noise), l)
	}
	out := make([]int64, len(noise))
	idx := make([]int, l)
	for r := 0; r < len(noise)/l; r++ {
		row := noise[r*l : (r+1)*l]
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool { return row[idx[i]] < row[idx[j]] })
		for j, i := range idx {
			out[r*l+j] = int64(i)
		}
	}
	return out, nil
}

// PixelIDsShuffle draws one clip's pixel ids_shuffle over l tokens
// (patch-level noise). With real (the clip's pixel_mask) the clip is masked
// as the reference would mask it alone (RealOnlyNoise); nil draws as the
// reference does in a padded batch.
func (c Config) PixelIDsShuffle(rng *rand.Rand, l int, real []float32) []int64 {
	noise := Noise(rng, l, 1)
	RealOnlyNoise(noise, real, c.PixelMaskRatio)
	ids, _ := IDsShuffle(noise, l)
	return ids
}

// AudioIDsShuffle draws one clip's audio ids_shuffle over l tokens
// (frame- or patch-level noise, from audio_mask_type); real as in
// PixelIDsShuffle.
func (c Config) AudioIDsShuffle(rng *rand.Rand, l int, real []float32) []int64 {
	noise := Noise(rng, l, c.AudioMaskGroup())
	RealOnlyNoise(noise, real, c.AudioMaskRatio)
	ids, _ := IDsShuffle(noise, l)
	return ids
}

// RealOnlyNoise reorders one clip's noise for tvlt-go's --mask-real-only,
// a departure from the reference, whose keep count int(L·(1−ratio))
// counts padding, so that a short clip in a long batch loses mostly
// padding. Here the clip's R real tokens (real[i] != 0) are masked as the
// reference masks the clip on its own: the int(R·(1−ratio)) of them with
// the smallest noise come first, then the padding (which fills the rest of
// the batch's len_keep; attention ignores it), then the other real tokens.
// So each clip keeps its own share of real tokens and the tokens removed
// beyond the padding are real. A clip without padding keeps the
// reference's order; the random draw is the same either way.
func RealOnlyNoise(noise []float64, real []float32, ratio float64) {
	var idx []int
	for i, r := range real {
		if r != 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) == len(real) {
		return
	}
	// Stable, as IDsShuffle: tied tokens of a group keep their index order.
	sort.SliceStable(idx, func(a, b int) bool { return noise[idx[a]] < noise[idx[b]] })
	for _, i := range idx[:LenKeep(len(idx), ratio)] {
		noise[i] -= 3 // below the padding's -1, order kept (noise is in [0, 1))
	}
	for i, r := range real {
		if r == 0 {
			noise[i] = -1
		}
	}
}

// RemovedShare counts, over rows of l tokens, the tokens random_masking
// removes (those after len_keep in ids_shuffle) and how many of them are
// real (real[id] != 0; nil real counts every token as real).
func RemovedShare(idsShuffle []int64, l, lenKeep int, real []float32) (removed, realRemoved int) {
	for r := 0; r+l <= len(idsShuffle) && l > 0; r += l {
		for _, id := range idsShuffle[r+lenKeep : r+l] {
			removed++
			if real == nil || real[r+int(id)] != 0 {
				realRemoved++
			}
		}
	}
	return removed, realRemoved
}

// Mask is random_masking's output for a batch of b rows of l tokens.
type Mask struct {
	LenKeep    int
	IDsKeep    []int64   // (b, LenKeep): ids_shuffle[:, :len_keep], the tokens the encoder sees
	IDsRestore []int64   // (b, l): argsort(ids_shuffle), which un-shuffles the decoder input
	LabelMask  []float64 // (b, l): 1 = removed real token, the MAE loss's mask
	KeptPad    []float64 // (b, LenKeep): the padding mask gathered at IDsKeep; nil without one
}

// Replay rebuilds random_masking's outputs from ids_shuffle (b rows of l,
// each a permutation of 0..l-1) and len_keep; pad (b, l) is the attention
// mask (1 = real token) or nil. Removed padding is not a label: the loss
// counts removed real tokens only.
func Replay(idsShuffle []int64, b, l, lenKeep int, pad []float64) (*Mask, error) {
	if len(idsShuffle) != b*l {
		return nil, fmt.Errorf("config: ids_shuffle has %d entries, want %d×%d", len(idsShuffle), b, l)
	}
	if lenKeep < 1 || lenKeep > l {
		return nil, fmt.Errorf("config: len_keep %d outside 1..%d", lenKeep, l)
	}
	if pad != nil && len(pad) != b*l {
		return nil, fmt.Errorf("config: padding mask has %d entries, want %d×%d", len(pad), b, l)
	}
	m := &Mask{LenKeep: lenKeep, IDsKeep: make([]int64, b*lenKeep), IDsRestore: make([]int64, b*l), LabelMask: make([]float64, b*l)}
	if pad != nil {
		m.KeptPad = make([]float64, b*lenKeep)
	}
	seen := make([]bool, l)
	for r := 0; r < b; r++ {
		clear(seen)
		for j, id := range idsShuffle[r*l : (r+1)*l] {
			if id < 0 || int(id) >= l || seen[id] {
				return nil, fmt.Errorf("config: ids_shuffle row %d is not a permutation of 0..%d", r, l-1)
			}
			seen[id] = true
			m.IDsRestore[r*l+int(id)] = int64(j)
			if j < lenKeep {
				m.IDsKeep[r*lenKeep+j] = id
				if pad != nil {
					m.KeptPad[r*lenKeep+j] = pad[r*l+int(id)]
				}
				continue
			}
			m.LabelMask[r*l+int(id)] = 1
			if pad != nil {
				m.LabelMask[r*l+int(id)] = pad[r*l+int(id)]
			}
		}
	}
	return m, nil
}
