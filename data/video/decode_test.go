package video

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// needFFmpeg skips tests that need the ffmpeg CLI, except in CI (CI=true),
// where .ci/run installs ffmpeg and a missing binary is a failure.
func needFFmpeg(t testing.TB) {
	t.Helper()
	_, err1 := exec.LookPath("ffmpeg")
	_, err2 := exec.LookPath("ffprobe")
	if err1 == nil && err2 == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("ffmpeg/ffprobe not on PATH in CI; .ci/run must install the ffmpeg package")
	}
	t.Skip("ffmpeg/ffprobe not on PATH (apt-get install ffmpeg); skipping decode test")
}

var (
	encodersOnce sync.Once
	encoderList  string
)

// hasEncoder reports whether this ffmpeg build can encode with codec.
func hasEncoder(t testing.TB, codec string) bool {
	encodersOnce.Do(func() {
		out, _ := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output()
		encoderList = string(out)
	})
	for _, line := range strings.Split(encoderList, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] == codec {
			return true
		}
	}
	return false
}

// ffmpegRun runs ffmpeg with args, failing the test with its stderr.
func ffmpegRun(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-nostdin", "-hide_banner", "-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

const (
	testW, testH   = 64, 48
	testFPS        = 10
	testFrames     = 10 // 1 s at 10 fps
	testAudioRate  = 44100
	testToneHz     = 440.0
	testSineAmp    = 0.125 // amplitude of lavfi's sine source
	testSrcVideo   = "testsrc=size=64x48:rate=10"
	testSrcAudio   = "sine=frequency=440:sample_rate=44100"
	testClipLength = "1"
)

// makeClip encodes the 1 s testsrc + 440 Hz clip into path with the given
// codec arguments (nil audio args: video only).
func makeClip(t testing.TB, path string, vargs, aargs []string) {
	t.Helper()
	args := []string{"-f", "lavfi", "-i", testSrcVideo}
	if aargs != nil {
		args = append(args, "-f", "lavfi", "-i", testSrcAudio)
	}
	args = append(args, "-t", testClipLength)
	args = append(args, vargs...)
	if aargs != nil {
		args = append(args, aargs...)
	}
	ffmpegRun(t, append(args, path)...)
}

// referenceFrames renders the same testsrc frames losslessly as PNGs (read
// back with ReadFrameDir) to compare decoded frames against.
var (
	refOnce   sync.Once
	refFrames []Frame
	refErr    error
)

func reference(t *testing.T) []Frame {
	t.Helper()
	refOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tvlt-video-ref")
		if err != nil {
			refErr = err
			return
		}
		defer os.RemoveAll(dir)
		out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", testSrcVideo,
			"-t", testClipLength, filepath.Join(dir, "f%d.png")).CombinedOutput()
		if err != nil {
			refErr = errors.New(string(out))
			return
		}
		refFrames, refErr = ReadFrameDir(dir)
	})
	if refErr != nil {
		t.Fatalf("rendering reference frames: %v", refErr)
	}
	if len(refFrames) != testFrames {
		t.Fatalf("reference has %d frames, want %d", len(refFrames), testFrames)
	}
	return refFrames
}

// meanAbsDiff is the mean absolute byte difference of two same-size frames.
func meanAbsDiff(a, b Frame) float64 {
	s := 0.0
	for i := range a.Pix {
		s += math.Abs(float64(a.Pix[i]) - float64(b.Pix[i]))
	}
	return s / float64(len(a.Pix))
}

// toneFreq returns the frequency (1 Hz resolution between 100 and 2000 Hz)
// with the most energy, probing each candidate with the Goertzel recurrence.
func toneFreq(x []float32, rate int) float64 {
	best, bestF := -1.0, 0.0
	for f := 100.0; f <= 2000; f++ {
		c := 2 * math.Cos(2*math.Pi*f/float64(rate))
		var s1, s2 float64
		for _, v := range x {
			s1, s2 = float64(v)+c*s1-s2, s1
		}
		if p := s1*s1 + s2*s2 - c*s1*s2; p > best {
			best, bestF = p, f
		}
	}
	return bestF
}

