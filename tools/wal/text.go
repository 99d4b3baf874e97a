package walcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// clean makes untrusted text from the log safe to print on a terminal: C0
// and C1 controls, DEL, bidi controls and line/paragraph separators become
// Go-style escapes (\n, \x1b, \u202e), invalid UTF-8 bytes become \xNN.
// Everything else, including wide and combining characters, is kept, so the
// text stays readable. JSON output keeps the exact text with \u escapes
// (jsonWriter); csv shows these escapes too (cleanCSV).
func clean(s string) string {
	if !needsClean(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsClean(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || r < 0x20 || r == 0x7f || unsafeRune(r) {
			return true
		}
		i += n
	}
	return false
}

// unsafeRune reports the non-ASCII runes a terminal may act on: C1 controls
// (U+009B is a CSI), bidi marks, embeddings, overrides and isolates, and the
// line and paragraph separators.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// fmtTime prints a log time (Unix nanoseconds) in UTC, "-" for none.
func fmtTime(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// span prints a range of indexes, "empty" if there is none.
func span(first, last uint64) string {
	if last == 0 || last < first {
		return "empty"
	}
	return fmt.Sprintf("%d..%d", first, last)
}

// cleanCSV is clean for a csv field, which may hold a message's lines (the
// writer quotes the field) and tabs: they are kept, so a multi-line
// message stays multi-line in a spreadsheet. Everything else a terminal
// acts on is escaped: csv has no escapes of its own, and an auditor reads
// exports with cat and less.
func cleanCSV(s string) string {
	if !needsClean(s) {
		return s
	}
	var b strings.Builder
	for i, part := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		for j, p := range strings.Split(part, "\t") {
			if j > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(clean(p))
		}
	}
	return b.String()
}

// jsonWriter writes one JSON value per line, like json.Encoder without HTML
// escaping, and also writes every rune a terminal may act on that
// encoding/json leaves raw (DEL, C1 controls such as U+009B, bidi controls)
// as a \u escape: the line decodes to the exact text, and is safe to cat.
type jsonWriter struct {
	w   io.Writer
	buf bytes.Buffer
	enc *json.Encoder
	out []byte
}

func newJSONWriter(w io.Writer) *jsonWriter {
	j := &jsonWriter{w: w}
	j.enc = json.NewEncoder(&j.buf)
	j.enc.SetEscapeHTML(false)
	return j
}

func (j *jsonWriter) encode(v any) error {
	j.buf.Reset()
	if err := j.enc.Encode(v); err != nil {
		return err
	}
	j.out = escapeJSON(j.out[:0], j.buf.Bytes())
	_, err := j.w.Write(j.out)
	return err
}

// escapeJSON appends enc, valid JSON from encoding/json, to dst with DEL and
// the runes unsafeRune names escaped. They can only occur inside strings
// (encoding/json writes nothing else outside ASCII), where \u escapes
// mean the same rune.
func escapeJSON(dst, enc []byte) []byte {
	for i := 0; i < len(enc); {
		c := enc[i]
		if c < utf8.RuneSelf && c != 0x7f {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(enc[i:])
		if r == 0x7f || unsafeRune(r) {
			dst = fmt.Appendf(dst, `\u%04x`, r)
		} else {
			dst = append(dst, enc[i:i+n]...)
		}
		i += n
	}
	return dst
}
