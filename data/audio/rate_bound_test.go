package audio

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestAbsurdSampleRateFailsFast: a 132 KB WAV claiming 1 Hz (66,150 16-bit
// samples) used to be resampled whole to 44.1 kHz (2.9 G samples, 11.7 GB)
// before any cropping. It must fail with an error naming the file and the
// rate, after allocating little more than the file itself.
func TestAbsurdSampleRateFailsFast(t *testing.T) {
	dir := t.TempDir()
	const frames = 66150
	data := make([]byte, 2*frames)
	for i := 0; i < frames; i++ {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(int16(i%2000-1000)))
	}
	for _, rate := range []int{1, 999, 800000} {
		b := riff(chunk("fmt ", fmtBody(tagPCM, 1, rate, 16)), chunk("data", data))
		path := filepath.Join(dir, "absurd.wav")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := LoadMono(path, 44100)
		_, errSeg := LoadMonoSegment(path, 44100, 0, 0)
		runtime.ReadMemStats(&after)
		for _, e := range []error{err, errSeg} {
			if e == nil || !strings.Contains(e.Error(), path) || !strings.Contains(e.Error(), "sample rate") || !errors.Is(e, ErrBadWAVHeader) {
				t.Errorf("%d Hz: error %v, want one naming %s and its sample rate", rate, e, path)
			}
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 50<<20 {
			t.Errorf("%d Hz: allocated %d MB before failing, want < 50 MB", rate, got>>20)
		}
	}
}

// TestResampleBound: a target rate out of range, or a resampling whose
// output would exceed MaxResampledSamples, is refused before allocating.
func TestResampleBound(t *testing.T) {
	c := &Clip{Rate: MinSampleRate, Channels: [][]float32{make([]float32, 10)}}
	if err := checkResample(c, 44100); err != nil {
		t.Errorf("sane resampling refused: %v", err)
	}
	if err := checkResample(c, 10); err == nil {
		t.Error("target rate 10 Hz accepted")
	}
	big := &Clip{Rate: MinSampleRate, Channels: [][]float32{make([]float32, MaxResampledSamples/MaxSampleRate*MinSampleRate+MinSampleRate)}}
	if err := checkResample(big, MaxSampleRate); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("oversized resampling: %v", err)
	}
}
