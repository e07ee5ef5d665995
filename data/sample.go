package data

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/data/video"
)

// Shapes are the model sizes the loader needs (filled from the model config by the trainer; data must not import layers).
type Shapes struct {
	NumFrames, ImageH, ImageW int
	PatchH, PatchW            int
	Channels                  int
	SpectrogramLength         int
	FrequencyLength           int
	AudioPatchT, AudioPatchF  int
	PixelMaskRatio            float64
	AudioMaskRatio            float64
	AudioMaskType             string // "frame-level" | "patch-level" ("patch_level" and "" are accepted too)
	SamplingRate              int
}

// DefaultShapes are the TVLT base config's sizes (224x224, 8 frames, 2048 x 128 spectrogram).
func DefaultShapes() Shapes {
	return Shapes{
		NumFrames: 8, ImageH: 224, ImageW: 224, PatchH: 16, PatchW: 16, Channels: 3,
		SpectrogramLength: 2048, FrequencyLength: 128, AudioPatchT: 16, AudioPatchF: 16,
		PixelMaskRatio: 0.75, AudioMaskRatio: 0.15, AudioMaskType: "frame-level", SamplingRate: 44100,
	}
}

// Validate reports the first size the loader cannot build batches for.
func (s Shapes) Validate() error {
	switch {
	case s.NumFrames <= 0:
		return fmt.Errorf("data: shapes: NumFrames %d must be positive", s.NumFrames)
	case s.ImageH <= 0 || s.ImageW <= 0 || s.PatchH <= 0 || s.PatchW <= 0:
		return fmt.Errorf("data: shapes: image %dx%d / patch %dx%d must be positive", s.ImageH, s.ImageW, s.PatchH, s.PatchW)
	case s.ImageH%s.PatchH != 0 || s.ImageW%s.PatchW != 0:
		return fmt.Errorf("data: shapes: image %dx%d is not a multiple of the patch %dx%d", s.ImageH, s.ImageW, s.PatchH, s.PatchW)
	case s.Channels != 3:
		return fmt.Errorf("data: shapes: Channels %d: frames are decoded as RGB, so 3 is the only supported value", s.Channels)
	case s.SpectrogramLength <= 0 || s.FrequencyLength <= 0 || s.AudioPatchT <= 0 || s.AudioPatchF <= 0:
		return fmt.Errorf("data: shapes: spectrogram %dx%d / audio patch %dx%d must be positive", s.SpectrogramLength, s.FrequencyLength, s.AudioPatchT, s.AudioPatchF)
	case s.SpectrogramLength%s.AudioPatchT != 0 || s.FrequencyLength%s.AudioPatchF != 0:
		return fmt.Errorf("data: shapes: spectrogram %dx%d is not a multiple of the audio patch %dx%d", s.SpectrogramLength, s.FrequencyLength, s.AudioPatchT, s.AudioPatchF)
	case s.SamplingRate <= 0:
		return fmt.Errorf("data: shapes: SamplingRate %d must be positive", s.SamplingRate)
	case s.PixelMaskRatio < 0 || s.PixelMaskRatio >= 1 || s.AudioMaskRatio < 0 || s.AudioMaskRatio >= 1:
		return fmt.Errorf("data: shapes: mask ratios %v/%v must lie in [0, 1)", s.PixelMaskRatio, s.AudioMaskRatio)
	}
	if _, err := s.audioMaskGroup(); err != nil {
		return err
	}
	return nil
}

// audioMaskGroup is the MaskIndices group for the audio mask type: all frequency
// patches of a time step share one noise value in frame-level masking.
func (s Shapes) audioMaskGroup() (int, error) {
	switch s.AudioMaskType {
	case "", "frame-level", "frame_level":
		return s.FrequencyLength / s.AudioPatchF, nil
	case "patch-level", "patch_level":
		return 1, nil
	}
	return 0, fmt.Errorf("data: shapes: unknown AudioMaskType %q (want frame-level or patch-level)", s.AudioMaskType)
}

// PatchesPerFrame is the number of pixel tokens per frame.
func (s Shapes) PatchesPerFrame() int { return (s.ImageH / s.PatchH) * (s.ImageW / s.PatchW) }

// FreqPatches is the number of audio tokens per time patch.
func (s Shapes) FreqPatches() int { return s.FrequencyLength / s.AudioPatchF }

// Processor is the image-processor setting matching the model: shortest edge
// max(H, W) so the center crop never needs padding, crop H x W.
func (s Shapes) Processor() video.ProcessorConfig {
	p := video.DefaultProcessorConfig()
	p.ShortestEdge = max(s.ImageH, s.ImageW)
	p.CropH, p.CropW = s.ImageH, s.ImageW
	p.PatchSize = [2]int{s.PatchH, s.PatchW}
	p.NumFrames = s.NumFrames
	return p
}

