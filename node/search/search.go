package search

import (
	"context"
	"fmt"
	"slices"
)

// docBlock is how many documents a search reads at once (4 KiB).
const docBlock = 256

// MaxPrefixTerms bounds the words one prefix may stand for in one segment;
// a shorter prefix than that needs is refused (PrefixError) rather than
// answered in part.
const MaxPrefixTerms = 2048

// PrefixError says a prefix matches too many words to search.
type PrefixError struct{ Prefix string }

func (e *PrefixError) Error() string {
	return fmt.Sprintf("%s* matches too many words: make the prefix longer", e.Prefix)
}

// Filter narrows a search.
type Filter struct {
	Conv  string // only this room or direct conversation ("": all)
	From  string // only this author ("": all)
	Since int64  // only entries at or after this time, Unix nanoseconds (0: all)
	// Readable reports whether the searching user may read a
	// conversation; documents of others are never offered (nil: all).
	Readable func(conv string) bool
}

// Candidate is a message whose indexed text may match: the index proposes,
// the caller decides against the message's current text.
type Candidate struct {
	Message uint64
	Conv    string
}

// source is a segment, on disk or in memory.
type source interface {
	list(h uint64) (*postingList, error)
	prefixHashes(prefix string, limit int) ([]uint64, error)
	docRange(from, to uint32) ([]docRec, error)
	numDocs() uint32
	convName(id uint32) string
	latest() uint32 // the newest document's time, Unix seconds
	pairsStart() uint32
}

func (s *segment) prefixHashes(p string, limit int) ([]uint64, error) { return s.prefixTerms(p, limit) }
func (s *segment) numDocs() uint32                                    { return s.meta.Docs }
func (s *segment) convName(id uint32) string                          { return s.meta.Convs[id] }
func (s *segment) latest() uint32                                     { return s.meta.MaxTime }

func (m *memSegment) prefixHashes(p string, limit int) ([]uint64, error) {
	return m.prefixTerms(p, limit), nil
}
func (m *memSegment) numDocs() uint32           { return uint32(len(m.docs)) }
func (m *memSegment) convName(id uint32) string { return m.convs[id] }
func (m *memSegment) latest() uint32            { return m.maxTime }

// Search calls fn with the messages whose indexed text may match q under
// f, newest entry first (a message edited later comes at its edit's
// place), each message once, until fn returns false or an error. The
// answer depends only on the entries indexed: every node that indexed the
// same entries proposes the same candidates in the same order.
//
// ctx ends a search that runs long (a word in many messages the searcher
// may not read is a walk down its whole list).
func (x *Index) Search(ctx context.Context, q *Query, f Filter, fn func(Candidate) (bool, error)) error {
	x.mu.RLock()
	segs := slices.Clone(x.segs)
	for _, s := range segs {
		s.acquire()
	}
	defer func() {
		for _, s := range segs {
			s.release()
		}
	}()
	st := &searchRun{ctx: ctx, q: q, f: f, fn: fn, seen: map[uint64]struct{}{}, readable: map[string]bool{}, pairs: x.pairSet}
	more, err := st.run(x.mem)
	x.mu.RUnlock()
	for i := len(segs) - 1; i >= 0 && more && err == nil; i-- {
		more, err = st.run(segs[i])
	}
	return err
}

type searchRun struct {
	ctx      context.Context
	q        *Query
	f        Filter
	fn       func(Candidate) (bool, error)
	seen     map[uint64]struct{}
	readable map[string]bool
	pairs    map[uint64]uint16 // the index's pair words (nil: none yet)
}

// iter finds documents newest first: seekLE returns the largest matching
// ordinal at or below x, or -1. Callers pass x that only decrease.
type iter interface {
	seekLE(x int64) (int64, error)
	cost() uint32
}

func (p *postingList) cost() uint32 { return p.count }

