package search

import (
	"bufio"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

func toks(text string) []string {
	var out []string
	for _, t := range NewTokenizer().Tokens(text) {
		s := t.Text
		if t.Pos < 0 {
			s = "~" + s // a unigram
		}
		out = append(out, s)
	}
	return out
}

func TestTokens(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"Hello, World! deploy-v2 x_y", []string{"hello", "world", "deploy", "v2", "x", "y"}},
		{"don't", []string{"don", "t"}},
		{"Café CAFÉ cafe\u0301 naïve", []string{"cafe", "cafe", "cafe", "naive"}},
		{"Straße STRASSE", []string{"strasse", "strasse"}},
		{"ΣΊΣΥΦΟΣ σίσυφος", []string{"σισυφοσ", "σισυφοσ"}},
		{"Ｆｕｌｌｗｉｄｔｈ ﬁle", []string{"fullwidth", "file"}},
		{"Привет, МИР", []string{"привет", "мир"}},
		{"东京都", []string{"东京", "京都", "~东", "~京", "~都"}},
		{"日本 語", []string{"日本", "~日", "~本", "語"}},
		{"第3回", []string{"第", "3", "回"}},
		{"emoji 🎉 party\u200bzero", []string{"emoji", "party", "zero"}},
		{"\u202eevil\u202c text", []string{"evil", "text"}},
		{"हिन्दी भाषा", []string{"हिन्दी", "भाषा"}},
		{"", nil},
		{"!!! ... ---", nil},
	}
	for _, c := range cases {
		if got := toks(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Tokens(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestTokenPositions(t *testing.T) {
	got := NewTokenizer().Tokens("a 东京都 b")
	var pos []int32
	for _, tok := range got {
		pos = append(pos, tok.Pos)
	}
	want := []int32{0, 1, 2, -1, -1, -1, 3}
	if !reflect.DeepEqual(pos, want) {
		t.Fatalf("positions %v, want %v (tokens %v)", pos, want, got)
	}
}

func TestTokensLongAndHostile(t *testing.T) {
	long := strings.Repeat("a", 500) + " " + strings.Repeat("é", 100) + " e" + strings.Repeat("\u0301", 300)
	for _, tok := range NewTokenizer().Tokens(long) {
		if len(tok.Text) > MaxTokenBytes || !utf8.ValidString(tok.Text) {
			t.Fatalf("token %q: %d bytes, valid %v", tok.Text, len(tok.Text), utf8.ValidString(tok.Text))
		}
	}
	f, err := os.Open("../../sshui/testdata/blns.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	tk := NewTokenizer()
	lines := 0
	for sc.Scan() {
		line := sc.Text()
		lines++
		for _, tok := range tk.Tokens(line) {
			if tok.Text == "" || len(tok.Text) > MaxTokenBytes || !utf8.ValidString(tok.Text) {
				t.Fatalf("line %q: bad token %q", line, tok.Text)
			}
		}
		// Every text matches a query of its own words, as a phrase too.
		if q, err := Parse(line); err == nil {
			if !NewMatcher(q).Match(line) {
				t.Errorf("%q does not match itself as the query %v", line, q)
			}
		}
		if q, err := Parse(`"` + strings.ReplaceAll(line, `"`, " ") + `"`); err == nil {
			if !NewMatcher(q).Match(line) {
				t.Errorf("%q does not match itself as the phrase %v", line, q)
			}
		}
	}
	if lines < 500 {
		t.Fatalf("read %d lines of the naughty strings", lines)
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		q    string
		want string
		err  bool
	}{
		{"deploy", "deploy", false},
		{"Deploy BUILD", "deploy build", false},
		{`"deploy the build" fix*`, `"deploy the build" fix*`, false},
		{`"unclosed phrase`, `"unclosed phrase"`, false},
		{"don't", `"don t"`, false},
		{"东京都", `"东京 京都"`, false},
		{"东*", "东*", false},
		{`"fix the bu*"`, `"fix the bu*"`, false},
		{"foo-*", "foo", false},
		{"***", "", true},
		{"", "", true},
		{"🎉 !!", "", true},
		{strings.Repeat("w ", 17), "", true},
		{strings.Repeat("x", MaxQueryBytes+1), "", true},
	}
	for _, c := range cases {
		q, err := Parse(c.q)
		if (err != nil) != c.err {
			t.Errorf("Parse(%.40q): err %v, want error %v", c.q, err, c.err)
			continue
		}
		if err == nil && q.String() != c.want {
			t.Errorf("Parse(%q) = %s, want %s", c.q, q, c.want)
		}
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		q, text string
		want    bool
	}{
		{"deploy", "We DEPLOY today", true},
		{"deploy", "deployed today", false},
		{"deploy*", "deployed today", true},
		{`"deploy today"`, "we deploy today", true},
		{`"deploy today"`, "today we deploy", false},
		{`"we dep*"`, "we deployed", true},
		{"cafe", "Un café noir", true},
		{"京都", "东京都的天气", true},
		{"京", "东京都", true},
		{"东京都", "东京 都", false},
		{"deploy build", "build then deploy", true},
		{"deploy build", "deploy only", false},
	}
	for _, c := range cases {
		q, err := Parse(c.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := NewMatcher(q).Match(c.text); got != c.want {
			t.Errorf("%q matches %q: %v, want %v", c.q, c.text, got, c.want)
		}
	}
}

// TestPrepareASCIIIsEach: the one-pass ASCII tokenizer gives what the
// general one gives (texts, hashes, places), words longer than
// MaxTokenBytes and every ASCII byte included.
func TestPrepareASCIIIsEach(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tk := NewTokenizer()
	texts := []string{"", " ", "a", "Hello, World! deploy-v2 x_y", strings.Repeat("Ab9", 50) + " z", "\x00\x7f~ Z@[`{"}
	for i := 0; i < 2000; i++ {
		b := make([]byte, r.IntN(200))
		for j := range b {
			b[j] = byte(r.IntN(128))
			if r.IntN(4) > 0 {
				b[j] = "aZ0 .,'q"[r.IntN(8)]
			}
		}
		texts = append(texts, string(b))
	}
	for _, text := range texts {
		var want []preTok
		var wantBuf []byte
		tk.each(text, func(tok string, pos int32) {
			s := len(wantBuf)
			wantBuf = append(wantBuf, tok...)
			want = append(want, preTok{h: termHash(tok), start: uint32(s), end: uint32(len(wantBuf)), pos: pos})
		})
		buf, got := prepareASCII(text, []byte("pre"), nil)
		for i := range got {
			got[i].start -= 3
			got[i].end -= 3
		}
		if string(buf[3:]) != string(wantBuf) || !slices.Equal(got, want) {
			t.Fatalf("%q: prepareASCII %q %v, each %q %v", text, buf[3:], got, wantBuf, want)
		}
	}
}

// TestFoldAndStripReuseBuffers: the tokenizer's folding and mark stripping
// into its own buffers give what the allocating calls give (cases.Caser's
// String; NFD, drop, NFC on strings) for words of many scripts.
func TestFoldAndStripReuseBuffers(t *testing.T) {
	ref := func(s string) string { // stripMarks as first written
		d := norm.NFD.String(s)
		out := make([]rune, 0, len(d))
		strip := false
		for _, r := range d {
			if unicode.Is(unicode.Mn, r) {
				if strip {
					continue
				}
			} else {
				strip = unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic)
			}
			out = append(out, r)
		}
		return norm.NFC.String(string(out))
	}
	// Letters and marks of Latin, Greek, Cyrillic, Devanagari, Thai, Han,
	// Hangul, with capitals, ligatures and precomposed forms.
	alphabet := []rune("aZéÉßẞĳŉΣσςΆάΐЁёЙйक्षिाไม่東京한국ǅǈﬁİıÅÅ\u0301\u0308\u0327\u093c\u0e48")
	r := rand.New(rand.NewPCG(5, 6))
	tk := NewTokenizer()
	fold := cases.Fold()
	words := []string{"", "Straße", "ΣΊΣΥΦΟΣ", "Ǆemal", strings.Repeat("É", 40)}
	for i := 0; i < 5000; i++ {
		w := make([]rune, 1+r.IntN(20))
		for j := range w {
			w[j] = alphabet[r.IntN(len(alphabet))]
		}
		words = append(words, string(w))
	}
	for _, w := range words {
		want := fold.String(w)
		if got := tk.foldString(w); got != want {
			t.Fatalf("fold %q: %q, want %q", w, got, want)
		}
		if got, want := tk.stripMarks(want), ref(want); got != want {
			t.Fatalf("strip %q: %q, want %q", w, got, want)
		}
	}
}
