package walcmd

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// clean makes untrusted text from the log safe to print on a terminal: C0
// and C1 controls, DEL, bidi controls and line/paragraph separators become
// Go-style escapes (\n, \x1b, \u202e), invalid UTF-8 bytes become \xNN.
// Everything else, including wide and combining characters, is kept, so the
// text stays readable; jsonl and csv exports keep the exact text.
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
