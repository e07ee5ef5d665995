package checkpoints

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"gorgonia.org/tensor"
)

// MaxSafetensorsHeader caps the JSON header size, like the Rust reference
// implementation (100 MB), so a hostile length cannot force a huge allocation.
const MaxSafetensorsHeader = 100_000_000

// maxDim bounds a single dimension so that shape arithmetic anywhere
// downstream (even of zero-sized tensors) cannot overflow.
const maxDim = 1 << 40

// metadataKey is the reserved header entry holding free-form string metadata.
const metadataKey = "__metadata__"

// dtypeSizes lists every dtype string the safetensors format defines, with
// its element size in bytes; headers naming anything else are rejected.
var dtypeSizes = map[string]int64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// TensorInfo describes one tensor of a safetensors header. Begin and End
// are byte offsets relative to the start of the data section.
type TensorInfo struct {
	Name  string
	Dtype string
	Shape []int
	Begin int64
	End   int64
}

// SafetensorsFile is an opened, fully validated safetensors file whose
// tensors are read on demand, so a large checkpoint need not be held in
// memory twice.
type SafetensorsFile struct {
	name     string
	r        io.ReaderAt
	closer   io.Closer
	dataBase int64
	tensors  []TensorInfo // sorted by name
	byName   map[string]int
	metadata map[string]string
}

// OpenSafetensors opens path and validates its whole header (lengths,
// dtypes, shapes and that the offsets tile the data section exactly) before
// anything else is allocated.
func OpenSafetensors(path string) (*SafetensorsFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("checkpoints: %s: %w", path, err)
	}
	sf, err := NewSafetensorsReader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.closer = f
	return sf, nil
}

// NewSafetensorsReader validates a safetensors image of size bytes read
// through r; name is used only in error messages.
func NewSafetensorsReader(r io.ReaderAt, size int64, name string) (*SafetensorsFile, error) {
	fail := func(format string, args ...interface{}) error {
		return fmt.Errorf("checkpoints: %s: %s", name, fmt.Sprintf(format, args...))
	}
	if size < 8 {
		return nil, fail("truncated: %d bytes is too short for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fail("reading header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(size-8) {
		return nil, fail("header length %d beyond the file (%d bytes after the length field); the file is truncated or not safetensors", n, size-8)
	}
	if n > MaxSafetensorsHeader {
		return nil, fail("header length %d exceeds the %d byte limit", n, MaxSafetensorsHeader)
	}
	if n < 2 {
		return nil, fail("header length %d is too short for a JSON object", n)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fail("reading %d header bytes: %v", n, err)
	}
	if hdr[0] != '{' {
		return nil, fail("header does not start with '{'")
	}
	sf := &SafetensorsFile{name: name, r: r, dataBase: 8 + int64(n), byName: map[string]int{}}
	dataLen := size - sf.dataBase
	if err := sf.parseHeader(hdr, dataLen); err != nil {
		return nil, fail("%v", err)
	}
	return sf, nil
}

// parseHeader walks the JSON object token by token: encoding/json's map
// decoding would silently keep the last of two duplicate names.
func (sf *SafetensorsFile) parseHeader(hdr []byte, dataLen int64) error {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("header is not a JSON object")
	}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("header JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("header JSON: unexpected %v", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("header JSON at %q: %v", key, err)
		}
		if key == metadataKey {
			if seenMeta {
				return fmt.Errorf("duplicate %s entry", metadataKey)
			}
			seenMeta = true
			if err := sf.parseMetadata(raw); err != nil {
				return err
			}
			continue
		}
		if _, dup := sf.byName[key]; dup {
			return fmt.Errorf("tensor %q: duplicate name in header", key)
		}
		info, err := parseTensorInfo(key, raw, dataLen)
		if err != nil {
			return err
		}
		sf.byName[key] = len(sf.tensors)
		sf.tensors = append(sf.tensors, info)
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("header JSON: %v", err)
	}
	// Only whitespace (the alignment padding) may follow the object.
	if len(bytes.Trim(hdr[dec.InputOffset():], " \t\r\n")) != 0 {
		return fmt.Errorf("trailing data after the header JSON object")
	}
	return sf.checkLayout(dataLen)
}

