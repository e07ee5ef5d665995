package checkpoints

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gorgonia.org/tensor"
)

// WriteSafetensors atomically writes tensors to path as F32 safetensors.
// Tensors are stored in name order and the header is padded with spaces to
// 8-byte alignment, the layout of the Rust/Python safetensors library.
// Float64 and integer tensors are converted to float32.
func WriteSafetensors(path string, tensors map[string]*tensor.Dense, metadata map[string]string) error {
	enc, err := EncodeSafetensorsHeader(tensors, metadata, "F32")
	if err != nil {
		return fmt.Errorf("checkpoints: %s: %w", path, err)
	}
	return AtomicWriteFile(path, func(w io.Writer) error {
		return enc.Encode(w)
	})
}

// SafetensorsEncoder is a validated header plus the tensors to stream after
// it; it lets a caller place a safetensors file inside WriteFolder.
type SafetensorsEncoder struct {
	header  []byte
	dtype   string
	names   []string
	tensors map[string]*tensor.Dense
}

// EncodeSafetensorsHeader validates tensors and builds the header for
// storing them as dtype ("F32", "F16" or "F64"). metaOrder lists metadata
// keys to write first, in that order (the rest follow sorted), so a header
// whose key order came from a Python dict is reproduced byte for byte.
func EncodeSafetensorsHeader(tensors map[string]*tensor.Dense, metadata map[string]string, dtype string, metaOrder ...string) (*SafetensorsEncoder, error) {
	size, ok := dtypeSizes[dtype]
	if !ok || (dtype != "F32" && dtype != "F16" && dtype != "F64") {
		return nil, fmt.Errorf("cannot write dtype %q (F32, F16 or F64)", dtype)
	}
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	offset := int64(0)
	for i, name := range names {
		if name == "" || name == metadataKey {
			return nil, fmt.Errorf("invalid tensor name %q", name)
		}
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("tensor name %q is not valid UTF-8", name)
		}
		_, shape, err := denseData(tensors[name])
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		n := int64(size)
		for _, d := range shape {
			n *= int64(d)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, name)
		b.WriteString(`:{"dtype":"`)
		b.WriteString(dtype)
		b.WriteString(`","shape":[`)
		for j, d := range shape {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		b.WriteString(`],"data_offsets":[`)
		b.WriteString(strconv.FormatInt(offset, 10))
		b.WriteByte(',')
		offset += n
		b.WriteString(strconv.FormatInt(offset, 10))
		b.WriteString("]}")
	}
	if len(metadata) > 0 {
		var keys, rest []string
		first := map[string]bool{}
		for _, k := range metaOrder {
			if _, ok := metadata[k]; ok && !first[k] {
				first[k] = true
				keys = append(keys, k)
			}
		}
		for k := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(metadata[k]) {
				return nil, fmt.Errorf("metadata %q is not valid UTF-8", k)
			}
			if !first[k] {
				rest = append(rest, k)
			}
		}
		sort.Strings(rest)
		keys = append(keys, rest...)
		if len(names) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + metadataKey + `":{`)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, k)
			b.WriteByte(':')
			writeJSONString(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return &SafetensorsEncoder{header: []byte(b.String()), dtype: dtype, names: names, tensors: tensors}, nil
}

// writeJSONString escapes like serde_json (only quotes, backslashes and
// control characters), which the safetensors library uses; encoding/json
// would also escape <, > and & and break byte identity.
func writeJSONString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// Encode streams the header and every tensor's data to w.
func (e *SafetensorsEncoder) Encode(w io.Writer) error {
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(e.header)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(e.header); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, name := range e.names {
		data, _, err := denseData(e.tensors[name])
		if err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		f32, _ := data.([]float32)
		n := sliceLen(data)
		for i := 0; i < n; i++ {
			// float32 input takes the bit-exact path (NaN payloads too).
			var v32 float32
			if f32 != nil {
				v32 = f32[i]
			} else if e.dtype != "F64" {
				v32 = float32(floatAt(data, i))
			}
			switch e.dtype {
			case "F32":
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v32))
			case "F16":
				buf = binary.LittleEndian.AppendUint16(buf, float32ToHalf(v32))
			case "F64":
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(floatAt(data, i)))
			}
			if len(buf) >= cap(buf)-8 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

func sliceLen(data interface{}) int {
	switch x := data.(type) {
	case []float32:
		return len(x)
	case []float64:
		return len(x)
	case []int64:
		return len(x)
	case []int32:
		return len(x)
	case []int:
		return len(x)
	case []uint8:
		return len(x)
	case []bool:
		return len(x)
	}
	return 0
}

// floatAt returns element i as float64; float32 values convert exactly,
// so F32 output of float32 input is bit-identical.
func floatAt(data interface{}, i int) float64 {
	switch x := data.(type) {
	case []float32:
		return float64(x[i])
	case []float64:
		return x[i]
	case []int64:
		return float64(x[i])
	case []int32:
		return float64(x[i])
	case []int:
		return float64(x[i])
	case []uint8:
		return float64(x[i])
	case []bool:
		if x[i] {
			return 1
		}
	}
	return 0
}
