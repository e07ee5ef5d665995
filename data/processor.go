package data

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/data/video"
)

// This file is the Go TvltProcessor: in-memory frames and waveforms become a
// Batch with the reference's switches. The padding and MAE-mask code at the
// end (batchSpec.stack, drawMasks) is shared with the file loader, so a clip
// processed here and the same clip loaded from files give identical batches.

// Layout is the memory order of one frame's values.
type Layout int

// Frame layouts: HWC is row-major height × width × RGB (what decoders and
// image libraries produce), CHW is channel-first planes (what PyTorch uses).
const (
	HWC Layout = iota
	CHW
)

// String names the layout as the reference's ChannelDimension does.
func (l Layout) String() string {
	switch l {
	case HWC:
		return "channels_last"
	case CHW:
		return "channels_first"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// Frames is one image (N = 1) or a video of N RGB frames in memory. Exactly one
// of U8 and F32 holds the N·H·W·3 values, frame after frame, each frame in
// Layout order. Float values are on the 0..255 scale, like the reference's
// numpy input (frames in [0, 1] are accepted for resizing as the reference's
// PIL conversion does: scaled by 255 for the resize and back afterwards; set
// DoRescale false for them).
type Frames struct {
	N, H, W int
	Layout  Layout
	U8      []uint8
	F32     []float32
}

// FramesOf wraps decoded frames (video.Frame, HWC uint8, all the same size)
// without copying them when they are contiguous.
func FramesOf(frames []video.Frame) (Frames, error) {
	if len(frames) == 0 {
		return Frames{}, errors.New("data: FramesOf: no frames")
	}
	h, w := frames[0].H, frames[0].W
	pix := make([]uint8, 0, len(frames)*h*w*3)
	for i, f := range frames {
		if f.H != h || f.W != w || len(f.Pix) != h*w*3 {
			return Frames{}, fmt.Errorf("data: FramesOf: frame %d is %dx%d with %d bytes, frame 0 is %dx%d", i, f.H, f.W, len(f.Pix), h, w)
		}
		pix = append(pix, f.Pix...)
	}
	return Frames{N: len(frames), H: h, W: w, Layout: HWC, U8: pix}, nil
}

func (f Frames) check(what string) error {
	if f.N < 1 || f.H < 1 || f.W < 1 {
		return fmt.Errorf("%s: N, H, W = %d, %d, %d must be positive", what, f.N, f.H, f.W)
	}
	if f.Layout != HWC && f.Layout != CHW {
		return fmt.Errorf("%s: unknown layout %v", what, f.Layout)
	}
	want := f.N * f.H * f.W * 3
	switch {
	case f.U8 != nil && f.F32 != nil:
		return fmt.Errorf("%s: both U8 and F32 are set; give one", what)
	case f.U8 == nil && f.F32 == nil:
		return fmt.Errorf("%s: no pixel values (U8 or F32)", what)
	case f.U8 != nil && len(f.U8) != want, f.F32 != nil && len(f.F32) != want:
		return fmt.Errorf("%s: %d values, want N·H·W·3 = %d", what, max(len(f.U8), len(f.F32)), want)
	}
	for i, v := range f.F32 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: value %d is %v", what, i, v)
		}
	}
	return nil
}

// hwc returns frame i as HWC values: u8 (nil for float frames) or f32.
func (f Frames) hwc(i int) (u8 []uint8, f32 []float32) {
	n := f.H * f.W * 3
	if f.Layout == HWC {
		if f.U8 != nil {
			return f.U8[i*n : (i+1)*n], nil
		}
		return nil, f.F32[i*n : (i+1)*n]
	}
	plane := f.H * f.W
	if f.U8 != nil {
		src := f.U8[i*n : (i+1)*n]
		u8 = make([]uint8, n)
		for c := 0; c < 3; c++ {
			for p, v := range src[c*plane : (c+1)*plane] {
				u8[p*3+c] = v
			}
		}
		return u8, nil
	}
	src := f.F32[i*n : (i+1)*n]
	f32 = make([]float32, n)
	for c := 0; c < 3; c++ {
		for p, v := range src[c*plane : (c+1)*plane] {
			f32[p*3+c] = v
		}
	}
	return nil, f32
}

