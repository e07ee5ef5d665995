package video

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoAudio marks a video file without an audio stream when audio was
// requested, so loaders can skip or count such clips (errors.Is).
var ErrNoAudio = errors.New("no audio stream")

// ErrFFmpegMissing marks that the ffmpeg/ffprobe programs Decode runs are not
// installed (errors.Is); the wrapping message names the package to install.
var ErrFFmpegMissing = errors.New("ffmpeg not found on PATH")

// DecodeTimeout bounds one Decode call (probe plus decode), so a hung or
// pathological file cannot stall a loader worker forever.
var DecodeTimeout = 5 * time.Minute

// stderrTail is how much of ffmpeg's diagnostics an error message keeps.
const stderrTail = 600

// stream describes the streams of a media file that Decode uses.
type stream struct {
	Width, Height int     // frame size after applying rotation metadata
	Frames        int     // video packets counted by ffprobe (= frames for ordinary files)
	Duration      float64 // seconds, 0 if unknown
	FPS           float64 // average frame rate, 0 if unknown
	HasAudio      bool
	AudioRate     int // native sample rate of the first audio stream
	AudioChannels int
	videoIndex    int      // absolute stream index of the chosen video stream
	audioIndex    int      // absolute stream index of the first audio stream, -1 if none
	timeBase      [2]int64 // video stream time base (num, den), {0, 0} if unknown
	startTime     float64  // the file's start time in seconds (ffmpeg's -ss is relative to it)
}

// ffprobe's JSON (only the fields used).
type probeJSON struct {
	Streams []struct {
		Index         int    `json:"index"`
		CodecType     string `json:"codec_type"`
		TimeBase      string `json:"time_base"`
		Width         int    `json:"width"`
		Height        int    `json:"height"`
		NbFrames      string `json:"nb_frames"`
		NbReadPackets string `json:"nb_read_packets"`
		AvgFrameRate  string `json:"avg_frame_rate"`
		Duration      string `json:"duration"`
		SampleRate    string `json:"sample_rate"`
		Channels      int    `json:"channels"`
		Disposition   struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
		Tags struct {
			Rotate string `json:"rotate"`
		} `json:"tags"`
		SideDataList []struct {
			Rotation *float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		Duration  string `json:"duration"`
		StartTime string `json:"start_time"`
	} `json:"format"`
}

// tools returns the ffmpeg and ffprobe executables or an ErrFFmpegMissing
// error telling the user what to install.
func tools() (ffmpeg, ffprobe string, err error) {
	ffmpeg, err1 := exec.LookPath("ffmpeg")
	ffprobe, err2 := exec.LookPath("ffprobe")
	if err1 != nil || err2 != nil {
		return "", "", fmt.Errorf("video: %w: decoding video files needs the ffmpeg and ffprobe programs; install them with `apt-get install ffmpeg` (Debian/Ubuntu package \"ffmpeg\"; Homebrew: brew install ffmpeg), or use frame folders + WAV files instead", ErrFFmpegMissing)
	}
	return ffmpeg, ffprobe, nil
}

// inputURL keeps ffmpeg from reading a path that starts with '-' or
// contains ':' as an option or a protocol.
func inputURL(path string) string { return "file:" + path }

// tail returns the last stderrTail bytes of ffmpeg's stderr, trimmed.
func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > stderrTail {
		s = "..." + s[len(s)-stderrTail:]
	}
	if s == "" {
		return "(no message)"
	}
	return s
}

// probe runs ffprobe on a file and reports its video/audio streams. The
// frame count comes from counting packets (demuxing only, no decoding), which
// works for containers that do not store a frame count (webm, mkv); without
// countPackets (segments, which count their own frames) it is the header's.
func probe(ctx context.Context, ffprobe, path string) (*stream, error) {
	return probeFile(ctx, ffprobe, path, true)
}

