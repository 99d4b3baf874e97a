package replica

import (
	"errors"
	"fmt"
)

// Storage is the node's durable log below the replica's in-memory window:
// every index from 1 through the compaction point (the State.Snapshot.Index
// the replica started from, raised by each Compact). With Config.Storage set
// the replica keeps only the entries after the compaction point in memory
// and reads older ones through Storage: terms for the consistency checks
// and back-off, entries for followers that need them (in MsgApp; a replica
// with Storage never asks for or installs a snapshot).
//
// What Storage must guarantee:
//
//   - It serves every index 1 <= i <= the current compaction point, for as
//     long as the replica lives (the node keeps its whole log: the WAL is
//     the product). The replica never asks beyond the compaction point.
//   - Those entries are durable and committed, so they never change: it
//     returns the effective entry at each index (after folding discard
//     records), the same (index, term, type, data) the replica once held.
//   - Term(i) returns the term of entry i. Entries(lo, hi, maxBytes)
//     returns entries lo, lo+1, ... in order, at least one and at most
//     hi-lo, stopping once their total Data exceeds maxBytes (a hint: the
//     replica trims to its own limits). The replica keeps the returned
//     entries only inside the messages it sends; their Data must not be
//     modified afterwards.
//   - An error (a failed disk read) is reported, never papered over: the
//     replica then records it (Replica.Err), sends nothing built from the
//     read, and the node must stop. Storage must not panic.
//
// The replica calls Storage from its own methods (Step, Tick, Ready,
// Advance, Term), on the caller's goroutine, never concurrently.
type Storage interface {
	Term(i uint64) (uint64, error)
	Entries(lo, hi uint64, maxBytes int) ([]Entry, error)
}

// ErrStorage wraps every failure of Config.Storage, including a Storage
// that returned entries that are not what it must return.
var ErrStorage = errors.New("replica: storage")

// fail records the first storage failure (sticky).
func (l *memLog) fail(err error) {
	if l.err == nil {
		l.err = fmt.Errorf("%w: %w", ErrStorage, err)
	}
}

// storedTerm reads the term of compacted index i (1 <= i < snapIndex) from
// Storage; ok is false on a failure, which is recorded.
func (l *memLog) storedTerm(i uint64) (uint64, bool) {
	t, err := l.storage.Term(i)
	if err == nil && t > l.snapTerm {
		err = fmt.Errorf("term of %d is %d, above the compaction point's %d/%d", i, t, l.snapIndex, l.snapTerm)
	}
	if err != nil {
		l.fail(fmt.Errorf("term %d: %w", i, err))
		return 0, false
	}
	return t, true
}

// storedEntries reads entries [lo, hi) (hi <= snapIndex+1) from Storage and
// checks them: contiguous from lo, terms not decreasing, starting at or
// above prevTerm (the term at lo-1) and at most the compaction point's; then
// trims them to maxCount and maxBytes (at least one entry). A failure is
// recorded and returns ok=false.
func (l *memLog) storedEntries(lo, hi, prevTerm uint64, maxCount, maxBytes int) ([]Entry, bool) {
	hi = min(hi, l.snapIndex+1, lo+uint64(maxCount))
	ents, err := l.storage.Entries(lo, hi, maxBytes)
	if err == nil {
		err = checkStored(ents, lo, hi, prevTerm, l.snapTerm)
	}
	if err != nil {
		l.fail(fmt.Errorf("entries [%d,%d): %w", lo, hi, err))
		return nil, false
	}
	return capBytes(ents, maxBytes), true
}

func checkStored(ents []Entry, lo, hi, prevTerm, maxTerm uint64) error {
	if len(ents) == 0 || uint64(len(ents)) > hi-lo {
		return fmt.Errorf("returned %d entries", len(ents))
	}
	t := prevTerm
	for i, e := range ents {
		if e.Index != lo+uint64(i) || e.Term < t || e.Term > maxTerm {
			return fmt.Errorf("returned %d/%d at position %d (terms from %d up to %d)", e.Index, e.Term, i, prevTerm, maxTerm)
		}
		t = e.Term
	}
	return nil
}

// capBytes trims ents to maxBytes of entry sizes, keeping at least one.
func capBytes(ents []Entry, maxBytes int) []Entry {
	size := 0
	for i, e := range ents {
		size += e.size()
		if i > 0 && size > maxBytes {
			ents = ents[:i]
			break
		}
	}
	return ents[:len(ents):len(ents)]
}
