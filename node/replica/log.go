package replica

import "fmt"

// memLog is the replica's view of its log: entries after a snapshot base
// (the compaction point), the prefix handed to disk (handed) and the part
// of it known durable (stable), commit and apply positions, and the pending
// disk work (a discard record, an installed snapshot) for the next Ready.
// Invariant: snapIndex <= applied <= committed <= lastIndex(), stable <=
// handed <= lastIndex(). Committed entries may be ahead of stable: they are
// durable on a majority (a follower may apply what its own disk is still
// writing). With storage, indexes 1..snapIndex are read from it (they are
// committed and durable); err is its first failure.
type memLog struct {
	snapIndex, snapTerm uint64
	ents                []Entry // ents[i].Index == snapIndex+1+i
	storage             Storage // nil: indexes below snapIndex are gone
	err                 error   // first storage failure (sticky)
	dead                int     // compacted slots before ents[0] in its backing array (see compact)
	handed              uint64  // highest index returned in a Ready's Entries (being written, or written)
	stable              uint64  // highest index known durable on disk (StableTo)
	committed           uint64
	applied             uint64

	pendingDiscard uint64    // 0: none; else disk entries >= it are void
	pendingSnap    *Snapshot // installed snapshot to persist
	truncatedAt    uint64    // last truncation point, reset by the caller
}

func newMemLog(st State, storage Storage) (*memLog, error) {
	l := &memLog{snapIndex: st.Snapshot.Index, snapTerm: st.Snapshot.Term, ents: st.Entries, storage: storage}
	for i, e := range st.Entries {
		if e.Index != l.snapIndex+1+uint64(i) {
			return nil, fmt.Errorf("replica: recovered log not contiguous at position %d (index %d after snapshot %d)", i, e.Index, l.snapIndex)
		}
		if e.Term < l.snapTerm || (i > 0 && e.Term < st.Entries[i-1].Term) {
			return nil, fmt.Errorf("replica: recovered log terms decrease at index %d", e.Index)
		}
	}
	l.stable, l.handed = l.lastIndex(), l.lastIndex()
	l.committed = max(st.HardState.Commit, l.snapIndex)
	if l.committed > l.lastIndex() {
		return nil, fmt.Errorf("replica: recovered commit %d beyond last index %d", l.committed, l.lastIndex())
	}
	l.applied = max(st.Applied, l.snapIndex)
	if l.applied > l.committed {
		return nil, fmt.Errorf("replica: recovered applied %d beyond commit %d", l.applied, l.committed)
	}
	return l, nil
}

func (l *memLog) firstIndex() uint64 { return l.snapIndex + 1 }
func (l *memLog) lastIndex() uint64  { return l.snapIndex + uint64(len(l.ents)) }

func (l *memLog) lastTerm() uint64 {
	t, _ := l.term(l.lastIndex())
	return t
}

// term returns the term of the entry at i; ok is false when i is beyond the
// last index, compacted without storage, or storage failed (then l.err is
// set: callers that build a message check it).
func (l *memLog) term(i uint64) (t uint64, ok bool) {
	switch {
	case i == l.snapIndex:
		return l.snapTerm, true
	case i > l.lastIndex():
		return 0, false
	case i > l.snapIndex:
		return l.ents[i-l.snapIndex-1].Term, true
	case l.storage == nil:
		return 0, false
	case i == 0:
		return 0, true // the empty prefix
	}
	return l.storedTerm(i)
}

func (l *memLog) matchTerm(i, t uint64) bool {
	lt, ok := l.term(i)
	return ok && lt == t
}

func (l *memLog) entry(i uint64) Entry { return l.ents[i-l.snapIndex-1] }

// slice returns entries [lo, hi) capped by count and bytes (at least one
// entry if any). The result aliases the log; the log never overwrites an
// element in place (truncation copies), so the alias stays valid.
func (l *memLog) slice(lo, hi uint64, maxCount, maxBytes int) []Entry {
	if lo < l.firstIndex() || lo > hi {
		panic(fmt.Sprintf("replica: slice [%d,%d) outside log [%d,%d]", lo, hi, l.firstIndex(), l.lastIndex()))
	}
	hi = min(hi, l.lastIndex()+1, lo+uint64(maxCount))
	return capBytes(l.ents[lo-l.snapIndex-1:hi-l.snapIndex-1], maxBytes)
}