func probeFile(ctx context.Context, ffprobe, path string, countPackets bool) (*stream, error) {
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("video: %w", err)
	} else if st.IsDir() {
		return nil, fmt.Errorf("video: %s is a directory, not a video file", path)
	}
	args := []string{"-v", "error", "-print_format", "json", "-show_streams", "-show_format"}
	if countPackets {
		args = append(args, "-count_packets")
	}
	cmd := exec.CommandContext(ctx, ffprobe, append(args, inputURL(path))...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("video: %s: ffprobe timed out: %w", path, ctx.Err())
		}
		return nil, fmt.Errorf("video: %s: not a readable media file (ffprobe: %v): %s", path, err, tail(stderr.Bytes()))
	}
	var pj probeJSON
	if err := json.Unmarshal(stdout.Bytes(), &pj); err != nil {
		return nil, fmt.Errorf("video: %s: cannot parse ffprobe output: %w", path, err)
	}
	s := &stream{videoIndex: -1, audioIndex: -1}
	for _, st := range pj.Streams {
		switch st.CodecType {
		case "video":
			// Cover art in audio files shows up as a one-frame video stream.
			if s.videoIndex >= 0 || st.Disposition.AttachedPic != 0 {
				continue
			}
			s.videoIndex = st.Index
			s.Width, s.Height = st.Width, st.Height
			rot := 0.0
			if r, err := strconv.ParseFloat(st.Tags.Rotate, 64); err == nil {
				rot = r
			}
			for _, sd := range st.SideDataList {
				if sd.Rotation != nil {
					rot = *sd.Rotation
				}
			}
			// ffmpeg auto-rotates; quarter turns swap the output size.
			if q := int(math.Round(rot/90)) % 2; q != 0 {
				s.Width, s.Height = s.Height, s.Width
			}
			s.Frames = atoiOr(st.NbReadPackets, atoiOr(st.NbFrames, 0))
			s.FPS = parseRate(st.AvgFrameRate)
			s.Duration = atofOr(st.Duration, 0)
			if n, d, ok := strings.Cut(st.TimeBase, "/"); ok {
				s.timeBase = [2]int64{int64(atoiOr(n, 0)), int64(atoiOr(d, 0))}
			}
		case "audio":
			if s.audioIndex >= 0 {
				continue
			}
			s.audioIndex = st.Index
			s.HasAudio = true
			s.AudioRate = atoiOr(st.SampleRate, 0)
			s.AudioChannels = st.Channels
		}
	}
	if s.Duration == 0 {
		s.Duration = atofOr(pj.Format.Duration, 0)
	}
	s.startTime = atofOr(pj.Format.StartTime, 0)
	return s, nil
}

func atoiOr(s string, def int) int {
	if v, err := strconv.Atoi(s); err == nil {
		return v
	}
	return def
}

func atofOr(s string, def float64) float64 {
	if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		return v
	}
	return def
}

// parseRate reads ffprobe's "num/den" frame rates.
func parseRate(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		return atofOr(s, 0)
	}
	num, den := atofOr(n, 0), atofOr(d, 0)
	if den == 0 {
		return 0
	}
	return num / den
}

// Decode runs the ffmpeg CLI on a video file: numFrames frames sampled evenly
// over the clip with SampleIndices over its frame count (all frames when the
// clip is shorter or numFrames <= 0), as RGB, plus — if wantAudio — the first
// audio track resampled by ffmpeg to audioRate Hz and averaged over its
// channels (the same mean as a WAV downmix; ffmpeg's own "-ac 1" applies
// −3 dB gains instead). One ffmpeg process decodes both: frames arrive on
// stdout as rgb24, audio on a second pipe as float32 little endian.
// A file without an audio stream gives an error wrapping ErrNoAudio when
// wantAudio is set; a missing ffmpeg gives one wrapping ErrFFmpegMissing.
func Decode(path string, numFrames int, audioRate int, wantAudio bool) (frames []Frame, audio []float32, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), DecodeTimeout)
	defer cancel()
	return DecodeContext(ctx, path, numFrames, audioRate, wantAudio)
}

// DecodeContext is Decode with a caller-controlled context (cancellation,
// deadline); the ffmpeg subprocesses are killed when ctx ends.
func DecodeContext(ctx context.Context, path string, numFrames int, audioRate int, wantAudio bool) (frames []Frame, audio []float32, err error) {
	return decode(ctx, path, nil, numFrames, audioRate, wantAudio, nil)
}

// Resampler converts mono audio from rate `from` to rate `to` (Hz).
type Resampler func(x []float32, from, to int) []float32

