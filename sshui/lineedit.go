package sshui

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/bubbles/runeutil"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/rivo/uniseg"
)

// lineInput is the chat's one-line editor. (bubbles/textinput would do, but
// it imports github.com/atotto/clipboard, which go.mod does not carry.)
// It keeps runes, a cursor, and scrolls horizontally by display columns, so
// wide characters and combining marks keep the cursor in the right place.
// The text may hold line breaks (a pasted paragraph, Alt-Enter): they are
// shown as ↵ on the one line.
type lineInput struct {
	Prompt      string
	Placeholder string
	Width       int // columns for the text (without the prompt)
	// CharLimit bounds the text in runes. An insert that does not fit is
	// refused whole, never cut: what is sent is what the user saw.
	CharLimit   int
	PromptStyle paint
	CursorStyle paint
	PlaceStyle  paint

	value []rune
	pos   int
	san   runeutil.Sanitizer
}

func newLineInput() lineInput {
	return lineInput{san: runeutil.NewSanitizer(runeutil.ReplaceTabs(" "), runeutil.ReplaceNewlines("\n"))}
}

func (l *lineInput) Value() string { return string(l.value) }

// BeforeCursor is the text left of the cursor.
func (l *lineInput) BeforeCursor() string { return string(l.value[:l.pos]) }

func (l *lineInput) SetValue(s string) {
	l.value = []rune(cleanLines(s, l.CharLimit))
	l.pos = len(l.value)
}

func (l *lineInput) CursorEnd() { l.pos = len(l.value) }

// Update applies one key. It returns how many runes it refused to insert
// (the text would exceed CharLimit).
func (l *lineInput) Update(k tea.KeyMsg) (refused int) {
	switch k.Type {
	case tea.KeyRunes, tea.KeySpace:
		return l.insert(k.Runes)
	case tea.KeyBackspace, tea.KeyCtrlH:
		if k.Alt {
			l.deleteWord()
		} else if l.pos > 0 {
			l.value = append(l.value[:l.pos-1], l.value[l.pos:]...)
			l.pos--
		}
	case tea.KeyDelete:
		if l.pos < len(l.value) {
			l.value = append(l.value[:l.pos], l.value[l.pos+1:]...)
		}
	case tea.KeyLeft, tea.KeyCtrlB:
		l.pos = max(l.pos-1, 0)
	case tea.KeyRight, tea.KeyCtrlF:
		l.pos = min(l.pos+1, len(l.value))
	case tea.KeyHome, tea.KeyCtrlA:
		l.pos = 0
	case tea.KeyEnd, tea.KeyCtrlE:
		l.pos = len(l.value)
	case tea.KeyCtrlW:
		l.deleteWord()
	case tea.KeyCtrlU:
		l.value = l.value[l.pos:]
		l.pos = 0
	case tea.KeyCtrlK:
		l.value = l.value[:l.pos]
	}
	return 0
}

// insert puts rs (typed, or a bracketed paste, whose lines the terminal
// separates with CR) at the cursor, cleaned like message text; or nothing,
// reporting the cleaned length, if it would not fit in CharLimit.
func (l *lineInput) insert(rs []rune) (refused int) {
	// cleanLines makes a new slice (Sanitize works in place, and bubbletea
	// hands every program the same global slice for the space key); the
	// sanitizer then drops U+FFFD left by broken UTF-8.
	rs = l.san.Sanitize([]rune(cleanLines(string(rs), 0)))
	if l.CharLimit > 0 && len(l.value)+len(rs) > l.CharLimit {
		return len(rs)
	}
	v := make([]rune, 0, len(l.value)+len(rs))
	v = append(v, l.value[:l.pos]...)
	v = append(v, rs...)
	l.value = append(v, l.value[l.pos:]...)
	l.pos += len(rs)
	return 0
}

func (l *lineInput) deleteWord() {
	i := l.pos
	for i > 0 && unicode.IsSpace(l.value[i-1]) {
		i--
	}
	for i > 0 && !unicode.IsSpace(l.value[i-1]) {
		i--
	}
	l.value = append(l.value[:i], l.value[l.pos:]...)
	l.pos = i
}

// View renders prompt, text and cursor within Width columns, scrolled so
// the cursor is visible.
func (l *lineInput) View() string {
	prompt := l.PromptStyle.R(l.Prompt)
	avail := max(l.Width-1, 1) // one cell for the cursor at the end
	if len(l.value) == 0 {
		return prompt + l.CursorStyle.R(" ") + l.PlaceStyle.R(Fit(l.Placeholder, avail))
	}
	before, after := oneLine(string(l.value[:l.pos])), oneLine(string(l.value[l.pos:]))
	if w := Width(before); w > avail*3/4 && w > avail-Width(after) {
		keep := min(avail*3/4, avail-min(Width(after), avail/4))
		before = trimLeftWidth(before, w-keep)
	}
	under := " "
	if after != "" {
		g := uniseg.NewGraphemes(after)
		g.Next()
		under = g.Str()
		after = after[len(under):]
	}
	rest := max(avail-Width(before)-Width(under)+1, 0)
	return prompt + before + l.CursorStyle.R(under) + Fit(after, rest)
}

// oneLine shows line breaks as ↵, so the text stays on the input's row.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "↵") }