// Wave is a clip's audio: mono samples, or Channels interleaved channels
// (averaged to mono as LoadMono does), recorded at Rate Hz.
type Wave struct {
	Samples  []float32
	Channels int // 0 or 1 = mono
	Rate     int // Hz (required)
}

// mono returns the averaged channels.
func (w Wave) mono() ([]float32, error) {
	ch := max(w.Channels, 1)
	switch {
	case w.Rate <= 0:
		return nil, fmt.Errorf("audio: sampling rate %d must be positive", w.Rate)
	case len(w.Samples) == 0:
		return nil, errors.New("audio has no samples")
	case len(w.Samples)%ch != 0:
		return nil, fmt.Errorf("audio: %d samples are not whole frames of %d interleaved channels", len(w.Samples), ch)
	}
	if ch == 1 {
		return w.Samples, nil
	}
	n := len(w.Samples) / ch
	chans := make([][]float32, ch)
	for c := range chans {
		chans[c] = make([]float32, n)
		for i := range chans[c] {
			chans[c][i] = w.Samples[i*ch+c]
		}
	}
	return audio.Downmix(chans), nil
}

// Input is one in-memory clip for Processor.Process.
type Input struct {
	ID     string // Batch.IDs (default "clip<i>")
	Label  Label  // Batch.Labels (LabelNone for inference)
	Frames Frames // an image or a video
	Audio  Wave
	// Mixed is the video of the matching pass (the reference's images_mixed):
	// when any input of a call has one, the batch gets PixelValuesMixed,
	// PixelMaskMixed and MatchingLabels; inputs without one use their own
	// video as a true pair. MixedMatches says Mixed belongs with the audio
	// (label 1); otherwise it is a negative (label 0).
	Mixed        *Frames
	MixedMatches bool
}

// Size is the reference's size dict: {"shortest_edge": s} when ShortestEdge
// is set, else {"height": h, "width": w}.
type Size struct {
	ShortestEdge  int
	Height, Width int
}

// ProcessorOptions are the reference processor's switches. Start from
// DefaultProcessorOptions(cfg), which holds the loader's settings for the model,
// and change what differs.
type ProcessorOptions struct {
	DoResize      bool       // do_resize (true)
	Size          Size       // size: shortest edge max(image_size), so the crop never pads
	Resample      string     // resample: "bilinear" (the default), "bicubic" or "nearest", Pillow's bit for bit
	DoCenterCrop  bool       // do_center_crop (true)
	CropSize      [2]int     // crop_size (height, width): the model's image_size
	DoRescale     bool       // do_rescale (true)
	RescaleFactor float64    // rescale_factor (1/255)
	DoNormalize   bool       // do_normalize (true)
	ImageMean     [3]float32 // image_mean (0.5, 0.5, 0.5)
	ImageStd      [3]float32 // image_std (0.5, 0.5, 0.5)
	// NumFrames: videos with more frames are sampled evenly to this many
	// (video.SampleIndices, as the loader; the reference raises instead).
	NumFrames         int     // num_frames (the config's)
	PatchSize         [2]int  // pixel patch for the pixel mask (the config's image_patch_size)
	SpectrogramLength int     // spectrogram_length: most spectrogram rows kept (the config's)
	SamplingRate      int     // sampling_rate of the feature extractor: 44100 or 16000; other input rates are resampled (44100)
	AudioResampler    string  // resampler of input at other rates: "torchaudio" (the default, "" too; the original TVLT's) or "kaiser"
	PaddingValue      float32 // padding_value of padded spectrogram rows (0)
	// FixedShapes pads frames to NumFrames and audio to SpectrogramLength
	// (whole patches), as LoaderOptions.FixedShapes; default: the batch's longest.
	FixedShapes bool
	MaskPixel   bool  // mask_pixel: draw MAE pixel permutations (PixelIDsShuffle, PixelLenKeep)
	MaskAudio   bool  // mask_audio: draw MAE audio permutations (AudioIDsShuffle, AudioLenKeep)
	Seed        int64 // seeds the permutations: clip i gets the loader's epoch-0 masks of clip index i
}

