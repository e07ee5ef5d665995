package data

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/tvlt-go/tvlt/config"
)

// Padding says which shape a batch's clips are padded to. Every batch shape
// is one compiled program, while the MAE keep count int(L·(1−ratio))
// counts padded tokens (as the reference does): padding to the maximum
// gives one program but removes mostly padding from short clips; padding to
// the batch's longest clip is what the reference's processors do.
type Padding struct {
	Mode PadMode
	// Bucket rounds the batch's audio time patches up to a multiple of it
	// (Mode PadBucket), bounding the number of shapes.
	Bucket int
}

// PadMode is a Padding policy.
type PadMode int

// Padding policies; the zero value is the reference's.
const (
	// PadLongest pads frames to the batch's most frames and audio to its
	// longest clip, rounded up to a whole time patch: HF's processors.
	PadLongest PadMode = iota
	// PadMax pads frames to num_frames and audio to spectrogram_length.
	PadMax
	// PadBucket pads frames as PadLongest and audio to the batch's longest
	// clip rounded up to Bucket time patches (capped at the maximum).
	PadBucket
)

// ParsePadding reads a --pad-to value: "longest", "max" or "bucket:N".
func ParsePadding(s string) (Padding, error) {
	switch s {
	case "longest", "":
		return Padding{Mode: PadLongest}, nil
	case "max":
		return Padding{Mode: PadMax}, nil
	}
	if n, ok := strings.CutPrefix(s, "bucket:"); ok {
		k, err := strconv.Atoi(n)
		if err != nil || k < 1 {
			return Padding{}, fmt.Errorf("data: padding %q: bucket size must be a positive number of audio time patches", s)
		}
		return Padding{Mode: PadBucket, Bucket: k}, nil
	}
	return Padding{}, fmt.Errorf("data: padding %q: want longest, max or bucket:N", s)
}

// String writes p as ParsePadding reads it.
func (p Padding) String() string {
	switch p.Mode {
	case PadMax:
		return "max"
	case PadBucket:
		return fmt.Sprintf("bucket:%d", p.Bucket)
	}
	return "longest"
}

// shape returns the padded frame count and audio time patches for a batch
// whose most frames and longest audio are t and tp, under caps maxT, maxTP.
func (p Padding) shape(t, tp, maxT, maxTP int) (int, int) {
	switch p.Mode {
	case PadMax:
		return maxT, maxTP
	case PadBucket:
		if b := max(p.Bucket, 1); tp%b != 0 {
			tp += b - tp%b
		}
		return t, min(tp, maxTP)
	}
	return t, tp
}

// batchSpec says how samples are padded into a batch.
type batchSpec struct {
	H, W        int     // processed frame size
	ppf         int     // pixel-mask entries per frame
	F, pT, fp   int     // mel bins, rows per audio time patch, frequency patches
	pad         Padding // which shape the batch takes
	maxT, maxTP int     // frames and audio time patches of PadMax (the caps)
	audioPad    float32 // value of padded spectrogram rows
}

// loaderSpec is the loader's batch layout for cfg.
func loaderSpec(c config.Config, pad Padding) batchSpec {
	return batchSpec{
		H: c.ImageSize[0], W: c.ImageSize[1], ppf: c.PatchesPerFrame(),
		F: c.FrequencyLength, pT: c.AudioPatchSize[0], fp: c.FreqPatches(),
		pad: pad, maxT: c.NumFrames, maxTP: c.MaxTimePatches(),
	}
}