// rms of the middle half of x (skips codec start-up and tail effects).
func midRMS(x []float32) float64 {
	a, b := len(x)/4, 3*len(x)/4
	s := 0.0
	for _, v := range x[a:b] {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(b-a))
}

// checkColourBars verifies testsrc's vertical bars survive decoding: bars 3,
// 4 and 5 (of 8) are blue, yellow and green at a quarter of the height.
func checkColourBars(t *testing.T, f Frame) {
	t.Helper()
	y := f.H / 4
	bar := f.W / 8
	px := func(b int) (r, g, bl int) {
		i := (y*f.W + b*bar + bar/2) * 3
		return int(f.Pix[i]), int(f.Pix[i+1]), int(f.Pix[i+2])
	}
	if r, g, b := px(3); !(b > 180 && r < 80 && g < 80) {
		t.Errorf("bar 3 = (%d,%d,%d), want blue", r, g, b)
	}
	if r, g, b := px(4); !(r > 180 && g > 180 && b < 80) {
		t.Errorf("bar 4 = (%d,%d,%d), want yellow", r, g, b)
	}
	if r, g, b := px(5); !(g > 180 && r < 80 && b < 80) {
		t.Errorf("bar 5 = (%d,%d,%d), want green", r, g, b)
	}
}

func TestDecodeContainers(t *testing.T) {
	needFFmpeg(t)
	ref := reference(t)
	pick := func(names ...string) string {
		for _, n := range names {
			if hasEncoder(t, n) {
				return n
			}
		}
		return ""
	}
	cases := []struct {
		name   string
		vcodec string
		acodec string
		extra  []string
	}{
		{"clip.mp4", pick("libx264", "mpeg4"), "aac", []string{"-pix_fmt", "yuv420p"}},
		{"clip.webm", pick("libvpx-vp9", "libvpx"), pick("libopus", "libvorbis"), []string{"-pix_fmt", "yuv420p", "-deadline", "realtime"}},
		{"clip.mkv", "mpeg4", pick("flac", "pcm_s16le"), []string{"-q:v", "2"}},
		{"clip.avi", "mpeg4", "pcm_s16le", []string{"-q:v", "2"}},
	}
	const want = 4
	wantIdx := SampleIndices(testFrames, want) // [0 2 5 7]
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.vcodec == "" || c.acodec == "" || !hasEncoder(t, c.vcodec) || !hasEncoder(t, c.acodec) {
				t.Skipf("this ffmpeg build lacks an encoder for %s (video %q, audio %q)", c.name, c.vcodec, c.acodec)
			}
			path := filepath.Join(t.TempDir(), c.name)
			vargs := append([]string{"-c:v", c.vcodec}, c.extra...)
			makeClip(t, path, vargs, []string{"-c:a", c.acodec})

			_, ffprobe, err := tools()
			if err != nil {
				t.Fatal(err)
			}
			st, err := probe(context.Background(), ffprobe, path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Frames != testFrames || st.Width != testW || st.Height != testH || !st.HasAudio {
				t.Fatalf("probe = %+v, want %d frames of %dx%d with audio", *st, testFrames, testW, testH)
			}

			frames, audio, err := Decode(path, want, testAudioRate, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) != want {
				t.Fatalf("got %d frames, want %d", len(frames), want)
			}
			for i, f := range frames {
				if f.H != testH || f.W != testW || len(f.Pix) != testH*testW*3 {
					t.Fatalf("frame %d is %dx%d (%d bytes), want %dx%d", i, f.H, f.W, len(f.Pix), testH, testW)
				}
				// The decoded frame must be closest to the reference frame it
				// was sampled from (testsrc frames differ: moving gradient,
				// counter), and close in absolute terms despite lossy coding.
				d := meanAbsDiff(f, ref[wantIdx[i]])
				for j, r := range ref {
					if j != wantIdx[i] && meanAbsDiff(f, r) <= d {
						t.Errorf("frame %d matches reference frame %d (diff %.2f) at least as well as frame %d (diff %.2f)",
							i, j, meanAbsDiff(f, r), wantIdx[i], d)
					}
				}
				if d > 12 {
					t.Errorf("frame %d: mean abs diff %.2f to reference frame %d, want <= 12", i, d, wantIdx[i])
				}
				checkColourBars(t, f)
				t.Logf("frame %d: mean abs diff %.2f to source frame %d", i, d, wantIdx[i])
			}
			t.Logf("audio: %d samples, %.0f Hz, RMS %.4f", len(audio), toneFreq(audio[:8192], testAudioRate), midRMS(audio))

			// Audio: 1 s at 44.1 kHz (codecs may pad/trim a few ms), 440 Hz.
			if math.Abs(float64(len(audio))-testAudioRate) > 0.03*testAudioRate {
				t.Errorf("audio has %d samples, want %d ± 3%%", len(audio), testAudioRate)
			}
			if f := toneFreq(audio[:8192], testAudioRate); math.Abs(f-testToneHz) > 6 {
				t.Errorf("dominant frequency %.0f Hz, want %.0f Hz", f, testToneHz)
			}
			if r := midRMS(audio); math.Abs(r-testSineAmp/math.Sqrt2) > 0.1*testSineAmp/math.Sqrt2 {
				t.Errorf("audio RMS %.4f, want %.4f ± 10%%", r, testSineAmp/math.Sqrt2)
			}
		})
	}
}

