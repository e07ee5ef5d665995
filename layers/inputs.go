package layers

import (
	"fmt"
	"math"
	"sort"

	"github.com/tvlt-go/tvlt/graph"

	"gorgonia.org/tensor"
)

// attentionMaskMin is the reference's additive mask value for padded keys:
// torch.finfo(float32).min, also in float64 models, for parity.
const attentionMaskMin = -3.4028234663852886e38

// Batch is one batch of host inputs in the reference's layout. Float arrays
// may be Float32 or Float64; index arrays are Int64.
type Batch struct {
	PixelValues *tensor.Dense // (B, T, C, H, W), T ≤ num_frames
	PixelMask   *tensor.Dense // (B, T·Np), 1 = real patch; nil = no attention mask
	AudioValues *tensor.Dense // (B, Ca, Ts, F), Ts ≤ spectrogram_length
	AudioMask   *tensor.Dense // (B, Ta·F); nil = no attention mask

	// Pretraining: the matching pass video and its labels (1 = true pair).
	PixelValuesMixed *tensor.Dense // (B, T', C, H, W)
	PixelMaskMixed   *tensor.Dense // (B, T'·Np)
	MatchingLabels   *tensor.Dense // (B, 1)

	// Pretraining: MAE permutations (ascending noise order); the first
	// LenKeep entries of each row are kept. ids_restore is derived.
	PixelIDsShuffle *tensor.Dense // (B, T·Np) Int64
	AudioIDsShuffle *tensor.Dense // (B, Ta·F) Int64
	PixelLenKeep    int
	AudioLenKeep    int

	// Fine-tuning labels: Int64 (B) for classification, float (B, num_labels)
	// for regression.
	Labels *tensor.Dense
}

func ints(t *tensor.Dense) ([]int64, error) {
	switch d := t.Data().(type) {
	case []int64:
		return d, nil
	case []int32:
		out := make([]int64, len(d))
		for i, x := range d {
			out[i] = int64(x)
		}
		return out, nil
	case []int:
		out := make([]int64, len(d))
		for i, x := range d {
			out[i] = int64(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want integer indices, got %v", t.Dtype())
}

// newDense makes a tensor of dtype dt from float64 data.
func newDense(dt tensor.Dtype, data []float64, shape ...int) *tensor.Dense {
	if dt == tensor.Float32 {
		v := make([]float32, len(data))
		for i, x := range data {
			v[i] = float32(x)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), data...)))
}

func newInts(data []int64, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]int64(nil), data...)))
}

// checkPixels validates frames against the config and returns (B, T).
func (c Config) checkPixels(name string, v *tensor.Dense) (int, int, error) {
	if v == nil {
		return 0, 0, fmt.Errorf("layers: %s is missing", name)
	}
	s := v.Shape()
	if s.Dims() != 5 {
		return 0, 0, fmt.Errorf("layers: %s has shape %v, want (batch, frames, channels, height, width)", name, s)
	}
	if s[2] != c.NumImageChannels || s[3] != c.ImageSize[0] || s[4] != c.ImageSize[1] {
		return 0, 0, fmt.Errorf("layers: %s has shape %v: channels/height/width must be %d×%d×%d (num_image_channels, image_size)",
			name, s, c.NumImageChannels, c.ImageSize[0], c.ImageSize[1])
	}
	if s[1] < 1 || s[1] > c.NumFrames {
		return 0, 0, fmt.Errorf("layers: %s has %d frames, must be 1..num_frames (%d)", name, s[1], c.NumFrames)
	}
	return s[0], s[1], nil
}

// checkAudio validates a spectrogram batch and returns (B, time patches).
func (c Config) checkAudio(v *tensor.Dense) (int, int, error) {
	if v == nil {
		return 0, 0, fmt.Errorf("layers: audio_values is missing")
	}
	s := v.Shape()
	if s.Dims() != 4 {
		return 0, 0, fmt.Errorf("layers: audio_values has shape %v, want (batch, channels, time, frequency)", s)
	}
	if s[1] != c.NumAudioChannels || s[3] != c.FrequencyLength {
		return 0, 0, fmt.Errorf("layers: audio_values has shape %v: channels must be %d (num_audio_channels) and frequency %d (frequency_length)",
			s, c.NumAudioChannels, c.FrequencyLength)
	}
	if s[2] > c.SpectrogramLength {
		return 0, 0, fmt.Errorf("layers: audio_values has %d time rows, more than spectrogram_length %d", s[2], c.SpectrogramLength)
	}
	ta := s[2] / c.AudioPatchSize[0]
	if ta < 1 {
		return 0, 0, fmt.Errorf("layers: audio_values has %d time rows, fewer than one audio patch (%d)", s[2], c.AudioPatchSize[0])
	}
	return s[0], ta, nil
}

func checkMask(name string, m *tensor.Dense, b, l int) error {
	if m == nil {
		return nil
	}
	if s := m.Shape(); s.Dims() != 2 || s[0] != b || s[1] != l {
		return fmt.Errorf("layers: %s has shape %v, want (%d, %d)", name, s, b, l)
	}
	return nil
}

// patchifyPixels flattens every patch in (channel, y, x) order — the order of
// the patch convolution's weight — giving (B, T·Np, C·pH·pW).
func (c Config) patchifyPixels(v *tensor.Dense, dt tensor.Dtype) *tensor.Dense {
	return c.pixelPatches(v, dt, false)
}

