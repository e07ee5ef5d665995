package checkpoints

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorgonia.org/tensor"
)

// maxNPYHeader bounds the .npy header; numpy itself refuses headers above
// 10,000 bytes unless told otherwise.
const maxNPYHeader = 1 << 20

// npyMagic opens every .npy file.
const npyMagic = "\x93NUMPY"

// npyKind describes a supported numpy dtype.
type npyKind struct {
	kind byte // f, i, u, b
	size int
}

// ReadNPZ reads every array of a .npz archive, keeping each array's dtype
// (float32, float64, int64, int32, uint8, bool). Keys are the entry names
// without ".npy" and may contain "/". Every size is checked against the
// archive before anything is allocated; scalars come back with shape [1].
func ReadNPZ(path string) (map[string]*tensor.Dense, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %s: %w", path, err)
	}
	defer zr.Close()
	// Entries may share compressed bytes (an overlapping zip bomb), so the
	// per-entry ratio check of readNPYEntry alone would let a small file
	// expand once per directory entry: bound the whole archive by its size.
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	limit := 1100*uint64(st.Size()) + 1024*uint64(len(zr.File))
	budget := limit
	out := make(map[string]*tensor.Dense, len(zr.File))
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue // directory entry
		}
		key, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok {
			return nil, fmt.Errorf("checkpoints: %s: entry %q is not a .npy array", path, f.Name)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("checkpoints: %s: array %q appears twice", path, key)
		}
		if f.UncompressedSize64 > budget {
			return nil, fmt.Errorf("checkpoints: %s: entries claim more than %d bytes from a %d byte archive", path, limit, st.Size())
		}
		budget -= f.UncompressedSize64
		d, err := readNPYEntry(f)
		if err != nil {
			return nil, fmt.Errorf("checkpoints: %s: array %q: %w", path, key, err)
		}
		out[key] = d
	}
	return out, nil
}

func readNPYEntry(f *zip.File) (*tensor.Dense, error) {
	size := f.UncompressedSize64
	// Deflate cannot compress better than about 1032:1, so a larger claim
	// is a zip bomb or a lie; either way do not allocate for it.
	if f.Method != zip.Store && size > 1100*f.CompressedSize64+1024 {
		return nil, fmt.Errorf("claims %d bytes from %d compressed", size, f.CompressedSize64)
	}
	if f.Method == zip.Store && size != f.CompressedSize64 {
		return nil, fmt.Errorf("stored entry claims %d bytes but holds %d", size, f.CompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readNPY(rc, size)
}

// readNPY parses one .npy stream of exactly size bytes.
func readNPY(r io.Reader, size uint64) (*tensor.Dense, error) {
	var pre [10]byte
	if size < 10 {
		return nil, fmt.Errorf("truncated: %d bytes is too short for a .npy header", size)
	}
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return nil, fmt.Errorf("reading .npy magic: %w", err)
	}
	if string(pre[:6]) != npyMagic {
		return nil, fmt.Errorf("not a .npy file (bad magic %q)", pre[:6])
	}
	var hlen uint64
	prefix := uint64(10)
	switch pre[6] {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return nil, fmt.Errorf("reading .npy header length: %w", err)
		}
		hlen = uint64(binary.LittleEndian.Uint16(pre[8:10]))
	case 2, 3:
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return nil, fmt.Errorf("reading .npy header length: %w", err)
		}
		hlen = uint64(binary.LittleEndian.Uint32(l[:]))
		prefix = 12
	default:
		return nil, fmt.Errorf("unsupported .npy version %d.%d", pre[6], pre[7])
	}
	if hlen > size-prefix || hlen > maxNPYHeader {
		return nil, fmt.Errorf(".npy header length %d beyond the %d byte entry", hlen, size)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("reading .npy header: %w", err)
	}
	descr, fortran, shape, err := parseNPYHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	kind, bigEndian, err := parseDescr(descr)
	if err != nil {
		return nil, err
	}
	if fortran {
		return nil, fmt.Errorf("array is Fortran-ordered; only C order is supported")
	}
	dataLen := size - prefix - hlen
	count := uint64(1)
	for _, d := range shape {
		if d == 0 {
			return nil, fmt.Errorf("shape %v has no elements, which a tensor.Dense cannot hold", shape)
		}
		if count > dataLen/uint64(d) {
			return nil, fmt.Errorf("shape %v of %s needs more than the %d data bytes present", shape, descr, dataLen)
		}
		count *= uint64(d)
	}
	if count*uint64(kind.size) != dataLen {
		return nil, fmt.Errorf("shape %v of %s needs %d bytes but the entry holds %d", shape, descr, count*uint64(kind.size), dataLen)
	}
	buf := make([]byte, dataLen)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("reading %d data bytes: %w", dataLen, err)
	}
	// Draining the reader lets archive/zip verify the CRC.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	var order binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	n := int(count)
	var backing interface{}
	switch {
	case kind.kind == 'f' && kind.size == 4:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(order.Uint32(buf[4*i:]))
		}
		backing = v
	case kind.kind == 'f' && kind.size == 8:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(order.Uint64(buf[8*i:]))
		}
		backing = v
	case kind.kind == 'i' && kind.size == 8:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(order.Uint64(buf[8*i:]))
		}
		backing = v
	case kind.kind == 'i' && kind.size == 4:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(order.Uint32(buf[4*i:]))
		}
		backing = v
	case kind.kind == 'u':
		backing = buf
	case kind.kind == 'b':
		v := make([]bool, n)
		for i, b := range buf {
			v[i] = b != 0
		}
		backing = v
	}
	dims := make([]int, len(shape))
	for i, d := range shape {
		dims[i] = int(d)
	}
	return tensor.New(tensor.WithShape(denseShape(dims)...), tensor.WithBacking(backing)), nil
}