// run searches one source; more is false once fn is done.
func (st *searchRun) run(src source) (more bool, err error) {
	n := src.numDocs()
	if n == 0 {
		return true, nil
	}
	since := uint32(0)
	if st.f.Since > 0 {
		since = unixSeconds(st.f.Since)
		if src.latest() < since {
			return true, nil
		}
	}
	var its []iter
	term := func(h uint64) (bool, error) {
		l, err := src.list(h)
		if l == nil || err != nil {
			return false, err
		}
		its = append(its, l)
		return true, nil
	}
	if st.f.Conv != "" {
		if ok, err := term(convTerm(st.f.Conv)); !ok {
			return err == nil, err
		}
	}
	if st.f.From != "" {
		if ok, err := term(fromTerm(st.f.From)); !ok {
			return err == nil, err
		}
	}
	for _, c := range st.q.Clauses {
		exact := c.Tokens
		if c.Prefix {
			exact = c.Tokens[:len(c.Tokens)-1]
			p := c.Tokens[len(c.Tokens)-1]
			hs, err := src.prefixHashes(p, MaxPrefixTerms)
			if err != nil {
				return false, err
			}
			if len(hs) > MaxPrefixTerms {
				return false, &PrefixError{Prefix: p}
			}
			u := &unionIter{}
			for _, h := range hs {
				l, err := src.list(h)
				if err != nil {
					return false, err
				}
				if l != nil {
					u.add(l)
				}
			}
			if len(u.lists) == 0 {
				return true, nil
			}
			its = append(its, u)
		}
		switch len(exact) {
		case 0:
		case 1:
			if ok, err := term(termHash(exact[0])); !ok {
				return err == nil, err
			}
		default:
			ph, ok, err := st.phrase(src, exact)
			if !ok || err != nil {
				return err == nil, err
			}
			its = append(its, ph)
		}
	}
	var root iter = &andIter{its: its}
	if len(its) == 1 {
		root = its[0]
	} else {
		slices.SortStableFunc(its, func(a, b iter) int { return int(int64(a.cost()) - int64(b.cost())) })
	}
	// Documents are read a block at a time: the walk goes down, so the
	// block holds the next ones.
	var blk []docRec
	blkFrom := int64(-1)
	for x, steps := int64(n)-1, 0; ; steps++ {
		if steps%1024 == 1023 {
			if err := st.ctx.Err(); err != nil {
				return false, err
			}
		}
		ord, err := root.seekLE(x)
		if ord < 0 || err != nil {
			return err == nil, err
		}
		x = ord - 1
		if ord < blkFrom || blkFrom < 0 || ord >= blkFrom+int64(len(blk)) {
			blkFrom = ord - ord%docBlock
			if blk, err = src.docRange(uint32(blkFrom), uint32(min(blkFrom+docBlock, int64(n)))); err != nil {
				return false, err
			}
		}
		d := blk[ord-blkFrom]
		if d.time < since {
			continue
		}
		if _, dup := st.seen[d.msg]; dup {
			continue
		}
		conv := src.convName(d.conv)
		if st.f.Readable != nil {
			ok, known := st.readable[conv]
			if !known {
				ok = st.f.Readable(conv)
				st.readable[conv] = ok
			}
			if !ok {
				continue
			}
		}
		st.seen[d.msg] = struct{}{}
		more, err := st.fn(Candidate{Message: d.msg, Conv: conv})
		if !more || err != nil {
			return false, err
		}
	}
}

// phrase finds the documents with the tokens in a row: by the pairs of
// its words where the segment filed them (from pairsStart on, when every
// token is a pair word), by the words' positions before that. ok is false
// when no document of src can match.
func (st *searchRun) phrase(src source, toks []string) (it iter, ok bool, err error) {
	n := src.numDocs()
	from := n
	if st.pairs != nil {
		from = src.pairsStart()
		for _, t := range toks {
			if _, in := st.pairs[termHash(t)]; !in {
				from = n
				break
			}
		}
	}
	var byPairs iter
	if from < n {
		// Pairs stand only at even places: the phrase starts at an even
		// place (its pairs at 0, 2, ...) or an odd one (at 1, 3, ...); the
		// tokens no pair covers are found by their own lists.
		var alts orIter
		for start := 0; start < 2; start++ {
			alt := &phraseIter{}
			pairs := 0
			for i := 0; i < len(toks) && alt != nil; {
				h := termHash(toks[i])
				if i%2 == start && i+1 < len(toks) {
					l, err := src.list(pairTerm(h, termHash(toks[i+1])))
					if err != nil {
						return nil, false, err
					}
					if l == nil {
						alt = nil // no document from `from` on has it
						break
					}
					alt.add(l, int32(i))
					pairs++
					i += 2
					continue
				}
				l, err := src.list(h)
				if err != nil {
					return nil, false, err
				}
				if l == nil {
					alt = nil
					break
				}
				alt.add(l, int32(i))
				i++
			}
			if alt != nil {
				alts = append(alts, alt)
			}
		}
		if len(alts) > 0 {
			byPairs = alts
		}
	}
	var byPos *phraseIter
	if from > 0 {
		byPos = &phraseIter{}
		for i, tok := range toks {
			l, err := src.list(termHash(tok))
			if l == nil || err != nil {
				if err != nil {
					return nil, false, err
				}
				byPos = nil
				break
			}
			byPos.add(l, int32(i))
		}
	}
	if byPairs == nil && byPos == nil {
		return nil, false, nil
	}
	sp := &splitIter{hi: byPairs, from: int64(from)}
	if byPos != nil {
		sp.lo = byPos
	}
	return sp, true, nil
}

