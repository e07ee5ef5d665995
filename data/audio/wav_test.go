package audio

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testClip makes nch channels of distinct signals in [-1, 1], including the
// extremes, so every quantisation range edge is exercised.
func testClip(nch, frames, rate int, seed int64) *Clip {
	rng := rand.New(rand.NewSource(seed))
	c := &Clip{Rate: rate, Channels: make([][]float32, nch)}
	for ch := range c.Channels {
		s := make([]float32, frames)
		for i := range s {
			s[i] = float32(rng.Float64()*2 - 1)
		}
		s[0], s[1], s[2] = -1, 1, 0
		s[3] = float32(ch) / float32(nch) // channel-specific, catches interleaving bugs
		c.Channels[ch] = s
	}
	return c
}

var allFormats = []WAVFormat{PCM8, PCM16, PCM24, PCM32, Float32, Float64}

func TestWAVRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, f := range allFormats {
		for _, nch := range []int{1, 2, 6} {
			// Odd frame count: with PCM8 mono the data chunk needs a pad byte.
			in := testClip(nch, 1001, 22050, int64(nch)*int64(f))
			path := filepath.Join(dir, f.String()+"_"+string(rune('0'+nch))+".wav")
			if err := WriteWAV(path, in, f); err != nil {
				t.Fatalf("%v %dch: %v", f, nch, err)
			}
			out, err := ReadWAV(path)
			if err != nil {
				t.Fatalf("%v %dch: %v", f, nch, err)
			}
			if out.Rate != 22050 || len(out.Channels) != nch || out.Frames() != 1001 {
				t.Fatalf("%v %dch: rate %d, %d channels, %d frames", f, nch, out.Rate, len(out.Channels), out.Frames())
			}
			// Integer formats round to the nearest step of 2^-(bits-1);
			// +1 (the top of the range) clips one step down.
			tol := 0.0
			if !f.isFloat() {
				tol = math.Ldexp(1, -(f.bits() - 1))
			}
			worst := 0.0
			for ch := range in.Channels {
				for i, v := range in.Channels[ch] {
					worst = math.Max(worst, math.Abs(float64(out.Channels[ch][i])-float64(v)))
				}
			}
			if worst > tol+1e-7 {
				t.Errorf("%v %dch: max error %.3g > %.3g", f, nch, worst, tol)
			}
			if f.isFloat() && worst != 0 {
				t.Errorf("%v %dch: float round trip not exact (%.3g)", f, nch, worst)
			}
			if got := out.Channels[0][1]; got < 1-float32(tol)-1e-7 {
				t.Errorf("%v %dch: +1 read back as %v", f, nch, got)
			}
			if got := out.Channels[0][0]; got != -1 {
				t.Errorf("%v %dch: -1 read back as %v", f, nch, got)
			}
		}
	}
}