func (sf *SafetensorsFile) parseMetadata(raw json.RawMessage) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	var meta map[string]interface{}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("%s is not an object of strings: %v", metadataKey, err)
	}
	sf.metadata = make(map[string]string, len(meta))
	for k, v := range meta {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s[%q] is %T, want a string", metadataKey, k, v)
		}
		sf.metadata[k] = s
	}
	return nil
}

func parseTensorInfo(name string, raw json.RawMessage, dataLen int64) (TensorInfo, error) {
	info := TensorInfo{Name: name}
	if name == "" {
		return info, fmt.Errorf("tensor with an empty name")
	}
	var f struct {
		Dtype   *string       `json:"dtype"`
		Shape   []json.Number `json:"shape"`
		Offsets []json.Number `json:"data_offsets"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		return info, fmt.Errorf("tensor %q: bad entry: %v", name, err)
	}
	if f.Dtype == nil {
		return info, fmt.Errorf("tensor %q: missing dtype", name)
	}
	info.Dtype = *f.Dtype
	elemSize, ok := dtypeSizes[info.Dtype]
	if !ok {
		return info, fmt.Errorf("tensor %q: unknown dtype %q", name, info.Dtype)
	}
	if f.Shape == nil {
		return info, fmt.Errorf("tensor %q: missing shape", name)
	}
	if len(f.Offsets) != 2 {
		return info, fmt.Errorf("tensor %q: data_offsets must hold 2 numbers, got %d", name, len(f.Offsets))
	}
	// Count elements with an upper bound: every product above the data
	// size is already an error, so nothing can overflow.
	count := int64(1)
	info.Shape = make([]int, len(f.Shape))
	for i, num := range f.Shape {
		d, err := strconvInt(num)
		if err != nil {
			return info, fmt.Errorf("tensor %q: shape %v: dimension %d: %v", name, f.Shape, i, err)
		}
		if d < 0 {
			return info, fmt.Errorf("tensor %q: shape %v: negative dimension %d", name, f.Shape, d)
		}
		if d > maxDim {
			return info, fmt.Errorf("tensor %q: shape %v: dimension %d too large", name, f.Shape, d)
		}
		info.Shape[i] = int(d)
		switch {
		case d == 0:
			count = 0
		case count > dataLen/d:
			count = dataLen + 1 // saturate: too big whatever follows, unless a 0
		default:
			count *= d
		}
	}
	begin, err1 := strconvInt(f.Offsets[0])
	end, err2 := strconvInt(f.Offsets[1])
	if err1 != nil || err2 != nil || begin < 0 || end < begin {
		return info, fmt.Errorf("tensor %q: invalid data_offsets [%s, %s]", name, f.Offsets[0], f.Offsets[1])
	}
	if end > dataLen {
		return info, fmt.Errorf("tensor %q: data_offsets [%d, %d] out of range: the data section holds %d bytes", name, begin, end, dataLen)
	}
	info.Begin, info.End = begin, end
	if count > dataLen || count*elemSize != end-begin {
		return info, fmt.Errorf("tensor %q: shape %v of %s needs %s bytes but data_offsets [%d, %d] span %d", name, info.Shape, info.Dtype, bytesNeeded(info.Shape, elemSize), begin, end, end-begin)
	}
	return info, nil
}

// bytesNeeded formats the byte size of a shape, saying "too many" instead
// of overflowing.
func bytesNeeded(shape []int, elemSize int64) string {
	n := elemSize
	for _, d := range shape {
		if d == 0 {
			return "0"
		}
		if n > math.MaxInt64/int64(d) {
			return "more than 2^63"
		}
		n *= int64(d)
	}
	return fmt.Sprint(n)
}

func strconvInt(n json.Number) (int64, error) {
	v, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", n.String())
	}
	return v, nil
}

// checkLayout requires the tensors to tile the data section exactly: no
// overlaps (two tensors sharing bytes), no gaps and no trailing bytes,
// matching the reference implementation's validation.
func (sf *SafetensorsFile) checkLayout(dataLen int64) error {
	order := make([]int, len(sf.tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ta, tb := sf.tensors[order[a]], sf.tensors[order[b]]
		if ta.Begin != tb.Begin {
			return ta.Begin < tb.Begin
		}
		return ta.End < tb.End
	})
	pos := int64(0)
	prev := ""
	for _, i := range order {
		t := sf.tensors[i]
		switch {
		case t.Begin < pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q ending at %d", t.Name, t.Begin, t.End, prev, pos)
		case t.Begin > pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] leave a gap of %d bytes after offset %d", t.Name, t.Begin, t.End, t.Begin-pos, pos)
		}
		pos = t.End
		prev = t.Name
	}
	if pos != dataLen {
		return fmt.Errorf("tensors cover %d bytes but the data section holds %d (trailing or missing data)", pos, dataLen)
	}
	sort.Slice(sf.tensors, func(a, b int) bool { return sf.tensors[a].Name < sf.tensors[b].Name })
	for i, t := range sf.tensors {
		sf.byName[t.Name] = i
	}
	return nil
}

// Close releases the underlying file, if OpenSafetensors opened one.
func (sf *SafetensorsFile) Close() error {
	if sf.closer == nil {
		return nil
	}
	err := sf.closer.Close()
	sf.closer = nil
	return err
}

// Names returns the tensor names in sorted order.
func (sf *SafetensorsFile) Names() []string {
	out := make([]string, len(sf.tensors))
	for i, t := range sf.tensors {
		out[i] = t.Name
	}
	return out
}

// Tensors returns the header entries sorted by name.
func (sf *SafetensorsFile) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(sf.tensors))
	for i, t := range sf.tensors {
		t.Shape = append([]int{}, t.Shape...)
		out[i] = t
	}
	return out
}

// Info returns one tensor's header entry.
func (sf *SafetensorsFile) Info(name string) (TensorInfo, bool) {
	i, ok := sf.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := sf.tensors[i]
	t.Shape = append([]int{}, t.Shape...)
	return t, true
}

// Metadata returns a copy of the header's __metadata__ (nil when absent).
func (sf *SafetensorsFile) Metadata() map[string]string {
	if sf.metadata == nil {
		return nil
	}
	out := make(map[string]string, len(sf.metadata))
	for k, v := range sf.metadata {
		out[k] = v
	}
	return out
}

// RawBytes returns a tensor's stored bytes exactly as in the file.
func (sf *SafetensorsFile) RawBytes(name string) ([]byte, error) {
	i, ok := sf.byName[name]
	if !ok {
		return nil, fmt.Errorf("checkpoints: %s: no tensor %q", sf.name, name)
	}
	t := sf.tensors[i]
	buf := make([]byte, t.End-t.Begin)
	if _, err := sf.r.ReadAt(buf, sf.dataBase+t.Begin); err != nil && !(errors.Is(err, io.EOF) && len(buf) == 0) {
		return nil, fmt.Errorf("checkpoints: %s: tensor %q: reading data: %w", sf.name, name, err)
	}
	return buf, nil
}

func denseShape(shape []int) []int {
	if len(shape) == 0 {
		// gorgonia's Dense has no convenient rank-0 form; like the npz
		// reader, scalars come back with shape [1].
		return []int{1}
	}
	return append([]int{}, shape...)
}

// nonEmpty returns a tensor's header entry and raw bytes, refusing
// zero-element tensors (a gorgonia tensor cannot hold them).
func (sf *SafetensorsFile) nonEmpty(name string) (TensorInfo, []byte, error) {
	info, ok := sf.Info(name)
	if !ok {
		return info, nil, fmt.Errorf("checkpoints: %s: no tensor %q", sf.name, name)
	}
	if err := checkNonEmpty(info); err != nil {
		return info, nil, fmt.Errorf("checkpoints: %s: %w", sf.name, err)
	}
	buf, err := sf.RawBytes(name)
	return info, buf, err
}

// Float32 reads one tensor converted to float32 (F32, F16, BF16 and F64 are
// converted; integer and bool dtypes are converted by value).
func (sf *SafetensorsFile) Float32(name string) (*tensor.Dense, error) {
	info, buf, err := sf.nonEmpty(name)
	if err != nil {
		return nil, err
	}
	vals, err := decodeFloat32(info.Dtype, buf)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %s: tensor %q: %w", sf.name, name, err)
	}
	return tensor.New(tensor.WithShape(denseShape(info.Shape)...), tensor.WithBacking(vals)), nil
}

// Float64 reads one tensor converted to float64; F64 data keeps its full
// precision.
func (sf *SafetensorsFile) Float64(name string) (*tensor.Dense, error) {
	info, buf, err := sf.nonEmpty(name)
	if err != nil {
		return nil, err
	}
	var vals []float64
	if info.Dtype == "F64" {
		vals = make([]float64, len(buf)/8)
		for i := range vals {
			vals[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
		}
	} else {
		f32, err := decodeFloat32(info.Dtype, buf)
		if err != nil {
			return nil, fmt.Errorf("checkpoints: %s: tensor %q: %w", sf.name, name, err)
		}
		vals = make([]float64, len(f32))
		for i, v := range f32 {
			vals[i] = float64(v)
		}
	}
	return tensor.New(tensor.WithShape(denseShape(info.Shape)...), tensor.WithBacking(vals)), nil
}

// checkNonEmpty rejects zero-element tensors: they are valid safetensors,
// but a gorgonia Dense without elements panics on Data().
func checkNonEmpty(info TensorInfo) error {
	for _, d := range info.Shape {
		if d == 0 {
			return fmt.Errorf("tensor %q: shape %v has no elements, which a tensor.Dense cannot hold", info.Name, info.Shape)
		}
	}
	return nil
}

func decodeFloat32(dtype string, buf []byte) ([]float32, error) {
	le := binary.LittleEndian
	switch dtype {
	case "F32":
		v := make([]float32, len(buf)/4)
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(buf[4*i:]))
		}
		return v, nil
	case "F16":
		v := make([]float32, len(buf)/2)
		for i := range v {
			v[i] = halfToFloat32(le.Uint16(buf[2*i:]))
		}
		return v, nil
	case "BF16":
		v := make([]float32, len(buf)/2)
		for i := range v {
			v[i] = bfloat16ToFloat32(le.Uint16(buf[2*i:]))
		}
		return v, nil
	case "F64":
		v := make([]float32, len(buf)/8)
		for i := range v {
			v[i] = float32(math.Float64frombits(le.Uint64(buf[8*i:])))
		}
		return v, nil
	case "I64", "U64", "I32", "U32", "I16", "U16", "I8", "U8", "BOOL":
		size := int(dtypeSizes[dtype])
		v := make([]float32, len(buf)/size)
		for i := range v {
			b := buf[size*i:]
			switch dtype {
			case "I64":
				v[i] = float32(int64(le.Uint64(b)))
			case "U64":
				v[i] = float32(le.Uint64(b))
			case "I32":
				v[i] = float32(int32(le.Uint32(b)))
			case "U32":
				v[i] = float32(le.Uint32(b))
			case "I16":
				v[i] = float32(int16(le.Uint16(b)))
			case "U16":
				v[i] = float32(le.Uint16(b))
			case "I8":
				v[i] = float32(int8(b[0]))
			case "U8", "BOOL":
				v[i] = float32(b[0])
			}
		}
		return v, nil
	}
	return nil, fmt.Errorf("dtype %s cannot be converted to float", dtype)
}

// ReadSafetensors reads every tensor of a safetensors file as float32,
// keyed by name, together with the header's __metadata__.
func ReadSafetensors(path string) (map[string]*tensor.Dense, map[string]string, error) {
	sf, err := OpenSafetensors(path)
	if err != nil {
		return nil, nil, err
	}
	defer sf.Close()
	out := make(map[string]*tensor.Dense, len(sf.tensors))
	for _, t := range sf.tensors {
		d, err := sf.Float32(t.Name)
		if err != nil {
			return nil, nil, err
		}
		out[t.Name] = d
	}
	return out, sf.Metadata(), nil
}
