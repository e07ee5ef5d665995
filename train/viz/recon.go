package viz

import (
	"fmt"
	"math"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data"
	"github.com/tvlt-go/tvlt/layers"
	"gorgonia.org/tensor"
)

// Clip is one example's MAE input and reconstruction in the model's
// normalised units, with the masks that say which patches the encoder saw.
type Clip struct {
	ID string

	Frames, Channels, Height, Width int
	PatchH, PatchW                  int
	Pixels                          []float32 // (Frames, Channels, Height, Width) model input
	PixelsRecon                     []float32 // same layout: the decoder's prediction for every patch
	PixelRemoved                    []bool    // (Frames·patches per frame): hidden from the encoder
	PixelReal                       []bool    // same: a real patch (not frame padding)

	TimeRows, Freq int // spectrogram rows shown (real audio, whole patches) and mel bins
	PatchT, PatchF int
	Audio          []float32 // (TimeRows, Freq), time-major
	AudioRecon     []float32 // same layout
	AudioRemoved   []bool    // (TimeRows/PatchT · Freq/PatchF), time-major over patches
	AudioReal      []bool

	// Processor normalisation, to map pixels back to 0..255:
	// value = (x·Std + Mean) / Rescale.
	Mean, Std [3]float32
	Rescale   float64

	// PixelLoss and AudioLoss are this clip's MAE losses: the squared error
	// averaged within each removed real patch, then over those patches (the
	// reference's loss restricted to one clip); NaN when the masks removed
	// no real patch of the clip (FormatLoss writes that case).
	PixelLoss, AudioLoss float64
}

// NoRemovedRealPatch is how a clip's MAE loss over zero removed real
// patches is written (its value is NaN: a mean over nothing).
const NoRemovedRealPatch = "no removed real patch"

// FormatLoss writes a per-clip MAE loss with 4 decimals, or
// NoRemovedRealPatch for a clip whose masks removed only padding.
func FormatLoss(v float64) string {
	if math.IsNaN(v) {
		return NoRemovedRealPatch
	}
	return fmt.Sprintf("%.4f", v)
}

// Losses writes both per-clip losses: "pixel 0.1234, audio no removed real patch".
func (c *Clip) Losses() string {
	return "pixel " + FormatLoss(c.PixelLoss) + ", audio " + FormatLoss(c.AudioLoss)
}

// Reconstructor runs the MAE branch of a pretraining model, keeping one
// compiled inference graph per batch shape so that repeated calls (a
// picture every N training steps) compile once. Parameters are read from
// the model's store at every call, so a model being trained is shown as it
// is now.
type Reconstructor struct {
	m     *layers.Model
	progs map[string]*layers.Program
}

// NewReconstructor checks that m can reconstruct: a TvltForPreTraining
// with the MAE decoder (task_mae).
func NewReconstructor(m *layers.Model) (*Reconstructor, error) {
	if m.Kind != layers.Pretraining || !m.Config.TaskMAE {
		return nil, fmt.Errorf("viz: reconstruction needs a TvltForPreTraining model with task_mae (its MAE decoder), got %s (task_mae %v)", m.Kind, m.Config.TaskMAE)
	}
	if m.Config.NumAudioChannels != 1 {
		return nil, fmt.Errorf("viz: reconstruction draws one spectrogram channel, model has num_audio_channels %d", m.Config.NumAudioChannels)
	}
	return &Reconstructor{m: m, progs: map[string]*layers.Program{}}, nil
}

// Close releases the compiled graphs.
func (r *Reconstructor) Close() {
	for _, p := range r.progs {
		p.Close()
	}
	r.progs = map[string]*layers.Program{}
}

func dense(v []float32, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float32(nil), v...)))
}

func ints64(v []int64, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]int64(nil), v...)))
}

