package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/cases"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// TokenizerVersion names the rules below. The index records it; an index
// built under other rules is rebuilt (a changed rule would leave terms no
// query finds).
const TokenizerVersion = 1

// MaxTokenBytes bounds one token: a longer run of letters is cut there, at a
// character boundary, the same way when indexing and when querying, so a
// hostile run of marks costs nothing more than a long word.
const MaxTokenBytes = 64

// Token is one unit of a text: a normalized word, or for scripts written
// without spaces a pair of characters. Pos is its place in the text's
// sequence of tokens; unigrams of those scripts carry Pos -1 (they are
// findable on their own but are not part of any phrase).
type Token struct {
	Text string
	Pos  int32
}

// Tokenizer turns texts into tokens. The rules, the same for indexing and
// for queries (and for checking a hit against the current text):
//
//   - Normalization: NFKC (compatibility forms fold: full-width letters,
//     ligatures, superscripts), then Unicode case folding (ß and ss,
//     final sigma), then the combining marks on Latin, Greek and Cyrillic
//     letters are dropped (café and cafe are one word). Marks of other
//     scripts stay: in Devanagari or Thai they are letters of the word.
//   - Words: maximal runs of letters, digits and marks. Everything else
//     (spaces, punctuation, symbols, emoji, format characters such as
//     zero-width joiners and bidi controls) separates words.
//   - Scripts written without spaces (Han, Hiragana, Katakana, Hangul,
//     Thai, Lao, Khmer, Myanmar): each run is cut into overlapping pairs of
//     characters (a character with its marks), which take places in the
//     sequence like words, and each character is also a unigram of its
//     own. So 東京都 is the tokens 東京 京都 (and 東, 京, 都): a query 京都
//     finds it, and so does 京.
//
// A Tokenizer is not safe for concurrent use; it keeps its buffers.
type Tokenizer struct {
	fold  cases.Caser
	buf   []byte
	units []unit
	out   []Token
	// Buffers of the non-ASCII path, reused so a text costs no allocation:
	// the NFKC text, a folded word or run, its decomposition and the word
	// without its marks.
	norm, folded, nfd, strip []byte
	folder                   transform.Transformer // fold, boxed once
	nfdIter                  norm.Iter
}

type unit struct{ start, end int } // a character with its marks, in buf

// NewTokenizer returns a tokenizer.
func NewTokenizer() *Tokenizer {
	t := &Tokenizer{fold: cases.Fold()}
	t.folder = t.fold
	return t
}

// Tokens returns the tokens of text in order; the slice and its strings are
// valid until the next call (the strings are copies).
func (t *Tokenizer) Tokens(text string) []Token {
	t.out = t.out[:0]
	t.each(text, func(tok string, pos int32) {
		t.out = append(t.out, Token{Text: strings.Clone(tok), Pos: pos})
	})
	return t.out
}

