package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// Clip is decoded PCM audio.
type Clip struct {
	Channels [][]float32 // one slice per channel, samples in [-1, 1] for integer formats
	Rate     int         // samples per second
}

// Frames is the number of samples per channel (the shortest channel's length).
func (c *Clip) Frames() int {
	if c == nil || len(c.Channels) == 0 {
		return 0
	}
	n := len(c.Channels[0])
	for _, ch := range c.Channels[1:] {
		n = min(n, len(ch))
	}
	return n
}

// WAVFormat selects the sample encoding WriteWAV uses.
type WAVFormat int

// Sample encodings WriteWAV can produce (ReadWAV reads all of them).
const (
	PCM8    WAVFormat = iota + 1 // unsigned 8-bit integer
	PCM16                        // signed 16-bit integer
	PCM24                        // signed 24-bit integer
	PCM32                        // signed 32-bit integer
	Float32                      // IEEE 754 single precision
	Float64                      // IEEE 754 double precision
)

// String names the encoding as ffmpeg's sample formats do.
func (f WAVFormat) String() string {
	switch f {
	case PCM8:
		return "pcm_u8"
	case PCM16:
		return "pcm_s16le"
	case PCM24:
		return "pcm_s24le"
	case PCM32:
		return "pcm_s32le"
	case Float32:
		return "pcm_f32le"
	case Float64:
		return "pcm_f64le"
	}
	return fmt.Sprintf("WAVFormat(%d)", int(f))
}

func (f WAVFormat) bits() int {
	switch f {
	case PCM8:
		return 8
	case PCM16:
		return 16
	case PCM24:
		return 24
	case PCM32, Float32:
		return 32
	case Float64:
		return 64
	}
	return 0
}

func (f WAVFormat) isFloat() bool { return f == Float32 || f == Float64 }

// WAV format tags and the GUID tail shared by WAVE_FORMAT_EXTENSIBLE sub-formats.
const (
	tagPCM        = 0x0001
	tagFloat      = 0x0003
	tagExtensible = 0xFFFE
)

var ksDataFormatTail = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// The sample rates ReadWAV accepts. Rates outside them are header damage or
// not audio: resampling a 1 Hz file of a minute's samples to 44.1 kHz would
// need gigabytes, so such files are refused before any sample is decoded.
const (
	MinSampleRate = 1000
	MaxSampleRate = 768000
)

// Errors the WAV decoder wraps, so callers can tell bad files apart.
var (
	ErrNotWAV         = errors.New("not a RIFF/WAVE file")
	ErrTruncatedWAV   = errors.New("truncated WAV file")
	ErrUnsupportedWAV = errors.New("unsupported WAV encoding")
	ErrBadWAVHeader   = errors.New("invalid WAV header")
	ErrNonFinite      = errors.New("non-finite sample")
)

// ReadWAV decodes a WAV file: PCM 8/16/24/32-bit int, float32/float64
// (WAVE_FORMAT_EXTENSIBLE too), any channel count. Unknown chunks (LIST,
// fact, cue ...) are skipped. Errors name the file and the reason.
func ReadWAV(path string) (*Clip, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err) // *PathError already names the file
	}
	c, err := DecodeWAV(b)
	if err != nil {
		return nil, fmt.Errorf("audio: %s: %w", path, err)
	}
	return c, nil
}

type wavFmt struct {
	tag      uint16 // effective format code (sub-format for EXTENSIBLE)
	channels int
	rate     int
	align    int
	bits     int
}

// DecodeWAV decodes a whole WAV file held in memory (see ReadWAV).
func DecodeWAV(b []byte) (*Clip, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("empty file: %w", ErrNotWAV)
	}
	if len(b) >= 4 && string(b[:4]) == "RF64" {
		return nil, fmt.Errorf("RF64 (64-bit) WAV: %w", ErrUnsupportedWAV)
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("no RIFF/WAVE header: %w", ErrNotWAV)
	}
	var (
		format  *wavFmt
		data    []byte
		gotData bool
	)
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		size := int64(binary.LittleEndian.Uint32(b[off+4:]))
		start := off + 8
		end := int64(start) + size
		if end > int64(len(b)) {
			switch {
			case id == "data" && size == 0xFFFFFFFF:
				// Streaming writers (e.g. a pipe) cannot seek back to fill
				// in the size; the data runs to the end of the file.
				end = int64(len(b))
			case id == "data":
				return nil, fmt.Errorf("data chunk declares %d bytes but only %d follow: %w", size, len(b)-start, ErrTruncatedWAV)
			case format != nil && gotData:
				end = int64(len(b)) // trailing metadata cut short; the audio is complete
			default:
				return nil, fmt.Errorf("%q chunk declares %d bytes but only %d follow: %w", id, size, len(b)-start, ErrTruncatedWAV)
			}
		}
		body := b[start:end]
		switch id {
		case "fmt ":
			if format != nil {
				return nil, fmt.Errorf("second fmt chunk: %w", ErrBadWAVHeader)
			}
			f, err := parseFmt(body)
			if err != nil {
				return nil, err
			}
			format = f
		case "data":
			if !gotData {
				data, gotData = body, true
			}
		}
		next := end + size&1 // chunks are padded to an even size
		if next > int64(len(b)) {
			break
		}
		off = int(next)
	}
	if format == nil {
		return nil, fmt.Errorf("no fmt chunk: %w", ErrBadWAVHeader)
	}
	if !gotData {
		return nil, fmt.Errorf("no data chunk: %w", ErrTruncatedWAV)
	}
	return decodeSamples(format, data)
}