// DefaultProcessorOptions are the switches the loader uses for cfg
// (ProcessorConfig(cfg), FeatureConfig(cfg)).
func DefaultProcessorOptions(cfg config.Config) ProcessorOptions {
	v, f := ProcessorConfig(cfg), FeatureConfig(cfg)
	return ProcessorOptions{
		DoResize:          true,
		Size:              Size{ShortestEdge: v.ShortestEdge},
		Resample:          "bilinear",
		DoCenterCrop:      true,
		CropSize:          [2]int{v.CropH, v.CropW},
		DoRescale:         true,
		RescaleFactor:     v.RescaleFactor,
		DoNormalize:       true,
		ImageMean:         v.Mean,
		ImageStd:          v.Std,
		NumFrames:         v.NumFrames,
		PatchSize:         v.PatchSize,
		SpectrogramLength: f.SpectrogramLength,
		SamplingRate:      f.SamplingRate,
		AudioResampler:    audio.SincHann.String(),
		PaddingValue:      f.PaddingValue,
	}
}

// Processor turns in-memory clips into batches, like HF's TvltProcessor
// (TvltImageProcessor + TvltFeatureExtractor) plus the loader's padding and
// MAE masks. It is safe for concurrent use.
type Processor struct {
	cfg    config.Config
	opts   ProcessorOptions
	ext    *audio.Extractor
	vid    video.ProcessorConfig // the loader's image pipeline, used when the switches allow
	fast   bool
	filter video.Filter    // the resample filter
	resamp audio.Resampler // the audio resampler
}

// NewProcessor checks cfg and opts and prepares the feature extractor.
func NewProcessor(cfg config.Config, opts ProcessorOptions) (*Processor, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	o := opts
	bad := func(name string, v any, why string) error {
		return fmt.Errorf("data: processor: %s %v: %s", name, v, why)
	}
	filter, err := video.ParseFilter(strings.ToLower(o.Resample))
	if err != nil {
		return nil, bad("resample", fmt.Sprintf("%q", o.Resample), `want "bilinear" (the reference default), "bicubic" or "nearest"`)
	}
	o.Resample = filter.String()
	resamp, err := audio.ParseResampler(o.AudioResampler)
	if err != nil {
		return nil, bad("audio_resampler", fmt.Sprintf("%q", o.AudioResampler), `want "torchaudio" (the default, as the original TVLT) or "kaiser"`)
	}
	o.AudioResampler = resamp.String()
	switch {
	case o.DoResize && o.Size.ShortestEdge < 0:
		return nil, bad("size.shortest_edge", o.Size.ShortestEdge, "must be positive")
	case o.DoResize && o.Size.ShortestEdge == 0 && (o.Size.Height <= 0 || o.Size.Width <= 0):
		return nil, bad("size", fmt.Sprintf("%+v", o.Size), "needs shortest_edge or a positive height and width")
	case o.DoCenterCrop && (o.CropSize[0] <= 0 || o.CropSize[1] <= 0):
		return nil, bad("crop_size", o.CropSize, "must be positive")
	case o.DoRescale && !(o.RescaleFactor > 0) || math.IsInf(o.RescaleFactor, 0):
		return nil, bad("rescale_factor", o.RescaleFactor, "must be positive and finite")
	case o.NumFrames < 1:
		return nil, bad("num_frames", o.NumFrames, "must be at least 1")
	case o.PatchSize[0] <= 0 || o.PatchSize[1] <= 0:
		return nil, bad("patch_size", o.PatchSize, "must be positive")
	case o.SpectrogramLength < 1:
		return nil, bad("spectrogram_length", o.SpectrogramLength, "must be at least 1")
	case o.SamplingRate != 44100 && o.SamplingRate != 16000:
		return nil, bad("sampling_rate", o.SamplingRate, "the reference supports 16000 and 44100 (input at other rates is resampled to this one)")
	case o.FixedShapes && o.NumFrames > cfg.NumFrames:
		return nil, bad("num_frames", o.NumFrames, fmt.Sprintf("FixedShapes pads to num_frames, above the model's %d", cfg.NumFrames))
	}
	if o.DoNormalize {
		for c, s := range o.ImageStd {
			if s == 0 || math.IsNaN(float64(s)) {
				return nil, bad("image_std", o.ImageStd, fmt.Sprintf("channel %d is %v", c, s))
			}
		}
	}
	fc := FeatureConfig(cfg)
	fc.SpectrogramLength = o.SpectrogramLength
	fc.SamplingRate = o.SamplingRate
	fc.PaddingValue = o.PaddingValue
	ext, err := audio.NewExtractor(fc)
	if err != nil {
		return nil, fmt.Errorf("data: processor: %w", err)
	}
	p := &Processor{cfg: cfg, opts: o, ext: ext, filter: filter, resamp: resamp}
	p.vid = video.ProcessorConfig{
		ShortestEdge: o.Size.ShortestEdge, CropH: o.CropSize[0], CropW: o.CropSize[1],
		PatchSize: o.PatchSize, Mean: o.ImageMean, Std: o.ImageStd, RescaleFactor: o.RescaleFactor,
	}
	p.fast = filter == video.Bilinear && o.DoResize && o.Size.ShortestEdge > 0 && o.DoCenterCrop && o.DoRescale && o.DoNormalize && p.vid.Validate() == nil
	return p, nil
}

