package sshui

import (
	"github.com/mattn/go-runewidth"
	"github.com/rivo/uniseg"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// Clean makes untrusted text safe to show on a terminal, on one line:
//   - escape sequences (CSI, OSC, DCS, SOS, PM, APC, and two-byte ESC x,
//     7-bit and their 8-bit C1 introducers) are removed with their payload;
//   - every other C0 control, DEL and C1 control (U+0080–U+009F, which
//     includes U+009B CSI) is removed; TAB, LF, CR, U+2028 and U+2029 become
//     a space;
//   - invisible format characters (Unicode Cf) are removed: the bidi
//     controls U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C (so
//     nobody can reorder the rest of a line), U+200B, U+FEFF, tags…; ZWJ
//     and ZWNJ stay;
//   - invalid UTF-8 becomes U+FFFD;
//   - a character keeps at most maxMarks combining marks ("zalgo" text
//     stacks dozens, and terminals that give the extra ones cells of their
//     own would push the rest of the row, pane borders included, right);
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
	n, marks := 0, 0
	st := stNone
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		var keep bool
		st, keep = step(st, r)
		if !keep || tooManyMarks(r, &marks) {
			continue
		}
		if maxRunes > 0 && n >= maxRunes {
			break
		}
		b.WriteRune(mapSpace(r))
		n++
	}
	return b.String()
}

// maxMarks is how many combining marks one character keeps: enough for
// real text (Vietnamese, Thai, Hebrew points, Tibetan stacks use two to
// four), far fewer than zalgo's dozens.
const maxMarks = 4

// tooManyMarks reports whether r is a combining mark beyond the maxMarks
// that follow one character; *run counts the marks so far.
func tooManyMarks(r rune, run *int) bool {
	if r < 0x300 || !unicode.In(r, unicode.Mn, unicode.Me) {
		*run = 0
		return false
	}
	*run++
	return *run > maxMarks
}

// CleanText is Clean for the text of a message, which may span lines: it
// keeps line breaks (CR LF, lone CR, U+2028 and U+2029 become LF), removes
// everything Clean removes, turns TAB into a space, and trims blank lines
// and spaces at both ends. Lines are rendered indented under their author;
// a message never carries a control character to a terminal.
func CleanText(s string, maxRunes int) string {
	if isPlain(s, maxRunes) {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(cleanLines(s, maxRunes))
}

// cleanLines is CleanText without the trim: the input line cleans each
// typed or pasted piece with it (a typed space must stay).
func cleanLines(s string, maxRunes int) string {
	var b strings.Builder
	b.Grow(len(s))
	n, marks := 0, 0
	st := stNone
	prevCR := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		var keep bool
		st, keep = step(st, r)
		if !keep || tooManyMarks(r, &marks) {
			continue
		}
		if r == '\n' && prevCR { // CR LF: the CR already wrote the break
			prevCR = false
			continue
		}
		prevCR = r == '\r'
		if maxRunes > 0 && n >= maxRunes {
			break
		}
		switch r {
		case '\r', '\n', 0x2028, 0x2029:
			r = '\n'
		case '\t':
			r = ' '
		}
		b.WriteRune(r)
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

// isControl reports the runes Clean drops outright: C0, DEL, C1, and every
// invisible format character (Unicode Cf: bidi controls U+202A–U+202E,
// U+2066–U+2069, U+200E/F, U+061C, but also U+200B, U+FEFF, soft hyphen,
// tag characters …), which can spoof text and on which terminals disagree
// about width. ZWJ and ZWNJ stay: emoji sequences and several scripts need
// them.
func isControl(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x200c, r == 0x200d:
		return false
	case r < 0xad:
		return false
	}
	return unicode.Is(unicode.Cf, r)
}

func mapSpace(r rune) rune {
	switch r {
	case '\t', '\n', '\r', 0x2028, 0x2029:
		return ' '
	}
	return r
}

// Width is the number of terminal columns s occupies (escape sequences
// count 0). Per grapheme cluster it takes the larger of the cluster width
// (modern terminals: 👍🏽 is 2) and the sum of its runes' wcwidth (tmux,
// older terminals: 👍🏽 is 4). Overestimating only leaves a blank cell;
// underestimating wraps the line and scrolls the whole screen.
func Width(s string) int {
	if strings.IndexByte(s, 0x1b) >= 0 {
		if w, ok := asciiStyledWidth(s); ok {
			return w
		}
		s = ansi.Strip(s)
	}
	if isPlain(s, 0) {
		return len(s)
	}
	w := 0
	g := uniseg.NewGraphemes(s)
	for g.Next() {
		w += clusterWidth(g.Str())
	}
	return w
}

// asciiStyledWidth is Width for printable ASCII with CSI (SGR) and OSC
// sequences, without allocating: every frame measures styled lines. ok is
// false for anything else (the caller strips and walks graphemes).
func asciiStyledWidth(s string) (w int, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x1b && i+1 < len(s) && s[i+1] == '[':
			i += 2
			for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
				i++
			}
		case c == 0x1b && i+1 < len(s) && s[i+1] == ']':
			i += 2
			for i < len(s) && s[i] != 0x07 && !(s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\') {
				i++
			}
			if i < len(s) && s[i] == 0x1b {
				i++
			}
		case c < 0x20 || c >= 0x7f:
			return 0, false
		default:
			w++
		}
	}
	return w, true
}