// Header fields of written files must be the standard ones, so other tools
// (ffmpeg, sox, players) read them.
func TestWAVHeaderFields(t *testing.T) {
	le := binary.LittleEndian
	for _, c := range []struct {
		f          WAVFormat
		nch        int
		tag        uint16 // in the fmt chunk
		sub        uint16 // sub-format for EXTENSIBLE
		fmtSize    uint32
		mask       uint32
		bits, fact int
	}{
		{PCM16, 1, 1, 0, 16, 0, 16, 0},
		{PCM16, 2, 1, 0, 16, 0, 16, 0},
		{PCM8, 2, 1, 0, 16, 0, 8, 0},
		{PCM16, 6, 0xFFFE, 1, 40, 0x3F, 16, 0},
		{PCM24, 2, 0xFFFE, 1, 40, 0x3, 24, 0},
		{PCM32, 1, 0xFFFE, 1, 40, 0x4, 32, 0},
		{Float32, 2, 3, 0, 18, 0, 32, 1},
		{Float32, 6, 0xFFFE, 3, 40, 0x3F, 32, 1},
		{Float64, 1, 3, 0, 18, 0, 64, 1},
	} {
		clip := testClip(c.nch, 333, 48000, 1)
		b, err := EncodeWAV(clip, c.f)
		if err != nil {
			t.Fatal(err)
		}
		name := c.f.String()
		align := c.nch * c.bits / 8
		dataSize := 333 * align
		if string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" || string(b[12:16]) != "fmt " {
			t.Fatalf("%s: bad magic %q", name, b[:16])
		}
		if got := le.Uint32(b[4:]); int(got) != len(b)-8 {
			t.Errorf("%s: RIFF size %d, want %d", name, got, len(b)-8)
		}
		if got := le.Uint32(b[16:]); got != c.fmtSize {
			t.Errorf("%s %dch: fmt size %d, want %d", name, c.nch, got, c.fmtSize)
		}
		fm := b[20:]
		if got := le.Uint16(fm[0:]); got != c.tag {
			t.Errorf("%s %dch: format tag 0x%x, want 0x%x", name, c.nch, got, c.tag)
		}
		if int(le.Uint16(fm[2:])) != c.nch || le.Uint32(fm[4:]) != 48000 ||
			int(le.Uint32(fm[8:])) != 48000*align || int(le.Uint16(fm[12:])) != align || int(le.Uint16(fm[14:])) != c.bits {
			t.Errorf("%s %dch: fmt fields channels=%d rate=%d byteRate=%d align=%d bits=%d", name, c.nch,
				le.Uint16(fm[2:]), le.Uint32(fm[4:]), le.Uint32(fm[8:]), le.Uint16(fm[12:]), le.Uint16(fm[14:]))
		}
		if c.fmtSize >= 18 {
			wantCb := uint16(0)
			if c.fmtSize == 40 {
				wantCb = 22
			}
			if got := le.Uint16(fm[16:]); got != wantCb {
				t.Errorf("%s %dch: cbSize %d, want %d", name, c.nch, got, wantCb)
			}
		}
		if c.fmtSize == 40 {
			if int(le.Uint16(fm[18:])) != c.bits || le.Uint32(fm[20:]) != c.mask || le.Uint16(fm[24:]) != c.sub ||
				string(fm[26:40]) != string(ksDataFormatTail) {
				t.Errorf("%s %dch: extensible fields valid=%d mask=0x%x sub=%d guid % x", name, c.nch,
					le.Uint16(fm[18:]), le.Uint32(fm[20:]), le.Uint16(fm[24:]), fm[24:40])
			}
		}
		off := 20 + int(c.fmtSize)
		if c.fact == 1 {
			if string(b[off:off+4]) != "fact" || le.Uint32(b[off+4:]) != 4 || le.Uint32(b[off+8:]) != 333 {
				t.Errorf("%s %dch: fact chunk %q", name, c.nch, b[off:off+12])
			}
			off += 12
		}
		if string(b[off:off+4]) != "data" || int(le.Uint32(b[off+4:])) != dataSize {
			t.Errorf("%s %dch: data chunk %q size %d, want %d", name, c.nch, b[off:off+4], le.Uint32(b[off+4:]), dataSize)
		}
		if want := off + 8 + dataSize + dataSize%2; len(b) != want {
			t.Errorf("%s %dch: file %d bytes, want %d", name, c.nch, len(b), want)
		}
	}
}

// chunk builds one RIFF chunk with its pad byte.
func chunk(id string, body []byte) []byte {
	out := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	out = append(out, body...)
	if len(body)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

func riff(chunks ...[]byte) []byte {
	body := []byte("WAVE")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func fmtBody(tag uint16, nch, rate, bits int) []byte {
	le := binary.LittleEndian
	b := le.AppendUint16(nil, tag)
	b = le.AppendUint16(b, uint16(nch))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*nch*bits/8))
	b = le.AppendUint16(b, uint16(nch*bits/8))
	return le.AppendUint16(b, uint16(bits))
}

func extensibleBody(sub uint16, nch, rate, bits, valid int) []byte {
	le := binary.LittleEndian
	b := fmtBody(tagExtensible, nch, rate, bits)
	b = le.AppendUint16(b, 22)
	b = le.AppendUint16(b, uint16(valid))
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, sub)
	return append(b, ksDataFormatTail...)
}

