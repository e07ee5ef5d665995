package torch

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// mark is MARK's stack entry (Python's metastack, kept as in pickle.py).
type mark struct{}

// maxLine bounds a text opcode's argument (GLOBAL names, INT, FLOAT...).
const maxLine = 1 << 16

// pickleInput reads one pickle from a byte range, counting its position so
// that every length is checked against what is left before allocating.
type pickleInput struct {
	r     *bufio.Reader
	pos   int64 // bytes consumed
	limit int64 // bytes available
}

func newPickleInput(r io.ReaderAt, off, limit int64) *pickleInput {
	// bufio's minimum is 16 bytes; a small pickle gets a small buffer.
	size := int(min(limit, 64<<10))
	return &pickleInput{r: bufio.NewReaderSize(io.NewSectionReader(r, off, limit), max(size, 16)), limit: limit}
}

var errTruncated = errors.New("truncated pickle")

func (in *pickleInput) byte() (byte, error) {
	if in.pos >= in.limit {
		return 0, errTruncated
	}
	b, err := in.r.ReadByte()
	if err != nil {
		return 0, readErr(err)
	}
	in.pos++
	return b, nil
}

// bytes reads n bytes, refusing before allocating if fewer are left.
func (in *pickleInput) bytes(n int64) ([]byte, error) {
	if n < 0 || n > in.limit-in.pos {
		return nil, fmt.Errorf("%w: a %d byte argument with %d bytes left", errTruncated, n, in.limit-in.pos)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(in.r, buf); err != nil {
		return nil, readErr(err)
	}
	in.pos += n
	return buf, nil
}

// line reads up to and without the next '\n'.
func (in *pickleInput) line() (string, error) {
	var buf []byte
	for {
		b, err := in.byte()
		if err != nil {
			return "", err
		}
		if b == '\n' {
			return string(buf), nil
		}
		if len(buf) >= maxLine {
			return "", fmt.Errorf("text argument longer than %d bytes", maxLine)
		}
		buf = append(buf, b)
	}
}

func readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errTruncated
	}
	return err
}

// unpickler is a pickle machine that can build only plain values, the
// allowed globals of allow.go and the storages persistentLoad returns.
// It is iterative (no recursion however deep the input nests), and every
// allocation is bounded by the input bytes it consumed.
type unpickler struct {
	in    *pickleInput
	stack []interface{}
	memo  map[int64]interface{}
	// persistentLoad resolves BINPERSID's id (a tuple for torch storages).
	persistentLoad func(pid *pyTuple) (interface{}, error)
}

func newUnpickler(in *pickleInput, persistentLoad func(*pyTuple) (interface{}, error)) *unpickler {
	return &unpickler{in: in, memo: map[int64]interface{}{}, persistentLoad: persistentLoad}
}

// load runs the machine to STOP and returns the pickled object.
func (u *unpickler) load() (interface{}, error) {
	for {
		start := u.in.pos
		op, err := u.in.byte()
		if err != nil {
			return nil, fmt.Errorf("at byte %d: %w", start, err)
		}
		v, stop, err := u.step(op)
		if err != nil {
			return nil, fmt.Errorf("at byte %d (opcode %s): %w", start, opName(op), err)
		}
		if stop {
			return v, nil
		}
	}
}

func opName(op byte) string {
	if op >= 0x20 && op < 0x7f {
		return strconv.QuoteRune(rune(op))
	}
	return fmt.Sprintf("0x%02x", op)
}

func (u *unpickler) push(v interface{}) { u.stack = append(u.stack, v) }

// memoIndex reads a PUT/GET argument: a decimal line (text), one byte
// (short) or four bytes.
func (u *unpickler) memoIndex(text, short bool) (int64, error) {
	switch {
	case text:
		s, err := u.in.line()
		if err != nil {
			return 0, err
		}
		idx, err := strconv.ParseInt(s, 10, 64)
		if err != nil || idx < 0 {
			return 0, fmt.Errorf("bad memo index %s", printable(s))
		}
		return idx, nil
	case short:
		n, err := u.uint(1)
		return int64(n), err
	}
	n, err := u.uint(4)
	return int64(n), err
}

// popCall pops REDUCE's or NEWOBJ's argument tuple and the global it
// applies; anything but a global is refused ("REDUCE calls a dict").
func (u *unpickler) popCall(op, verb string) (*pyGlobal, []interface{}, error) {
	a, err := u.pop()
	if err != nil {
		return nil, nil, err
	}
	f, err := u.pop()
	if err != nil {
		return nil, nil, err
	}
	args, ok := a.(*pyTuple)
	if !ok {
		return nil, nil, fmt.Errorf("%s arguments are a %s, not a tuple", op, typeName(a))
	}
	g, ok := f.(*pyGlobal)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s %s a %s", ErrRefused, op, verb, typeName(f))
	}
	return g, args.items, nil
}