// parseDescr maps a numpy dtype string to one of the supported kinds.
func parseDescr(descr string) (npyKind, bool, error) {
	if len(descr) < 2 {
		return npyKind{}, false, fmt.Errorf("unsupported dtype %q", descr)
	}
	order, rest := descr[0], descr[1:]
	kinds := map[string]npyKind{"f4": {'f', 4}, "f8": {'f', 8}, "i8": {'i', 8}, "i4": {'i', 4}, "u1": {'u', 1}, "b1": {'b', 1}}
	k, ok := kinds[rest]
	if !ok || !strings.ContainsRune("<>|=", rune(order)) {
		return npyKind{}, false, fmt.Errorf("unsupported dtype %q (float32, float64, int64, int32, uint8 and bool are)", descr)
	}
	return k, order == '>' && k.size > 1, nil
}

// parseNPYHeader parses the Python dict literal of a .npy header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
func parseNPYHeader(h string) (descr string, fortran bool, shape []int64, err error) {
	p := &pyParser{s: strings.TrimRight(h, " \n\x00")}
	fail := func(msg string) (string, bool, []int64, error) {
		return "", false, nil, fmt.Errorf("bad .npy header %q: %s", truncate(strings.TrimSpace(h), 120), msg)
	}
	if !p.eat('{') {
		return fail("not a dict")
	}
	seen := map[string]bool{}
	for {
		if p.eat('}') {
			break
		}
		key, ok := p.str()
		if !ok || !p.eat(':') {
			return fail("expected 'key':")
		}
		if seen[key] {
			return fail("duplicate key " + key)
		}
		seen[key] = true
		switch key {
		case "descr":
			if descr, ok = p.str(); !ok {
				return fail("descr is not a string")
			}
		case "fortran_order":
			switch {
			case p.word("True"):
				fortran = true
			case p.word("False"):
				fortran = false
			default:
				return fail("fortran_order is not True or False")
			}
		case "shape":
			if shape, ok = p.tuple(); !ok {
				return fail("shape is not a tuple of non-negative integers")
			}
		default:
			return fail("unknown key " + key)
		}
		if !p.eat(',') {
			if !p.eat('}') {
				return fail("expected ',' or '}'")
			}
			break
		}
	}
	p.skip()
	if p.i != len(p.s) {
		return fail("trailing characters")
	}
	if !seen["descr"] || !seen["fortran_order"] || !seen["shape"] {
		return fail("missing descr, fortran_order or shape")
	}
	return descr, fortran, shape, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// pyParser reads the few Python literal forms a .npy header uses.
type pyParser struct {
	s string
	i int
}

func (p *pyParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *pyParser) eat(c byte) bool {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyParser) word(w string) bool {
	p.skip()
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

func (p *pyParser) str() (string, bool) {
	p.skip()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", false
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, true
}

func (p *pyParser) tuple() ([]int64, bool) {
	if !p.eat('(') {
		return nil, false
	}
	out := []int64{}
	for {
		if p.eat(')') {
			return out, true
		}
		p.skip()
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j < len(p.s) && p.s[j] == 'L' { // Python 2 longs
			j++
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(p.s[p.i:j], "L"), 10, 64)
		if err != nil || v > maxDim || len(out) > 64 {
			return nil, false
		}
		out = append(out, v)
		p.i = j
		if !p.eat(',') {
			if !p.eat(')') {
				return nil, false
			}
			return out, true
		}
	}
}

// npzEpoch is the fixed timestamp of every entry, so equal arrays give
// byte-identical archives.
var npzEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// WriteNPZ atomically writes arrays as an uncompressed .npz archive that
// numpy.load reads: one "<name>.npy" entry per key (keys may contain "/"),
// C order, little endian, dtypes preserved (float32, float64, int64,
// int32, uint8, bool; Go int is stored as int64).
func WriteNPZ(path string, arrays map[string]*tensor.Dense) error {
	names, err := checkNPZArrays(arrays)
	if err != nil {
		return fmt.Errorf("checkpoints: %s: %w", path, err)
	}
	return AtomicWriteFile(path, func(w io.Writer) error {
		return encodeNPZNames(w, arrays, names)
	})
}

// checkNPZArrays validates names and tensors and returns the sorted names.
func checkNPZArrays(arrays map[string]*tensor.Dense) ([]string, error) {
	names := make([]string, 0, len(arrays))
	for name, a := range arrays {
		if err := checkNPZName(name); err != nil {
			return nil, err
		}
		if _, _, err := denseData(a); err != nil {
			return nil, fmt.Errorf("array %q: %w", name, err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

func encodeNPZNames(w io.Writer, arrays map[string]*tensor.Dense, names []string) error {
	zw := zip.NewWriter(w)
	for _, name := range names {
		ew, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store, Modified: npzEpoch})
		if err != nil {
			return err
		}
		if err := writeNPY(ew, arrays[name]); err != nil {
			return fmt.Errorf("array %q: %w", name, err)
		}
	}
	return zw.Close()
}

// checkNPZName rejects keys that would not survive the zip round trip or
// that an unzip tool would place outside its target folder.
func checkNPZName(name string) error {
	if name == "" || !utf8.ValidString(name) || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return fmt.Errorf("invalid array name %q", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("invalid array name %q", name)
		}
	}
	return nil
}

// writeNPY writes one array in .npy format 1.0 (2.0 for huge headers), with
// the header padded to 64 bytes as numpy does.
func writeNPY(w io.Writer, t *tensor.Dense) error {
	data, shape, err := denseData(t)
	if err != nil {
		return err
	}
	var descr string
	switch data.(type) {
	case []float32:
		descr = "<f4"
	case []float64:
		descr = "<f8"
	case []int64, []int:
		descr = "<i8"
	case []int32:
		descr = "<i4"
	case []uint8:
		descr = "|u1"
	case []bool:
		descr = "|b1"
	}
	var sh strings.Builder
	sh.WriteByte('(')
	for i, d := range shape {
		if i > 0 {
			sh.WriteString(", ")
		}
		sh.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		sh.WriteByte(',')
	}
	sh.WriteByte(')')
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, sh.String())
	prefix := []byte(npyMagic + "\x01\x00")
	lenSize := 2
	if len(dict)+1+10 > math.MaxUint16 {
		prefix = []byte(npyMagic + "\x02\x00")
		lenSize = 4
	}
	total := len(prefix) + lenSize + len(dict) + 1
	pad := (64 - total%64) % 64
	hdr := dict + strings.Repeat(" ", pad) + "\n"
	if lenSize == 2 {
		prefix = binary.LittleEndian.AppendUint16(prefix, uint16(len(hdr)))
	} else {
		prefix = binary.LittleEndian.AppendUint32(prefix, uint32(len(hdr)))
	}
	if _, err := w.Write(append(prefix, hdr...)); err != nil {
		return err
	}
	le := binary.LittleEndian
	buf := make([]byte, 0, 1<<16)
	flush := func(force bool) error {
		if len(buf) > 0 && (force || len(buf) >= cap(buf)-8) {
			_, err := w.Write(buf)
			buf = buf[:0]
			return err
		}
		return nil
	}
	n := sliceLen(data)
	for i := 0; i < n; i++ {
		switch x := data.(type) {
		case []float32:
			buf = le.AppendUint32(buf, math.Float32bits(x[i]))
		case []float64:
			buf = le.AppendUint64(buf, math.Float64bits(x[i]))
		case []int64:
			buf = le.AppendUint64(buf, uint64(x[i]))
		case []int:
			buf = le.AppendUint64(buf, uint64(int64(x[i])))
		case []int32:
			buf = le.AppendUint32(buf, uint32(x[i]))
		case []uint8:
			buf = append(buf, x[i])
		case []bool:
			if x[i] {
				buf = append(buf, 1)
			} else {
				buf = append(buf, 0)
			}
		}
		if err := flush(false); err != nil {
			return err
		}
	}
	return flush(true)
}