// DecodeResampled is Decode whose audio track is decoded at the stream's
// own rate and brought to audioRate by resample instead of ffmpeg's -ar
// (so a video's audio is resampled like a WAV file's: the loader's
// torchaudio-compatible filter). A stream whose rate ffprobe does not
// report is resampled by ffmpeg.
func DecodeResampled(path string, numFrames, audioRate int, wantAudio bool, resample Resampler) (frames []Frame, audio []float32, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), DecodeTimeout)
	defer cancel()
	return decode(ctx, path, nil, numFrames, audioRate, wantAudio, resample)
}

// DecodeSegmentResampled is DecodeSegment with DecodeResampled's audio.
func DecodeSegmentResampled(path string, start, end float64, numFrames, audioRate int, wantAudio bool, resample Resampler) (frames []Frame, audio []float32, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), DecodeTimeout)
	defer cancel()
	return decodeSegment(ctx, path, start, end, numFrames, audioRate, wantAudio, resample)
}

// DecodeSegment is Decode on the part of a file from start to end seconds
// (end <= 0: to the end of the file), as if that part were a file of its
// own: the frames sampled are frame ⌊i·N/n⌋ of the N frames whose
// timestamps t satisfy start <= t < end (measured from the file's start, as
// ffmpeg's -ss), and the audio track is cut to the same times. ffmpeg seeks
// to the keyframe before start and decodes from there, so a segment of a
// long file costs about what a file of the segment's length costs. A start
// at or past the end of the file is an error naming the file.
func DecodeSegment(path string, start, end float64, numFrames, audioRate int, wantAudio bool) (frames []Frame, audio []float32, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), DecodeTimeout)
	defer cancel()
	return DecodeSegmentContext(ctx, path, start, end, numFrames, audioRate, wantAudio)
}

// DecodeSegmentContext is DecodeSegment with a caller-controlled context.
func DecodeSegmentContext(ctx context.Context, path string, start, end float64, numFrames, audioRate int, wantAudio bool) (frames []Frame, audio []float32, err error) {
	return decodeSegment(ctx, path, start, end, numFrames, audioRate, wantAudio, nil)
}

func decodeSegment(ctx context.Context, path string, start, end float64, numFrames, audioRate int, wantAudio bool, resample Resampler) (frames []Frame, audio []float32, err error) {
	if math.IsNaN(start) || math.IsInf(start, 0) || start < 0 {
		return nil, nil, fmt.Errorf("video: %s: segment start %v must be a number of seconds >= 0", path, start)
	}
	if math.IsNaN(end) || math.IsInf(end, 0) || (end > 0 && end <= start) {
		return nil, nil, fmt.Errorf("video: %s: segment end %v must be after its start %v", path, end, start)
	}
	return decode(ctx, path, &segment{start: start, end: max(end, 0)}, numFrames, audioRate, wantAudio, resample)
}

// segment is a time range of a file in seconds; end 0 is the end of the file.
type segment struct{ start, end float64 }

func (g segment) String() string {
	if g.end <= 0 {
		return fmt.Sprintf("%gs to the end", g.start)
	}
	return fmt.Sprintf("%gs to %gs", g.start, g.end)
}

// seconds formats a time for ffmpeg's command line (microsecond precision,
// ffmpeg's own time resolution).
func seconds(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }

