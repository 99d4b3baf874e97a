package sshui

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

func TestClean(t *testing.T) {
	cases := []struct{ in, want string }{
		{"hello", "hello"},
		{"a\x1b[31mred\x1b[0m b", "ared b"},
		{"title\x1b]0;pwned\x07 after", "title after"},
		{"osc st\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "osc stlink"},
		{"c1 csi \u009b31m x", "c1 csi  x"},
		{"bidi \u202egnp.exe", "bidi gnp.exe"},
		{"iso \u2066x\u2069 \u200e\u200f\u061c", "iso x "},
		{"tab\tnl\ncr\r", "tab nl cr "},
		{"del\x7f bel\x07 nul\x00", "del bel nul"},
		{"dcs \x1bPq#0;2;0;0;0\x1b\\ end", "dcs  end"},
		{"charset \x1b(B ok", "charset  ok"},
		{"bad \xff utf8", "bad \ufffd utf8"},
		{"漢字 e\u0301 👍🏽", "漢字 e\u0301 👍🏽"},
	}
	for _, c := range cases {
		if got := Clean(c.in, 0); got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Clean(strings.Repeat("é", 10), 4); got != "éééé" {
		t.Errorf("cap: %q", got)
	}
}

func TestFitWideAndCombining(t *testing.T) {
	cases := []struct {
		in    string
		width int
	}{
		{"漢字漢字漢字", 5}, {"e\u0301e\u0301e\u0301e\u0301", 2}, {"👍🏽👍🏽👍🏽", 3}, {"👨‍👩‍👧 family", 4}, {"abc", 0},
	}
	for _, c := range cases {
		got := Fit(c.in, c.width)
		if w := Width(got); w > c.width {
			t.Errorf("Fit(%q, %d) = %q, width %d", c.in, c.width, got, w)
		}
		if p := Pad(c.in, c.width); Width(p) != c.width {
			t.Errorf("Pad(%q, %d) = %q, width %d", c.in, c.width, p, Width(p))
		}
	}
}

// blns returns the naughty strings (testdata/blns.txt, MIT licence).
func blns(tb testing.TB) []string {
	fh, err := os.Open("testdata/blns.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// checkClean is the sanitizer's contract.
func checkClean(t *testing.T, in string, maxRunes, width int) {
	out := Clean(in, maxRunes)
	if !utf8.ValidString(out) {
		t.Fatalf("Clean(%q) is not valid UTF-8", in)
	}
	for _, r := range out {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || isControl(r) || r == 0x2028 || r == 0x2029 {
			t.Fatalf("Clean(%q) = %q keeps control %U", in, out, r)
		}
	}
	if maxRunes > 0 && utf8.RuneCountInString(out) > maxRunes {
		t.Fatalf("Clean(%q, %d) has %d runes", in, maxRunes, utf8.RuneCountInString(out))
	}
	if Clean(out, maxRunes) != out {
		t.Fatalf("Clean not idempotent on %q", in)
	}
	if f := Fit(out, width); Width(f) > width {
		t.Fatalf("Fit(Clean(%q), %d) = %q has width %d", in, width, f, Width(f))
	}
}

func TestCleanNaughtyStrings(t *testing.T) {
	for _, s := range blns(t) {
		checkClean(t, s, 64, 20)
		checkClean(t, s, 0, 7)
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range blns(f) {
		f.Add(s, 40, 20)
	}
	f.Add("\x1b[31mx\u009b1m\u202e", 3, 1)
	f.Fuzz(func(t *testing.T, s string, maxRunes, width int) {
		checkClean(t, s, maxRunes%5000, max(width%300, 0))
	})
}

// TestStyledWidthFastPath: the allocation-free width of styled ASCII must
// agree with stripping the escapes (every frame measures styled lines).
func TestStyledWidthFastPath(t *testing.T) {
	for _, s := range []string{
		"", "plain", "\x1b[1;38;5;39malice\x1b[0m: hi", "\x1b]8;;http://x\x07link\x1b]8;;\x07",
		"\x1b]0;title\x1b\\text", "\x1b[7m   \x1b[0m", "a\x1b[", "\x1b[1mwide 世界\x1b[0m", "\x1b7x",
	} {
		want := Width(ansi.Strip(s)) // the slow path: no escapes left
		if got := Width(s); got != want {
			t.Errorf("Width(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestMentionsFastPath: the ASCII matcher agrees with lower-casing first.
func TestMentionsFastPath(t *testing.T) {
	for _, c := range []struct {
		text string
		want bool
	}{
		{"hi alice", true}, {"hi ALICE!", true}, {"@Alice: x", true}, {"alicex", false},
		{"malice", false}, {"alice_b", false}, {"alice-", false}, {"", false}, {"ali", false},
		{"Ünïcode alice", true}, {"Ünïcode malice", false}, {"x alice", true},
	} {
		if got := mentions(c.text, "alice"); got != c.want {
			t.Errorf("mentions(%q) = %v, want %v", c.text, got, c.want)
		}
		if got := mentionsFolded(strings.ToLower(c.text), "alice"); got != c.want {
			t.Errorf("mentionsFolded(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestCleanTextKeepsLines(t *testing.T) {
	cases := []struct{ in, want string }{
		{"one\ntwo", "one\ntwo"},
		{"one\r\ntwo\rthree", "one\ntwo\nthree"},
		{"  \n\nhi\tthere\n\n ", "hi there"},
		{"a\x1b[31mred\x1b[0m\u2028b", "ared\nb"},
		{"x\u202edon't", "xdon't"},
		{"plain text", "plain text"},
	}
	for _, c := range cases {
		if got := CleanText(c.in, 0); got != c.want {
			t.Errorf("CleanText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := CleanText("abcdef", 3); got != "abc" {
		t.Errorf("cap: got %q", got)
	}
}

// Zalgo lines (dozens of combining marks on one character) keep at most
// maxMarks marks per character in both cleaners, so no terminal gives the
// extra marks cells of their own; text that needs a few marks is unchanged.
func TestCleanCapsCombiningMarks(t *testing.T) {
	longest := func(s string) int {
		best, n := 0, 0
		for _, r := range s {
			if r >= 0x300 && unicode.In(r, unicode.Mn, unicode.Me) {
				n++
				best = max(best, n)
			} else {
				n = 0
			}
		}
		return best
	}
	zalgo := 0
	for _, s := range blns(t) {
		if longest(s) <= maxMarks {
			continue
		}
		zalgo++
		for name, got := range map[string]string{"Clean": Clean(s, 0), "CleanText": CleanText(s, 0)} {
			if n := longest(got); n > maxMarks {
				t.Errorf("%s kept %d marks on one character of %q", name, n, s)
			}
		}
	}
	if zalgo == 0 {
		t.Fatal("testdata has no zalgo line")
	}
	for _, s := range []string{"Tiếng Việt", "שָׁלוֹם", "བསྒྲུབས", "e\u0301\u0302\u0303\u0304", "1\ufe0f\u20e3"} {
		if got := Clean(s, 0); got != s {
			t.Errorf("Clean(%q) = %q, want it unchanged", s, got)
		}
	}
	if got := Clean("x"+strings.Repeat("\u0301", 9)+"y", 0); got != "x"+strings.Repeat("\u0301", maxMarks)+"y" {
		t.Errorf("cap: %q", got)
	}
}

// A line break in a message starts a new row; wrapping inside each line
// still works.
func TestWrapPlainLineBreaks(t *testing.T) {
	got := wrapPlain("one two three\n\nfour", 7)
	want := []string{"one two", "three", "", "four"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("wrapPlain = %q, want %q", got, want)
	}
}