// toLayers is the MAE-only model input of a loader batch.
func toLayers(b *data.Batch) *layers.Batch {
	B := b.Size()
	return &layers.Batch{
		PixelValues:     dense(b.PixelValues, b.PixelShape[:]...),
		PixelMask:       dense(b.PixelMask, b.PixelMaskShape[:]...),
		AudioValues:     dense(b.AudioValues, b.AudioShape[:]...),
		AudioMask:       dense(b.AudioMask, b.AudioMaskShape[:]...),
		PixelIDsShuffle: ints64(b.PixelIDsShuffle, B, len(b.PixelIDsShuffle)/B),
		AudioIDsShuffle: ints64(b.AudioIDsShuffle, B, len(b.AudioIDsShuffle)/B),
		PixelLenKeep:    b.PixelLenKeep,
		AudioLenKeep:    b.AudioLenKeep,
	}
}

// Run reconstructs every clip of a pretraining batch (a loader with
// Pretraining set, which drew the MAE permutations for its seed). Matching
// inputs are ignored: only the MAE pass runs.
func (r *Reconstructor) Run(b *data.Batch) ([]Clip, error) {
	if b.PixelIDsShuffle == nil || b.AudioIDsShuffle == nil {
		return nil, fmt.Errorf("viz: batch has no MAE permutations (load it with LoaderOptions.Pretraining)")
	}
	lb := toLayers(b)
	sig, err := r.m.Signature(lb)
	if err != nil {
		return nil, fmt.Errorf("viz: %w", err)
	}
	prog, ok := r.progs[sig]
	if !ok {
		if prog, err = r.m.Compile(lb, layers.Options{}); err != nil {
			return nil, fmt.Errorf("viz: compiling %s: %w", sig, err)
		}
		r.progs[sig] = prog
	}
	res, err := prog.Run(lb)
	if err != nil {
		return nil, fmt.Errorf("viz: %w", err)
	}
	pl, al := res.Outputs["pixel_logits"], res.Outputs["audio_logits"]
	if pl == nil || al == nil {
		return nil, fmt.Errorf("viz: model returned no pixel_logits/audio_logits")
	}
	pix, _ := pl.Data().([]float64)
	aud, _ := al.Data().([]float64)
	return r.split(b, pix, aud)
}

// split unpatchifies the decoder outputs and cuts the batch into clips.
func (r *Reconstructor) split(b *data.Batch, pixLogits, audLogits []float64) ([]Clip, error) {
	c := r.m.Config
	proc := data.ProcessorConfig(c)
	B := b.Size()
	T, C, H, W := b.PixelShape[1], b.PixelShape[2], b.PixelShape[3], b.PixelShape[4]
	ph, pw := c.ImagePatchSize[0], c.ImagePatchSize[1]
	gh, gw := H/ph, W/pw
	np := gh * gw
	Lp := T * np
	pk := ph * pw * C
	Ts, F := b.AudioShape[2], b.AudioShape[3]
	pt, pf := c.AudioPatchSize[0], c.AudioPatchSize[1]
	gt, gf := Ts/pt, F/pf
	La := gt * gf
	ak := pt * pf
	if len(pixLogits) != B*Lp*pk || len(audLogits) != B*La*ak {
		return nil, fmt.Errorf("viz: decoder outputs have %d pixel / %d audio values, want %d×%d×%d / %d×%d×%d",
			len(pixLogits), len(audLogits), B, Lp, pk, B, La, ak)
	}
	out := make([]Clip, B)
	for j := range out {
		cl := Clip{
			ID: b.IDs[j], Frames: T, Channels: C, Height: H, Width: W, PatchH: ph, PatchW: pw,
			Pixels:       append([]float32(nil), b.PixelValues[j*T*C*H*W:(j+1)*T*C*H*W]...),
			PixelRemoved: removed(b.PixelIDsShuffle[j*Lp:(j+1)*Lp], b.PixelLenKeep),
			PixelReal:    real01(b.PixelMask[j*Lp : (j+1)*Lp]),
			Freq:         F, PatchT: pt, PatchF: pf,
			Mean: proc.Mean, Std: proc.Std, Rescale: proc.RescaleFactor,
		}
		cl.PixelsRecon = layers.UnpatchifyPixels(c, pixLogits[j*Lp*pk:(j+1)*Lp*pk], T)
		cl.PixelLoss = imageLoss(cl.PixelsRecon, cl.Pixels, cl.PixelRemoved, cl.PixelReal, func(i int) int {
			t, y, x := i/(C*H*W), i%(H*W)/W, i%W
			return t*np + y/ph*gw + x/pw
		})

		audReal := real01(b.AudioMask[j*La : (j+1)*La])
		audRemoved := removed(b.AudioIDsShuffle[j*La:(j+1)*La], b.AudioLenKeep)
		recon := layers.UnpatchifyAudio(c, audLogits[j*La*ak:(j+1)*La*ak], gt)
		src := b.AudioValues[j*Ts*F : (j+1)*Ts*F]
		cl.AudioLoss = imageLoss(recon, src, audRemoved, audReal, func(i int) int { return i/F/pt*gf + i%F/pf })
		// Show the real audio only: the time patches holding a real patch.
		rows := 0
		for p := 0; p < gt; p++ {
			if audReal[p*gf] {
				rows = p + 1
			}
		}
		if rows == 0 {
			rows = gt
		}
		cl.TimeRows = rows * pt
		cl.Audio = append([]float32(nil), src[:cl.TimeRows*F]...)
		cl.AudioRecon = recon[:cl.TimeRows*F]
		cl.AudioRemoved = audRemoved[:rows*gf]
		cl.AudioReal = audReal[:rows*gf]
		out[j] = cl
	}
	return out, nil
}

