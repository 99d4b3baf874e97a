package search

import (
	"encoding/binary"
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
	if isASCII(text) {
		return prepareASCII(text, buf, toks)
	}
	t.each(text, func(tok string, pos int32) {
		s := len(buf)
		buf = append(buf, tok...)
		toks = append(toks, preTok{h: termHash(tok), start: uint32(s), end: uint32(len(buf)), pos: pos})
	})
	return buf, toks
}

// prepareASCII is prepare of an ASCII text (most chat), in one pass:
// each word is lowered into buf and hashed on the way (the rules of
// Tokenizer.each: runs of ASCII letters and digits, cut at MaxTokenBytes).
func prepareASCII(text string, buf []byte, toks []preTok) ([]byte, []preTok) {
	var pos int32
	for i := 0; i < len(text); {
		if !isASCIIWord(text[i]) {
			i++
			continue
		}
		start := len(buf)
		h := uint64(fnvOffset)
		j := i
		for ; j < len(text) && isASCIIWord(text[j]); j++ {
			if j-i < MaxTokenBytes {
				b := text[j]
				if b <= 'Z' && b >= 'A' {
					b += 'a' - 'A'
				}
				buf = append(buf, b)
				h = (h ^ uint64(b)) * fnvPrime
			}
		}
		toks = append(toks, preTok{h: finishHash(h), start: uint32(start), end: uint32(len(buf)), pos: pos})
		pos++
		i = j
	}
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
//
// Nothing in it that grows with its documents holds a pointer: terms are
// found through a map of hash to index into encs, postings live in one
// arena (arena.go), and a document's positions wait in one shared buffer.
// So the GC marks a few dozen objects however large it grows.
type memSegment struct {
	first, last uint64 // entries covered: first..last (first 0: none yet)
	docs        []docRec
	convs       []string
	convID      map[string]uint32
	convEnc     []uint32          // each conversation's term (encs index), by convID
	fromEnc     map[string]uint32 // each author's term (encs index)
	terms       map[uint64]uint32 // term hash → encs index
	encs        []encoder
	post        arena  // the postings streams
	skips       []skip // the skip tables' entries, chained per term
	wordBuf     []byte // the token terms' texts (encoder.word)
	words       int    // token terms
	bytes       int    // postings and pair records held, for the flush rule
	minTime     uint32
	maxTime     uint32

	tok     *Tokenizer
	own     prepared  // the tokens of a document Add gets unprepared
	touched []uint32  // terms in the document being added
	pend    []pending // their positions, chained per term
	scratch []byte    // one posting, encoded
	poss    []int32   // one posting's positions
	// pairs are the pair words (pairWords): two of them in a row are also
	// filed as one pair term, from document pairsFrom on (nil: none).
	pairs     map[uint64]uint16
	pairsFrom uint32
	// pairTab finds a pair's term by its words' pairIdx (encs index + 1,
	// with deferBit while its postings wait in pairLog), without hashing:
	// a third of the terms a message files are pairs.
	pairTab []uint32
	// pairLog is the pair postings not filed yet, in document order. A
	// pair term is written a posting every thousand documents or so, each
	// time a miss in the CPU's caches (its term, its stream) where the log
	// is one sequential append; they are sorted by pair and encoded when
	// the segment is written. Searches of the memory segment therefore
	// find phrases by positions (pairsStart).
	pairLog [][]pairRec // in blocks of pairBlock: never copied as it grows
	pairs1  int         // records in pairLog

	// For tests: a pair's hash (nil: pairTerm), to make collisions, and
	// every pair filed as it comes (the reference for pairLog).
	testPairHash func(a, b uint64) uint64
	testNoDefer  bool
	testMaxPos   int32 // a place from which a pair is too far for a record (0: 1<<pairPosBits)
}

const pairBlock = 1 << 14

// deferBit marks a pairTab entry whose postings wait in pairLog.
const deferBit = 1 << 31

// pairRec is a pair term's posting waiting in pairLog, in 8 bytes: the
// pair (its pairTab index, < 257*257 < 1<<17), the document (< 1<<24)
// and the place (< 1<<23). A posting beyond those files its pair as it
// comes from then on (undefer).
type pairRec uint64

const (
	pairOrdBits = 24
	pairPosBits = 23
)

func newPairRec(key, ord uint32, pos int32) pairRec {
	return pairRec(uint64(key)<<(pairOrdBits+pairPosBits) | uint64(ord)<<pairPosBits | uint64(pos))
}

func (r pairRec) key() uint32 { return uint32(r >> (pairOrdBits + pairPosBits)) }
func (r pairRec) ord() uint32 { return uint32(r>>pairPosBits) & (1<<pairOrdBits - 1) }
func (r pairRec) pos() int32  { return int32(r & (1<<pairPosBits - 1)) }

// encoder is one term of the memory segment: its postings stream (delta
// varints, postings.go) with its skip table, and the positions of the
// document being added. Links are indexes plus one (0: none).
type encoder struct {
	stream
	n, last            uint32 // postings, last ordinal
	skipHead, skipTail uint32 // in memSegment.skips
	pendHead, pendTail uint32 // in memSegment.pend
	word               uint32 // the token's text in wordBuf ...
	wordLen            uint8  // ... and its length (0: a conversation, author or pair term)
	pending            bool   // in the document being added
	// deferKey is the pairTab index plus one of a pair term whose postings
	// wait in pairLog (0: filed here).
	deferKey uint32
	// pairIdx is the word's place among the pair words plus one (0: not
	// a pair word): its row and column in memSegment.pairTab.
	pairIdx uint16
}

// skip is one entry of a term's skip table: the last ordinal of a block
// and where the block ends in the stream.
type skip struct{ ord, end, next uint32 }

// pending is a position of a term in the document being added.
type pending struct {
	pos  int32
	next uint32
}

func newMemSegment(pairs map[uint64]uint16) *memSegment {
	return &memSegment{convID: map[string]uint32{}, fromEnc: map[string]uint32{}, terms: map[uint64]uint32{},
		tok: NewTokenizer(), pairs: pairs}
}

// pairIndex is h's pairIdx (0: not a pair word).
func (m *memSegment) pairIndex(h uint64) uint16 { return m.pairs[h] }

// pairsStart is, for searches, the first document from which every pair
// of pair words can be found: none in memory (their postings wait in
// pairLog).
func (m *memSegment) pairsStart() uint32 { return uint32(len(m.docs)) }

// pairsComplete is the first document from which every pair of pair words
// is filed once pairLog is (numDocs: none is).
func (m *memSegment) pairsComplete() uint32 {
	if m.pairs == nil {
		return uint32(len(m.docs))
	}
	return m.pairsFrom
}

// maxPairWords is how many of a segment's most frequent words are its
// pair words.
const maxPairWords = 256

// wordOf is a token term's text ("" for other terms).
func (m *memSegment) wordOf(e *encoder) string {
	return string(m.wordBuf[e.word : e.word+uint32(e.wordLen)])
}

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
	for i := range m.encs {
		if e := &m.encs[i]; e.wordLen > 0 {
			ws = append(ws, wc{m.wordOf(e), e.n})
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

// setPairs makes pairs the pair words from the next document on.
func (m *memSegment) setPairs(pairs map[uint64]uint16) {
	m.pairs, m.pairsFrom = pairs, uint32(len(m.docs))
	for h, i := range pairs {
		if k, ok := m.terms[h]; ok {
			m.encs[k].pairIdx = i
		}
	}
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

// term returns term h's index in encs, adding it if new; ord is the
// document being added.
func (m *memSegment) term(h uint64, ord uint32) uint32 {
	k, ok := m.terms[h]
	if !ok {
		k = uint32(len(m.encs))
		m.encs = append(m.encs, encoder{})
		m.terms[h] = k
	} else if m.encs[k].deferKey != 0 {
		m.undefer(k, ord)
	}
	return k
}

// newPair is the pairTab entry of pair j, seen for the first time, of
// hash h: deferred, unless another term has that hash (a collision: the
// pair is filed with it as it comes).
func (m *memSegment) newPair(j int, h uint64, ord uint32) uint32 {
	if _, ok := m.terms[h]; ok || m.testNoDefer {
		m.pairTab[j] = m.term(h, ord) + 1
		return m.pairTab[j]
	}
	k := m.term(h, ord)
	m.encs[k].deferKey = uint32(j) + 1
	m.pairTab[j] = (k + 1) | deferBit
	return m.pairTab[j]
}

// undefer files the logged postings of pair term k (another term has its
// hash: the two are one term) and files its next ones as they come. Its
// records stay in pairLog; the write skips them.
func (m *memSegment) undefer(k, ord uint32) {
	key := m.encs[k].deferKey - 1
	m.encs[k].deferKey = 0
	m.pairTab[key] &^= deferBit
	var poss []int32
	cur := uint32(0)
	for _, r := range slices.Concat(m.pairLog...) { // rare: a collision
		switch {
		case r.key() != key:
		case r.ord() == ord: // the document being added
			m.touch(k)
			m.at(k, r.pos())
		case len(poss) > 0 && r.ord() != cur:
			m.file(k, cur, poss)
			poss = poss[:0]
			fallthrough
		default:
			cur = r.ord()
			poss = append(poss, r.pos())
		}
	}
	if len(poss) > 0 {
		m.file(k, cur, poss)
	}
}

// touch marks term k as in the document being added.
func (m *memSegment) touch(k uint32) {
	if e := &m.encs[k]; !e.pending {
		e.pending = true
		m.touched = append(m.touched, k)
	}
}

// at files position pos of term k in the document being added.
func (m *memSegment) at(k uint32, pos int32) {
	m.pend = append(m.pend, pending{pos: pos})
	p := uint32(len(m.pend))
	e := &m.encs[k]
	if e.pendTail == 0 {
		e.pendHead = p
	} else {
		m.pend[e.pendTail-1].next = p
	}
	e.pendTail = p
}

// add indexes one document as the next ordinal.
func (m *memSegment) add(d Doc) {
	ord := uint32(len(m.docs))
	cid, ok := m.convID[d.Conv]
	if !ok {
		cid = uint32(len(m.convs))
		m.convs = append(m.convs, d.Conv)
		m.convID[d.Conv] = cid
		m.convEnc = append(m.convEnc, m.term(convTerm(d.Conv), ord))
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
	// the shared buffer until the document ends. Two tokens in a row that
	// are both pair words also file their pair (pairTerm) at the first's
	// place, when that place is even: any phrase of three or more still
	// finds a pair at its start or one after it, for half the postings.
	p := d.prep
	if p == nil {
		m.own.buf, m.own.toks = m.tok.prepare(d.Text, m.own.buf[:0], m.own.toks[:0])
		p = &m.own
	}
	var prev uint16 // the previous token's pairIdx, when it is a pair word at an even place
	var prevH uint64
	prevPos := int32(-2)
	for i := range p.toks {
		t := &p.toks[i]
		k, ok := m.terms[t.h]
		if ok && m.encs[k].deferKey != 0 {
			m.undefer(k, ord) // a token with a pair's hash
		}
		if !ok {
			k = m.term(t.h, ord)
			w := p.buf[t.start:t.end]
			m.encs[k].word, m.encs[k].wordLen = uint32(len(m.wordBuf)), uint8(len(w))
			m.encs[k].pairIdx = m.pairIndex(t.h)
			m.wordBuf = append(m.wordBuf, w...)
			m.words++
		}
		m.touch(k)
		if t.pos < 0 {
			continue // a unigram: not in the sequence
		}
		m.at(k, t.pos)
		pi := m.encs[k].pairIdx
		if pi != 0 && prev != 0 && prevPos == t.pos-1 {
			if m.pairTab == nil {
				m.pairTab = make([]uint32, (maxPairWords+1)*(maxPairWords+1))
			}
			j := int(prev)*(maxPairWords+1) + int(pi)
			pk := m.pairTab[j]
			if pk == 0 {
				ph := pairTerm(prevH, t.h)
				if m.testPairHash != nil {
					ph = m.testPairHash(prevH, t.h)
				}
				pk = m.newPair(j, ph, ord)
			}
			if pk&deferBit != 0 && (ord >= 1<<pairOrdBits || prevPos >= 1<<pairPosBits ||
				m.testMaxPos > 0 && prevPos >= m.testMaxPos) {
				pk &^= deferBit // too far for a record: filed as it comes from now on
				m.undefer(pk-1, ord)
			}
			if pk&deferBit != 0 {
				m.logPair(newPairRec(uint32(j), ord, prevPos))
				m.bytes += 8 // what the record holds (its posting will take ~3)
			} else {
				m.touch(pk - 1)
				m.at(pk-1, prevPos)
			}
		}
		prev, prevPos = 0, t.pos
		if pi != 0 && t.pos%2 == 0 {
			prev, prevH = pi, t.h
		}
	}
	m.touch(m.convEnc[cid])
	fk, ok := m.fromEnc[d.From]
	if !ok {
		fk = m.term(fromTerm(d.From), ord)
		m.fromEnc[d.From] = fk
	}
	m.touch(fk)
	for _, k := range m.touched {
		e := &m.encs[k]
		poss := m.poss[:0]
		for q := e.pendHead; q != 0; q = m.pend[q-1].next {
			poss = append(poss, m.pend[q-1].pos)
		}
		m.poss = poss
		m.file(k, ord, poss)
		e.pending, e.pendHead, e.pendTail = false, 0, 0
	}
	m.touched = m.touched[:0]
	m.pend = m.pend[:0]
}

// file appends a posting of term k: document ord, at positions poss.
func (m *memSegment) file(k, ord uint32, poss []int32) {
	e := &m.encs[k]
	b := appendPosting(m.scratch[:0], ord-e.last, poss)
	m.post.write(&e.stream, b)
	m.scratch = b
	m.bytes += len(b)
	e.last = ord
	e.n++
	if e.n%blockSize == 0 {
		m.skips = append(m.skips, skip{ord: ord, end: e.size})
		s := uint32(len(m.skips))
		if e.skipTail == 0 {
			e.skipHead = s
		} else {
			m.skips[e.skipTail-1].next = s
		}
		e.skipTail = s
	}
}

// appendPosting encodes one posting (postings.go): the ordinal's delta,
// the number of positions, their deltas.
func appendPosting(b []byte, delta uint32, poss []int32) []byte {
	b = binary.AppendUvarint(b, uint64(delta))
	b = binary.AppendUvarint(b, uint64(len(poss)))
	var prev int32
	for _, p := range poss {
		b = binary.AppendUvarint(b, uint64(p-prev))
		prev = p
	}
	return b
}

// logPair appends r to pairLog.
func (m *memSegment) logPair(r pairRec) {
	if m.pairs1%pairBlock == 0 {
		m.pairLog = append(m.pairLog, make([]pairRec, 0, pairBlock))
	}
	b := &m.pairLog[len(m.pairLog)-1]
	*b = append(*b, r)
	m.pairs1++
}

// sortPairLog sorts pairLog's records by pair with a counting sort
// (stable: each pair's records stay in document order): the records of
// pair key are recs[start[key]:start[key+1]].
func (m *memSegment) sortPairLog() (recs []pairRec, start []uint32) {
	start = make([]uint32, (maxPairWords+1)*(maxPairWords+1)+1)
	if m.pairs1 == 0 {
		return nil, start
	}
	for _, blk := range m.pairLog {
		for _, r := range blk {
			start[r.key()+1]++
		}
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	recs = make([]pairRec, m.pairs1)
	at := slices.Clone(start)
	for _, blk := range m.pairLog {
		for _, r := range blk {
			recs[at[r.key()]] = r
			at[r.key()]++
		}
	}
	return recs, start
}

// encodePair encodes one pair's records (in document order) as a term's
// postings: its count, skip table and stream, appended to skips and data.
func encodePair(recs []pairRec, skips []uint32, data []byte) (uint32, []uint32, []byte) {
	var n, last uint32
	var poss [8]int32
	for i := 0; i < len(recs); {
		ord := recs[i].ord()
		p := poss[:0]
		for ; i < len(recs) && recs[i].ord() == ord; i++ {
			p = append(p, recs[i].pos())
		}
		data = appendPosting(data, ord-last, p)
		last = ord
		n++
		if n%blockSize == 0 || i == len(recs) {
			skips = append(skips, ord, uint32(len(data)))
		}
	}
	return n, skips, data
}

// table appends term e's skip table, including the last, partial block,
// to dst.
func (m *memSegment) table(dst []uint32, e *encoder) []uint32 {
	for s := e.skipHead; s != 0; s = m.skips[s-1].next {
		dst = append(dst, m.skips[s-1].ord, m.skips[s-1].end)
	}
	if e.n%blockSize != 0 {
		dst = append(dst, e.last, e.size)
	}
	return dst
}

// list returns a posting list reading a copy of the term's stream (the
// caller holds the Index's lock while it reads).
func (m *memSegment) list(h uint64) (*postingList, error) {
	k, ok := m.terms[h]
	if !ok {
		return nil, nil
	}
	e := &m.encs[k]
	if e.deferKey != 0 {
		return nil, nil // a pair's postings wait in pairLog: searches here go by positions
	}
	data := m.post.appendTo(make([]byte, 0, e.size), &e.stream)
	return newPostingList(e.n, m.table(nil, e), func(from, to uint32) ([]byte, error) { return data[from:to], nil }), nil
}

func (m *memSegment) docRange(from, to uint32) ([]docRec, error) { return m.docs[from:to:to], nil }

// prefixTerms returns the hashes of the words that start with p, sorted
// by word, at most max+1 of them.
func (m *memSegment) prefixTerms(p string, limit int) []uint64 {
	var ws []string
	for i := range m.encs {
		if e := &m.encs[i]; e.wordLen > 0 && strings.HasPrefix(m.wordOf(e), p) {
			ws = append(ws, m.wordOf(e))
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