// countSegmentFrames counts the video packets whose presentation time lies in
// the segment, reading only the part of the file around it. It reproduces
// ffmpeg's selection: -ss START keeps frames at or after START (relative to
// the file's start time), the trim filter drops those at or after END.
func countSegmentFrames(ctx context.Context, ffprobe, path string, s *stream, g segment) (int, error) {
	if s.timeBase[0] <= 0 || s.timeBase[1] <= 0 {
		return 0, fmt.Errorf("video: %s: the video stream has no time base; cannot cut a segment", path)
	}
	// The read interval has margins: ffprobe seeks to the keyframe before its
	// start and stops at the first packet past its end, which with reordered
	// (B-) frames can precede packets inside the segment.
	interval := ""
	if lo := s.startTime + g.start - 1; lo > 0 {
		interval = seconds(lo)
	}
	interval += "%"
	if g.end > 0 {
		interval += seconds(s.startTime + g.end + 2)
	}
	cmd := exec.CommandContext(ctx, ffprobe, "-v", "error", "-select_streams", strconv.Itoa(s.videoIndex),
		"-show_entries", "packet=pts,dts", "-of", "csv=p=0", "-read_intervals", interval, inputURL(path))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("video: %s: ffprobe timed out: %w", path, ctx.Err())
		}
		return 0, fmt.Errorf("video: %s: listing the frames of segment %v (ffprobe: %v): %s", path, g, err, tail(stderr.Bytes()))
	}
	tb := float64(s.timeBase[0]) / float64(s.timeBase[1])
	const eps = 5e-7 // half of ffmpeg's microsecond time resolution
	n := 0
	for _, line := range strings.Split(stdout.String(), "\n") {
		pts, dts, _ := strings.Cut(strings.TrimSpace(line), ",")
		ts, err := strconv.ParseInt(pts, 10, 64)
		if err != nil {
			if ts, err = strconv.ParseInt(dts, 10, 64); err != nil {
				continue // blank line, or a packet without timestamps
			}
		}
		t := float64(ts)*tb - s.startTime
		if t >= g.start-eps && (g.end <= 0 || t < g.end-eps) {
			n++
		}
	}
	return n, nil
}