// removed marks the tokens MAE hides from the encoder: those past the
// first lenKeep of a permutation.
func removed(shuffle []int64, lenKeep int) []bool {
	out := make([]bool, len(shuffle))
	m, err := config.Replay(shuffle, 1, len(shuffle), lenKeep, nil)
	if err != nil {
		return out
	}
	for i, v := range m.LabelMask {
		out[i] = v == 1
	}
	return out
}

func real01(mask []float32) []bool {
	out := make([]bool, len(mask))
	for i, v := range mask {
		out[i] = v > 0.5
	}
	return out
}

// imageLoss is the MAE loss of one clip computed from the unpatchified
// arrays: per removed real token, the mean squared error over the values
// token(i) maps to it, then the mean over those tokens (NaN when none is
// removed). It equals the reference loss only if the patch layouts agree.
func imageLoss(pred, target []float32, removed, real []bool, token func(i int) int) float64 {
	sums := make([]float64, len(removed))
	counts := make([]int, len(removed))
	for i := range target {
		p := token(i)
		d := float64(pred[i]) - float64(target[i])
		sums[p] += d * d
		counts[p]++
	}
	sum, n := 0.0, 0
	for p := range removed {
		if removed[p] && real[p] && counts[p] > 0 {
			sum += sums[p] / float64(counts[p])
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// LoadBatch decodes clips into one pretraining batch shaped for cfg
// (padded as pad says, as in training), with the MAE permutations the
// loader draws for seed: epoch 0, clip i of the list. No matching negatives
// are drawn.
func LoadBatch(clips []data.Clip, cfg config.Config, seed int64, pad data.Padding, cacheDir string) (*data.Batch, error) {
	l, err := data.NewLoader(clips, cfg, data.LoaderOptions{
		BatchSize: len(clips), Seed: seed, Pretraining: true, NegativeRatio: -1, Padding: pad, CacheDir: cacheDir,
	})
	if err != nil {
		return nil, fmt.Errorf("viz: %w", err)
	}
	it := l.Epoch(0)
	defer it.Close()
	b, err := it.Next()
	if err != nil {
		return nil, fmt.Errorf("viz: loading %d clips: %w", len(clips), err)
	}
	return b, nil
}