func parseFmt(body []byte) (*wavFmt, error) {
	if len(body) < 16 {
		return nil, fmt.Errorf("fmt chunk of %d bytes, want at least 16: %w", len(body), ErrBadWAVHeader)
	}
	le := binary.LittleEndian
	f := &wavFmt{
		tag:      le.Uint16(body[0:]),
		channels: int(le.Uint16(body[2:])),
		rate:     int(le.Uint32(body[4:])),
		align:    int(le.Uint16(body[12:])),
		bits:     int(le.Uint16(body[14:])),
	}
	if f.tag == tagExtensible {
		if len(body) < 40 || le.Uint16(body[16:]) < 22 {
			return nil, fmt.Errorf("WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes, want 40: %w", len(body), ErrBadWAVHeader)
		}
		guid := body[24:40]
		if !bytes.Equal(guid[2:], ksDataFormatTail) {
			return nil, fmt.Errorf("WAVE_FORMAT_EXTENSIBLE sub-format GUID % x: %w", guid, ErrUnsupportedWAV)
		}
		f.tag = le.Uint16(guid)
	}
	switch {
	case f.channels == 0:
		return nil, fmt.Errorf("zero channels: %w", ErrBadWAVHeader)
	case f.rate == 0:
		return nil, fmt.Errorf("zero sample rate: %w", ErrBadWAVHeader)
	case f.rate < MinSampleRate || f.rate > MaxSampleRate:
		return nil, fmt.Errorf("sample rate %d Hz is outside the supported %d to %d Hz: %w", f.rate, MinSampleRate, MaxSampleRate, ErrBadWAVHeader)
	}
	switch {
	case f.tag == tagPCM && (f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32):
	case f.tag == tagFloat && (f.bits == 32 || f.bits == 64):
	case f.tag == tagPCM || f.tag == tagFloat:
		return nil, fmt.Errorf("format code 0x%04x with %d bits per sample: %w", f.tag, f.bits, ErrUnsupportedWAV)
	default:
		return nil, fmt.Errorf("format code 0x%04x (only PCM 0x0001 and IEEE float 0x0003 are supported): %w", f.tag, ErrUnsupportedWAV)
	}
	if want := f.channels * f.bits / 8; f.align != want {
		return nil, fmt.Errorf("block align %d, want %d for %d channels of %d bits: %w", f.align, want, f.channels, f.bits, ErrBadWAVHeader)
	}
	return f, nil
}

// decodeSamples de-interleaves data; a trailing partial frame is dropped.
func decodeSamples(f *wavFmt, data []byte) (*Clip, error) {
	frames := len(data) / f.align
	bps := f.bits / 8
	c := &Clip{Rate: f.rate, Channels: make([][]float32, f.channels)}
	for ch := range c.Channels {
		c.Channels[ch] = make([]float32, frames)
	}
	le := binary.LittleEndian
	for i := 0; i < frames; i++ {
		for ch := 0; ch < f.channels; ch++ {
			p := data[i*f.align+ch*bps:]
			var v float32
			switch {
			case f.tag == tagPCM && bps == 1:
				v = float32(int(p[0])-128) / 128
			case f.tag == tagPCM && bps == 2:
				v = float32(int16(le.Uint16(p))) / (1 << 15)
			case f.tag == tagPCM && bps == 3:
				x := int32(uint32(p[0])<<8|uint32(p[1])<<16|uint32(p[2])<<24) >> 8
				v = float32(x) / (1 << 23)
			case f.tag == tagPCM && bps == 4:
				v = float32(float64(int32(le.Uint32(p))) / (1 << 31))
			case bps == 4:
				v = math.Float32frombits(le.Uint32(p))
			default:
				v = float32(math.Float64frombits(le.Uint64(p)))
			}
			if f.tag == tagFloat && (math.IsNaN(float64(v)) || math.IsInf(float64(v), 0)) {
				return nil, fmt.Errorf("sample %d of channel %d is %v: %w", i, ch, v, ErrNonFinite)
			}
			c.Channels[ch][i] = v
		}
	}
	return c, nil
}

// channelMask is the usual speaker layout for WAVE_FORMAT_EXTENSIBLE
// (0 = no assignment for unusual counts).
func channelMask(n int) uint32 {
	switch n {
	case 1:
		return 0x4 // front centre
	case 2:
		return 0x3 // front left, right
	case 4:
		return 0x33 // quad
	case 6:
		return 0x3F // 5.1
	case 8:
		return 0x63F // 7.1
	}
	return 0
}