// Hand-built files: unknown chunks (odd-sized, before and after fmt), an odd
// data chunk with its pad byte followed by more metadata, EXTENSIBLE 24-in-32.
func TestReadWAVChunksAndExtensible(t *testing.T) {
	le := binary.LittleEndian
	// 8-bit stereo... no: 8-bit mono with 3 frames -> odd data chunk.
	pcm8 := riff(
		chunk("LIST", []byte("INFOx")), // odd size 5 + pad
		chunk("fmt ", fmtBody(tagPCM, 1, 8000, 8)),
		chunk("junk", []byte{1, 2, 3}),
		chunk("data", []byte{0, 128, 255}),
		chunk("cue ", []byte{9, 9, 9, 9}),
	)
	c, err := DecodeWAV(pcm8)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{-1, 0, 127.0 / 128}
	if c.Rate != 8000 || len(c.Channels) != 1 || c.Frames() != 3 {
		t.Fatalf("rate %d, %d channels, %d frames", c.Rate, len(c.Channels), c.Frames())
	}
	for i, w := range want {
		if c.Channels[0][i] != w {
			t.Errorf("sample %d = %v, want %v", i, c.Channels[0][i], w)
		}
	}

	// EXTENSIBLE PCM: 24 valid bits in 32-bit containers, 3 channels.
	var data []byte
	for i := 0; i < 4; i++ {
		for ch := 0; ch < 3; ch++ {
			v := int32((i*3 + ch - 6) << 24) // left-justified
			data = le.AppendUint32(data, uint32(v))
		}
	}
	c, err = DecodeWAV(riff(chunk("fmt ", extensibleBody(tagPCM, 3, 96000, 32, 24)), chunk("data", data)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Rate != 96000 || len(c.Channels) != 3 || c.Frames() != 4 {
		t.Fatalf("extensible: rate %d, %d channels, %d frames", c.Rate, len(c.Channels), c.Frames())
	}
	for i := 0; i < 4; i++ {
		for ch := 0; ch < 3; ch++ {
			if want := float32(i*3+ch-6) / 128; c.Channels[ch][i] != want {
				t.Errorf("extensible [%d][%d] = %v, want %v", ch, i, c.Channels[ch][i], want)
			}
		}
	}

	// EXTENSIBLE float64 stereo, data chunk before a trailing LIST, and a
	// partial trailing frame that must be dropped.
	data = nil
	for _, v := range []float64{0.25, -0.5, 0.75, -1} {
		data = le.AppendUint64(data, math.Float64bits(v))
	}
	data = append(data, 1, 2, 3)
	c, err = DecodeWAV(riff(chunk("fmt ", extensibleBody(tagFloat, 2, 44100, 64, 64)), chunk("data", data), chunk("LIST", []byte("abc"))))
	if err != nil {
		t.Fatal(err)
	}
	if c.Frames() != 2 || c.Channels[0][1] != 0.75 || c.Channels[1][1] != -1 {
		t.Errorf("extensible float64: %v", c.Channels)
	}

	// A streaming writer's 0xFFFFFFFF data size means "to the end of file".
	b := riff(chunk("fmt ", fmtBody(tagPCM, 1, 16000, 16)), chunk("data", []byte{0, 0x40, 0, 0xC0}))
	le.PutUint32(b[len(b)-8:], 0xFFFFFFFF)
	if c, err = DecodeWAV(b); err != nil || c.Frames() != 2 || c.Channels[0][0] != 0.5 || c.Channels[0][1] != -0.5 {
		t.Errorf("streaming data size: %v %v", c, err)
	}
}

func TestReadWAVErrors(t *testing.T) {
	dir := t.TempDir()
	le := binary.LittleEndian
	good, err := EncodeWAV(testClip(2, 100, 16000, 3), PCM16)
	if err != nil {
		t.Fatal(err)
	}
	nanFile, _ := EncodeWAV(testClip(1, 10, 16000, 3), Float32)
	le.PutUint32(nanFile[len(nanFile)-4:], math.Float32bits(float32(math.NaN())))
	infFile, _ := EncodeWAV(testClip(2, 10, 16000, 3), Float64)
	le.PutUint64(infFile[len(infFile)-8:], math.Float64bits(math.Inf(-1)))
	zeroCh := append([]byte(nil), good...)
	le.PutUint16(zeroCh[22:], 0)
	zeroRate := append([]byte(nil), good...)
	le.PutUint32(zeroRate[24:], 0)
	adpcm := append([]byte(nil), good...)
	le.PutUint16(adpcm[20:], 2)
	bits12 := riff(chunk("fmt ", fmtBody(tagPCM, 1, 8000, 12)), chunk("data", []byte{0, 0}))
	float16 := riff(chunk("fmt ", fmtBody(tagFloat, 1, 8000, 16)), chunk("data", []byte{0, 0}))
	badAlign := append([]byte(nil), good...)
	le.PutUint16(badAlign[32:], 3)
	extBadGUID := extensibleBody(tagPCM, 1, 8000, 16, 16)
	extBadGUID[30] = 0x99

	cases := []struct {
		name     string
		content  []byte // nil: file not created
		sentinel error
		reason   string
	}{
		{"missing", nil, os.ErrNotExist, "no such file"},
		{"empty", []byte{}, ErrNotWAV, "empty file"},
		{"text", []byte("hello, this is not audio at all"), ErrNotWAV, "RIFF/WAVE"},
		{"riff-avi", append([]byte("RIFF\x04\x00\x00\x00AVI "), make([]byte, 20)...), ErrNotWAV, "RIFF/WAVE"},
		{"rf64", append([]byte("RF64\xff\xff\xff\xffWAVE"), make([]byte, 20)...), ErrUnsupportedWAV, "RF64"},
		{"truncated-data", good[:len(good)-37], ErrTruncatedWAV, "data chunk declares 400 bytes but only 363 follow"},
		{"truncated-header", good[:30], ErrTruncatedWAV, `"fmt " chunk declares 16 bytes`},
		{"no-data", riff(chunk("fmt ", fmtBody(tagPCM, 1, 8000, 16))), ErrTruncatedWAV, "no data chunk"},
		{"no-fmt", riff(chunk("data", []byte{1, 2})), ErrBadWAVHeader, "no fmt chunk"},
		{"short-fmt", riff(chunk("fmt ", make([]byte, 10)), chunk("data", nil)), ErrBadWAVHeader, "fmt chunk of 10 bytes"},
		{"zero-channels", zeroCh, ErrBadWAVHeader, "zero channels"},
		{"zero-rate", zeroRate, ErrBadWAVHeader, "zero sample rate"},
		{"adpcm", adpcm, ErrUnsupportedWAV, "format code 0x0002"},
		{"pcm12", bits12, ErrUnsupportedWAV, "12 bits"},
		{"float16", float16, ErrUnsupportedWAV, "16 bits"},
		{"bad-align", badAlign, ErrBadWAVHeader, "block align 3"},
		{"ext-guid", riff(chunk("fmt ", extBadGUID), chunk("data", nil)), ErrUnsupportedWAV, "sub-format GUID"},
		{"nan", nanFile, ErrNonFinite, "sample 9 of channel 0 is NaN"},
		{"inf", infFile, ErrNonFinite, "sample 9 of channel 1 is -Inf"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name+".wav")
		if c.content != nil {
			if err := os.WriteFile(path, c.content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := ReadWAV(path)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := err.Error()
		if !errors.Is(err, c.sentinel) || !strings.Contains(msg, path) || !strings.Contains(msg, c.reason) {
			t.Errorf("%s: error %q; want it to name %s, contain %q and wrap %v", c.name, msg, path, c.reason, c.sentinel)
		}
		if _, err := LoadMono(path, 16000); err == nil {
			t.Errorf("%s: LoadMono accepted it", c.name)
		}
	}
}

func TestWriteWAVErrors(t *testing.T) {
	dir := t.TempDir()
	nan := testClip(1, 10, 8000, 1)
	nan.Channels[0][4] = float32(math.Inf(1))
	ragged := testClip(2, 10, 8000, 1)
	ragged.Channels[1] = ragged.Channels[1][:5]
	for name, c := range map[string]struct {
		clip *Clip
		f    WAVFormat
	}{
		"nil clip":     {nil, PCM16},
		"no channels":  {&Clip{Rate: 8000}, PCM16},
		"zero rate":    {&Clip{Channels: [][]float32{{0}}}, PCM16},
		"bad format":   {testClip(1, 10, 8000, 1), WAVFormat(99)},
		"inf sample":   {nan, Float32},
		"ragged chans": {ragged, PCM16},
	} {
		path := filepath.Join(dir, "x.wav")
		err := WriteWAV(path, c.clip, c.f)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s", name, err, path)
		}
	}
	if err := WriteWAV(filepath.Join(dir, "no", "such", "dir.wav"), testClip(1, 4, 8000, 1), PCM16); err == nil {
		t.Error("write into a missing directory: no error")
	}
}

// PCM clips out-of-range samples instead of wrapping around.
func TestWAVClipsOutOfRange(t *testing.T) {
	c := &Clip{Rate: 8000, Channels: [][]float32{{1.5, -3, 0.5}}}
	for _, f := range []WAVFormat{PCM8, PCM16, PCM24, PCM32} {
		b, err := EncodeWAV(c, f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := DecodeWAV(b)
		if err != nil {
			t.Fatal(err)
		}
		s := out.Channels[0]
		if s[0] < 0.99 || s[1] != -1 || s[2] != 0.5 {
			t.Errorf("%v: got %v, want ~[1 -1 0.5]", f, s)
		}
	}
}

func TestLoadMono(t *testing.T) {
	dir := t.TempDir()
	// Stereo 48 kHz: left = 0.6 sin(1 kHz), right = 0.2 sin(1 kHz) -> mean 0.4 sin.
	n := 4800
	c := &Clip{Rate: 48000, Channels: [][]float32{make([]float32, n), make([]float32, n)}}
	for i := 0; i < n; i++ {
		s := math.Sin(2 * math.Pi * 1000 * float64(i) / 48000)
		c.Channels[0][i] = float32(0.6 * s)
		c.Channels[1][i] = float32(0.2 * s)
	}
	path := filepath.Join(dir, "stereo.wav")
	if err := WriteWAV(path, c, Float32); err != nil {
		t.Fatal(err)
	}
	mono, err := LoadMono(path, 16000)
	if err != nil {
		t.Fatal(err)
	}
	if len(mono) != 1600 {
		t.Fatalf("%d samples, want 1600", len(mono))
	}
	amp, freq := toneFit(mono[200:1400], 16000, 1000)
	if math.Abs(amp-0.4) > 0.004 || math.Abs(freq-1000) > 1 {
		t.Errorf("amplitude %.4f freq %.2f, want 0.4 at 1000 Hz", amp, freq)
	}
	same, err := LoadMono(path, 48000)
	if err != nil || len(same) != n || math.Abs(float64(same[12])-0.4*math.Sin(2*math.Pi*1000*12/48000)) > 1e-6 {
		t.Errorf("no-resample path: %d samples, err %v", len(same), err)
	}

	silent := filepath.Join(dir, "silent.wav")
	if err := WriteWAV(silent, &Clip{Rate: 8000, Channels: [][]float32{make([]float32, 800)}}, PCM16); err != nil {
		t.Fatal(err)
	}
	if s, err := LoadMono(silent, 16000); err != nil || len(s) != 1600 {
		t.Errorf("silence must load: %d samples, %v", len(s), err)
	}
	empty := filepath.Join(dir, "empty.wav")
	if err := WriteWAV(empty, &Clip{Rate: 8000, Channels: [][]float32{{}}}, PCM16); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMono(empty, 16000); err == nil || !strings.Contains(err.Error(), "no audio samples") || !strings.Contains(err.Error(), empty) {
		t.Errorf("empty data chunk: %v", err)
	}
	if _, err := LoadMono(path, 0); err == nil {
		t.Error("rate 0: no error")
	}
}

func TestDownmix(t *testing.T) {
	got := Downmix([][]float32{{1, 2, 3, 9}, {3, 4, 5}, {2, 0, 1}})
	want := []float32{2, 2, 3}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	one := []float32{0.5, -0.5}
	cp := Downmix([][]float32{one})
	cp[0] = 7
	if one[0] != 0.5 {
		t.Error("Downmix of one channel must copy")
	}
	if Downmix(nil) != nil {
		t.Error("Downmix(nil) != nil")
	}
}
