package audio

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/tvlt-go/tvlt/internal/allocs"
)

// FuzzDecodeWAV feeds arbitrary bytes to the WAV decoder. It must not panic;
// it returns either one of the package's WAV errors or a clip that is
// well-formed (a supported rate, equal-length finite channels) and
// survives a float32 round trip; and it
// allocates no more than the decoded samples can legitimately need: one
// float32 per input byte at worst (8-bit PCM), plus the channel slice
// headers, plus a fixed 64 MiB allowance.
func FuzzDecodeWAV(f *testing.F) {
	clip := &Clip{Rate: 16000, Channels: [][]float32{{0, 0.5, -0.5, 1, -1, 0.25}, {0.1, -0.1, 0.2, -0.2, 0.3, -0.3}}}
	for _, format := range []WAVFormat{PCM8, PCM16, PCM24, PCM32, Float32, Float64} {
		b, err := EncodeWAV(clip, format)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// Three channels force WAVE_FORMAT_EXTENSIBLE.
	b, err := EncodeWAV(&Clip{Rate: 44100, Channels: [][]float32{{0.5}, {-0.5}, {0}}}, PCM16)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	// Unknown odd-sized chunks around fmt, and an odd data chunk with its pad byte.
	le := binary.LittleEndian
	chunk := func(id string, body []byte) []byte {
		out := append([]byte(id), le.AppendUint32(nil, uint32(len(body)))...)
		out = append(out, body...)
		if len(body)%2 == 1 {
			out = append(out, 0)
		}
		return out
	}
	fmt8 := le.AppendUint16(nil, tagPCM)
	fmt8 = le.AppendUint16(fmt8, 1)
	fmt8 = le.AppendUint32(fmt8, 8000)
	fmt8 = le.AppendUint32(fmt8, 8000)
	fmt8 = le.AppendUint16(fmt8, 1)
	fmt8 = le.AppendUint16(fmt8, 8)
	body := []byte("WAVE")
	body = append(body, chunk("LIST", []byte("INFOx"))...)
	body = append(body, chunk("fmt ", fmt8)...)
	body = append(body, chunk("data", []byte{128, 255, 0})...)
	body = append(body, chunk("cue ", []byte{1, 2})...)
	f.Add(append(append([]byte("RIFF"), le.AppendUint32(nil, uint32(len(body)))...), body...))
	// A streaming writer's data chunk of unknown (0xFFFFFFFF) size.
	stream := append([]byte("RIFF\xff\xff\xff\xffWAVE"), chunk("fmt ", fmt8)...)
	f.Add(append(append(stream, "data\xff\xff\xff\xff"...), 1, 2, 3, 4))
	f.Add([]byte("RIFF\x04\x00\x00\x00WAVE"))
	f.Add([]byte("RF64"))

	f.Fuzz(func(t *testing.T, b []byte) {
		var c *Clip
		var err error
		alloc := allocs.Of(func() { c, err = DecodeWAV(b) })
		if limit := uint64(64<<20) + 4*uint64(len(b)) + 24*math.MaxUint16; alloc > limit {
			t.Fatalf("decoding %d bytes allocated %d bytes (limit %d)", len(b), alloc, limit)
		}
		if err != nil {
			if c != nil {
				t.Fatalf("error %v with a non-nil clip", err)
			}
			for _, known := range []error{ErrNotWAV, ErrTruncatedWAV, ErrUnsupportedWAV, ErrBadWAVHeader, ErrNonFinite} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("error wraps none of the WAV errors: %v", err)
		}
		if c.Rate < MinSampleRate || c.Rate > MaxSampleRate {
			t.Fatalf("rate %d outside [%d, %d]", c.Rate, MinSampleRate, MaxSampleRate)
		}
		if len(c.Channels) == 0 {
			t.Fatal("clip without channels")
		}
		frames := len(c.Channels[0])
		if frames*len(c.Channels) > len(b) {
			t.Fatalf("%d channels of %d samples from %d bytes", len(c.Channels), frames, len(b))
		}
		for ch, s := range c.Channels {
			if len(s) != frames {
				t.Fatalf("channel %d has %d samples, channel 0 %d", ch, len(s), frames)
			}
			for i, v := range s {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("sample %d of channel %d is %v", i, ch, v)
				}
			}
		}
		if frames*len(c.Channels) > 1<<16 {
			return // keep the per-input work small
		}
		enc, err := EncodeWAV(c, Float32)
		if err != nil {
			t.Fatalf("re-encoding a decoded clip: %v", err)
		}
		back, err := DecodeWAV(enc)
		if err != nil {
			t.Fatalf("decoding the re-encoded clip: %v", err)
		}
		if back.Rate != c.Rate || len(back.Channels) != len(c.Channels) {
			t.Fatalf("round trip: rate %d, %d channels; want %d, %d", back.Rate, len(back.Channels), c.Rate, len(c.Channels))
		}
		for ch := range c.Channels {
			for i, v := range c.Channels[ch] {
				if back.Channels[ch][i] != v {
					t.Fatalf("round trip: sample %d of channel %d is %v, want %v", i, ch, back.Channels[ch][i], v)
				}
			}
		}
	})
}