// EncodeWAV serialises c as a WAV file. Integer formats clip samples to
// [-1, 1] and round to the nearest step; WAVE_FORMAT_EXTENSIBLE is used for
// more than two channels or integer samples wider than 16 bits, as Microsoft
// recommends, and float files carry the fact chunk the spec requires.
func EncodeWAV(c *Clip, format WAVFormat) ([]byte, error) {
	bits := format.bits()
	if bits == 0 {
		return nil, fmt.Errorf("unknown %v: %w", format, ErrUnsupportedWAV)
	}
	if c == nil || len(c.Channels) == 0 {
		return nil, fmt.Errorf("clip has no channels")
	}
	if len(c.Channels) > math.MaxUint16 {
		return nil, fmt.Errorf("%d channels, at most %d fit a WAV header", len(c.Channels), math.MaxUint16)
	}
	if c.Rate <= 0 || int64(c.Rate) > math.MaxUint32 {
		return nil, fmt.Errorf("sample rate %d out of range", c.Rate)
	}
	frames := len(c.Channels[0])
	for ch, s := range c.Channels {
		if len(s) != frames {
			return nil, fmt.Errorf("channel %d has %d samples, channel 0 has %d", ch, len(s), frames)
		}
		for i, v := range s {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("sample %d of channel %d is %v: %w", i, ch, v, ErrNonFinite)
			}
		}
	}
	nch := len(c.Channels)
	bps := bits / 8
	align := nch * bps
	dataSize := int64(frames) * int64(align)
	extensible := nch > 2 || (!format.isFloat() && bits > 16)
	fmtSize := 16
	if extensible {
		fmtSize = 40
	} else if format.isFloat() {
		fmtSize = 18
	}
	factSize := 0
	if format.isFloat() {
		factSize = 12
	}
	total := int64(12+8+fmtSize+factSize+8) + dataSize + dataSize&1
	if total-8 > math.MaxUint32 {
		return nil, fmt.Errorf("%d bytes of audio do not fit a RIFF file (4 GiB limit)", dataSize)
	}
	tag := uint16(tagPCM)
	if format.isFloat() {
		tag = tagFloat
	}
	var buf bytes.Buffer
	buf.Grow(int(total))
	le := binary.LittleEndian
	w16 := func(v uint16) { buf.Write(le.AppendUint16(nil, v)) }
	w32 := func(v uint32) { buf.Write(le.AppendUint32(nil, v)) }
	buf.WriteString("RIFF")
	w32(uint32(total - 8))
	buf.WriteString("WAVE")
	buf.WriteString("fmt ")
	w32(uint32(fmtSize))
	if extensible {
		w16(tagExtensible)
	} else {
		w16(tag)
	}
	w16(uint16(nch))
	w32(uint32(c.Rate))
	w32(uint32(c.Rate) * uint32(align))
	w16(uint16(align))
	w16(uint16(bits))
	switch {
	case extensible:
		w16(22)           // cbSize
		w16(uint16(bits)) // valid bits per sample
		w32(channelMask(nch))
		w16(tag)
		buf.Write(ksDataFormatTail)
	case format.isFloat():
		w16(0) // cbSize
	}
	if format.isFloat() {
		buf.WriteString("fact")
		w32(4)
		w32(uint32(frames))
	}
	buf.WriteString("data")
	w32(uint32(dataSize))
	sample := make([]byte, 8)
	for i := 0; i < frames; i++ {
		for _, s := range c.Channels {
			x := float64(s[i])
			switch format {
			case PCM8:
				sample[0] = uint8(quantize(x, 8) + 128)
			case PCM16:
				le.PutUint16(sample, uint16(int16(quantize(x, 16))))
			case PCM24:
				q := uint32(int32(quantize(x, 24)))
				sample[0], sample[1], sample[2] = byte(q), byte(q>>8), byte(q>>16)
			case PCM32:
				le.PutUint32(sample, uint32(int32(quantize(x, 32))))
			case Float32:
				le.PutUint32(sample, math.Float32bits(s[i]))
			case Float64:
				le.PutUint64(sample, math.Float64bits(x))
			}
			buf.Write(sample[:bps])
		}
	}
	if dataSize&1 == 1 {
		buf.WriteByte(0)
	}
	return buf.Bytes(), nil
}

// quantize maps x in [-1, 1] to a signed integer of the given width,
// x·2^(bits−1) rounded and clipped to [−2^(bits−1), 2^(bits−1)−1], the
// inverse of the decoder's division.
func quantize(x float64, bits int) int64 {
	scale := math.Ldexp(1, bits-1)
	q := math.Round(x * scale)
	return int64(math.Max(-scale, math.Min(scale-1, q)))
}

// WriteWAV writes c to path in the given sample format (see EncodeWAV).
func WriteWAV(path string, c *Clip, format WAVFormat) error {
	b, err := EncodeWAV(c, format)
	if err != nil {
		return fmt.Errorf("audio: %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("audio: %w", err)
	}
	return nil
}