// Options returns the switches in use; Config the model config.
func (p *Processor) Options() ProcessorOptions { return p.opts }

// Config returns the model config the processor was built for.
func (p *Processor) Config() config.Config { return p.cfg }

// Extractor returns the feature extractor (at Options().SamplingRate).
func (p *Processor) Extractor() *audio.Extractor { return p.ext }

// FrameSize is the processed frame size for an input of h × w pixels.
func (p *Processor) FrameSize(h, w int) (oh, ow int) {
	oh, ow = h, w
	if p.opts.DoResize {
		if p.opts.Size.ShortestEdge > 0 {
			oh, ow = video.ProcessorConfig{ShortestEdge: p.opts.Size.ShortestEdge}.ResizeShape(h, w)
		} else {
			oh, ow = p.opts.Size.Height, p.opts.Size.Width
		}
	}
	if p.opts.DoCenterCrop {
		oh, ow = p.opts.CropSize[0], p.opts.CropSize[1]
	}
	return oh, ow
}

// Video processes one image or video: (frames, 3, H, W) channel-first values,
// frames = min(N, NumFrames) (longer videos are sampled evenly).
func (p *Processor) Video(f Frames) (values []float32, frames, h, w int, err error) {
	if err := f.check("frames"); err != nil {
		return nil, 0, 0, 0, err
	}
	idx := video.SampleIndices(f.N, p.opts.NumFrames)
	h, w = p.FrameSize(f.H, f.W)
	if h <= 0 || w <= 0 {
		return nil, 0, 0, 0, fmt.Errorf("frames %dx%d resize to %dx%d", f.H, f.W, h, w)
	}
	per := 3 * h * w
	values = make([]float32, len(idx)*per)
	if p.fast && f.U8 != nil || p.fast && integral255(f.F32) {
		vf := make([]video.Frame, len(idx))
		for k, i := range idx {
			u8, f32 := f.hwc(i)
			if u8 == nil {
				u8 = make([]uint8, len(f32))
				for j, v := range f32 {
					u8[j] = uint8(v)
				}
			}
			vf[k] = video.Frame{H: f.H, W: f.W, Pix: u8}
		}
		v, _, err := p.vid.Video(vf, 0)
		if err != nil {
			return nil, 0, 0, 0, err
		}
		return v, len(idx), h, w, nil
	}
	for k, i := range idx {
		u8, f32 := f.hwc(i)
		if err := p.frame(values[k*per:(k+1)*per], u8, f32, f.H, f.W, h, w); err != nil {
			return nil, 0, 0, 0, fmt.Errorf("frame %d: %w", i, err)
		}
	}
	return values, len(idx), h, w, nil
}

