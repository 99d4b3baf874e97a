package sshui

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// decodeAll decodes input in reads of at most size bytes, as the program
// reads its session.
func decodeAll(input string, size int) []tea.Key {
	var d keyDecoder
	var out []tea.Key
	for b := []byte(input); len(b) > 0; {
		n := min(size, len(b))
		d.decode(b[:n], n == size, func(k tea.KeyMsg) { out = append(out, tea.Key(k)) })
		b = b[n:]
	}
	d.decode(nil, false, func(k tea.KeyMsg) { out = append(out, tea.Key(k)) })
	return out
}

func keysText(ks []tea.Key) string {
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "[%d %q alt=%v paste=%v]", k.Type, string(k.Runes), k.Alt, k.Paste)
	}
	return b.String()
}

func TestKeyDecoder(t *testing.T) {
	k := func(t tea.KeyType, runes string) tea.Key {
		var r []rune
		if runes != "" {
			r = []rune(runes)
		}
		return tea.Key{Type: t, Runes: r}
	}
	alt := func(k tea.Key) tea.Key { k.Alt = true; return k }
	for _, c := range []struct {
		in   string
		want []tea.Key
	}{
		{"hello", []tea.Key{k(tea.KeyRunes, "hello")}},
		{"a b", []tea.Key{k(tea.KeyRunes, "a"), k(tea.KeySpace, " "), k(tea.KeyRunes, "b")}},
		{"é漢👍🏽", []tea.Key{k(tea.KeyRunes, "é漢👍🏽")}},
		{"\r\t\x7f\x08\x03\x04\x00", []tea.Key{k(tea.KeyEnter, ""), k(tea.KeyTab, ""), k(tea.KeyBackspace, ""),
			k(tea.KeyCtrlH, ""), k(tea.KeyCtrlC, ""), k(tea.KeyCtrlD, ""), k(tea.KeyNull, "")}},
		{"\x1b", []tea.Key{k(tea.KeyEsc, "")}},
		{"\x1b[A\x1b[B\x1b[C\x1b[D\x1bOA\x1bOD", []tea.Key{k(tea.KeyUp, ""), k(tea.KeyDown, ""), k(tea.KeyRight, ""),
			k(tea.KeyLeft, ""), k(tea.KeyUp, ""), k(tea.KeyLeft, "")}},
		{"\x1b[1;5C\x1b[1;5D\x1b[1;3A\x1b[1;2B", []tea.Key{k(tea.KeyCtrlRight, ""), k(tea.KeyCtrlLeft, ""),
			alt(k(tea.KeyUp, "")), k(tea.KeyShiftDown, "")}},
		{"\x1b[5~\x1b[6~\x1b[3~\x1b[2~\x1b[H\x1b[F\x1b[1~\x1b[4~\x1b[7~\x1b[8~\x1b[Z", []tea.Key{k(tea.KeyPgUp, ""),
			k(tea.KeyPgDown, ""), k(tea.KeyDelete, ""), k(tea.KeyInsert, ""), k(tea.KeyHome, ""), k(tea.KeyEnd, ""),
			k(tea.KeyHome, ""), k(tea.KeyEnd, ""), k(tea.KeyHome, ""), k(tea.KeyEnd, ""), k(tea.KeyShiftTab, "")}},
		{"\x1b\r\x1b\x7f\x1bxy", []tea.Key{alt(k(tea.KeyEnter, "")), alt(k(tea.KeyBackspace, "")),
			alt(k(tea.KeyRunes, "x")), k(tea.KeyRunes, "y")}},
		{"\x1b\x1b[A\x1b\x1b", []tea.Key{alt(k(tea.KeyUp, "")), alt(k(tea.KeyEsc, ""))}},
		{"\x1b[200~hi\r\x1b[Athere\x1b[201~!", []tea.Key{{Type: tea.KeyRunes, Runes: []rune("hi\r\x1b[Athere"), Paste: true},
			k(tea.KeyRunes, "!")}},
		{"a\x1b[?25hb\x1b[[Ac\x1b[15~d\xffe", []tea.Key{k(tea.KeyRunes, "a"), k(tea.KeyRunes, "b"), k(tea.KeyRunes, "c"),
			k(tea.KeyRunes, "d"), k(tea.KeyRunes, "e")}},
	} {
		want := keysText(c.want)
		if got := keysText(decodeAll(c.in, 256)); got != want {
			t.Errorf("%q:\n got  %s\n want %s", c.in, got, want)
		}
		// Reads that fill their buffer and cut keys anywhere change nothing
		// but how runes are grouped.
		for size := 1; size <= len(c.in); size++ {
			if got := keysText(mergeRunes(decodeAll(c.in, size))); got != keysText(mergeRunes(c.want)) {
				t.Errorf("%q in reads of %d:\n got  %s\n want %s", c.in, size, got, keysText(mergeRunes(c.want)))
			}
		}
	}
}

