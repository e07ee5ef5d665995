package layers

// Patches and masks: how the batch's frames and spectrograms become the
// token rows the graph sees (patchify, and its inverse for showing
// reconstructions) and how the batch's MAE permutations are replayed.

import (
	"fmt"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/graph"
	"gorgonia.org/tensor"
)

// patchifyPixels flattens every patch in (channel, y, x) order — the order of
// the patch convolution's weight — giving (B, T·Np, C·pH·pW).
func patchifyPixels(c config.Config, v *tensor.Dense, dt tensor.Dtype) *tensor.Dense {
	return pixelPatches(c, v, dt, false)
}

// pixelTargets flattens every patch in (y, x, channel) order — the MAE
// target layout of the reference — giving (B, T·Np, pH·pW·C).
func pixelTargets(c config.Config, v *tensor.Dense, dt tensor.Dtype) *tensor.Dense {
	return pixelPatches(c, v, dt, true)
}

func pixelPatches(c config.Config, v *tensor.Dense, dt tensor.Dtype, channelLast bool) *tensor.Dense {
	s := v.Shape()
	return patches(v, dt, s[0], s[0]*s[1], s[2], s[3], s[4], c.ImagePatchSize, channelLast)
}

// patchifyAudio flattens spectrogram patches time-major over patches and
// (channel, time, frequency) within a patch, giving (B, Ta·F, Ca·pT·pF);
// trailing time rows that do not fill a patch are dropped like the
// reference's strided convolution. channelLast gives the MAE target layout
// (time, frequency, channel), the same thing for one channel.
func patchifyAudio(c config.Config, v *tensor.Dense, dt tensor.Dtype, channelLast bool) *tensor.Dense {
	s := v.Shape()
	return patches(v, dt, s[0], s[0], s[1], s[2], s[3], c.AudioPatchSize, channelLast)
}

// patches cuts the b·per images (ch, h, w) of v into a fresh (b, patches,
// patch length) tensor of dtype dt, reading v in its own precision.
func patches(v *tensor.Dense, dt tensor.Dtype, b, m, ch, h, w int, p [2]int, channelLast bool) *tensor.Dense {
	n, k := (h/p[0])*(w/p[1]), ch*p[0]*p[1]
	out := tensor.New(tensor.Of(dt), tensor.WithShape(b, m/b*n, k))
	switch dst := out.Data().(type) {
	case []float32:
		if src, ok := v.Data().([]float32); ok {
			patchify(dst, src, m, ch, h, w, p, channelLast)
		} else {
			patchify(dst, graph.Float64s(v), m, ch, h, w, p, channelLast)
		}
	case []float64:
		patchify(dst, graph.Float64s(v), m, ch, h, w, p, channelLast)
	}
	return out
}

// patchify cuts each of m images (ch, h, w) into row-major p[0]×p[1]
// patches, flattened in (channel, y, x) order — the convolution weight's —
// or (y, x, channel) when channelLast, into out.
func patchify[D, S float32 | float64](out []D, src []S, m, ch, h, w int, p [2]int, channelLast bool) {
	ph, pw := p[0], p[1]
	gh, gw := h/ph, w/pw
	k := ch * ph * pw
	i := 0
	for img := 0; img < m; img++ {
		base := src[img*ch*h*w:]
		for r := 0; r < gh; r++ {
			for q := 0; q < gw; q++ {
				for a := 0; a < k; a++ {
					var cc, y, x int
					if channelLast {
						cc, y, x = a%ch, a/ch/pw, a/ch%pw
					} else {
						cc, y, x = a/(ph*pw), a/pw%ph, a%pw
					}
					out[i] = D(base[cc*h*w+(r*ph+y)*w+q*pw+x])
					i++
				}
			}
		}
	}
}

// replayMasking is random_masking's host side for one modality, replayed
// from the batch's ids_shuffle (B, l) and len_keep; pad is the modality's
// attention mask (B, l) or nil.
func replayMasking(name string, shuffle *tensor.Dense, lenKeep, b, l int, pad *tensor.Dense) (*config.Mask, error) {
	if shuffle == nil {
		return nil, fmt.Errorf("layers: %s ids_shuffle is missing", name)
	}
	if s := shuffle.Shape(); s.Dims() != 2 || s[0] != b || s[1] != l {
		return nil, fmt.Errorf("layers: %s ids_shuffle has shape %v, want (%d, %d)", name, s, b, l)
	}
	ids, err := ints(shuffle)
	if err != nil {
		return nil, fmt.Errorf("layers: %s ids_shuffle: %w", name, err)
	}
	var padv []float64
	if pad != nil {
		padv = graph.Float64s(pad)
	}
	m, err := config.Replay(ids, b, l, lenKeep, padv)
	if err != nil {
		return nil, fmt.Errorf("layers: %s: %w", name, err)
	}
	return m, nil
}

// keyBias builds the reference's additive attention mask over
// [CLS, pixel..., audio...]: the CLS entry copies the first pixel entry (after
// MAE gathering, the lowest-noise kept pixel — a reference quirk kept on
// purpose); padded keys get float32 min, real keys 0.
func keyBias(pixel, audio []float64, b, lp, la int, dt tensor.Dtype) *tensor.Dense {
	s := 1 + lp + la
	out := make([]float64, b*s)
	for bi := 0; bi < b; bi++ {
		row := out[bi*s : (bi+1)*s]
		m := func(v float64) float64 { return (1 - v) * attentionMaskMin }
		row[0] = m(pixel[bi*lp])
		for j := 0; j < lp; j++ {
			row[1+j] = m(pixel[bi*lp+j])
		}
		for j := 0; j < la; j++ {
			row[1+lp+j] = m(audio[bi*la+j])
		}
	}
	return newDense(dt, out, b, s)
}

// UnpatchifyPixels is the inverse of the MAE target layout: rows of
// (T·Np, pH·pW·C) patch values in (y, x, channel) order (pixel_logits of
// one clip) back to frames (T, C, H, W).
func UnpatchifyPixels(c config.Config, patches []float64, frames int) []float32 {
	ch, h, w := c.NumImageChannels, c.ImageSize[0], c.ImageSize[1]
	ph, pw := c.ImagePatchSize[0], c.ImagePatchSize[1]
	gw, np, k := w/pw, c.PatchesPerFrame(), c.PixelPatchDim()
	out := make([]float32, frames*ch*h*w)
	for p := 0; p < frames*np; p++ {
		t, r, q := p/np, p%np/gw, p%gw
		for a := 0; a < k; a++ {
			cc, y, x := a%ch, a/ch/pw, a/ch%pw
			out[((t*ch+cc)*h+r*ph+y)*w+q*pw+x] = float32(patches[p*k+a])
		}
	}
	return out
}

// UnpatchifyAudio is the inverse of the audio MAE target layout: rows of
// (Ta·F, pT·pF) patch values (audio_logits of one single-channel clip) back
// to a (Ta·pT, frequency_length) spectrogram, time-major.
func UnpatchifyAudio(c config.Config, patches []float64, timePatches int) []float32 {
	pt, pf := c.AudioPatchSize[0], c.AudioPatchSize[1]
	f, gf, k := c.FrequencyLength, c.FreqPatches(), c.AudioPatchDim()
	out := make([]float32, timePatches*pt*f)
	for p := 0; p < timePatches*gf; p++ {
		r, q := p/gf, p%gf
		for a := 0; a < k; a++ {
			out[(r*pt+a/pf)*f+q*pf+a%pf] = float32(patches[p*k+a])
		}
	}
	return out
}
