package sshui

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// Clean makes untrusted text safe to show on a terminal, on one line:
//   - escape sequences (CSI, OSC, DCS, SOS, PM, APC, and two-byte ESC x,
//     7-bit and their 8-bit C1 introducers) are removed with their payload;
//   - every other C0 control, DEL and C1 control (U+0080–U+009F, which
//     includes U+009B CSI) is removed; TAB, LF, CR, U+2028 and U+2029 become
//     a space;
//   - bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C)
//     are removed, so nobody can reorder the rest of a line;
//   - invalid UTF-8 becomes U+FFFD;
//   - at most maxRunes runes are kept (maxRunes <= 0: no cap).
//
// Clean is applied to all text sshui shows: messages, names, topics, exec
// arguments, text from other nodes and from the log.
func Clean(s string, maxRunes int) string {
	if isPlain(s, maxRunes) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	n := 0
	st := stNone
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		var keep bool
		st, keep = step(st, r)
		if !keep {
			continue
		}
		if maxRunes > 0 && n >= maxRunes {
			break
		}
		if r == utf8.RuneError && size == 1 {
			r = utf8.RuneError
		}
		b.WriteRune(mapSpace(r))
		n++
	}
	return b.String()
}

// isPlain is the fast path: printable ASCII within the cap needs no work.
func isPlain(s string, maxRunes int) bool {
	if maxRunes > 0 && len(s) > maxRunes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

type escState int

const (
	stNone   escState = iota
	stEsc             // after ESC
	stCSI             // inside CSI params, until a final byte 0x40–0x7E
	stString          // inside OSC/DCS/SOS/PM/APC, until BEL or ST
	stStrEsc          // ESC seen inside a string: ST if followed by '\'
)

// step advances the escape-sequence state machine by one rune and says
// whether r is visible text to keep.
func step(st escState, r rune) (escState, bool) {
	switch st {
	case stEsc:
		switch r {
		case '[':
			return stCSI, false
		case ']', 'P', 'X', '^', '_':
			return stString, false
		}
		if r >= 0x20 && r < 0x30 { // intermediate bytes: ESC ( B and friends
			return stEsc, false
		}
		return stNone, false
	case stCSI:
		if r >= 0x40 && r <= 0x7e {
			return stNone, false
		}
		if r < 0x20 || r > 0x7e { // not a CSI byte: abandon the sequence
			return stepNone(r)
		}
		return stCSI, false
	case stString:
		switch r {
		case 0x07, 0x9c:
			return stNone, false
		case 0x1b:
			return stStrEsc, false
		}
		return stString, false
	case stStrEsc:
		if r == '\\' {
			return stNone, false
		}
		return stString, false
	}
	return stepNone(r)
}

func stepNone(r rune) (escState, bool) {
	switch {
	case r == 0x1b:
		return stEsc, false
	case r == 0x9b:
		return stCSI, false
	case r == 0x9d || r == 0x90 || r == 0x98 || r == 0x9e || r == 0x9f:
		return stString, false
	case r == '\t' || r == '\n' || r == '\r':
		return stNone, true
	}
	return stNone, !isControl(r)
}

// isControl reports the runes Clean drops outright.
func isControl(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

func mapSpace(r rune) rune {
	switch r {
	case '\t', '\n', '\r', 0x2028, 0x2029:
		return ' '
	}
	return r
}

// Width is the number of terminal columns s occupies (grapheme aware, so
// CJK and emoji count 2 and combining marks 0). s must be Clean.
func Width(s string) int { return ansi.StringWidth(s) }

// Fit truncates s (already Clean) to at most width columns, ending with "…"
// when it had to cut. It never splits a grapheme cluster.
func Fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= width {
		return s
	}
	return ansi.Truncate(s, width, "…")
}

// Pad fits s into exactly width columns, padding with spaces.
func Pad(s string, width int) string {
	s = Fit(s, width)
	if w := ansi.StringWidth(s); w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}