func decode(ctx context.Context, path string, seg *segment, numFrames int, audioRate int, wantAudio bool, resample Resampler) (frames []Frame, audio []float32, err error) {
	ffmpeg, ffprobe, err := tools()
	if err != nil {
		return nil, nil, err
	}
	if wantAudio && audioRate <= 0 {
		return nil, nil, fmt.Errorf("video: %s: audio rate %d must be positive", path, audioRate)
	}
	s, err := probeFile(ctx, ffprobe, path, seg == nil)
	if err != nil {
		return nil, nil, err
	}
	if s.videoIndex < 0 {
		return nil, nil, fmt.Errorf("video: %s: no video stream", path)
	}
	if seg != nil {
		if s.Duration > 0 && seg.start >= s.Duration {
			return nil, nil, fmt.Errorf("video: %s: segment %v starts past the end of the file (%.3fs long)", path, *seg, s.Duration)
		}
		if s.Frames, err = countSegmentFrames(ctx, ffprobe, path, s, *seg); err != nil {
			return nil, nil, err
		}
		if s.Frames <= 0 {
			return nil, nil, fmt.Errorf("video: %s: no video frames in segment %v (the file is %.3fs long)", path, *seg, s.Duration)
		}
	}
	if s.Frames <= 0 {
		return nil, nil, fmt.Errorf("video: %s: video stream has no frames", path)
	}
	if s.Width <= 0 || s.Height <= 0 {
		return nil, nil, fmt.Errorf("video: %s: video stream has invalid size %dx%d", path, s.Width, s.Height)
	}
	if wantAudio && !s.HasAudio {
		return nil, nil, fmt.Errorf("video: %s: %w (the file has only video; give the clip a separate WAV or disable audio)", path, ErrNoAudio)
	}
	if wantAudio && s.AudioChannels <= 0 {
		return nil, nil, fmt.Errorf("video: %s: audio stream reports %d channels", path, s.AudioChannels)
	}

	var idx []int
	if numFrames > 0 {
		idx = SampleIndices(s.Frames, numFrames)
	}
	args := []string{"-nostdin", "-hide_banner", "-v", "error"}
	var vf []string
	if seg != nil {
		// Input -ss seeks to the keyframe before start and drops the frames
		// and samples before it exactly (timestamps then count from start);
		// input -t only bounds the reading (it counts from the first frame
		// kept), the trim filters cut exactly at end.
		args = append(args, "-ss", seconds(seg.start))
		if seg.end > 0 {
			args = append(args, "-t", seconds(seg.end-seg.start+1))
			vf = append(vf, "trim=end="+seconds(seg.end-seg.start))
		}
	}
	args = append(args, "-i", inputURL(path), "-map", fmt.Sprintf("0:%d", s.videoIndex))
	if idx != nil && len(idx) < s.Frames {
		terms := make([]string, len(idx))
		for i, j := range idx {
			terms[i] = fmt.Sprintf("eq(n\\,%d)", j)
		}
		vf = append(vf, "select="+strings.Join(terms, "+"))
	}
	if len(vf) > 0 {
		args = append(args, "-vf", strings.Join(vf, ","))
	}
	// passthrough: no frame duplication or dropping to honour a frame rate.
	args = append(args, "-vsync", "passthrough", "-an", "-sn", "-dn",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1")

	cmd := exec.CommandContext(ctx, ffmpeg)
	cmd.WaitDelay = 5 * time.Second
	var audioR *os.File
	if wantAudio {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, fmt.Errorf("video: %s: %w", path, err)
		}
		defer r.Close()
		audioR = r
		cmd.ExtraFiles = []*os.File{w} // becomes fd 3 in the child
		args = append(args, "-map", fmt.Sprintf("0:%d", s.audioIndex), "-vn", "-sn", "-dn")
		if seg != nil && seg.end > 0 {
			args = append(args, "-af", "atrim=end="+seconds(seg.end-seg.start))
		}
		args = append(args, "-ac", strconv.Itoa(s.AudioChannels))
		if resample == nil || s.AudioRate <= 0 {
			resample = nil // ffmpeg brings the audio to audioRate
			args = append(args, "-ar", strconv.Itoa(audioRate))
		}
		args = append(args, "-f", "f32le", "pipe:3")
	}
	cmd.Args = append(cmd.Args, args...)
	var stdout bytes.Buffer
	stderr := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr

	if err := cmd.Start(); err != nil {
		if len(cmd.ExtraFiles) > 0 {
			cmd.ExtraFiles[0].Close()
		}
		return nil, nil, fmt.Errorf("video: %s: starting ffmpeg: %w", path, err)
	}
	var audioBytes []byte
	var audioErr error
	var wg sync.WaitGroup
	if wantAudio {
		cmd.ExtraFiles[0].Close() // the child holds its own copy
		wg.Add(1)
		go func() {
			defer wg.Done()
			audioBytes, audioErr = io.ReadAll(audioR)
		}()
	}
	waitErr := cmd.Wait()
	wg.Wait()
	if waitErr != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("video: %s: ffmpeg stopped: %w", path, ctx.Err())
		}
		return nil, nil, fmt.Errorf("video: %s: ffmpeg failed (%v): %s", path, waitErr, tail(stderr.Bytes()))
	}
	if audioErr != nil {
		return nil, nil, fmt.Errorf("video: %s: reading audio from ffmpeg: %w", path, audioErr)
	}

	size := s.Width * s.Height * 3
	raw := stdout.Bytes()
	if len(raw)%size != 0 {
		return nil, nil, fmt.Errorf("video: %s: ffmpeg produced %d bytes, not a whole number of %dx%d RGB frames", path, len(raw), s.Width, s.Height)
	}
	n := len(raw) / size
	if n == 0 {
		return nil, nil, fmt.Errorf("video: %s: no video frames could be decoded: %s", path, tail(stderr.Bytes()))
	}
	frames = make([]Frame, n)
	for i := range frames {
		frames[i] = Frame{H: s.Height, W: s.Width, Pix: raw[i*size : (i+1)*size : (i+1)*size]}
	}

	if wantAudio {
		ch := s.AudioChannels
		if len(audioBytes)%(4*ch) != 0 {
			return nil, nil, fmt.Errorf("video: %s: ffmpeg produced %d audio bytes, not whole %d-channel float32 samples", path, len(audioBytes), ch)
		}
		ns := len(audioBytes) / (4 * ch)
		if ns == 0 {
			return nil, nil, fmt.Errorf("video: %s: %w (the audio stream decoded to no samples)", path, ErrNoAudio)
		}
		audio = make([]float32, ns)
		inv := 1 / float32(ch)
		for i := 0; i < ns; i++ {
			var sum float32
			for c := 0; c < ch; c++ {
				off := 4 * (i*ch + c)
				sum += math.Float32frombits(binary.LittleEndian.Uint32(audioBytes[off:]))
			}
			if ch == 1 {
				audio[i] = sum
			} else {
				audio[i] = sum * inv
			}
		}
		if resample != nil && s.AudioRate != audioRate {
			audio = resample(audio, s.AudioRate, audioRate)
		}
	}
	return frames, audio, nil
}

// limitedBuffer keeps the last max bytes written (ffmpeg can be chatty on a
// damaged file; only the tail is reported).
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}
