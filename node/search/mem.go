package search

import (
	"slices"
	"strings"
)

// Doc is one text to index: a post or direct message, or the new text of
// an edited message.
type Doc struct {
	Entry   uint64 // the log entry that carries the text (a post, a DM, an edit)
	Message uint64 // the message the text is of: Entry for a post
	Conv    string // the room, or the direct conversation (api.DMRoom)
	From    string // the author
	// Time is the message's time, Unix nanoseconds, for Filter.Since; 0
	// when not known (an edit): such a document is never left out by time,
	// the caller's check of the message decides.
	Time int64
	Text string

	prep *prepared // its tokens, when Prepare computed them
}

// prepared is a document's tokens: their hashes, places and texts (in buf).
type prepared struct {
	buf  []byte
	toks []preTok
}

type preTok struct {
	h          uint64
	start, end uint32
	pos        int32
}

// Preparer tokenizes documents ahead of Add, on another goroutine than the
// writer's (a catch-up's reader), so the two share the work. Not safe for
// concurrent use; what it prepares stays valid after it is reused.
type Preparer struct {
	t *Tokenizer
}

// NewPreparer returns a preparer.
func NewPreparer() *Preparer { return &Preparer{t: NewTokenizer()} }

// Prepare tokenizes the texts of docs; Add then only files the tokens.
func (p *Preparer) Prepare(docs []Doc) {
	size, n := 0, 0
	for i := range docs {
		size += len(docs[i].Text) + len(docs[i].Text)/8
		n += len(docs[i].Text)/4 + 4
	}
	buf := make([]byte, 0, size)
	toks := make([]preTok, 0, n)
	for i := range docs {
		start, bufStart := len(toks), len(buf)
		buf, toks = p.t.prepare(docs[i].Text, buf, toks)
		pt := toks[start:len(toks):len(toks)]
		for k := range pt {
			pt[k].start -= uint32(bufStart)
			pt[k].end -= uint32(bufStart)
		}
		docs[i].prep = &prepared{buf: buf[bufStart:len(buf):len(buf)], toks: pt}
	}
}

// prepare appends text's tokens to toks and their bytes to buf (offsets
// into buf).
func (t *Tokenizer) prepare(text string, buf []byte, toks []preTok) ([]byte, []preTok) {
	t.each(text, func(tok string, pos int32) {
		s := len(buf)
		buf = append(buf, tok...)
		toks = append(toks, preTok{h: termHash(tok), start: uint32(s), end: uint32(len(buf)), pos: pos})
	})
	return buf, toks
}

// docRec is a document as a segment stores it (16 bytes): the message its
// text is of, its conversation (an index into the segment's list), its
// entry's time in Unix seconds.
type docRec struct {
	msg  uint64
	conv uint32
	time uint32
}

const docRecSize = 16

func unixSeconds(ns int64) uint32 {
	s := ns / 1e9
	if s < 0 {
		return 0
	}
	if s > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(s)
}

// memSegment is the newest documents, in memory until flushed as a
// segment. One writer adds; readers search it under the Index's lock.
type memSegment struct {
	first, last uint64 // entries covered: first..last (first 0: none yet)
	docs        []docRec
	convs       []string
	convID      map[string]uint32
	terms       map[uint64]*encoder
	words       int // token terms (their encoders hold their text, for prefixes)
	bytes       int // postings held, for the flush rule
	minTime     uint32
	maxTime     uint32

	tok     *Tokenizer
	own     prepared // the tokens of a document Add gets unprepared
	touched []*encoder
	// pairs are the pair words (pairWords): two of them in a row are also
	// filed as one pair term, from document pairsFrom on (nil: none).
	pairs     map[uint64]uint16
	pairsFrom uint32
	// pairTab finds a pair's encoder by its words' pairIdx, without
	// hashing: a third of the terms a message files are pairs.
	pairTab []*encoder
}

func newMemSegment(pairs map[uint64]uint16) *memSegment {
	return &memSegment{convID: map[string]uint32{}, terms: map[uint64]*encoder{}, tok: NewTokenizer(), pairs: pairs}
}

// pairIndex is h's pairIdx (0: not a pair word).
func (m *memSegment) pairIndex(h uint64) uint16 { return m.pairs[h] }

// pairsStart is the first document from which every pair of pair words is
// filed (numDocs: none is).
func (m *memSegment) pairsStart() uint32 {
	if m.pairs == nil {
		return uint32(len(m.docs))
	}
	return m.pairsFrom
}

// maxPairWords is how many of a segment's most frequent words are its
// pair words.
const maxPairWords = 256

// pairWords picks the index's pair words: the maxPairWords words in the
// most documents of this memory segment (ties by word, so
// the choice is the same for the same documents). Phrases of frequent words
// are the slow ones by positions alone: their lists are long and the words
// are often near each other but seldom in that order.
func (m *memSegment) pairWords() []string {
	type wc struct {
		w string
		n uint32
	}
	var ws []wc
	for _, e := range m.terms {
		if e.word != "" {
			ws = append(ws, wc{e.word, e.n})
		}
	}
	slices.SortFunc(ws, func(a, b wc) int {
		if a.n != b.n {
			return int(int64(b.n) - int64(a.n))
		}
		return strings.Compare(a.w, b.w)
	})
	out := make([]string, 0, maxPairWords)
	for _, w := range ws[:min(len(ws), maxPairWords)] {
		out = append(out, w.w)
	}
	slices.Sort(out)
	return out
}

