package search

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse: any query either parses or says why; a parsed query prints
// as a query that parses to itself; a text always matches the query of its
// own tokens (as words, and as a phrase); matching any text never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"deploy", `"the build" fix*`, `"unclosed`, "東京都 京*", "don't", "***", "a-*",
		"café STRASSE", "\u202e\x00\xff", `"" " "`, strings.Repeat("w ", 20), "x* y* \"a b c*\""} {
		f.Add(s, "we deploy the build, café 東京都")
	}
	f.Fuzz(func(t *testing.T, q, text string) {
		pq, err := Parse(q)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q: empty error", q)
			}
		} else {
			again, err := Parse(pq.String())
			if err != nil || again.String() != pq.String() {
				t.Fatalf("%q parses to %s, which parses to %v (%v)", q, pq, again, err)
			}
			NewMatcher(pq).Match(text)
		}
		if !utf8.ValidString(text) || len(text) > MaxQueryBytes-2 {
			return
		}
		var words []string
		for _, tok := range NewTokenizer().Tokens(text) {
			if tok.Pos >= 0 {
				words = append(words, tok.Text)
			}
		}
		if len(words) == 0 || len(words) > MaxPhraseTokens {
			return
		}
		phrase, err := Parse(`"` + strings.Join(words, " ") + `"`)
		if err != nil {
			t.Fatalf("the phrase of %q's tokens: %v", text, err)
		}
		if !NewMatcher(phrase).Match(text) {
			t.Fatalf("%q does not match the phrase of its tokens %s", text, phrase)
		}
	})
}