func clusterWidth(c string) int {
	sum := 0
	for _, r := range c {
		sum += runewidth.RuneWidth(r)
	}
	return max(sum, uniseg.StringWidth(c))
}

// Fit truncates s to at most width columns (as Width counts them), ending
// with "…" when it had to cut. It never splits a grapheme cluster.
func Fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if Width(s) <= width {
		return s
	}
	if strings.IndexByte(s, 0x1b) < 0 {
		head, _ := cutWidth(s, width-1)
		return head + "…"
	}
	// Styled text: the largest ansi.Truncate length that Width accepts.
	lo, hi := 0, width
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if Width(ansi.Truncate(s, mid, "…")) <= width {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if lo == 0 {
		return ""
	}
	return ansi.Truncate(s, lo, "…")
}

// cutWidth splits plain s after the graphemes that fit in width columns.
func cutWidth(s string, width int) (head, rest string) {
	w, n := 0, 0
	g := uniseg.NewGraphemes(s)
	for g.Next() {
		cw := clusterWidth(g.Str())
		if w+cw > width {
			break
		}
		w += cw
		_, n = g.Positions()
	}
	return s[:n], s[n:]
}

// trimLeftWidth drops leading graphemes of plain s until at least n
// columns are gone.
func trimLeftWidth(s string, n int) string {
	w := 0
	g := uniseg.NewGraphemes(s)
	for w < n && g.Next() {
		w += clusterWidth(g.Str())
		_, end := g.Positions()
		if w >= n {
			return s[end:]
		}
	}
	return ""
}

// Pad fits s into exactly width columns, padding with spaces.
func Pad(s string, width int) string {
	w := Width(s)
	if w > width {
		s = Fit(s, width)
		w = Width(s)
	}
	if w < width {
		s += spaces(width - w)
	}
	return s
}

// blanks is a line of spaces that spaces slices, so padding does not
// allocate a fresh run for every line.
var blanks = strings.Repeat(" ", maxCols)

func spaces(n int) string {
	if n <= len(blanks) {
		return blanks[:n]
	}
	return strings.Repeat(" ", n)
}

// wrapPlain word-wraps plain (Clean or CleanText, unstyled) text to width
// columns, breaking words longer than a line; a line break in s always
// starts a new line.
func wrapPlain(s string, width int) []string { return wrapHanging(s, width, width) }

// wrapHanging is wrapPlain with a first row of first columns and every
// other row of rest columns (a message's rows hang under its author).
func wrapHanging(s string, first, rest int) []string {
	if strings.IndexByte(s, '\n') < 0 {
		return wrapLine(nil, s, first, rest)
	}
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = wrapLine(lines, l, first, rest)
	}
	return lines
}

// wrapLine appends the wrapped rows of s, which holds no line break; the
// row it starts is lines' first if lines is empty.
func wrapLine(lines []string, s string, first, rest int) []string {
	width := max(rest, 1)
	if len(lines) == 0 {
		width = max(first, 1)
	}
	push := func(row string) {
		lines = append(lines, row)
		width = max(rest, 1)
	}
	var line strings.Builder
	lw := 0
	for i, word := range strings.Split(s, " ") {
		ww := Width(word)
		sep := 0
		if i > 0 {
			sep = 1
		}
		if lw+sep+ww <= width {
			if sep == 1 {
				line.WriteByte(' ')
			}
			line.WriteString(word)
			lw += sep + ww
			continue
		}
		if lw > 0 {
			push(line.String())
			line.Reset()
		}
		for ww > width {
			head, tail := cutWidth(word, width)
			if head == "" { // one cluster wider than the line: take it anyway
				g := uniseg.NewGraphemes(word)
				g.Next()
				head, tail = g.Str(), word[len(g.Str()):]
			}
			push(head)
			word, ww = tail, Width(tail)
		}
		line.WriteString(word)
		lw = ww
	}
	return append(lines, line.String())
}