// entries is slice for a leader's append: below the compaction point it
// reads from storage (prevTerm is the term at lo-1), and one batch never
// crosses the compaction point. ok is false on a storage failure (recorded).
func (l *memLog) entries(lo, hi, prevTerm uint64, maxCount, maxBytes int) ([]Entry, bool) {
	if lo >= l.firstIndex() || l.storage == nil {
		return l.slice(lo, hi, maxCount, maxBytes), true
	}
	return l.storedEntries(lo, hi, prevTerm, maxCount, maxBytes)
}

// truncateFrom drops entries >= i (i > committed is the caller's duty). If
// any dropped entry was handed to disk (durable, or still being written), a
// discard record is queued: it is written after them.
func (l *memLog) truncateFrom(i uint64) {
	if i <= l.committed {
		panic(fmt.Sprintf("replica: truncating committed entry %d (commit %d)", i, l.committed))
	}
	l.truncatedAt = i
	if i <= l.handed {
		if l.pendingDiscard == 0 || i < l.pendingDiscard {
			l.pendingDiscard = i
		}
		l.handed = i - 1
		l.stable = min(l.stable, i-1)
	}
	// Copy so that slices handed out earlier (messages, Ready) stay intact.
	l.ents, l.dead = append([]Entry(nil), l.ents[:i-l.snapIndex-1]...), 0
}

func (l *memLog) append(ents ...Entry) {
	for i, e := range ents {
		if e.Index != l.lastIndex()+1+uint64(i) {
			panic(fmt.Sprintf("replica: append %d after %d", e.Index, l.lastIndex()+uint64(i)))
		}
	}
	if cap(l.ents)-len(l.ents) < len(ents) {
		l.dead = 0 // append moves the live entries to a new array
	}
	l.ents = append(l.ents, ents...)
}

// findConflict returns the index of the first entry of ents that is absent
// from the log or has another term there; 0 if all are present.
func (l *memLog) findConflict(ents []Entry) uint64 {
	for _, e := range ents {
		if !l.matchTerm(e.Index, e.Term) {
			return e.Index
		}
	}
	return 0
}

// findConflictByTerm returns the largest index <= i whose term is <= t, or
// the first compacted index below it with term 0 when it runs out (no
// storage). Used for fast back-off on both sides (as in etcd raft). Below
// the compaction point it binary-searches storage (terms never decrease
// along a log): O(log n) reads however long a term ran. On a storage
// failure (l.err set) the answer is meaningless.
func (l *memLog) findConflictByTerm(i, t uint64) (uint64, uint64) {
	i = min(i, l.lastIndex())
	for {
		if i < l.snapIndex && l.storage != nil {
			return l.searchStored(i, t)
		}
		lt, ok := l.term(i)
		if !ok {
			return i, 0 // compacted: the caller falls back to a snapshot
		}
		if lt <= t || i == 0 {
			return i, lt
		}
		i--
	}
}

// searchStored is findConflictByTerm for 1 <= i < snapIndex with storage.
func (l *memLog) searchStored(i, t uint64) (uint64, uint64) {
	lo, hi := uint64(0), i // term(lo) <= t is known (index 0 has term 0); find the largest such <= hi
	lt, ok := l.term(hi)
	if !ok {
		return 0, 0
	}
	if lt <= t {
		return hi, lt
	}
	for hi-lo > 1 { // invariant: term(lo) <= t < term(hi)
		mid := lo + (hi-lo)/2
		mt, ok := l.term(mid)
		if !ok {
			return 0, 0
		}
		if mt <= t {
			lo = mid
		} else {
			hi = mid
		}
	}
	lt, ok = l.term(lo)
	if !ok {
		return 0, 0
	}
	return lo, lt
}

// checkAppend reports whether an append's claims contradict committed
// history: every legitimate leader holds our committed entries unchanged
// (I3), so an (index, term) it asserts at or below our commit index — the
// prev entry or a carried one — must match ours wherever we still hold it.
// Step refuses such an append before anything changes; maybeAppend relies
// on it. Below the compaction point (with storage) it checks the prev entry
// and the last carried entry there — two reads, not one per entry; the
// carried ones at or below our commit are skipped by maybeAppend anyway,
// and the one it relies on (at our commit index) is in memory. A storage
// failure leaves l.err set (Step then refuses nothing and returns it).
func (l *memLog) checkAppend(prevIndex, prevTerm uint64, ents []Entry) error {
	if err := l.checkCommitted("prev entry", prevIndex, prevTerm); err != nil {
		return err
	}
	for k, e := range ents {
		if e.Index > l.committed {
			break
		}
		if e.Index < l.snapIndex && k+1 < len(ents) && ents[k+1].Index < l.snapIndex {
			continue // not the last one below the compaction point
		}
		if err := l.checkCommitted("entry", e.Index, e.Term); err != nil {
			return err
		}
	}
	return nil
}