// pixelTargets flattens every patch in (y, x, channel) order — the MAE
// target layout of the reference — giving (B, T·Np, pH·pW·C).
func (c Config) pixelTargets(v *tensor.Dense, dt tensor.Dtype) *tensor.Dense {
	return c.pixelPatches(v, dt, true)
}

func (c Config) pixelPatches(v *tensor.Dense, dt tensor.Dtype, channelLast bool) *tensor.Dense {
	s := v.Shape()
	out, n, k := patchify(graph.Float64s(v), s[0]*s[1], s[2], s[3], s[4], c.ImagePatchSize, channelLast)
	return newDense(dt, out, s[0], s[1]*n, k)
}

// patchifyAudio flattens spectrogram patches time-major over patches and
// (channel, time, frequency) within a patch, giving (B, Ta·F, Ca·pT·pF);
// trailing time rows that do not fill a patch are dropped like the
// reference's strided convolution. channelLast gives the MAE target layout
// (time, frequency, channel), the same thing for one channel.
func (c Config) patchifyAudio(v *tensor.Dense, dt tensor.Dtype, channelLast bool) *tensor.Dense {
	s := v.Shape()
	out, n, k := patchify(graph.Float64s(v), s[0], s[1], s[2], s[3], c.AudioPatchSize, channelLast)
	return newDense(dt, out, s[0], n, k)
}

// patchify cuts each of m images (ch, h, w) into row-major p[0]×p[1]
// patches, flattened in (channel, y, x) order — the convolution weight's —
// or (y, x, channel) when channelLast. It returns the data, the patches per
// image and the patch length.
func patchify(src []float64, m, ch, h, w int, p [2]int, channelLast bool) ([]float64, int, int) {
	ph, pw := p[0], p[1]
	gh, gw := h/ph, w/pw
	k := ch * ph * pw
	out := make([]float64, m*gh*gw*k)
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
					out[i] = base[cc*h*w+(r*ph+y)*w+q*pw+x]
					i++
				}
			}
		}
	}
	return out, gh * gw, k
}

// masking is the host side of the reference's random_masking for one
// modality, replayed from a given permutation.
type masking struct {
	keep    []int64   // (B, K) ids_shuffle[:, :K]
	restore []int64   // (B, L) inverse permutation
	label   []float64 // (B, L) 1 = removed real patch
	kept    []float64 // (B, K) padding mask gathered at keep (nil without a mask)
	k       int
}

// replayMasking derives keep/restore/label/kept from ids_shuffle.
func replayMasking(name string, shuffle *tensor.Dense, lenKeep, b, l int, pad *tensor.Dense) (*masking, error) {
	if shuffle == nil {
		return nil, fmt.Errorf("layers: %s ids_shuffle is missing", name)
	}
	if s := shuffle.Shape(); s.Dims() != 2 || s[0] != b || s[1] != l {
		return nil, fmt.Errorf("layers: %s ids_shuffle has shape %v, want (%d, %d)", name, s, b, l)
	}
	if lenKeep < 1 || lenKeep > l {
		return nil, fmt.Errorf("layers: %s len_keep %d outside 1..%d", name, lenKeep, l)
	}
	ids, err := ints(shuffle)
	if err != nil {
		return nil, fmt.Errorf("layers: %s ids_shuffle: %w", name, err)
	}
	var padv []float64
	if pad != nil {
		padv = graph.Float64s(pad)
	}
	m := &masking{keep: make([]int64, b*lenKeep), restore: make([]int64, b*l), label: make([]float64, b*l), k: lenKeep}
	if padv != nil {
		m.kept = make([]float64, b*lenKeep)
	}
	for bi := 0; bi < b; bi++ {
		row := ids[bi*l : (bi+1)*l]
		seen := make([]bool, l)
		for j, id := range row {
			if id < 0 || int(id) >= l || seen[id] {
				return nil, fmt.Errorf("layers: %s ids_shuffle row %d is not a permutation of 0..%d", name, bi, l-1)
			}
			seen[id] = true
			m.restore[bi*l+int(id)] = int64(j)
			if j < lenKeep {
				m.keep[bi*lenKeep+j] = id
				if padv != nil {
					m.kept[bi*lenKeep+j] = padv[bi*l+int(id)]
				}
			} else {
				m.label[bi*l+int(id)] = 1
			}
		}
		if padv != nil {
			for j := 0; j < l; j++ {
				m.label[bi*l+j] *= padv[bi*l+j]
			}
		}
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

// StableArgsort returns the ascending stable argsort of each row of noise
// (B, L): the permutation MAE masking uses, reproducible across runs.
func StableArgsort(noise []float64, b, l int) []int64 {
	out := make([]int64, b*l)
	for bi := 0; bi < b; bi++ {
		row := noise[bi*l : (bi+1)*l]
		idx := make([]int, l)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool { return row[idx[i]] < row[idx[j]] })
		for j, v := range idx {
			out[bi*l+j] = int64(v)
		}
	}
	return out
}

// LenKeep is the reference's int(L·(1 − ratio)) in float64 arithmetic.
func LenKeep(l int, ratio float64) int { return int(math.Trunc(float64(l) * (1 - ratio))) }
