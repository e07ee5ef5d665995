package layers

import (
	"fmt"

	"github.com/tvlt-go/tvlt/config"
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
	// for regression, multilabel (0/1 or [0, 1]) and vqa (soft answer scores).
	Labels *tensor.Dense

	// DropoutSeed draws the dropout masks of a training program's run (the
	// same seed, the same masks); trainers derive it from the run's seed and
	// step so a resumed run drops the same units.
	DropoutSeed uint64

	// LossScales multiply the task losses of a program compiled with
	// Options.LossScales, by output name ("pixel_mae_loss",
	// "audio_mae_loss", "matching_loss", and "loss" for the classifier's);
	// a missing name is 1.
	LossScales map[string]float64
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
func checkPixels(c config.Config, name string, v *tensor.Dense) (int, int, error) {
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
func checkAudio(c config.Config, v *tensor.Dense) (int, int, error) {
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