// checkSnapshot is checkAppend for a snapshot: at or below our commit index
// it must match our entry; above it, its term cannot be below that of our
// last committed entry (terms never decrease along a log).
func (l *memLog) checkSnapshot(s Snapshot) error {
	if s.Index <= l.committed {
		return l.checkCommitted("snapshot", s.Index, s.Term)
	}
	if ct, _ := l.term(l.committed); s.Term < ct {
		return fmt.Errorf("snapshot %d/%d older than our committed entry %d/%d", s.Index, s.Term, l.committed, ct)
	}
	return nil
}

func (l *memLog) checkCommitted(what string, i, t uint64) error {
	if i > l.committed {
		return nil
	}
	if lt, ok := l.term(i); ok && lt != t {
		return fmt.Errorf("%s %d/%d differs from our committed %d/%d", what, i, t, i, lt)
	}
	return nil
}

// maybeAppend applies an append from the leader, which checkAppend
// accepted. It returns the last index known to match the leader's log, or
// ok=false when prev does not match.
func (l *memLog) maybeAppend(prevIndex, prevTerm, commit uint64, ents []Entry) (lastNew uint64, ok bool) {
	lastNew = prevIndex + uint64(len(ents))
	if prevIndex < l.committed {
		// Entries up to our commit index are identical to the leader's
		// (I3 + I2); skip them rather than compare against a possibly
		// compacted prefix.
		skip := l.committed - prevIndex
		if skip >= uint64(len(ents)) {
			return lastNew, true
		}
		prevIndex, prevTerm, ents = l.committed, ents[skip-1].Term, ents[skip:]
		if !l.matchTerm(prevIndex, prevTerm) {
			panic(fmt.Sprintf("replica: leader's entry at committed index %d has term %d, ours differs (not caught by checkAppend: a bug here)", prevIndex, prevTerm))
		}
	}
	if !l.matchTerm(prevIndex, prevTerm) {
		return 0, false
	}
	if c := l.findConflict(ents); c != 0 {
		if c <= l.lastIndex() {
			l.truncateFrom(c)
		}
		l.append(ents[c-ents[0].Index:]...)
	}
	l.commitTo(min(commit, lastNew))
	return lastNew, true
}

func (l *memLog) commitTo(i uint64) {
	if i > l.committed {
		if i > l.lastIndex() {
			panic(fmt.Sprintf("replica: commit %d beyond last index %d", i, l.lastIndex()))
		}
		l.committed = i
	}
}

// unstable returns the entries not yet handed to disk.
func (l *memLog) unstable() []Entry {
	if l.handed >= l.lastIndex() {
		return nil
	}
	return l.slice(l.handed+1, l.lastIndex()+1, len(l.ents), 1<<62)
}

// nextCommitted returns committed entries not yet applied, capped.
func (l *memLog) nextCommitted(maxCount int) []Entry {
	if l.applied >= l.committed {
		return nil
	}
	return l.slice(l.applied+1, l.committed+1, maxCount, 1<<62)
}

// restore replaces the log by a snapshot base (follower install).
func (l *memLog) restore(s Snapshot) {
	l.snapIndex, l.snapTerm = s.Index, s.Term
	l.ents, l.dead = nil, 0
	l.stable, l.handed, l.committed, l.applied = s.Index, s.Index, s.Index, s.Index
	l.pendingDiscard = 0 // the snapshot record supersedes the whole disk log
	snap := s
	l.pendingSnap = &snap
}

// compact forgets entries <= i (already in a node snapshot, or with storage
// on the node's disk).
func (l *memLog) compact(i uint64) error {
	if i <= l.snapIndex {
		return nil
	}
	if i > l.applied || i > l.stable {
		return fmt.Errorf("%w: index %d beyond applied %d or durable %d", ErrCompact, i, l.applied, l.stable)
	}
	t, _ := l.term(i)
	// Copy the live entries to a fresh array only once the compacted slots
	// still pinned in the old one are at least as many as the live ones:
	// memory stays within twice the window, and each compacted entry costs
	// O(1) amortised — the node compacts often, the window may be large.
	// Until then the slice starts later in the same array (the log never
	// writes an element in place, so slices handed out stay valid).
	k := int(i - l.snapIndex)
	if l.dead+k >= len(l.ents)-k {
		l.ents, l.dead = append([]Entry(nil), l.ents[k:]...), 0
	} else {
		l.ents, l.dead = l.ents[k:], l.dead+k
	}
	l.snapIndex, l.snapTerm = i, t
	return nil
}
