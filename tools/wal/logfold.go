package walcmd

import (
	"fmt"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/state"
)

// logFold rebuilds the effective cluster log from a WAL in one pass, as
// node/state.ReplicatedLog does (same rules, same errors, same Commit,
// Discarded, MaxTerm and last index after every record), but holds only the
// entries that may still change: its memory does not grow with the log.
//
// The argument. Call an entry final when no later record can remove it from
// the effective log. ReplicatedLog changes its entries in two ways only: an
// entry is appended at the end, and SuffixDiscarded removes every entry
// from FromIndex on, refused when FromIndex is at or below the recorded
// commit index. Hence:
//
//  1. Once CommittedUpTo has covered index i, entry i is final: Commit never
//     decreases, no later discard may start at or below it, and appends
//     only touch indexes above the last one. (The fold caps Commit at the
//     last index, so Commit only covers entries that exist.)
//  2. Before that, any later record may discard it; only the end of the WAL
//     makes the entries above the commit index final (the uncommitted tail).
//  3. Final entries are final in index order: Commit covers a prefix.
//
// So the fold keeps a window: the entries above `base` (the number of
// entries already final), at most last-Commit of them while the scan runs.
// After every record the entries up to Commit leave the window, in index
// order, to release(entry, true); at the end of the scan the uncommitted
// tail leaves with release(entry, false). Every consumer (the Lamport check,
// the term timeline, node/state's plugins, diff's comparison) thus sees the
// effective log's entries exactly once, in index order, each already known
// to be committed or not, and none of them is ever taken back.
//
// What ReplicatedLog reads of older entries is only the term of the last
// one (terms never decrease along the log) and the length (the last index):
// a discard starts above Commit >= base, so the entry before it is either in
// the window or entry base, whose term is kept as baseTerm. Memory is the
// window: in a node's WAL, the entries written since the commit index last
// moved in a record (a busy node records it about every 100 ms, an idle one
// when it goes idle), plus the uncommitted tail at the end. A log whose
// recorded commit index lags far behind its entries (or that holds no
// commit record at all) keeps that lag in memory: until the end of the WAL
// any of those entries may still be discarded, and the fold hands on only
// entries that can no longer change.
type logFold struct {
	win       window
	base      uint64 // entries 1..base are final and have left the window
	baseTerm  uint64 // the term of entry base
	Commit    uint64 // as ReplicatedLog.Commit
	Discarded uint64 // as ReplicatedLog.Discarded
	MaxTerm   uint64 // as ReplicatedLog.MaxTerm

	// release receives every entry of the effective log once, in index
	// order, when it becomes final, with the data it was added with (valid
	// only during the call).
	release func(en state.Entry, data []byte, committed bool)
}

// LastIndex is the index of the last entry.
func (r *logFold) LastIndex() uint64 { return r.base + uint64(r.win.len()) }

func (r *logFold) lastTerm() uint64 {
	if n := r.win.len(); n > 0 {
		return r.win.at(n - 1).Event.Term
	}
	return r.baseTerm
}

// Add folds one WAL record exactly as ReplicatedLog.Add does, then releases
// the entries the commit index now covers.
func (r *logFold) Add(seq uint64, ev eventlog.Event) error {
	err := r.add(seq, ev)
	r.settle()
	return err
}

// settle releases the entries the commit index covers.
func (r *logFold) settle() {
	for r.base < r.Commit {
		r.pop(true)
	}
}

// add is Add without settle.
func (r *logFold) add(seq uint64, ev eventlog.Event) error { return r.addData(seq, ev, nil) }

// addData is add, keeping data (a copy, in a buffer the window reuses) with
// an entry until it is released: the audit's log hash takes the entry's
// data (its entry form) from there.
func (r *logFold) addData(seq uint64, ev eventlog.Event, data []byte) error {
	if ev.Index != 0 {
		return r.addEntry(seq, ev, data)
	}
	last := r.LastIndex()
	switch b := ev.Body.(type) {
	case *eventlog.SuffixDiscarded:
		if b.FromIndex < 1 || b.FromIndex > last+1 {
			return fmt.Errorf("wal record %d discards from index %d but the log ends at %d", seq, b.FromIndex, last)
		}
		if b.FromIndex <= r.Commit {
			return fmt.Errorf("wal record %d discards from index %d, below the recorded commit index %d", seq, b.FromIndex, r.Commit)
		}
		r.Discarded += last - (b.FromIndex - 1)
		r.win.truncate(int(b.FromIndex - 1 - r.base)) // FromIndex > Commit >= base
	case *eventlog.CommittedUpTo:
		r.Commit = max(r.Commit, min(b.Index, last))
	case *eventlog.TermStarted:
		r.MaxTerm = max(r.MaxTerm, b.Term)
	}
	return nil
}

func (r *logFold) addEntry(seq uint64, ev eventlog.Event, data []byte) error {
	last := r.LastIndex()
	want := last + 1
	if ev.Index > want {
		return fmt.Errorf("wal record %d holds cluster index %d but the log only reaches %d", seq, ev.Index, want-1)
	}
	if ev.Index < want {
		return fmt.Errorf("wal record %d rewrites cluster index %d without a discard record", seq, ev.Index)
	}
	if t := r.lastTerm(); last > 0 && ev.Term < t {
		return fmt.Errorf("wal record %d: term %d at index %d is below term %d of the entry before it",
			seq, ev.Term, ev.Index, t)
	}
	r.win.push(state.Entry{Seq: seq, Event: ev}, data)
	r.MaxTerm = max(r.MaxTerm, ev.Term)
	return nil
}

// finish releases the uncommitted tail: call it once, when the scan is over.
func (r *logFold) finish() {
	for r.win.len() > 0 {
		r.pop(false)
	}
}

func (r *logFold) pop(committed bool) {
	en, data := r.win.pop()
	r.base++
	r.baseTerm = en.Event.Term
	if r.release != nil {
		r.release(en, data, committed)
	}
}

// window is a FIFO of entries in a ring buffer that grows to the largest
// number held at once and is reused after, each slot with its own data
// buffer, reused too.
type window struct {
	buf  []slot // len(buf) is 0 or a power of two
	head int
	n    int
}

type slot struct {
	en   state.Entry
	data []byte
}

func (w *window) len() int { return w.n }

func (w *window) slot(i int) *slot { return &w.buf[(w.head+i)&(len(w.buf)-1)] }

func (w *window) at(i int) *state.Entry { return &w.slot(i).en }

func (w *window) push(en state.Entry, data []byte) {
	if w.n == len(w.buf) {
		grown := make([]slot, max(64, 2*len(w.buf)))
		for i := range len(w.buf) { // every slot, to keep its data buffer
			grown[i] = *w.slot(i)
		}
		w.buf, w.head = grown, 0
	}
	s := w.slot(w.n)
	s.en, s.data = en, append(s.data[:0], data...)
	w.n++
}

// pop removes the first entry; its data is valid until the next push.
func (w *window) pop() (state.Entry, []byte) {
	s := w.slot(0)
	en := s.en
	s.en = state.Entry{} // let the event go
	w.head = (w.head + 1) & (len(w.buf) - 1)
	w.n--
	return en, s.data
}

// truncate keeps the first n entries.
func (w *window) truncate(n int) {
	for i := n; i < w.n; i++ {
		w.slot(i).en = state.Entry{}
	}
	w.n = n
}