func (u *unpickler) pop() (interface{}, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	if _, ok := v.(mark); ok {
		return nil, errors.New("a MARK where a value was expected")
	}
	return v, nil
}

func (u *unpickler) top() (interface{}, error) {
	if len(u.stack) == 0 {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	if _, ok := v.(mark); ok {
		return nil, errors.New("a MARK where a value was expected")
	}
	return v, nil
}

// popMark returns the values above the topmost MARK and removes them and it.
func (u *unpickler) popMark() ([]interface{}, error) {
	for i := len(u.stack) - 1; i >= 0; i-- {
		if _, ok := u.stack[i].(mark); ok {
			items := append([]interface{}(nil), u.stack[i+1:]...)
			u.stack = u.stack[:i]
			return items, nil
		}
	}
	return nil, errors.New("no MARK on the stack")
}

func (u *unpickler) uint(n int) (uint64, error) {
	b, err := u.in.bytes(int64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// step executes one opcode; stop reports STOP with its value.
func (u *unpickler) step(op byte) (v interface{}, stop bool, err error) {
	switch op {
	case 0x80: // PROTO
		p, err := u.in.byte()
		if err != nil {
			return nil, false, err
		}
		if p > 5 {
			return nil, false, fmt.Errorf("unsupported pickle protocol %d", p)
		}
	case 0x95: // FRAME: only a buffering hint; the opcodes follow inline.
		n, err := u.uint(8)
		if err != nil {
			return nil, false, err
		}
		if n > uint64(u.in.limit-u.in.pos) {
			return nil, false, fmt.Errorf("%w: frame of %d bytes with %d left", errTruncated, n, u.in.limit-u.in.pos)
		}
	case '.': // STOP
		v, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		return v, true, nil
	case '(': // MARK
		u.push(mark{})
	case '0': // POP
		if len(u.stack) > 0 {
			if _, ok := u.stack[len(u.stack)-1].(mark); !ok {
				u.stack = u.stack[:len(u.stack)-1]
				return nil, false, nil
			}
		}
		_, err := u.popMark()
		return nil, false, err
	case '1': // POP_MARK
		_, err := u.popMark()
		return nil, false, err
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return nil, false, err
		}
		markShared(v)
		u.push(v)
	case 'N':
		u.push(nil)
	case 0x88:
		u.push(true)
	case 0x89:
		u.push(false)
	case 'J': // BININT
		n, err := u.uint(4)
		if err != nil {
			return nil, false, err
		}
		u.push(int64(int32(uint32(n))))
	case 'K': // BININT1
		n, err := u.uint(1)
		if err != nil {
			return nil, false, err
		}
		u.push(int64(n))
	case 'M': // BININT2
		n, err := u.uint(2)
		if err != nil {
			return nil, false, err
		}
		u.push(int64(n))
	case 0x8a, 0x8b: // LONG1, LONG4
		var n uint64
		if op == 0x8a {
			n, err = u.uint(1)
		} else {
			n, err = u.uint(4)
			if int32(uint32(n)) < 0 {
				return nil, false, errors.New("negative LONG4 length")
			}
		}
		if err != nil {
			return nil, false, err
		}
		b, err := u.in.bytes(int64(n))
		if err != nil {
			return nil, false, err
		}
		u.push(decodeLong(b))
	case 'I', 'L': // INT, LONG (text)
		s, err := u.in.line()
		if err != nil {
			return nil, false, err
		}
		if op == 'I' && (s == "00" || s == "01") {
			u.push(s == "01")
			break
		}
		if op == 'L' && len(s) > 0 && s[len(s)-1] == 'L' {
			s = s[:len(s)-1]
		}
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, false, fmt.Errorf("bad integer %s", printable(s))
		}
		u.push(normInt(n))
	case 'G': // BINFLOAT (big-endian)
		b, err := u.in.bytes(8)
		if err != nil {
			return nil, false, err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case 'F': // FLOAT (text)
		s, err := u.in.line()
		if err != nil {
			return nil, false, err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, false, fmt.Errorf("bad float %s", printable(s))
		}
		u.push(f)
	case 'X', 0x8c, 0x8d: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
		b, err := u.counted(op, 4, 1, 8)
		if err != nil {
			return nil, false, err
		}
		if !utf8.Valid(b) {
			// Python accepts lone surrogates (surrogatepass); keep the bytes
			// readable rather than refusing a name.
			b = []byte(string([]rune(string(b))))
		}
		u.push(string(b))
	case 'T', 'U': // BINSTRING, SHORT_BINSTRING: Python 2 str, read as text
		b, err := u.counted(op, 4, 1, 0)
		if err != nil {
			return nil, false, err
		}
		u.push(latin1(b))
	case 'B', 'C', 0x8e, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
		b, err := u.counted(op, 4, 1, 8)
		if err != nil {
			return nil, false, err
		}
		u.push(b)
	case 'S': // STRING: a quoted Python 2 literal
		s, err := u.in.line()
		if err != nil {
			return nil, false, err
		}
		t, err := unquote(s)
		if err != nil {
			return nil, false, err
		}
		u.push(t)
	case 'V': // UNICODE: raw-unicode-escape
		s, err := u.in.line()
		if err != nil {
			return nil, false, err
		}
		t, err := rawUnicodeUnescape(s)
		if err != nil {
			return nil, false, err
		}
		u.push(t)
	case ')':
		u.push(&pyTuple{})
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		if len(u.stack) < n {
			return nil, false, errors.New("stack underflow")
		}
		items := append([]interface{}(nil), u.stack[len(u.stack)-n:]...)
		for _, it := range items {
			if _, ok := it.(mark); ok {
				return nil, false, errors.New("a MARK where a value was expected")
			}
		}
		u.stack = u.stack[:len(u.stack)-n]
		u.push(&pyTuple{items: items})
	case 't': // TUPLE
		items, err := u.popMark()
		if err != nil {
			return nil, false, err
		}
		u.push(&pyTuple{items: items})
	case ']':
		u.push(&pyList{kind: "list"})
	case 'l': // LIST
		items, err := u.popMark()
		if err != nil {
			return nil, false, err
		}
		u.push(&pyList{kind: "list", items: items})
	case '}':
		u.push(newDict("dict"))
	case 'd': // DICT
		items, err := u.popMark()
		if err != nil {
			return nil, false, err
		}
		d := newDict("dict")
		if err := setItems(d, items); err != nil {
			return nil, false, err
		}
		u.push(d)
	case 0x8f: // EMPTY_SET
		u.push(&pyList{kind: "set"})
	case 0x91: // FROZENSET
		items, err := u.popMark()
		if err != nil {
			return nil, false, err
		}
		u.push(&pyList{kind: "frozenset", items: items})
	case 'a', 'e', 0x90: // APPEND, APPENDS, ADDITEMS
		var items []interface{}
		if op == 'a' {
			v, err := u.pop()
			if err != nil {
				return nil, false, err
			}
			items = []interface{}{v}
		} else if items, err = u.popMark(); err != nil {
			return nil, false, err
		}
		t, err := u.top()
		if err != nil {
			return nil, false, err
		}
		l, ok := t.(*pyList)
		if !ok || (op == 0x90) != (l.kind == "set") {
			return nil, false, fmt.Errorf("%w: appending to a %s", ErrRefused, typeName(t))
		}
		l.items = append(l.items, items...)
	case 's', 'u': // SETITEM, SETITEMS
		var items []interface{}
		if op == 's' {
			v, err := u.pop()
			if err != nil {
				return nil, false, err
			}
			k, err := u.pop()
			if err != nil {
				return nil, false, err
			}
			items = []interface{}{k, v}
		} else if items, err = u.popMark(); err != nil {
			return nil, false, err
		}
		t, err := u.top()
		if err != nil {
			return nil, false, err
		}
		d, ok := t.(*pyDict)
		if !ok {
			return nil, false, fmt.Errorf("%w: setting items of a %s", ErrRefused, typeName(t))
		}
		if err := setItems(d, items); err != nil {
			return nil, false, err
		}
	case 'p', 'q', 'r', 0x94: // PUT, BINPUT, LONG_BINPUT, MEMOIZE
		idx := int64(len(u.memo)) // MEMOIZE: the next index
		if op != 0x94 {
			var err error
			if idx, err = u.memoIndex(op == 'p', op == 'q'); err != nil {
				return nil, false, err
			}
		}
		v, err := u.top()
		if err != nil {
			return nil, false, err
		}
		u.memo[idx] = v
	case 'g', 'h', 'j': // GET, BINGET, LONG_BINGET
		idx, err := u.memoIndex(op == 'g', op == 'h')
		if err != nil {
			return nil, false, err
		}
		v, ok := u.memo[idx]
		if !ok {
			return nil, false, fmt.Errorf("memo index %d was never stored", idx)
		}
		markShared(v)
		u.push(v)
	case 'c': // GLOBAL
		module, err := u.in.line()
		if err != nil {
			return nil, false, err
		}
		name, err := u.in.line()
		if err != nil {
			return nil, false, err
		}
		g, err := lookupGlobal(module, name)
		if err != nil {
			return nil, false, err
		}
		u.push(g)
	case 0x93: // STACK_GLOBAL
		n, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		m, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		module, ok1 := m.(string)
		name, ok2 := n.(string)
		if !ok1 || !ok2 {
			return nil, false, fmt.Errorf("STACK_GLOBAL of a %s and a %s, not two str", typeName(m), typeName(n))
		}
		g, err := lookupGlobal(module, name)
		if err != nil {
			return nil, false, err
		}
		u.push(g)
	case 'R': // REDUCE
		g, args, err := u.popCall("REDUCE", "calls")
		if err != nil {
			return nil, false, err
		}
		v, err := u.call(g, args)
		if err != nil {
			return nil, false, err
		}
		u.push(v)
	case 0x81, 0x92: // NEWOBJ, NEWOBJ_EX
		if op == 0x92 {
			kw, err := u.pop()
			if err != nil {
				return nil, false, err
			}
			if d, ok := kw.(*pyDict); !ok || len(d.keys) != 0 {
				return nil, false, fmt.Errorf("%w: NEWOBJ_EX with keyword arguments (a %s)", ErrRefused, typeName(kw))
			}
		}
		g, args, err := u.popCall("NEWOBJ", "of")
		if err != nil {
			return nil, false, err
		}
		v, err := u.newObj(g, args)
		if err != nil {
			return nil, false, err
		}
		u.push(v)
	case 'b': // BUILD
		state, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		inst, err := u.top()
		if err != nil {
			return nil, false, err
		}
		if err := build(inst, state); err != nil {
			return nil, false, err
		}
	case 'Q': // BINPERSID
		pid, err := u.pop()
		if err != nil {
			return nil, false, err
		}
		t, ok := pid.(*pyTuple)
		if !ok {
			return nil, false, fmt.Errorf("persistent id is a %s, not a tuple", typeName(pid))
		}
		if u.persistentLoad == nil {
			return nil, false, errors.New("a persistent id where none may be")
		}
		v, err := u.persistentLoad(t)
		if err != nil {
			return nil, false, err
		}
		u.push(v)
	case 'P':
		return nil, false, fmt.Errorf("%w: text persistent ids (PERSID) are not written by torch.save", ErrRefused)
	case 'i': // INST names its class inline; refuse it by name.
		module, err := u.in.line()
		if err != nil {
			return nil, false, err
		}
		name, err := u.in.line()
		if err != nil {
			return nil, false, err
		}
		if _, err := lookupGlobal(module, name); err != nil {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("%w: INST of %s (instantiating a class by name)", ErrRefused, printable(module+"."+name))
	case 'o':
		return nil, false, fmt.Errorf("%w: OBJ (instantiating a class)", ErrRefused)
	case 0x82, 0x83, 0x84:
		return nil, false, fmt.Errorf("%w: extension registry codes (EXT1/2/4)", ErrRefused)
	case 0x97, 0x98:
		return nil, false, fmt.Errorf("%w: out-of-band buffers", ErrRefused)
	default:
		return nil, false, fmt.Errorf("unknown opcode")
	}
	return nil, false, nil
}

// counted reads a length-prefixed argument whose length field has w4 (for
// the 4-byte opcodes), w1 or w8 bytes depending on op.
func (u *unpickler) counted(op byte, w4, w1, w8 int) ([]byte, error) {
	w := w4
	switch op {
	case 0x8c, 'U', 'C':
		w = w1
	case 0x8d, 0x8e, 0x96:
		w = w8
	}
	n, err := u.uint(w)
	if err != nil {
		return nil, err
	}
	if op == 'T' && int32(uint32(n)) < 0 {
		return nil, errors.New("negative BINSTRING length")
	}
	if n > math.MaxInt64 {
		return nil, fmt.Errorf("%w: a %d byte argument", errTruncated, n)
	}
	return u.in.bytes(int64(n))
}

// setItems adds key, value pairs to d.
func setItems(d *pyDict, items []interface{}) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number of items (%d) for a dict", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		d.set(items[i], items[i+1])
	}
	return nil
}