func TestDecodeFrameSelection(t *testing.T) {
	needFFmpeg(t)
	ref := reference(t)
	path := filepath.Join(t.TempDir(), "clip.mkv")
	// Near-lossless so every frame can be matched exactly to its index.
	makeClip(t, path, []string{"-c:v", "mpeg4", "-q:v", "1"}, nil)
	for _, c := range []struct {
		numFrames int
		want      []int
	}{
		{0, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{16, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{10, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{3, []int{0, 3, 6}},
		{1, []int{0}},
		{8, []int{0, 1, 2, 3, 5, 6, 7, 8}},
	} {
		frames, audio, err := Decode(path, c.numFrames, 0, false)
		if err != nil {
			t.Fatalf("numFrames %d: %v", c.numFrames, err)
		}
		if audio != nil {
			t.Errorf("numFrames %d: audio returned without being requested", c.numFrames)
		}
		if len(frames) != len(c.want) {
			t.Fatalf("numFrames %d: got %d frames, want %d", c.numFrames, len(frames), len(c.want))
		}
		for i, f := range frames {
			best, bestD := -1, math.Inf(1)
			for j, r := range ref {
				if d := meanAbsDiff(f, r); d < bestD {
					best, bestD = j, d
				}
			}
			if best != c.want[i] {
				t.Errorf("numFrames %d: frame %d looks like source frame %d, want %d", c.numFrames, i, best, c.want[i])
			}
		}
	}
}

func TestDecodeAudioRateAndDownmix(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	// Stereo: left = 440 Hz sine, right = silence. The mean downmix halves the
	// amplitude (ffmpeg's -ac 1 would scale by 1/sqrt2 instead).
	path := filepath.Join(dir, "stereo.mkv")
	ffmpegRun(t, "-f", "lavfi", "-i", testSrcVideo, "-f", "lavfi", "-i", testSrcAudio,
		"-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono",
		"-filter_complex", "[1][2]amerge=inputs=2[a]", "-map", "0:v", "-map", "[a]",
		"-t", testClipLength, "-c:v", "mpeg4", "-c:a", "pcm_s16le", path)
	for _, rate := range []int{44100, 16000} {
		_, audio, err := Decode(path, 2, rate, true)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(len(audio)-rate)) > 0.01*float64(rate) {
			t.Errorf("rate %d: %d samples, want %d ± 1%%", rate, len(audio), rate)
		}
		if f := toneFreq(audio[:rate/4], rate); math.Abs(f-testToneHz) > 5 {
			t.Errorf("rate %d: dominant frequency %.0f Hz, want 440", rate, f)
		}
		want := testSineAmp / 2 / math.Sqrt2
		t.Logf("rate %d: %d samples, RMS %.5f (want %.5f)", rate, len(audio), midRMS(audio), want)
		if r := midRMS(audio); math.Abs(r-want) > 0.03*want {
			t.Errorf("rate %d: RMS %.5f, want %.5f (mean of a sine and silence) ± 3%%", rate, r, want)
		}
	}
}

func TestDecodeRotation(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.mp4")
	makeClip(t, src, []string{"-c:v", "mpeg4", "-q:v", "2"}, nil)
	rot := filepath.Join(dir, "rot.mp4")
	ffmpegRun(t, "-i", src, "-metadata:s:v:0", "rotate=90", "-c", "copy", rot)
	frames, _, err := Decode(rot, 2, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 2 || frames[0].H != testW || frames[0].W != testH {
		t.Fatalf("rotated clip: %d frames of %dx%d, want 2 of %dx%d (HxW)", len(frames), frames[0].H, frames[0].W, testW, testH)
	}
}

func TestDecodeErrors(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()

	videoOnly := filepath.Join(dir, "silent.mp4")
	makeClip(t, videoOnly, []string{"-c:v", "mpeg4"}, nil)
	if _, _, err := Decode(videoOnly, 4, testAudioRate, true); !errors.Is(err, ErrNoAudio) || !strings.Contains(err.Error(), videoOnly) {
		t.Errorf("video-only file with wantAudio: err = %v, want ErrNoAudio naming %s", err, videoOnly)
	}
	if frames, audio, err := Decode(videoOnly, 4, testAudioRate, false); err != nil || len(frames) != 4 || audio != nil {
		t.Errorf("video-only file without audio: %d frames, audio %v, err %v; want 4 frames, no audio, no error", len(frames), audio != nil, err)
	}

	good := filepath.Join(dir, "good.mp4")
	makeClip(t, good, []string{"-c:v", "mpeg4"}, []string{"-c:a", "aac"})
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.mp4")
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.mp4")
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(i * 7919 >> 3)
	}
	if err := os.WriteFile(garbage, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mp4")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	audioOnly := filepath.Join(dir, "tone.wav")
	ffmpegRun(t, "-f", "lavfi", "-i", testSrcAudio, "-t", "0.5", audioOnly)

	for _, c := range []struct {
		name, path, want string
	}{
		{"truncated", truncated, truncated},
		{"garbage", garbage, garbage},
		{"empty", empty, empty},
		{"missing", filepath.Join(dir, "nope.mp4"), "nope.mp4"},
		{"directory", dir, "directory"},
		{"audio only", audioOnly, "no video stream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			frames, audio, err := Decode(c.path, 4, testAudioRate, true)
			if err == nil {
				t.Fatalf("no error; got %d frames, %d samples", len(frames), len(audio))
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(c.path)) {
				t.Errorf("error %q does not mention %q and the file name", err, c.want)
			}
			if frames != nil || audio != nil {
				t.Errorf("data returned along with error %v", err)
			}
		})
	}
}

func TestDecodeFFmpegMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, _, err := Decode("clip.mp4", 8, 44100, true)
	if !errors.Is(err, ErrFFmpegMissing) {
		t.Fatalf("err = %v, want ErrFFmpegMissing", err)
	}
	if !strings.Contains(err.Error(), "apt-get install ffmpeg") {
		t.Errorf("error %q does not name the package to install", err)
	}
}

// makeCounterClip encodes 3 s at 10 fps whose frame k is the solid colour
// (8k, 128, 64), with a 44.1 kHz PCM track whose value is 0.1·(1+⌊t⌋) — the
// frame index and the second can be read back from any decoded frame and sample.
func makeCounterClip(t *testing.T, path string, vargs []string) {
	t.Helper()
	ffmpegRun(t, append(append([]string{
		"-f", "lavfi", "-i", "nullsrc=s=32x24:r=10,format=rgb24,geq=r='8*N':g=128:b=64",
		"-f", "lavfi", "-i", "aevalsrc=0.1*(1+floor(t)):s=44100:c=mono",
		"-t", "3"}, vargs...), "-c:a", "pcm_s16le", path)...)
}

// frameIndex reads k back from a counter clip frame.
func frameIndex(t *testing.T, f Frame) int {
	t.Helper()
	k := int(math.Round(float64(f.Pix[0]) / 8))
	if d := math.Abs(float64(f.Pix[0]) - 8*float64(k)); d > 3 || math.Abs(float64(f.Pix[1])-128) > 4 {
		t.Fatalf("frame pixel %v is not a counter colour", f.Pix[:3])
	}
	return k
}

func TestDecodeSegment(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	codecs := map[string][]string{"mpeg4": {"-c:v", "mpeg4", "-q:v", "1", "-g", "15"}}
	if hasEncoder(t, "libx264") {
		// Keyframes every 1.5 s and B-frames: seeking must decode from the keyframe
		// before the segment, and packets arrive out of presentation order.
		codecs["libx264"] = []string{"-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv444p", "-g", "15", "-bf", "2"}
	}
	for name, vargs := range codecs {
		path := filepath.Join(dir, name+".mov")
		makeCounterClip(t, path, vargs)
		for _, c := range []struct {
			start, end float64
			numFrames  int
			want       []int // frame indices (= tenths of a second)
		}{
			// Frames at 1.1 .. 2.0 lie in [1.05, 2.05); 10 sampled to 4: ⌊i·10/4⌋ = 0, 2, 5, 7.
			{1.05, 2.05, 4, []int{11, 13, 16, 18}},
			// Boundaries on frames: start is included, end is not.
			{1, 2, 0, []int{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}},
			{0, 0.35, 8, []int{0, 1, 2, 3}},
			// No end: to the end of the file.
			{2.5, 0, 4, []int{25, 26, 27, 28}},
			{2.5, 0, 0, []int{25, 26, 27, 28, 29}},
			// An end past the file's end is the file's end.
			{2.75, 9, 0, []int{28, 29}},
		} {
			frames, wave, err := DecodeSegment(path, c.start, c.end, c.numFrames, testAudioRate, true)
			if err != nil {
				t.Fatalf("%s [%g, %g): %v", name, c.start, c.end, err)
			}
			got := make([]int, len(frames))
			for i, f := range frames {
				got[i] = frameIndex(t, f)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s [%g, %g) %d frames: got frames %v, want %v", name, c.start, c.end, c.numFrames, got, c.want)
			}
			// The audio is cut to the same times: 0.1·(1+⌊t⌋) from start on.
			end := c.end
			if end <= 0 || end > 3 {
				end = 3
			}
			if n, want := len(wave), (end-c.start)*testAudioRate; math.Abs(float64(n)-want) > 2 {
				t.Errorf("%s [%g, %g): %d audio samples, want %.0f", name, c.start, c.end, n, want)
			}
			for _, i := range []int{0, len(wave) / 3, len(wave) / 2, len(wave) - 1} {
				tm := c.start + float64(i)/testAudioRate
				if math.Abs(tm-math.Round(tm)) < 0.001 {
					continue // too close to a step to say which side the sample is on
				}
				if want := 0.1 * (1 + math.Floor(tm)); math.Abs(float64(wave[i])-want) > 1e-3 {
					t.Errorf("%s [%g, %g): sample %d (t=%.4f) = %.4f, want %.1f", name, c.start, c.end, i, tm, wave[i], want)
				}
			}
		}
	}
	path := filepath.Join(dir, "mpeg4.mov")
	// Two segments of one file without audio: the same frames as the whole file's.
	whole, _, err := Decode(path, 0, 0, false)
	if err != nil || len(whole) != 30 {
		t.Fatalf("whole file: %d frames, %v", len(whole), err)
	}
	for _, g := range [][2]float64{{0, 1.5}, {1.5, 3}} {
		frames, _, err := DecodeSegment(path, g[0], g[1], 0, 0, false)
		if err != nil || len(frames) != 15 {
			t.Fatalf("segment %v: %d frames, %v", g, len(frames), err)
		}
		for i, f := range frames {
			if !bytes.Equal(f.Pix, whole[int(g[0]*10)+i].Pix) {
				t.Errorf("segment %v frame %d differs from the whole file's frame %d", g, i, int(g[0]*10)+i)
			}
		}
	}
	for _, c := range []struct {
		start, end float64
		want       string
	}{
		{3.5, 0, "starts past the end of the file"},
		{3, 4, "starts past the end of the file"},
		{2.95, 0, "no video frames in segment 2.95s to the end"},
		{-1, 2, "start -1 must be a number of seconds >= 0"},
		{2, 1, "end 1 must be after its start 2"},
		{math.NaN(), 1, "must be a number"},
	} {
		_, _, err := DecodeSegment(path, c.start, c.end, 4, 0, false)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("segment [%g, %g): error %v, want %q naming the file", c.start, c.end, err, c.want)
		}
	}
}
