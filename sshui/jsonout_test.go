package sshui

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// escapeRoundTrip marshals s (as a value and as a key), escapes the JSON,
// and checks that it is valid, decodes to s, and holds no raw control rune.
func escapeRoundTrip(t *testing.T, s string) {
	t.Helper()
	b, err := json.Marshal(map[string]string{s: s})
	if err != nil {
		t.Fatal(err)
	}
	e := EscapeJSONControls(b)
	if !json.Valid(e) {
		t.Fatalf("%+q: escaped JSON invalid: %s", s, e)
	}
	var got map[string]string
	if err := json.Unmarshal(e, &got); err != nil {
		t.Fatalf("%+q: %v", s, err)
	}
	if v, ok := got[s]; !ok || v != s || len(got) != 1 {
		t.Fatalf("round trip of %+q gave %+q (escaped %s)", s, got, e)
	}
	for i := 0; i < len(e); {
		r, n := utf8.DecodeRune(e[i:])
		if isControl(r) {
			t.Fatalf("%+q: raw control %U left in %s", s, r, e)
		}
		i += n
	}
}

// TestEscapeJSONControlsRoundTrip is the regression test for runes beyond
// the BMP: \u%04x of U+E0001 wrote \ue0001, which decodes as U+E000 "1".
// Every rune a terminal acts on must be escaped, and everything must decode
// exactly as it was.
func TestEscapeJSONControlsRoundTrip(t *testing.T) {
	specials := []string{
		"", "plain ascii", "\x00", "\x1b[31mred\x1b[0m", "\t\n\r", "\x7f", "\u0085", "\u009b", "\u009b31m",
		"\u00ad", "\u061c", "\u200b", "\u200c\u200d", "\u200e\u200f", "\u2028", "\u2029", "a\u2028b\u2029c",
		"\u202a\u202b\u202c\u202d\u202e", "\u2066\u2067\u2068\u2069", "\ufeff", "\ufff9\ufffa\ufffb", "\ufffd",
		"😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", // Scotland: tag characters (Cf)
		"\U00010000", "\U0010ffff", "\U000e0001", "\U0001d173", "\U000110bd", "\U00013430",
		"x\U000e0001y\u202ez\U0010ffff", `"\/`, "<>&", "\\u0000",
	}
	for _, s := range specials {
		escapeRoundTrip(t, s)
	}
	// Every BMP rune and every format control beyond it, 64 to a string.
	var all []rune
	for r := rune(0); r <= 0xffff; r++ {
		if !utf8.ValidRune(r) {
			continue // surrogates
		}
		all = append(all, r)
	}
	for _, rg := range unicode.Cf.R32 {
		for r := rg.Lo; r <= rg.Hi; r += rg.Stride {
			all = append(all, rune(r))
		}
	}
	all = append(all, 0x10000, 0x1f600, 0x10fffd, 0x10ffff)
	for i := 0; i < len(all); i += 64 {
		escapeRoundTrip(t, string(all[i:min(i+64, len(all))]))
	}
	// Random mixes over all planes.
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() rune {
		switch rng.IntN(6) {
		case 0:
			return rune(rng.IntN(0x80))
		case 1:
			return rune(0x80 + rng.IntN(0x20))
		case 2:
			return []rune{0x7f, 0x2028, 0x2029, 0x202e, 0x2066, 0xe0001, 0xe007f, 0x10ffff, 0x200d}[rng.IntN(9)]
		case 3:
			return rune(0x10000 + rng.IntN(0x100000))
		}
		for {
			if r := rune(rng.IntN(0x10000)); utf8.ValidRune(r) {
				return r
			}
		}
	}
	for range 2000 {
		rs := make([]rune, rng.IntN(24))
		for i := range rs {
			rs[i] = pick()
		}
		escapeRoundTrip(t, string(rs))
	}
}

// TestEscapeJSONControlsOutput pins the exact escapes and what is left alone.
func TestEscapeJSONControlsOutput(t *testing.T) {
	for in, want := range map[string]string{
		`"a` + "\u009b" + `b"`:   `"a\u009bb"`,
		`"` + "\x7f" + `"`:       `"\u007f"`,
		`"` + "\u202e" + `"`:     `"\u202e"`,
		`"` + "\U000e0001" + `"`: `"\udb40\udc01"`,
		`"` + "\U000e007f" + `"`: `"\udb40\udc7f"`,
		"\"😀 é \u200d\"":         "\"😀 é \u200d\"", // emoji, Latin-1 and ZWJ stay as they are
		"\"\xff\xfe\"":           "\"\xff\xfe\"",   // not UTF-8: copied
	} {
		if got := string(EscapeJSONControls([]byte(in))); got != want {
			t.Errorf("EscapeJSONControls(%+q) = %+q, want %+q", in, got, want)
		}
	}
	// Nothing to escape: the input itself comes back, no copy.
	b := []byte(`{"text":"hello 👋"}`)
	if out := EscapeJSONControls(b); &out[0] != &b[0] {
		t.Error("clean input was copied")
	}
	var w bytes.Buffer
	if err := writeJSON(&w, map[string]string{"t": "a\U000e0001\u009b"}); err != nil {
		t.Fatal(err)
	}
	if got := w.String(); got != `{"t":"a\udb40\udc01\u009b"}`+"\n" || strings.ContainsRune(got, 0xe0001) {
		t.Errorf("writeJSON = %q", got)
	}
}
