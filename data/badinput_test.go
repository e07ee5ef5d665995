package data

import (
	"encoding/binary"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// writeFloatWAV writes mono IEEE float32 samples, NaNs included (a WAV library
// would rightly refuse to write them).
func writeFloatWAV(t *testing.T, path string, x []float32) {
	t.Helper()
	b := make([]byte, 44+4*len(x))
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+4*len(x)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 3) // IEEE float
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 44100)
	binary.LittleEndian.PutUint32(b[28:], 44100*4)
	binary.LittleEndian.PutUint16(b[32:], 4)
	binary.LittleEndian.PutUint16(b[34:], 32)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(4*len(x)))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[44+4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBadInputs breaks one file per clip after the manifest was read and checks that
// the loader names the manifest line, the file and the reason, or skips and counts
// the clip under SkipBad.
func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	clips := testClips(t, dir, 9)
	nanWave := sine(0.3, 440)
	nanWave[1000] = float32(math.NaN())
	type breakage struct {
		name   string
		clip   int
		file   func(c Clip) string
		breakF func(c Clip)
		reason string
	}
	audioOf := func(c Clip) string { return c.Audio }
	framesOf := func(c Clip) string { return c.Frames }
	cases := []breakage{
		{"missing audio", 1, audioOf, func(c Clip) { os.Remove(c.Audio) }, "no such file"},
		{"empty audio", 2, audioOf, func(c Clip) { os.WriteFile(c.Audio, nil, 0o644) }, "WAV"},
		{"truncated audio", 3, audioOf, func(c Clip) {
			b, _ := os.ReadFile(c.Audio)
			os.WriteFile(c.Audio, b[:30], 0o644)
		}, "WAV"},
		{"corrupt frame", 4, framesOf, func(c Clip) {
			os.WriteFile(filepath.Join(c.Frames, "f001.png"), []byte("\x89PNG\r\n\x1a\nnot really a png"), 0o644)
		}, "decode"},
		{"NaN audio", 5, audioOf, func(c Clip) { writeFloatWAV(t, c.Audio, nanWave) }, "NaN"},
		{"missing frames", 6, framesOf, func(c Clip) { os.RemoveAll(c.Frames) }, "no such file"},
		{"frames without audio", 7, framesOf, func(c Clip) {}, "without an \"audio\" file"},
	}
	clips[7].Audio = ""
	for _, c := range cases {
		c.breakF(clips[c.clip])
	}
	sh := tinyConfig()
	for _, c := range cases {
		_, err := loadSample(clips[c.clip], sh)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := err.Error()
		t.Logf("%s: %s", c.name, msg)
		where := clips[c.clip].Source + ":" + strconv.Itoa(clips[c.clip].Line)
		if !strings.Contains(msg, where) || !strings.Contains(msg, c.file(clips[c.clip])) || !strings.Contains(strings.ToLower(msg), strings.ToLower(c.reason)) {
			t.Errorf("%s: error %q lacks %q, the file or %q", c.name, msg, where, c.reason)
		}
	}

	// Without SkipBad the epoch stops at the first bad batch with that error.
	l, err := NewLoader(clips, sh, LoaderOptions{BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	it := l.Epoch(0)
	if _, err := it.Next(); err == nil || !strings.Contains(err.Error(), clips[1].Audio) {
		t.Fatalf("first batch holds clip 1: %v", err)
	}
	if _, err := it.Next(); err == nil || err == io.EOF {
		t.Fatal("errors are not sticky")
	}

	// SkipBad: only good clips come out, in order, and Skipped names every bad one.
	l, _ = NewLoader(clips, sh, LoaderOptions{BatchSize: 3, SkipBad: true, Workers: 3, Pretraining: true})
	var ids []string
	for _, b := range collect(t, l.Epoch(0)) {
		ids = append(ids, b.IDs...)
		if b.PixelShape[0] != b.Size() || b.AudioShape[0] != b.Size() || len(b.MatchingLabels) != b.Size() {
			t.Fatalf("shrunk batch has inconsistent shapes %v %v", b.PixelShape, b.AudioShape)
		}
	}
	if want := "c00 c08"; strings.Join(ids, " ") != want {
		t.Fatalf("good clips %v, want %s", ids, want)
	}
	sk := l.Skipped()
	if len(sk) != len(cases) {
		t.Fatalf("%d skipped, want %d: %+v", len(sk), len(cases), sk)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].clip < cases[j].clip })
	for i, c := range cases {
		if sk[i].Index != c.clip || sk[i].File != c.file(clips[c.clip]) || !strings.Contains(strings.ToLower(sk[i].Reason), strings.ToLower(c.reason)) {
			t.Errorf("skip %d = %+v, want clip %d, file %s, reason ~%q", i, sk[i], c.clip, c.file(clips[c.clip]), c.reason)
		}
	}
	// A second epoch does not double-count.
	collect(t, l.Epoch(1))
	if len(l.Skipped()) != len(cases) {
		t.Fatalf("second epoch: %d skipped", len(l.Skipped()))
	}

	// A batch whose clips all fail is passed over.
	l, _ = NewLoader(clips[1:8], sh, LoaderOptions{BatchSize: 2, SkipBad: true})
	if bs := collect(t, l.Epoch(0)); len(bs) != 0 {
		t.Fatalf("%d batches from all-bad clips", len(bs))
	}
}

// TestAudioOnlyClip: the loader needs pictures; a clip with only audio is rejected clearly.
func TestAudioOnlyClip(t *testing.T) {
	dir := t.TempDir()
	wp := filepath.Join(dir, "a.wav")
	writeWave(t, wp, sine(0.3, 440))
	_, err := loadSample(Clip{ID: "solo", Audio: wp}, tinyConfig())
	if err == nil || !strings.Contains(err.Error(), `clip "solo"`) || !strings.Contains(err.Error(), "no \"video\" or \"frames\"") {
		t.Fatalf("audio-only clip: %v", err)
	}
	fd := filepath.Join(dir, "fr")
	writeFrames(t, fd, 1, 32, 32, color.RGBA{1, 2, 3, 255})
	writeWave(t, wp, sine(0.005, 440)) // 220 samples: shorter than one hop
	if _, err := loadSample(Clip{ID: "short", Frames: fd, Audio: wp}, tinyConfig()); err == nil || !strings.Contains(err.Error(), wp) {
		t.Fatalf("too-short audio: %v", err)
	}
}