// FeatureConfig is the feature-extractor setting matching the model.
func (s Shapes) FeatureConfig() audio.FeatureConfig {
	c := audio.DefaultFeatureConfig()
	c.SpectrogramLength = s.SpectrogramLength
	c.FeatureSize = s.FrequencyLength
	c.PatchSize = [2]int{s.AudioPatchT, s.AudioPatchF}
	c.NumChannels = 1
	c.SamplingRate = s.SamplingRate
	return c
}

// Sample is one decoded clip before batching: unpadded frames and spectrogram rows.
type Sample struct {
	Index       int // position in the loader's clip list
	ID          string
	Label       Label
	NumFrames   int       // real frames (<= Shapes.NumFrames)
	Pixels      []float32 // (NumFrames, 3, ImageH, ImageW)
	AudioFrames int       // spectrogram rows (<= Shapes.SpectrogramLength)
	Audio       []float32 // (AudioFrames, FrequencyLength), time-major
}

// Decoders are the file readers the loader calls. Zero fields use data/video and
// data/audio; tests inject counting or failing wrappers.
type Decoders struct {
	DecodeVideo  func(path string, numFrames, audioRate int, wantAudio bool) ([]video.Frame, []float32, error)
	ReadFrameDir func(dir string) ([]video.Frame, error)
	LoadAudio    func(path string, rate int) ([]float32, error)
}

func (d Decoders) withDefaults() Decoders {
	if d.DecodeVideo == nil {
		d.DecodeVideo = video.Decode
	}
	if d.ReadFrameDir == nil {
		d.ReadFrameDir = video.ReadFrameDir
	}
	if d.LoadAudio == nil {
		d.LoadAudio = audio.LoadMono
	}
	return d
}

// SampleError is a failure to load one clip; Error names the manifest line, the file
// and the reason. The loader's SkipBad summary is built from it.
type SampleError struct {
	Where string // "manifest.jsonl:12" or `clip "id"`
	ID    string
	File  string // the file or folder that failed ("" if no single file is to blame)
	Err   error
}

// Error mentions the file only when the wrapped error does not already.
func (e *SampleError) Error() string {
	msg := e.Err.Error()
	if e.File != "" && !strings.Contains(msg, e.File) {
		return fmt.Sprintf("data: %s: %s: %s", e.Where, e.File, msg)
	}
	return fmt.Sprintf("data: %s: %s", e.Where, msg)
}

// Unwrap exposes the cause (e.g. video.ErrNoAudio, video.ErrFFmpegMissing).
func (e *SampleError) Unwrap() error { return e.Err }

func clipError(c Clip, file string, err error) error {
	return &SampleError{Where: c.where(), ID: c.ID, File: file, Err: err}
}

// sampleLoader decodes clips for one loader; it is safe for concurrent use.
type sampleLoader struct {
	shapes Shapes
	proc   video.ProcessorConfig
	ext    *audio.Extractor
	dec    Decoders
	cache  *featureCache // nil without CacheDir
}

func newSampleLoader(shapes Shapes, dec Decoders, cacheDir string) (*sampleLoader, error) {
	if err := shapes.Validate(); err != nil {
		return nil, err
	}
	proc := shapes.Processor()
	if err := proc.Validate(); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	ext, err := audio.NewExtractor(shapes.FeatureConfig())
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	sl := &sampleLoader{shapes: shapes, proc: proc, ext: ext, dec: dec.withDefaults()}
	if cacheDir != "" {
		sl.cache, err = newFeatureCache(cacheDir, shapes, proc, shapes.FeatureConfig())
		if err != nil {
			return nil, err
		}
	}
	return sl, nil
}

// LoadSample decodes one clip with the default decoders and no cache — what a
// prediction command needs for a single file.
func LoadSample(c Clip, shapes Shapes) (*Sample, error) {
	sl, err := newSampleLoader(shapes, Decoders{}, "")
	if err != nil {
		return nil, err
	}
	return sl.load(c, true)
}

// videoPart is the processed frames of one clip.
type videoPart struct {
	frames int
	pixels []float32
}

// audioPart is the spectrogram of one clip.
type audioPart struct {
	rows int
	feat []float32
}

