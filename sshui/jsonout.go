package sshui

import (
	"encoding/json"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// writeJSON writes v as one JSON line. The data stays exact, but runes a
// terminal would act on (DEL, C1 such as U+009B, bidi controls) are written
// as \uXXXX escapes, so printing the line is safe; encoding/json already
// escapes C0.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(EscapeJSONControls(b), '\n')
	_, err = w.Write(b)
	return err
}

// EscapeJSONControls rewrites, inside encoded JSON, every rune a terminal
// would act on (DEL, C1 such as U+009B, bidi and other format controls) as
// \uXXXX, so a JSON line is safe to print; encoding/json escapes C0 itself.
// A rune beyond the BMP (such as the tag characters U+E0001..U+E007F) is
// written as its UTF-16 surrogate pair, as JSON requires. The text decodes
// unchanged. b must be compact, as json.Marshal writes it: a raw C0 rune is
// escaped too, which would break whitespace between tokens. Bytes that are
// not UTF-8 are copied as they are.
func EscapeJSONControls(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if isControl(r) {
			if out == nil {
				out = append(make([]byte, 0, len(b)+16), b[:i]...)
			}
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				out = appendJSONEscape(appendJSONEscape(out, r1), r2)
			} else {
				out = appendJSONEscape(out, r)
			}
		} else if out != nil {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	if out == nil {
		return b
	}
	return out
}

// appendJSONEscape appends \uXXXX for a UTF-16 code unit.
func appendJSONEscape(out []byte, u rune) []byte {
	const hex = "0123456789abcdef"
	return append(out, '\\', 'u', hex[u>>12&0xf], hex[u>>8&0xf], hex[u>>4&0xf], hex[u&0xf])
}
