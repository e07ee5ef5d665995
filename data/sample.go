package data

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tvlt-go/tvlt/config"
	"github.com/tvlt-go/tvlt/data/audio"
	"github.com/tvlt-go/tvlt/data/video"
)

// checkConfig reports the first model size the loader cannot build batches
// for: the config's own checks plus what the decoders support.
func checkConfig(c config.Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if c.NumImageChannels != 3 {
		return fmt.Errorf("data: config: num_image_channels %d: frames are decoded as RGB, so 3 is the only supported value", c.NumImageChannels)
	}
	if c.NumAudioChannels != 1 {
		return fmt.Errorf("data: config: num_audio_channels %d: audio is mixed to mono, so 1 is the only supported value", c.NumAudioChannels)
	}
	return nil
}

// ProcessorConfig is the image-processor setting matching the model:
// shortest edge max(H, W) so the center crop never needs padding, crop H x W.
func ProcessorConfig(c config.Config) video.ProcessorConfig {
	p := video.DefaultProcessorConfig()
	p.ShortestEdge = max(c.ImageSize[0], c.ImageSize[1])
	p.CropH, p.CropW = c.ImageSize[0], c.ImageSize[1]
	p.PatchSize = c.ImagePatchSize
	p.NumFrames = c.NumFrames
	return p
}

// FeatureConfig is the feature-extractor setting matching the model (at
// the extractor's default 44.1 kHz sampling rate).
func FeatureConfig(c config.Config) audio.FeatureConfig {
	f := audio.DefaultFeatureConfig()
	f.SpectrogramLength = c.SpectrogramLength
	f.FeatureSize = c.FrequencyLength
	f.PatchSize = c.AudioPatchSize
	f.NumChannels = c.NumAudioChannels
	return f
}

// Sample is one decoded clip before batching: unpadded frames and spectrogram rows.
type Sample struct {
	Index       int // position in the loader's clip list
	ID          string
	Label       Label
	NumFrames   int       // real frames (<= num_frames)
	Pixels      []float32 // (NumFrames, 3, ImageH, ImageW)
	AudioFrames int       // spectrogram rows (<= spectrogram_length)
	Audio       []float32 // (AudioFrames, FrequencyLength), time-major
}

// Decoders are the file readers the loader calls. Zero fields use data/video and
// data/audio; tests inject counting or failing wrappers.
type Decoders struct {
	DecodeVideo  func(path string, numFrames, audioRate int, wantAudio bool) ([]video.Frame, []float32, error)
	ReadFrameDir func(dir string) ([]video.Frame, error)
	LoadAudio    func(path string, rate int) ([]float32, error)
	// DecodeVideoSegment and LoadAudioSegment replace DecodeVideo and LoadAudio for
	// clips with start/end (Clip.IsSegment); end 0 is the end of the file.
	DecodeVideoSegment func(path string, start, end float64, numFrames, audioRate int, wantAudio bool) ([]video.Frame, []float32, error)
	LoadAudioSegment   func(path string, rate int, start, end float64) ([]float32, error)
}

func (d Decoders) withDefaults(r audio.Resampler) Decoders {
	// A video's audio track is resampled like a WAV file's, with r.
	resample := func(x []float32, from, to int) []float32 { return audio.ResampleWith(x, from, to, r) }
	if d.DecodeVideo == nil {
		d.DecodeVideo = func(p string, numFrames, rate int, want bool) ([]video.Frame, []float32, error) {
			return video.DecodeResampled(p, numFrames, rate, want, resample)
		}
	}
	if d.ReadFrameDir == nil {
		d.ReadFrameDir = video.ReadFrameDir
	}
	if d.LoadAudio == nil {
		d.LoadAudio = func(p string, rate int) ([]float32, error) { return audio.LoadMonoWith(p, rate, r) }
	}
	if d.DecodeVideoSegment == nil {
		d.DecodeVideoSegment = func(p string, start, end float64, numFrames, rate int, want bool) ([]video.Frame, []float32, error) {
			return video.DecodeSegmentResampled(p, start, end, numFrames, rate, want, resample)
		}
	}
	if d.LoadAudioSegment == nil {
		d.LoadAudioSegment = func(p string, rate int, start, end float64) ([]float32, error) {
			return audio.LoadMonoSegmentWith(p, rate, start, end, r)
		}
	}
	return d
}

// decodeVideo decodes the clip's video file, or its segment.
func (d Decoders) decodeVideo(c Clip, numFrames, audioRate int, wantAudio bool) ([]video.Frame, []float32, error) {
	if c.IsSegment() {
		return d.DecodeVideoSegment(c.Video, c.Start, c.End, numFrames, audioRate, wantAudio)
	}
	return d.DecodeVideo(c.Video, numFrames, audioRate, wantAudio)
}

// loadAudio reads the clip's audio file, or its segment.
func (d Decoders) loadAudio(c Clip, rate int) ([]float32, error) {
	if c.IsSegment() {
		return d.LoadAudioSegment(c.Audio, rate, c.Start, c.End)
	}
	return d.LoadAudio(c.Audio, rate)
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
	cfg   config.Config
	proc  video.ProcessorConfig
	ext   *audio.Extractor
	dec   Decoders
	cache *featureCache // nil without CacheDir
}

func newSampleLoader(cfg config.Config, dec Decoders, r audio.Resampler, cacheDir string) (*sampleLoader, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	proc := ProcessorConfig(cfg)
	if err := proc.Validate(); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	ext, err := audio.NewExtractor(FeatureConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	sl := &sampleLoader{cfg: cfg, proc: proc, ext: ext, dec: dec.withDefaults(r)}
	if cacheDir != "" {
		sl.cache, err = newFeatureCache(cacheDir, cfg, proc, ext.Config(), r)
		if err != nil {
			return nil, err
		}
	}
	return sl, nil
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
	if c.IsSegment() && c.Frames != "" {
		return nil, clipError(c, c.Frames, errors.New("start/end need a video or audio file to cut; a frame folder has no timestamps"))
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
			vp = sl.cache.getVideo(vKey, sl.cfg)
			if withAudio {
				ap = sl.cache.getAudio(aKey, sl.cfg)
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
			frames, trackWave, err = sl.dec.decodeVideo(c, sl.cfg.NumFrames, sl.ext.Config().SamplingRate, wantAudio)
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
			if idx := video.SampleIndices(len(frames), sl.cfg.NumFrames); len(idx) < len(frames) {
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
		if want := n * 3 * sl.cfg.ImageSize[0] * sl.cfg.ImageSize[1]; len(pix) != want {
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
				_, wave, err = sl.dec.decodeVideo(c, sl.cfg.NumFrames, sl.ext.Config().SamplingRate, true)
				if err != nil {
					if errors.Is(err, video.ErrNoAudio) {
						return nil, clipError(c, c.Video, fmt.Errorf("no \"audio\" file in the manifest and the video has no audio track: %w", err))
					}
					return nil, clipError(c, c.Video, err)
				}
			}
		} else {
			var err error
			wave, err = sl.dec.loadAudio(c, sl.ext.Config().SamplingRate)
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