// load decodes a clip's video and, if withAudio, its audio. Cached parts are reused;
// a video file is decoded at most once per call even when it supplies both parts.
func (sl *sampleLoader) load(c Clip, withAudio bool) (*Sample, error) {
	if c.Video == "" && c.Frames == "" {
		return nil, clipError(c, c.Audio, errors.New("no \"video\" or \"frames\"; TVLT needs both modalities"))
	}
	audioFromTrack := c.Audio == "" && c.Video != ""
	if withAudio && c.Audio == "" && c.Video == "" {
		return nil, clipError(c, c.Frames, errors.New("frame folder without an \"audio\" file; no audio to pair with"))
	}
	var (
		vp      *videoPart
		ap      *audioPart
		vKey    string
		aKey    string
		keysErr error
	)
	if sl.cache != nil {
		vKey, aKey, keysErr = sl.cache.keys(c)
		if keysErr == nil {
			vp = sl.cache.getVideo(vKey, sl.shapes)
			if withAudio {
				ap = sl.cache.getAudio(aKey, sl.shapes)
			}
		}
	}
	var trackWave []float32
	if vp == nil {
		var frames []video.Frame
		var err error
		src := c.Frames
		if c.Video != "" {
			src = c.Video
			wantAudio := withAudio && audioFromTrack && ap == nil
			frames, trackWave, err = sl.dec.DecodeVideo(c.Video, sl.shapes.NumFrames, sl.shapes.SamplingRate, wantAudio)
			if err == nil && wantAudio && trackWave == nil {
				err = video.ErrNoAudio
			}
			if err != nil {
				if errors.Is(err, video.ErrNoAudio) {
					return nil, clipError(c, c.Video, fmt.Errorf("no \"audio\" file in the manifest and the video has no audio track: %w", err))
				}
				return nil, clipError(c, c.Video, err)
			}
		} else {
			frames, err = sl.dec.ReadFrameDir(c.Frames)
			if err != nil {
				return nil, clipError(c, c.Frames, err)
			}
			if idx := video.SampleIndices(len(frames), sl.shapes.NumFrames); len(idx) < len(frames) {
				sel := make([]video.Frame, len(idx))
				for i, j := range idx {
					sel[i] = frames[j]
				}
				frames = sel
			}
		}
		if len(frames) == 0 {
			return nil, clipError(c, src, errors.New("no frames decoded"))
		}
		pix, _, err := sl.proc.Video(frames, 0)
		if err != nil {
			return nil, clipError(c, src, err)
		}
		n := len(frames)
		if want := n * 3 * sl.shapes.ImageH * sl.shapes.ImageW; len(pix) != want {
			return nil, clipError(c, src, fmt.Errorf("processed frames have %d values, want %d", len(pix), want))
		}
		vp = &videoPart{frames: n, pixels: pix}
		if sl.cache != nil && keysErr == nil {
			sl.cache.putVideo(vKey, vp)
		}
	}
	s := &Sample{ID: c.ID, Label: c.Label, NumFrames: vp.frames, Pixels: vp.pixels}
	if !withAudio {
		return s, nil
	}
	if ap == nil {
		src := c.Audio
		wave := trackWave
		if audioFromTrack {
			src = c.Video
			if wave == nil {
				var err error
				_, wave, err = sl.dec.DecodeVideo(c.Video, sl.shapes.NumFrames, sl.shapes.SamplingRate, true)
				if err != nil {
					if errors.Is(err, video.ErrNoAudio) {
						return nil, clipError(c, c.Video, fmt.Errorf("no \"audio\" file in the manifest and the video has no audio track: %w", err))
					}
					return nil, clipError(c, c.Video, err)
				}
			}
		} else {
			var err error
			wave, err = sl.dec.LoadAudio(c.Audio, sl.shapes.SamplingRate)
			if err != nil {
				return nil, clipError(c, c.Audio, err)
			}
		}
		var err error
		ap, err = sl.features(wave)
		if err != nil {
			return nil, clipError(c, src, err)
		}
		if sl.cache != nil && keysErr == nil {
			sl.cache.putAudio(aKey, ap)
		}
	}
	s.AudioFrames, s.Audio = ap.rows, ap.feat
	return s, nil
}

// features checks the waveform and spectrogram for values that would silently poison training.
func (sl *sampleLoader) features(wave []float32) (*audioPart, error) {
	if len(wave) == 0 {
		return nil, errors.New("audio has no samples")
	}
	for i, v := range wave {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("audio sample %d is %v", i, v)
		}
	}
	feat, rows, err := sl.ext.Features(wave)
	if err != nil {
		return nil, err
	}
	if rows <= 0 {
		return nil, fmt.Errorf("audio of %d samples gives no spectrogram frames", len(wave))
	}
	for i, v := range feat {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("audio features: value %d is %v", i, v)
		}
	}
	return &audioPart{rows: rows, feat: feat}, nil
}