// stack pads and stacks samples (IDs, Indices and Labels from them); mix is nil
// (no matching pass) or holds one entry per sample, nil entries meaning the
// sample's own video (a true pair: MatchingLabels 1, the rest 0). Padding
// frames are zeros with mask 0; padded spectrogram rows hold audioPad, and a
// partly filled last time patch counts as real, as in the reference.
func (s batchSpec) stack(samples, mix []*Sample) *Batch {
	B := len(samples)
	T, tp := 0, 0
	for j, x := range samples {
		T = max(T, x.NumFrames)
		if mix != nil && mix[j] != nil {
			T = max(T, mix[j].NumFrames)
		}
		tp = max(tp, (x.AudioFrames+s.pT-1)/s.pT)
	}
	T, tp = s.pad.shape(T, tp, s.maxT, s.maxTP)
	np, fsz, F, fp := s.ppf, 3*s.H*s.W, s.F, s.fp
	tspec := tp * s.pT
	b := &Batch{
		IDs: make([]string, B), Indices: make([]int, B), Labels: make([]Label, B),
		PixelValues: make([]float32, B*T*fsz), PixelShape: [5]int{B, T, 3, s.H, s.W},
		PixelMask: make([]float32, B*T*np), PixelMaskShape: [2]int{B, T * np},
		AudioValues: make([]float32, B*tspec*F), AudioShape: [4]int{B, 1, tspec, F},
		AudioMask: make([]float32, B*tp*fp), AudioMaskShape: [2]int{B, tp * fp},
	}
	if s.audioPad != 0 {
		for i := range b.AudioValues {
			b.AudioValues[i] = s.audioPad
		}
	}
	putPixels := func(vals, mask []float32, j int, x *Sample) {
		copy(vals[j*T*fsz:], x.Pixels[:x.NumFrames*fsz])
		for i := 0; i < x.NumFrames*np; i++ {
			mask[j*T*np+i] = 1
		}
	}
	for j, x := range samples {
		b.IDs[j], b.Indices[j], b.Labels[j] = x.ID, x.Index, x.Label
		putPixels(b.PixelValues, b.PixelMask, j, x)
		copy(b.AudioValues[j*tspec*F:], x.Audio[:x.AudioFrames*F])
		for i := 0; i < (x.AudioFrames+s.pT-1)/s.pT*fp; i++ {
			b.AudioMask[j*tp*fp+i] = 1
		}
	}
	if mix == nil {
		return b
	}
	b.PixelValuesMixed = make([]float32, len(b.PixelValues))
	b.PixelMaskMixed = make([]float32, len(b.PixelMask))
	b.MatchingLabels = make([]float32, B)
	Lp := T * np
	for j := range samples {
		if mix[j] != nil {
			putPixels(b.PixelValuesMixed, b.PixelMaskMixed, j, mix[j])
			continue
		}
		copy(b.PixelValuesMixed[j*T*fsz:(j+1)*T*fsz], b.PixelValues[j*T*fsz:(j+1)*T*fsz])
		copy(b.PixelMaskMixed[j*Lp:(j+1)*Lp], b.PixelMask[j*Lp:(j+1)*Lp])
		b.MatchingLabels[j] = 1
	}
	return b
}

// drawMasks adds the MAE permutations over the batch's pixel and audio tokens
// (padding included, as the reference; realOnly: config.RealOnlyNoise),
// one random source per clip and stream.
func drawMasks(c config.Config, b *Batch, pixel, audio, realOnly bool, rng func(j int, stream uint64) *rand.Rand) {
	B := b.Size()
	if pixel {
		Lp := b.PixelMaskShape[1]
		b.PixelIDsShuffle, b.PixelLenKeep = make([]int64, B*Lp), c.PixelLenKeep(Lp)
	}
	if audio {
		La := b.AudioMaskShape[1]
		b.AudioIDsShuffle, b.AudioLenKeep = make([]int64, B*La), c.AudioLenKeep(La)
	}
	for j := 0; j < B; j++ {
		if pixel {
			Lp := b.PixelMaskShape[1]
			var real []float32
			if realOnly {
				real = b.PixelMask[j*Lp : (j+1)*Lp]
			}
			copy(b.PixelIDsShuffle[j*Lp:], c.PixelIDsShuffle(rng(j, streamPixelMask), Lp, real))
		}
		if audio {
			La := b.AudioMaskShape[1]
			var real []float32
			if realOnly {
				real = b.AudioMask[j*La : (j+1)*La]
			}
			copy(b.AudioIDsShuffle[j*La:], c.AudioIDsShuffle(rng(j, streamAudioMask), La, real))
		}
	}
}