// pairIndexes numbers the pair words (from 1) by their hashes.
func pairIndexes(words []string) map[uint64]uint16 {
	m := make(map[uint64]uint16, len(words))
	for i, w := range words[:min(len(words), maxPairWords)] {
		m[termHash(w)] = uint16(i + 1)
	}
	return m
}

func (m *memSegment) empty() bool { return len(m.docs) == 0 }

// add indexes one document as the next ordinal.
func (m *memSegment) add(d Doc) {
	ord := uint32(len(m.docs))
	cid, ok := m.convID[d.Conv]
	if !ok {
		cid = uint32(len(m.convs))
		m.convs = append(m.convs, d.Conv)
		m.convID[d.Conv] = cid
	}
	t := unixSeconds(d.Time)
	if d.Time == 0 {
		t = 1<<32 - 1
	}
	if len(m.docs) == 0 || t < m.minTime {
		m.minTime = t
	}
	m.maxTime = max(m.maxTime, t)
	m.docs = append(m.docs, docRec{msg: d.Message, conv: cid, time: t})

	// One map access a token: a term's positions in this document wait in
	// its encoder until the document ends. Two tokens in a row that are
	// both pair words also file their pair (pairTerm) at the first's place,
	// when that place is even: any phrase of three or more still finds a
	// pair at its start or one after it, for half the postings.
	p := d.prep
	if p == nil {
		m.own.buf, m.own.toks = m.tok.prepare(d.Text, m.own.buf[:0], m.own.toks[:0])
		p = &m.own
	}
	touched := m.touched[:0]
	var prev *encoder
	var prevH uint64
	prevPos := int32(-2)
	for i := range p.toks {
		t := &p.toks[i]
		e := m.terms[t.h]
		if e == nil {
			e = &encoder{word: string(p.buf[t.start:t.end]), pairIdx: m.pairIndex(t.h)}
			m.terms[t.h] = e
			m.words++
		}
		if !e.pending {
			e.pending = true
			touched = append(touched, e)
		}
		if t.pos < 0 {
			continue // a unigram: not in the sequence
		}
		e.pend = append(e.pend, t.pos)
		if e.pairIdx != 0 && prev != nil && prevPos == t.pos-1 && prevPos%2 == 0 {
			if m.pairTab == nil {
				m.pairTab = make([]*encoder, (maxPairWords+1)*(maxPairWords+1))
			}
			k := int(prev.pairIdx)*(maxPairWords+1) + int(e.pairIdx)
			pe := m.pairTab[k]
			if pe == nil {
				ph := pairTerm(prevH, t.h)
				if pe = m.terms[ph]; pe == nil {
					pe = &encoder{}
					m.terms[ph] = pe
				}
				m.pairTab[k] = pe
			}
			if !pe.pending {
				pe.pending = true
				touched = append(touched, pe)
			}
			pe.pend = append(pe.pend, prevPos)
		}
		prev, prevPos = nil, t.pos
		if e.pairIdx != 0 {
			prev, prevH = e, t.h
		}
	}
	for _, h := range [2]uint64{convTerm(d.Conv), fromTerm(d.From)} {
		e := m.terms[h]
		if e == nil {
			e = &encoder{}
			m.terms[h] = e
		}
		if !e.pending {
			e.pending = true
			touched = append(touched, e)
		}
	}
	for _, e := range touched {
		before := len(e.data)
		e.add(ord, e.pend)
		m.bytes += len(e.data) - before
		e.pend, e.pending = e.pend[:0], false
	}
	clear(touched)
	m.touched = touched[:0]
}

// list returns a posting list reading the term's in-memory stream.
func (m *memSegment) list(h uint64) (*postingList, error) {
	e := m.terms[h]
	if e == nil {
		return nil, nil
	}
	data := e.data // appends never change these bytes
	return newPostingList(e.n, e.table(nil), func(from, to uint32) ([]byte, error) { return data[from:to], nil }), nil
}

func (m *memSegment) docRange(from, to uint32) ([]docRec, error) { return m.docs[from:to:to], nil }

// prefixTerms returns the hashes of the words that start with p, sorted
// by word, at most max+1 of them.
func (m *memSegment) prefixTerms(p string, limit int) []uint64 {
	var ws []string
	for _, e := range m.terms {
		if e.word != "" && strings.HasPrefix(e.word, p) {
			ws = append(ws, e.word)
		}
	}
	slices.Sort(ws)
	if len(ws) > limit+1 {
		ws = ws[:limit+1]
	}
	out := make([]uint64, len(ws))
	for i, w := range ws {
		out[i] = termHash(w)
	}
	return out
}

func newPostingList(n uint32, skips []uint32, data func(from, to uint32) ([]byte, error)) *postingList {
	return &postingList{count: n, skips: skips, data: data, blk: -1}
}
