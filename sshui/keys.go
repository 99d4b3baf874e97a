package sshui

import (
	"bytes"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
)

// keyDecoder turns a terminal's input bytes into tea.KeyMsg, as
// bubbletea's input reader does (its parser is not exported): printable
// runes in runs, control characters, ESC as Alt before a key, the CSI and
// SS3 sequences of cursor and editing keys with their modifiers, and
// bracketed paste. Unknown sequences are consumed and dropped. The chat
// program runs without bubbletea's Program (program.go), whose reader was
// a goroutine per session.
type keyDecoder struct {
	carry   []byte // an incomplete key at the end of the last read
	pasting bool   // inside a bracketed paste
	paste   []byte // the paste so far
}

const (
	pasteStart = "\x1b[200~"
	pasteEnd   = "\x1b[201~"
	// maxPaste bounds a paste held in memory: a longer one is handed on
	// in parts (the input line refuses what exceeds its own cap).
	maxPaste = 256 << 10
)

// decode parses p, after what an earlier read left incomplete, and emits
// each key. full says that the read filled its buffer: an incomplete key
// at the end then waits for the next read; otherwise the end of p is the
// end of a key (a lone ESC is the Esc key).
func (d *keyDecoder) decode(p []byte, full bool, emit func(tea.KeyMsg)) {
	b := p
	if len(d.carry) > 0 {
		b = append(d.carry, p...)
		d.carry = nil
	}
	for len(b) > 0 {
		if d.pasting {
			b = d.pasted(b, emit)
			continue
		}
		if bytes.HasPrefix(b, []byte(pasteStart)) {
			d.pasting = true
			b = b[len(pasteStart):]
			continue
		}
		n, k, ok := decodeKey(b, full)
		if n == 0 { // incomplete: wait for more
			d.carry = append([]byte(nil), b...)
			return
		}
		if ok {
			emit(tea.KeyMsg(k))
		}
		b = b[n:]
	}
}

// pasted takes paste content from b up to the end marker and returns what
// follows it; without the marker it keeps everything (but a tail that may
// be the marker's start) and returns nothing.
func (d *keyDecoder) pasted(b []byte, emit func(tea.KeyMsg)) []byte {
	if i := bytes.Index(b, []byte(pasteEnd)); i >= 0 {
		d.paste = append(d.paste, b[:i]...)
		d.flushPaste(emit)
		d.pasting = false
		return b[i+len(pasteEnd):]
	}
	keep := min(len(b), len(pasteEnd)-1) // a marker cut by the read
	for keep > 0 && !bytes.HasPrefix([]byte(pasteEnd), b[len(b)-keep:]) {
		keep--
	}
	d.paste = append(d.paste, b[:len(b)-keep]...)
	if len(d.paste) >= maxPaste {
		d.flushPaste(emit)
	}
	if keep > 0 {
		d.carry = append([]byte(nil), b[len(b)-keep:]...)
	}
	return nil
}

func (d *keyDecoder) flushPaste(emit func(tea.KeyMsg)) {
	k := tea.Key{Type: tea.KeyRunes, Paste: true}
	for p := d.paste; len(p) > 0; {
		r, w := utf8.DecodeRune(p)
		if r != utf8.RuneError || w > 1 {
			k.Runes = append(k.Runes, r)
		}
		p = p[w:]
	}
	d.paste = nil
	emit(tea.KeyMsg(k))
}

// decodeKey parses the key at the start of b: its length, the key, and
// whether it is one to report (false: an unknown sequence or byte, n
// bytes to drop). n is 0 when b ends inside a key and full says more may
// follow.
func decodeKey(b []byte, full bool) (n int, k tea.Key, ok bool) {
	c := b[0]
	switch {
	case c == 0x1b:
		return decodeEsc(b, full)
	case c < 0x20 || c == 0x7f:
		return 1, tea.Key{Type: tea.KeyType(c)}, true
	case c == ' ':
		return 1, tea.Key{Type: tea.KeySpace, Runes: []rune{' '}}, true
	}
	var runes []rune
	i := 0
	for i < len(b) {
		c := b[i]
		if c < 0x20 || c == 0x7f || c == ' ' {
			break
		}
		if c < utf8.RuneSelf {
			runes = append(runes, rune(c))
			i++
			continue
		}
		if !utf8.FullRune(b[i:]) {
			if full {
				if i == 0 {
					return 0, tea.Key{}, false
				}
				break // the runes so far; the cut one waits
			}
			if i == 0 {
				return 1, tea.Key{}, false // a cut rune at the very end: dropped
			}
			break
		}
		r, w := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && w == 1 {
			if i == 0 {
				return 1, tea.Key{}, false // an invalid byte: dropped
			}
			break
		}
		runes = append(runes, r)
		i += w
	}
	return i, tea.Key{Type: tea.KeyRunes, Runes: runes}, true
}

