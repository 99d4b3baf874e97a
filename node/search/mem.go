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
	touched []*encoder
}

func newMemSegment() *memSegment {
	return &memSegment{convID: map[string]uint32{}, terms: map[uint64]*encoder{}, tok: NewTokenizer()}
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
	// its encoder until the document ends.
	touched := m.touched[:0]
	m.tok.each(d.Text, func(tok string, pos int32) {
		h := termHash(tok)
		e := m.terms[h]
		if e == nil {
			e = &encoder{word: strings.Clone(tok)}
			m.terms[h] = e
			m.words++
		}
		if !e.pending {
			e.pending = true
			touched = append(touched, e)
		}
		if pos >= 0 {
			e.pend = append(e.pend, pos)
		}
	})
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

func (m *memSegment) doc(ord uint32) (docRec, error) { return m.docs[ord], nil }

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