// each calls fn with every token of text; tok is valid only during the
// call (it may alias the tokenizer's buffer).
func (t *Tokenizer) each(text string, fn func(tok string, pos int32)) {
	if !isASCII(text) {
		t.norm = norm.NFKC.AppendString(t.norm[:0], text)
		text = unsafe.String(unsafe.SliceData(t.norm), len(t.norm))
	}
	var pos int32
	i := 0
	for i < len(text) {
		c := text[i]
		if c < utf8.RuneSelf {
			if !isASCIIWord(c) {
				i++
				continue
			}
			j := i
			for j < len(text) && text[j] < utf8.RuneSelf && isASCIIWord(text[j]) {
				j++
			}
			if j == len(text) || text[j] < utf8.RuneSelf {
				// An ASCII word: lower it in place of the fold.
				t.buf = t.buf[:0]
				for k := i; k < j && len(t.buf) < MaxTokenBytes; k++ {
					b := text[k]
					if 'A' <= b && b <= 'Z' {
						b += 'a' - 'A'
					}
					t.buf = append(t.buf, b)
				}
				fn(unsafe.String(unsafe.SliceData(t.buf), len(t.buf)), pos)
				pos++
				i = j
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isWordRune(r) || unicode.Is(unicode.M, r) { // a mark with no letter before it separates
			i += size
			continue
		}
		unseg := unsegmented(r)
		j := i + size
		for j < len(text) {
			r2, s2 := utf8.DecodeRuneInString(text[j:])
			if !isWordRune(r2) {
				break
			}
			if !unicode.Is(unicode.M, r2) && unsegmented(r2) != unseg {
				break // a change between spaced and unspaced scripts
			}
			j += s2
		}
		if unseg {
			pos = t.pairs(text[i:j], pos, fn)
		} else {
			fn(t.word(text[i:j]), pos)
			pos++
		}
		i = j
	}
}

// word folds a run of letters into a token (valid until the next call).
func (t *Tokenizer) word(w string) string {
	f := t.foldString(w)
	if hasStrippable(f) {
		f = t.stripMarks(f)
	}
	return cut(f, MaxTokenBytes)
}

// foldString is s case-folded, in t.folded (valid until the next call).
func (t *Tokenizer) foldString(s string) string {
	var err error
	t.folded, _, err = transform.Append(t.folder, t.folded[:0], unsafe.Slice(unsafe.StringData(s), len(s)))
	if err != nil { // cannot happen with the whole input at once; as Caser.String would
		return t.fold.String(s)
	}
	return unsafe.String(unsafe.SliceData(t.folded), len(t.folded))
}

// pairs emits the pairs and unigrams of a run of an unsegmented script.
func (t *Tokenizer) pairs(run string, pos int32, fn func(string, int32)) int32 {
	f := t.foldString(run)
	t.units = t.units[:0]
	for i := 0; i < len(f); {
		r, size := utf8.DecodeRuneInString(f[i:])
		if unicode.Is(unicode.M, r) && len(t.units) > 0 {
			t.units[len(t.units)-1].end = i + size
		} else {
			t.units = append(t.units, unit{i, i + size})
		}
		i += size
	}
	if len(t.units) == 1 {
		fn(cut(f, MaxTokenBytes), pos)
		return pos + 1
	}
	for k := 0; k+1 < len(t.units); k++ {
		fn(cut(f[t.units[k].start:t.units[k+1].end], MaxTokenBytes), pos)
		pos++
	}
	for _, u := range t.units {
		fn(cut(f[u.start:u.end], MaxTokenBytes), -1)
	}
	return pos
}

// cut shortens s to at most n bytes at a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isASCIIWord(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) || unicode.Is(unicode.M, r)
}

// unsegmented reports whether r's script is written without spaces between
// words.
func unsegmented(r rune) bool {
	if r < 0x0E00 {
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul,
		unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// hasStrippable reports whether s may hold a mark stripMarks removes: any
// non-ASCII rune of Latin, Greek or Cyrillic (precomposed ones decompose).
func hasStrippable(s string) bool {
	for _, r := range s {
		if r >= 0x80 && (unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic) || unicode.Is(unicode.Mn, r)) {
			return true
		}
	}
	return false
}

// stripMarks removes the nonspacing marks that follow a Latin, Greek or
// Cyrillic letter, and composes the rest again (in t.strip, valid until
// the next call).
func (t *Tokenizer) stripMarks(s string) string {
	// norm.Iter keeps its buffers: AppendString would allocate a
	// reordering buffer for every word it changes.
	t.nfd = t.nfd[:0]
	t.nfdIter.InitString(norm.NFD, s)
	for !t.nfdIter.Done() {
		t.nfd = append(t.nfd, t.nfdIter.Next()...)
	}
	kept := t.nfd[:0] // filtered in place: never longer than what was read
	strip := false
	for i := 0; i < len(t.nfd); {
		r, size := utf8.DecodeRune(t.nfd[i:])
		keep := true
		if unicode.Is(unicode.Mn, r) {
			keep = !strip
		} else {
			strip = unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic)
		}
		if keep {
			kept = append(kept, t.nfd[i:i+size]...)
		}
		i += size
	}
	t.strip = norm.NFC.Append(t.strip[:0], kept...)
	return unsafe.String(unsafe.SliceData(t.strip), len(t.strip))
}