// orIter: documents any of its iterators has.
type orIter []iter

func (o orIter) cost() uint32 {
	c := uint32(0)
	for _, it := range o {
		c += it.cost()
	}
	return c
}

func (o orIter) seekLE(x int64) (int64, error) {
	best := int64(-1)
	for _, it := range o {
		y, err := it.seekLE(x)
		if err != nil {
			return -1, err
		}
		best = max(best, y)
	}
	return best, nil
}

// splitIter answers from hi for documents at or above from and from lo
// below it (either may be nil: none there).
type splitIter struct {
	hi, lo iter
	from   int64
}

func (s *splitIter) cost() uint32 {
	c := uint32(0)
	if s.hi != nil {
		c = s.hi.cost()
	}
	if s.lo != nil {
		c = max(c, s.lo.cost())
	}
	return c
}

func (s *splitIter) seekLE(x int64) (int64, error) {
	if x >= s.from && s.hi != nil {
		y, err := s.hi.seekLE(x)
		if err != nil || y >= s.from {
			return y, err
		}
	}
	if s.lo == nil {
		return -1, nil
	}
	return s.lo.seekLE(min(x, s.from-1))
}

// andIter: documents every iterator has (leapfrog, the cheapest first).
type andIter struct{ its []iter }

func (a *andIter) cost() uint32 { return a.its[0].cost() }

func (a *andIter) seekLE(x int64) (int64, error) {
	for {
		y, err := a.its[0].seekLE(x)
		if y < 0 || err != nil {
			return -1, err
		}
		agree := true
		for _, it := range a.its[1:] {
			z, err := it.seekLE(y)
			if z < 0 || err != nil {
				return -1, err
			}
			if z < y {
				x, agree = z, false
				break
			}
		}
		if agree {
			return y, nil
		}
	}
}

// unionIter: documents any of its lists has (a prefix's words).
type unionIter struct {
	lists []*postingList
	cur   []int64 // each list's position; -2: not yet sought
	total uint32
}

func (u *unionIter) add(l *postingList) {
	u.lists = append(u.lists, l)
	u.cur = append(u.cur, -2)
	u.total += l.count
}

func (u *unionIter) cost() uint32 { return u.total }

func (u *unionIter) seekLE(x int64) (int64, error) {
	best := int64(-1)
	for i, l := range u.lists {
		if u.cur[i] == -2 || u.cur[i] > x {
			c, err := l.seekLE(x)
			if err != nil {
				return -1, err
			}
			u.cur[i] = c
		}
		best = max(best, u.cur[i])
	}
	return best, nil
}

// phraseIter: documents where its lists' tokens stand one after another.
type phraseIter struct {
	lists []*postingList
	offs  []int32 // where each list's token (or pair) stands in the phrase
	and   *andIter
	sets  [][]int32
}

func (p *phraseIter) add(l *postingList, off int32) {
	p.lists = append(p.lists, l)
	p.offs = append(p.offs, off)
}

func (p *phraseIter) cost() uint32 {
	c := p.lists[0].count
	for _, l := range p.lists[1:] {
		c = min(c, l.count)
	}
	return c
}

func (p *phraseIter) seekLE(x int64) (int64, error) {
	if p.and == nil {
		// Leapfrog from the shortest list (a pair's, when there is one);
		// the positions are checked in phrase order below.
		p.and = &andIter{}
		for _, l := range p.lists {
			p.and.its = append(p.and.its, l)
		}
		slices.SortStableFunc(p.and.its, func(a, b iter) int { return int(int64(a.cost()) - int64(b.cost())) })
		p.sets = make([][]int32, len(p.lists))
	}
	for {
		y, err := p.and.seekLE(x)
		if y < 0 || err != nil {
			return -1, err
		}
		// Every list stands at y now.
		for k, l := range p.lists {
			p.sets[k] = append(p.sets[k][:0], l.positions()...)
		}
		if consecutive(p.sets, p.offs) {
			return y, nil
		}
		x = y - 1
	}
}

// consecutive reports whether some position p is in sets[0], p+offs[1]
// in sets[1], and so on (each set ascending, offs[0] 0).
func consecutive(sets [][]int32, offs []int32) bool {
	for _, p := range sets[0] {
		ok := true
		for k := 1; k < len(sets) && ok; k++ {
			_, ok = slices.BinarySearch(sets[k], p+offs[k])
		}
		if ok {
			return true
		}
	}
	return false
}

func (s *segment) pairsStart() uint32 { return s.meta.PairsFrom }
