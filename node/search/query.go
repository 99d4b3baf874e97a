package search

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Query limits: a query is typed by a person; anything larger is refused
// with a clear error rather than costing the node.
const (
	MaxQueryBytes   = 1024
	MaxClauses      = 16
	MaxPhraseTokens = 32
)

// ErrEmptyQuery is returned for a query that holds no word to look for.
var ErrEmptyQuery = errors.New("nothing to search for: give a word (letters or digits)")

// Clause is one condition of a query; a message matches a query when it
// matches every clause.
type Clause struct {
	// Tokens in order: one for a word or a prefix, several for a phrase
	// (a quoted phrase, or a word the tokenizer cuts in several, such as
	// don't or 東京都).
	Tokens []string
	// Prefix: the last token matches any token that starts with it (foo*).
	Prefix bool
}

func (c Clause) String() string {
	s := strings.Join(c.Tokens, " ")
	if c.Prefix {
		s += "*"
	}
	if len(c.Tokens) > 1 {
		s = `"` + s + `"`
	}
	return s
}

// Query is a parsed search: its clauses, all of which must match.
type Query struct {
	Clauses []Clause
}

func (q *Query) String() string {
	parts := make([]string, len(q.Clauses))
	for i, c := range q.Clauses {
		parts[i] = c.String()
	}
	return strings.Join(parts, " ")
}

// Parse reads a query: words separated by spaces, "quoted phrases" (an
// unclosed quote runs to the end), and a trailing * on a word (or on the
// last word of a phrase) for a prefix. Words are normalized as texts are
// (Tokenizer); punctuation and symbols are ignored, so "don't" and
// don't are both the phrase don t. Every clause must match.
func Parse(s string) (*Query, error) {
	if len(s) > MaxQueryBytes {
		return nil, fmt.Errorf("query too long: %d bytes (max %d)", len(s), MaxQueryBytes)
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	t := NewTokenizer()
	q := &Query{}
	add := func(text string) error {
		prefix := false
		if p := strings.TrimRight(text, " \t\r\n"); strings.HasSuffix(p, "*") {
			prefix = true
			text = strings.TrimRight(p, "*")
		}
		var toks []string
		for _, tok := range t.Tokens(text) {
			if tok.Pos >= 0 {
				toks = append(toks, tok.Text)
			}
		}
		if len(toks) == 0 {
			return nil
		}
		// A prefix must end where the text ends: "foo-*" is the word foo,
		// not a prefix (the * follows no letter).
		if prefix && !endsInWord(text) {
			prefix = false
		}
		if len(toks) > MaxPhraseTokens {
			return fmt.Errorf("phrase too long: %d words (max %d)", len(toks), MaxPhraseTokens)
		}
		if len(q.Clauses) == MaxClauses {
			return fmt.Errorf("too many words: max %d (a \"quoted phrase\" counts as one)", MaxClauses)
		}
		q.Clauses = append(q.Clauses, Clause{Tokens: toks, Prefix: prefix})
		return nil
	}
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			end := len(s)
			if j >= 0 {
				end = i + 1 + j
			}
			if err := add(s[i+1 : end]); err != nil {
				return nil, err
			}
			i = end + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\r' && s[j] != '\n' && s[j] != '"' {
				j++
			}
			if err := add(s[i:j]); err != nil {
				return nil, err
			}
			i = j
		}
	}
	if len(q.Clauses) == 0 {
		return nil, ErrEmptyQuery
	}
	return q, nil
}

// endsInWord reports whether text's last character is part of a word.
func endsInWord(text string) bool {
	r, _ := utf8.DecodeLastRuneInString(text)
	return r != utf8.RuneError && isWordRune(r)
}

// Matcher checks texts against a query: the truth a hit from the index is
// held to (the index only proposes candidates). Not safe for concurrent
// use.
type Matcher struct {
	q   *Query
	t   *Tokenizer
	seq []string // the text's tokens that take places, in order
	all map[string]struct{}
}

// NewMatcher returns a matcher for q.
func NewMatcher(q *Query) *Matcher {
	return &Matcher{q: q, t: NewTokenizer(), all: map[string]struct{}{}}
}

// Match reports whether text matches every clause of the query.
func (m *Matcher) Match(text string) bool {
	m.seq = m.seq[:0]
	clear(m.all)
	for _, tok := range m.t.Tokens(text) {
		m.all[tok.Text] = struct{}{}
		if tok.Pos >= 0 {
			m.seq = append(m.seq, tok.Text)
		}
	}
	for _, c := range m.q.Clauses {
		if !m.clause(c) {
			return false
		}
	}
	return true
}

func (m *Matcher) clause(c Clause) bool {
	if len(c.Tokens) == 1 {
		if !c.Prefix {
			_, ok := m.all[c.Tokens[0]]
			return ok
		}
		for tok := range m.all {
			if strings.HasPrefix(tok, c.Tokens[0]) {
				return true
			}
		}
		return false
	}
	n := len(c.Tokens)
outer:
	for p := 0; p+n <= len(m.seq); p++ {
		for k, want := range c.Tokens {
			got := m.seq[p+k]
			if k == n-1 && c.Prefix {
				if !strings.HasPrefix(got, want) {
					continue outer
				}
			} else if got != want {
				continue outer
			}
		}
		return true
	}
	return false
}
