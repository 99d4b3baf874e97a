package sshui

import (
	"unicode"

	"github.com/charmbracelet/bubbles/runeutil"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/rivo/uniseg"
)

// lineInput is the chat's one-line editor. (bubbles/textinput would do, but
// it imports github.com/atotto/clipboard, which go.mod does not carry.)
// It keeps runes, a cursor, and scrolls horizontally by display columns, so
// wide characters and combining marks keep the cursor in the right place.
type lineInput struct {
	Prompt      string
	Placeholder string
	Width       int // columns for the text (without the prompt)
	CharLimit   int
	PromptStyle paint
	CursorStyle paint
	PlaceStyle  paint

	value []rune
	pos   int
	san   runeutil.Sanitizer
}

func newLineInput() lineInput {
	return lineInput{san: runeutil.NewSanitizer(runeutil.ReplaceTabs(" "), runeutil.ReplaceNewlines(" "))}
}

func (l *lineInput) Value() string { return string(l.value) }

// BeforeCursor is the text left of the cursor.
func (l *lineInput) BeforeCursor() string { return string(l.value[:l.pos]) }

func (l *lineInput) SetValue(s string) {
	l.value = []rune(Clean(s, l.CharLimit))
	l.pos = len(l.value)
}

func (l *lineInput) CursorEnd() { l.pos = len(l.value) }

// Update applies one key.
func (l *lineInput) Update(k tea.KeyMsg) {
	switch k.Type {
	case tea.KeyRunes, tea.KeySpace:
		l.insert(k.Runes)
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
}

func (l *lineInput) insert(rs []rune) {
	// Sanitize works in place, and bubbletea hands every program the same
	// global slice for the space key: copy first, or sessions typing spaces
	// at once race on it.
	rs = []rune(Clean(string(l.san.Sanitize(append([]rune(nil), rs...))), 0))
	if l.CharLimit > 0 {
		rs = rs[:min(len(rs), max(l.CharLimit-len(l.value), 0))]
	}
	v := make([]rune, 0, len(l.value)+len(rs))
	v = append(v, l.value[:l.pos]...)
	v = append(v, rs...)
	l.value = append(v, l.value[l.pos:]...)
	l.pos += len(rs)
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
	before, after := string(l.value[:l.pos]), string(l.value[l.pos:])
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