// decodeEsc parses a key that starts with ESC: a sequence, or Alt and the
// key that follows, or Esc itself.
func decodeEsc(b []byte, full bool) (n int, k tea.Key, ok bool) {
	if len(b) == 1 {
		if full {
			return 0, tea.Key{}, false
		}
		return 1, tea.Key{Type: tea.KeyEsc}, true
	}
	switch b[1] {
	case '[':
		return decodeCSI(b, full)
	case 'O':
		if len(b) == 2 {
			if full {
				return 0, tea.Key{}, false
			}
			return 2, tea.Key{Type: tea.KeyRunes, Runes: []rune{'O'}, Alt: true}, true
		}
		if t, ok := ss3Keys[b[2]]; ok {
			return 3, tea.Key{Type: t}, true
		}
		return 2, tea.Key{Type: tea.KeyRunes, Runes: []rune{'O'}, Alt: true}, true // not a key: Alt and O
	case 0x1b:
		if len(b) == 2 && full {
			return 0, tea.Key{}, false
		}
		if len(b) > 2 && (b[2] == '[' || b[2] == 'O') { // Alt and a sequence
			n, k, ok := decodeEsc(b[1:], full)
			if n == 0 {
				return 0, k, false
			}
			k.Alt = true
			return n + 1, k, ok
		}
		return 2, tea.Key{Type: tea.KeyEsc, Alt: true}, true
	}
	// Alt and one key: a control character, a space or one rune.
	n, k, ok = decodeKey(b[1:], full)
	if n == 0 {
		return 0, k, false
	}
	if k.Type == tea.KeyRunes && len(k.Runes) > 1 {
		r := k.Runes[0]
		k.Runes = []rune{r}
		n = utf8.RuneLen(r)
	}
	k.Alt = true
	return n + 1, k, ok
}

// ss3Keys are the keys of ESC O sequences (keypad application mode).
var ss3Keys = map[byte]tea.KeyType{
	'A': tea.KeyUp, 'B': tea.KeyDown, 'C': tea.KeyRight, 'D': tea.KeyLeft,
	'H': tea.KeyHome, 'F': tea.KeyEnd,
	'P': tea.KeyF1, 'Q': tea.KeyF2, 'R': tea.KeyF3, 'S': tea.KeyF4,
}

// maxCSI bounds a CSI sequence: a longer one is dropped.
const maxCSI = 32

// decodeCSI parses ESC [ params final.
func decodeCSI(b []byte, full bool) (n int, k tea.Key, ok bool) {
	i := 2
	for i < len(b) && i < maxCSI && (b[i] >= '0' && b[i] <= '?' || b[i] >= ' ' && b[i] <= '/' && b[i] != '$') {
		i++
	}
	if i >= maxCSI {
		return i, tea.Key{}, false
	}
	if i == len(b) {
		if full {
			return 0, tea.Key{}, false
		}
		return 2, tea.Key{Type: tea.KeyRunes, Runes: []rune{'['}, Alt: true}, true // cut off: Alt and [, as bubbletea
	}
	final := b[i]
	if final < '@' && final != '$' || final > '~' {
		return 2, tea.Key{Type: tea.KeyRunes, Runes: []rune{'['}, Alt: true}, true // not a sequence: Alt and [
	}
	p1, mod := csiParams(b[2:i])
	n = i + 1
	switch final {
	case '[', 'O': // ESC [ [ A (Linux console F1–F5), ESC [ O A (DECCKM): one more byte, dropped
		if n == len(b) {
			if full {
				return 0, tea.Key{}, false
			}
			return n, tea.Key{}, false
		}
		return n + 1, tea.Key{}, false
	case 'A', 'B', 'C', 'D':
		return n, modKey(arrowKeys[final], mod), true
	case 'a', 'b', 'c', 'd': // urxvt: Shift and an arrow
		return n, modKey(arrowKeys[final-'a'+'A'], 2), true
	case 'H':
		return n, modKey(tea.KeyHome, mod), true
	case 'F':
		return n, modKey(tea.KeyEnd, mod), true
	case 'Z':
		return n, tea.Key{Type: tea.KeyShiftTab}, true
	case '~', '^', '$', '@':
		t, ok := tildeKeys[p1]
		if !ok {
			return n, tea.Key{}, false
		}
		switch final {
		case '^':
			mod = 5
		case '$':
			mod = 2
		case '@':
			mod = 6
		}
		return n, modKey(t, mod), true
	}
	return n, tea.Key{}, false
}