// mergeRunes joins consecutive plain rune keys (reads split runs of runes).
func mergeRunes(ks []tea.Key) []tea.Key {
	var out []tea.Key
	for _, k := range ks {
		if n := len(out); n > 0 && k.Type == tea.KeyRunes && !k.Alt && !k.Paste &&
			out[n-1].Type == tea.KeyRunes && !out[n-1].Alt && !out[n-1].Paste {
			out[n-1].Runes = append(slices.Clone(out[n-1].Runes), k.Runes...)
			continue
		}
		out = append(out, k)
	}
	return out
}

// recorder is a bubbletea model that records keys until Ctrl-C.
type keyRecorder struct{ keys []tea.Key }

func (r *keyRecorder) Init() tea.Cmd { return nil }
func (r *keyRecorder) View() string  { return "" }
func (r *keyRecorder) Update(m tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := m.(tea.KeyMsg); ok {
		if k.Type == tea.KeyCtrlC {
			return r, tea.Quit
		}
		r.keys = append(r.keys, tea.Key(k))
	}
	return r, nil
}

// bubbleteaKeys is what bubbletea's own reader makes of input.
func bubbleteaKeys(t *testing.T, input string) []tea.Key {
	r := &keyRecorder{}
	p := tea.NewProgram(r, tea.WithInput(strings.NewReader(input+"\x03")), tea.WithOutput(io.Discard),
		tea.WithoutRenderer(), tea.WithoutSignalHandler())
	done := make(chan error, 1)
	go func() { _, err := p.Run(); done <- err }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.Kill()
		t.Fatalf("bubbletea did not finish %q", input)
	}
	return r.keys
}

// The decoder reads what bubbletea's reader reads, for the keys the chat
// uses and random mixes of their pieces (function keys, which bubbletea
// reports and the chat ignores, left out).
func TestKeyDecoderAgreesWithBubbletea(t *testing.T) {
	pieces := []string{"a", "é", "漢", " ", "\r", "\t", "\x7f", "\x08", "\x01", "\x05", "\x0b", "\x15", "\x17",
		"\x0e", "\x10", "\x1b", "[", "O", "1", "3", "5", "6", ";", "~", "A", "B", "C", "D", "H", "F", "Z",
		"\x1b[A", "\x1b[1;5C", "\x1b[5~", "\x1b[3~", "\x1b[200~", "\x1b[201~", "x"}
	rng := rand.New(rand.NewPCG(5, 6))
	inputs := []string{"\x1b[1;", "\x1b[", "\x1bO", "hello world\r", "\x1b[A\x1b[B\x1b[5~\x1b[6~", "\x1b\rline\x1b\x7f", "\x1b[200~pasted\rtext\x1b[201~",
		"\x1b[1;5C\x1b[1;5D\x1b[H\x1b[F\x1b[3~", "\x1bOA\x1bOB", "\x1b\x1b[A"}
	for range 300 {
		var b strings.Builder
		for range rng.IntN(10) + 1 {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		in := b.String()
		if strings.LastIndex(in, "\x1b[200~") > strings.LastIndex(in, "\x1b[201~") || strings.HasSuffix(in, "\x1b") {
			continue // an unended paste waits for ever in both; a lone ESC last waits for the Ctrl-C sentinel
		}
		inputs = append(inputs, in)
	}
	isF := func(k tea.Key) bool { return k.Type <= tea.KeyF1 && k.Type >= tea.KeyF20 }
	for _, in := range inputs {
		want := slices.DeleteFunc(bubbleteaKeys(t, in), isF)
		got := slices.DeleteFunc(decodeAll(in, 256), isF)
		if keysText(mergeRunes(got)) != keysText(mergeRunes(want)) {
			t.Errorf("%q:\n ours      %s\n bubbletea %s", in, keysText(got), keysText(want))
		}
	}
	_ = bytes.MinRead
}
