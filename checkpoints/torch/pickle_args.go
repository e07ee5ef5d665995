package torch

import (
	"errors"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// Decoders of opcode arguments: integers, and the text encodings of
// protocols 0 and 2.

// decodeLong decodes a little-endian two's complement integer.
func decodeLong(b []byte) interface{} {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		if shift := 64 - 8*uint(len(b)); shift > 0 {
			return int64(v<<shift) >> shift
		}
		return int64(v)
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	n := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return normInt(n)
}

// normInt returns n as an int64 when it fits.
func normInt(n *big.Int) interface{} {
	if n.IsInt64() {
		return n.Int64()
	}
	return n
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// unquote decodes STRING's quoted Python 2 literal (escapes as
// codecs.escape_decode).
func unquote(s string) (string, error) {
	if len(s) < 2 || s[0] != s[len(s)-1] || (s[0] != '\'' && s[0] != '"') {
		return "", errors.New("STRING argument is not quoted")
	}
	s = s[1 : len(s)-1]
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return "", errors.New("STRING ends in a backslash")
		}
		switch c = s[i]; c {
		case '\\', '\'', '"':
			out = append(out, c)
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 >= len(s) {
				return "", errors.New("STRING has a short \\x escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", errors.New("STRING has a bad \\x escape")
			}
			out = append(out, byte(v))
			i += 2
		default:
			if c >= '0' && c <= '7' {
				v := int(c - '0')
				for k := 0; k < 2 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; k++ {
					i++
					v = v*8 + int(s[i]-'0')
				}
				out = append(out, byte(v))
				continue
			}
			out = append(out, '\\', c)
		}
	}
	return latin1(out), nil
}

// rawUnicodeUnescape decodes UNICODE's raw-unicode-escape argument.
func rawUnicodeUnescape(s string) (string, error) {
	var out []rune
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) && (b[i+1] == 'u' || b[i+1] == 'U') {
			n := 4
			if b[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(b) {
				return "", errors.New("UNICODE has a short escape")
			}
			v, err := strconv.ParseUint(string(b[i+2:i+2+n]), 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", errors.New("UNICODE has a bad escape")
			}
			out = append(out, rune(v))
			i += 1 + n
			continue
		}
		out = append(out, rune(b[i]))
	}
	return string(out), nil
}
