package node

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/replica"
)

// entrySample spaces the entries whose WAL position the index remembers:
// reading any entry costs at most one pread of about entrySample records,
// and the index costs 8 bytes per entrySample entries (5 MB at 10M).
const entrySample = 16

// entryIndex finds committed entries in this node's WAL, so that neither the
// replica (for a lagging follower) nor the chat history (for an old page)
// keeps them in memory.
//
// The WAL interleaves the replicated entries with local records (terms,
// votes, commit marks) and may hold void versions of an entry (written, then
// discarded by a SuffixDiscarded record, then written again). Two facts make
// a sparse index enough:
//
//   - Along the effective log, WAL positions grow with the cluster index.
//   - The effective record of a committed entry is the last record with its
//     index anywhere in the WAL: a later one would need a discard at or
//     below it, and committed entries are never discarded (I2).
//
// So entry i lies between the remembered positions of the sampled entries
// around it, and is the last record there that carries index i.
//
// The driver goroutine writes (wrote, discard) after each WAL append; any
// goroutine reads.
type entryIndex struct {
	mu      sync.RWMutex
	samples []uint64 // samples[k]: WAL seq of entry (k+1)*entrySample
	last    uint64   // highest entry durable in the WAL
	lastSeq uint64   // its seq
	// advanced is closed (and replaced) whenever last moves, for readers
	// waiting on an entry applied here before it was written here.
	advanced chan struct{}
}

func newEntryIndex() *entryIndex { return &entryIndex{advanced: make(chan struct{})} }

// wrote records that entry index is durable at WAL position seq.
func (x *entryIndex) wrote(index, seq uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if index%entrySample == 0 {
		k := int(index/entrySample) - 1
		switch {
		case k < len(x.samples):
			x.samples[k] = seq // a new version after a discard
			x.samples = x.samples[:k+1]
		default:
			x.samples = append(x.samples, seq)
		}
	}
	x.last, x.lastSeq = index, seq
	close(x.advanced)
	x.advanced = make(chan struct{})
}

// discard records that entries from index from on are void (a
// SuffixDiscarded record). lastSeq stays where it is: every effective entry
// below from lies at or before it, and the void records after it carry
// indexes at or above from, which no read below from looks for.
func (x *entryIndex) discard(from uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if from == 0 || from > x.last {
		return
	}
	x.samples = x.samples[:min(len(x.samples), int((from-1)/entrySample))]
	x.last = from - 1
}

// span returns the WAL positions [lo, hi] between which the effective
// records of entries first..last lie.
func (x *entryIndex) span(first, last uint64) (lo, hi uint64, err error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if first == 0 || last < first || last > x.last {
		return 0, 0, fmt.Errorf("entries %d..%d not in this node's WAL (it holds 1..%d)", first, last, x.last)
	}
	lo = 1
	if k := int(first/entrySample) - 1; k >= 0 {
		lo = x.samples[k]
	}
	hi = x.lastSeq
	if k := int(last / entrySample); k < len(x.samples) { // the sample above last
		hi = x.samples[k]
	}
	return lo, hi, nil
}

// durable returns the highest entry durable here, and a channel closed when
// that changes.
func (x *entryIndex) durable() (uint64, <-chan struct{}) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.last, x.advanced
}

// samplesUpTo returns the samples of entries up to index (for a snapshot).
func (x *entryIndex) samplesUpTo(index uint64) []uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]uint64(nil), x.samples[:min(len(x.samples), int(index/entrySample))]...)
}

// restore sets the index from a node snapshot: the samples of entries up to
// index, a multiple of entrySample whose record is at seq (0, 0: empty).
func (x *entryIndex) restore(samples []uint64, index, seq uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.samples, x.last, x.lastSeq = samples, index, seq
}

// entryReader reads committed entries back from the WAL through the index:
// the replica's Storage and the chat history's MessageSource. Its wal is set
// once, during recovery, before anything reads.
type entryReader struct {
	wal   *eventlog.Log
	idx   *entryIndex
	reads atomic.Uint64 // entries read back, for the simulation's stats
}

// events calls fn with the effective record of every entry first..last, in
// index order.
func (r *entryReader) events(first, last uint64, fn func(ev eventlog.Event) error) error {
	lo, hi, err := r.idx.span(first, last)
	if err != nil {
		return err
	}
	found := make([]eventlog.Event, last-first+1)
	seen := make([]bool, len(found))
	err = r.wal.ReadRange(lo, hi, func(seq uint64, ev eventlog.Event) error {
		if i := ev.Index; i >= first && i <= last {
			found[i-first], seen[i-first] = ev, true // the last one wins
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, ev := range found {
		if !seen[i] {
			return fmt.Errorf("entry %d not found in WAL records %d..%d", first+uint64(i), lo, hi)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	r.reads.Add(uint64(len(found)))
	return nil
}

// Term implements replica.Storage: the term of a compacted entry.
func (r *entryReader) Term(i uint64) (uint64, error) {
	var t uint64
	err := r.events(i, i, func(ev eventlog.Event) error { t = ev.Term; return nil })
	return t, err
}

// Entries implements replica.Storage: compacted entries [lo, hi), in the
// form the leader first proposed them, at most maxBytes (at least one).
func (r *entryReader) Entries(lo, hi uint64, maxBytes int) ([]replica.Entry, error) {
	if hi <= lo {
		return nil, nil
	}
	var out []replica.Entry
	size := 0
	errFull := errors.New("full")
	// Read in windows so a huge range costs no more than maxBytes of it.
	for lo < hi {
		end := min(hi, lo+4096)
		err := r.events(lo, end-1, func(ev eventlog.Event) error {
			e, err := replicaEntry(ev)
			if err != nil {
				return err
			}
			size += len(e.Data) + 24
			if len(out) > 0 && size > maxBytes {
				return errFull
			}
			out = append(out, e)
			return nil
		})
		if errors.Is(err, errFull) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		lo = end
	}
	return out, nil
}

// waitForEntries bounds how long a history read waits for an entry that
// this node applied (it was committed elsewhere) but has not yet written.
const waitForEntries = 2 * time.Second

// Messages implements state.MessageSource: committed entries by index, for
// history pages that are not in the chat cache. An entry is applied here as
// soon as it is committed, which can be a moment before this node's own WAL
// append of it completes; such a read waits for it.
func (r *entryReader) Messages(indexes []uint64) ([]eventlog.Event, error) {
	out := make([]eventlog.Event, 0, len(indexes))
	for i := 0; i < len(indexes); {
		// One read covers every wanted entry within a few samples.
		j := i + 1
		for j < len(indexes) && indexes[j] > indexes[j-1] && indexes[j]-indexes[i] < 4*entrySample {
			j++
		}
		first, last := indexes[i], indexes[j-1]
		if err := r.waitDurable(last); err != nil {
			return nil, err
		}
		want := indexes[i:j]
		k := 0
		err := r.events(first, last, func(ev eventlog.Event) error {
			if k < len(want) && ev.Index == want[k] {
				out = append(out, ev)
				k++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		i = j
	}
	return out, nil
}

func (r *entryReader) waitDurable(index uint64) error {
	deadline := time.NewTimer(waitForEntries)
	defer deadline.Stop()
	for {
		last, advanced := r.idx.durable()
		if index <= last {
			return nil
		}
		select {
		case <-advanced:
		case <-deadline.C:
			return fmt.Errorf("entry %d is applied but not yet in this node's WAL after %s (it holds up to %d)", index, waitForEntries, last)
		}
	}
}