// integral255 is the reference's test for float frames PIL can take as they
// are: numpy.allclose(x, x.astype(int)) and 0 <= x <= 255.
func integral255(v []float32) bool {
	if v == nil {
		return false
	}
	for _, x := range v {
		t := math.Trunc(float64(x))
		if math.Abs(float64(x)-t) > 1e-8+1e-5*math.Abs(t) || x < 0 || x > 255 {
			return false
		}
	}
	return true
}

// frame is the reference's _preprocess_image on one HWC frame (u8 or f32),
// written channel-first into out (3, oh, ow): resize (Pillow bilinear on
// bytes), center crop (zero padding), rescale (float64 product cast to
// float32), normalize (float32).
func (p *Processor) frame(out []float32, u8 []uint8, f32 []float32, h, w, oh, ow int) error {
	o := p.opts
	if o.DoResize {
		rh, rw := h, w
		if o.Size.ShortestEdge > 0 {
			rh, rw = video.ProcessorConfig{ShortestEdge: o.Size.ShortestEdge}.ResizeShape(h, w)
		} else {
			rh, rw = o.Size.Height, o.Size.Width
		}
		unit := false // frames in [0, 1]: scaled to bytes for PIL and back
		if u8 == nil {
			u8 = make([]uint8, len(f32))
			switch {
			case integral255(f32):
				for i, v := range f32 {
					u8[i] = uint8(v)
				}
			default:
				for i, v := range f32 {
					if v < 0 || v > 1 {
						return fmt.Errorf("float values must be 0..255 integers or lie in [0, 1] to be resized (as the reference's PIL conversion), got %v", v)
					}
					u8[i] = uint8(float32(float64(v) * 255))
				}
				unit = true
			}
		}
		r := video.Resize(video.Frame{H: h, W: w, Pix: u8}, rh, rw, p.filter)
		if r.H == 0 {
			return fmt.Errorf("cannot resize %dx%d to %dx%d", h, w, rh, rw)
		}
		u8, f32, h, w = r.Pix, nil, rh, rw
		if unit {
			f32 = make([]float32, len(u8))
			for i, v := range u8 {
				f32[i] = float32(float64(v) * (1.0 / 255))
			}
			u8 = nil
		}
	}
	at := func(i int) float64 {
		if u8 != nil {
			return float64(u8[i])
		}
		return float64(f32[i])
	}
	srcY, dstY, hN, srcX, dstX, wN := 0, 0, h, 0, 0, w
	if o.DoCenterCrop {
		srcY, dstY, hN = cropSpan(h, oh)
		srcX, dstX, wN = cropSpan(w, ow)
	}
	plane := oh * ow
	for c := 0; c < 3; c++ {
		pl := out[c*plane : (c+1)*plane]
		conv := func(x float64) float32 {
			v := float32(x)
			if o.DoRescale {
				v = float32(x * o.RescaleFactor)
			}
			if o.DoNormalize {
				v = (v - o.ImageMean[c]) / o.ImageStd[c]
			}
			return v
		}
		if hN != oh || wN != ow {
			zero := conv(0)
			for i := range pl {
				pl[i] = zero
			}
		}
		for y := 0; y < hN; y++ {
			for x := 0; x < wN; x++ {
				pl[(dstY+y)*ow+dstX+x] = conv(at(((srcY+y)*w+srcX+x)*3 + c))
			}
		}
	}
	return nil
}

// cropSpan is HF's center_crop along one axis: the source offset, the
// destination offset and the length copied (zero padding when size < crop).
func cropSpan(size, crop int) (src, dst, n int) {
	if size >= crop {
		return (size - crop) / 2, 0, crop
	}
	return 0, (crop - size + 1) / 2, size
}

// Features turns a waveform into spectrogram rows (time-major, FrequencyLength
// per row): channels averaged, resampled to SamplingRate with AudioResampler,
// then the loader's checked feature extraction.
func (p *Processor) Features(w Wave) (feat []float32, rows int, err error) {
	mono, err := w.mono()
	if err != nil {
		return nil, 0, err
	}
	if w.Rate != p.opts.SamplingRate {
		mono = audio.ResampleWith(mono, w.Rate, p.opts.SamplingRate, p.resamp)
	}
	ap, err := (&sampleLoader{ext: p.ext}).features(mono)
	if err != nil {
		return nil, 0, err
	}
	return ap.feat, ap.rows, nil
}

