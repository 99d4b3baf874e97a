package sshui

import (
	"encoding/json"
	"fmt"
	"io"
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
// The text decodes unchanged.
func EscapeJSONControls(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if isControl(r) {
			if out == nil {
				out = append(make([]byte, 0, len(b)+16), b[:i]...)
			}
			out = fmt.Appendf(out, `\u%04x`, r)
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