var arrowKeys = map[byte]tea.KeyType{'A': tea.KeyUp, 'B': tea.KeyDown, 'C': tea.KeyRight, 'D': tea.KeyLeft}

// tildeKeys are the keys of ESC [ n ~ sequences.
var tildeKeys = map[int]tea.KeyType{
	1: tea.KeyHome, 7: tea.KeyHome, 4: tea.KeyEnd, 8: tea.KeyEnd,
	2: tea.KeyInsert, 3: tea.KeyDelete, 5: tea.KeyPgUp, 6: tea.KeyPgDown,
}

// csiParams reads "n" or "n;m": the first number and the modifier m
// (xterm: 1 + Shift 1 + Alt 2 + Ctrl 4; 1 when absent).
func csiParams(p []byte) (first, mod int) {
	mod = 1
	num, field := 0, 0
	for _, c := range p {
		switch {
		case c >= '0' && c <= '9':
			num = min(num*10+int(c-'0'), 1<<20)
		case c == ';':
			if field == 0 {
				first = num
			}
			field++
			num = 0
		}
	}
	if field == 0 {
		first = num
	} else if field == 1 {
		mod = max(num, 1)
	}
	return first, mod
}

// modVariants are the Ctrl, Shift and Ctrl+Shift variants of keys.
var modVariants = map[tea.KeyType]struct{ ctrl, shift, ctrlShift tea.KeyType }{
	tea.KeyUp:     {tea.KeyCtrlUp, tea.KeyShiftUp, tea.KeyCtrlShiftUp},
	tea.KeyDown:   {tea.KeyCtrlDown, tea.KeyShiftDown, tea.KeyCtrlShiftDown},
	tea.KeyRight:  {tea.KeyCtrlRight, tea.KeyShiftRight, tea.KeyCtrlShiftRight},
	tea.KeyLeft:   {tea.KeyCtrlLeft, tea.KeyShiftLeft, tea.KeyCtrlShiftLeft},
	tea.KeyHome:   {tea.KeyCtrlHome, tea.KeyShiftHome, tea.KeyCtrlShiftHome},
	tea.KeyEnd:    {tea.KeyCtrlEnd, tea.KeyShiftEnd, tea.KeyCtrlShiftEnd},
	tea.KeyPgUp:   {tea.KeyCtrlPgUp, tea.KeyPgUp, tea.KeyCtrlPgUp},
	tea.KeyPgDown: {tea.KeyCtrlPgDown, tea.KeyPgDown, tea.KeyCtrlPgDown},
}

// modKey is t with xterm modifier mod: Ctrl (and Shift) variants where
// bubbletea has them, Alt as the flag.
func modKey(t tea.KeyType, mod int) tea.Key {
	m := mod - 1
	shift, alt, ctrl := m&1 != 0, m&2 != 0, m&4 != 0
	k := tea.Key{Type: t, Alt: alt}
	if vs, ok := modVariants[t]; ok {
		switch {
		case ctrl && shift:
			k.Type = vs.ctrlShift
		case ctrl:
			k.Type = vs.ctrl
		case shift:
			k.Type = vs.shift
		}
	}
	return k
}