// Process turns clips into one batch: frames processed with the image
// switches, audio with the feature extractor, padded to the batch's longest
// clip (or FixedShapes), with pixel/audio masks, labels, the matching pass
// when an input has Mixed frames, and MAE permutations with MaskPixel /
// MaskAudio. Batch.Indices are the positions in clips. All processed frames
// must have one size (the crop makes sure of that).
func (p *Processor) Process(clips ...Input) (*Batch, error) {
	if len(clips) == 0 {
		return nil, errors.New("data: processor: no clips")
	}
	samples := make([]*Sample, len(clips))
	var mix []*Sample
	H, W := -1, -1
	size := func(j int, what string, h, w int) error {
		if H < 0 {
			H, W = h, w
		}
		if h != H || w != W {
			return fmt.Errorf("data: processor: clip %d: %s processed to %dx%d but clip 0's to %dx%d; frames of one batch need one size (use do_center_crop or a fixed size)", j, what, h, w, H, W)
		}
		return nil
	}
	for j, in := range clips {
		id := in.ID
		if id == "" {
			id = fmt.Sprintf("clip%d", j)
		}
		pix, n, h, w, err := p.Video(in.Frames)
		if err != nil {
			return nil, fmt.Errorf("data: processor: clip %d (%s): %w", j, id, err)
		}
		if err := size(j, "frames", h, w); err != nil {
			return nil, err
		}
		feat, rows, err := p.Features(in.Audio)
		if err != nil {
			return nil, fmt.Errorf("data: processor: clip %d (%s): %w", j, id, err)
		}
		samples[j] = &Sample{Index: j, ID: id, Label: in.Label, NumFrames: n, Pixels: pix, AudioFrames: rows, Audio: feat}
		if in.Mixed != nil {
			if mix == nil {
				mix = make([]*Sample, len(clips))
			}
			mp, mn, mh, mw, err := p.Video(*in.Mixed)
			if err != nil {
				return nil, fmt.Errorf("data: processor: clip %d (%s): mixed %w", j, id, err)
			}
			if err := size(j, "mixed frames", mh, mw); err != nil {
				return nil, err
			}
			mix[j] = &Sample{Index: -1, NumFrames: mn, Pixels: mp}
			if in.MixedMatches {
				mix[j].Index = j
			}
		}
	}
	c := p.cfg
	spec := batchSpec{
		H: H, W: W, ppf: (H / p.opts.PatchSize[0]) * (W / p.opts.PatchSize[1]),
		F: c.FrequencyLength, pT: c.AudioPatchSize[0], fp: c.FreqPatches(),
		audioPad: p.opts.PaddingValue,
	}
	spec.maxT, spec.maxTP = p.opts.NumFrames, (p.opts.SpectrogramLength+spec.pT-1)/spec.pT
	if p.opts.FixedShapes {
		spec.pad = Padding{Mode: PadMax}
	}
	b := spec.stack(samples, mix)
	if mix != nil {
		b.Partners = make([]int, len(samples))
		for j := range samples {
			b.Partners[j] = j
			if mix[j] != nil {
				b.Partners[j] = mix[j].Index
				b.MatchingLabels[j] = 0
				if mix[j].Index == j {
					b.MatchingLabels[j] = 1
				}
			}
		}
	}
	drawMasks(c, b, p.opts.MaskPixel, p.opts.MaskAudio, false, func(j int, stream uint64) *rand.Rand {
		return clipRNG(p.opts.Seed, stream, 0, j)
	})
	return b, nil
}

// clipRNG is the random source of one clip's choice: a PCG keyed by
// (seed, stream) and (epoch, clip index), independent of scheduling.
func clipRNG(seed int64, stream uint64, epoch, idx int) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix(uint64(seed)^splitmix(stream)), splitmix(uint64(epoch)<<32^uint64(uint32(idx)))))
}
