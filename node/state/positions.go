package state

import (
	"fmt"
	"sync"

	"github.com/syncnet/syncnet/eventlog"
)

// EntrySample spaces the entries whose WAL position EntryPositions
// remembers: reading any entry costs one read of about EntrySample records,
// and the index costs 8 bytes per EntrySample entries (5 MB at 10M).
const EntrySample = 16

// EntryPositions finds the entries of the replicated log in a WAL by their
// cluster index, so that neither a node (its replica, its chat history) nor
// an audit tool keeps old entries in memory.
//
// A WAL interleaves the replicated entries with local records (terms, votes,
// commit marks) and may hold void versions of an entry (written, then
// discarded by a SuffixDiscarded record, then written again). Two facts make
// a sparse index enough:
//
//   - Along the effective log, WAL positions grow with the cluster index.
//   - The effective record of a committed entry is the last record with its
//     index anywhere in the WAL: a later one would need a discard at or
//     below it, and committed entries are never discarded (I2).
//
// So entry i lies between the remembered positions of the sampled entries
// around it, and is the last record there that carries index i. Only
// committed entries may be read through it.
//
// One goroutine writes (Wrote, Discard, Restore); any goroutine reads.
type EntryPositions struct {
	mu      sync.RWMutex
	samples []uint64 // samples[k]: WAL seq of entry (k+1)*EntrySample
	first   uint64   // seq of entry 1 (0: unknown, scans start at seq 1)
	last    uint64   // highest entry written
	lastSeq uint64   // the seq of the newest entry record written
	broken  bool     // entries came out of order: every read fails
}

// Wrote records that entry index is at WAL position seq. Entries come in
// index order; after a Discard, from the discarded index again.
func (p *EntryPositions) Wrote(index, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wrote(index, seq)
}

// WroteAll is Wrote of entries first, first+1, ... at seqs, under one
// lock (a replay records every entry).
func (p *EntryPositions) WroteAll(first uint64, seqs []uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, seq := range seqs {
		p.wrote(first+uint64(i), seq)
	}
}

func (p *EntryPositions) wrote(index, seq uint64) {
	if index == 0 || index > p.last+1 {
		// A gap is a bug of the caller: reads then fail loudly rather
		// than find the wrong records.
		p.broken = true
		return
	}
	if index == 1 {
		p.first = seq
	}
	if index%EntrySample == 0 {
		k := int(index/EntrySample) - 1
		p.samples = append(p.samples[:k], seq) // a new version after a discard replaces the old
	}
	p.last, p.lastSeq = index, seq
}

// Discard records that entries from index from on are void (a
// SuffixDiscarded record). lastSeq stays: every effective entry below from
// lies at or before it, and the void records after it carry indexes at or
// above from, which no read below from looks for.
func (p *EntryPositions) Discard(from uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if from == 0 || from > p.last {
		return
	}
	p.samples = p.samples[:min(len(p.samples), int((from-1)/EntrySample))]
	p.last = from - 1
}

// Last is the highest entry written.
func (p *EntryPositions) Last() uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.last
}

// Span returns the WAL positions [lo, hi] between which the effective
// records of entries first..last lie.
func (p *EntryPositions) Span(first, last uint64) (lo, hi uint64, err error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.broken {
		return 0, 0, fmt.Errorf("entry positions out of order: cannot find entries %d..%d", first, last)
	}
	if first == 0 || last < first || last > p.last {
		return 0, 0, fmt.Errorf("entries %d..%d not in this WAL (it holds 1..%d)", first, last, p.last)
	}
	lo = max(p.first, 1)
	if k := int(first/EntrySample) - 1; k >= 0 {
		lo = p.samples[k]
	}
	hi = p.lastSeq
	if k := int(last / EntrySample); k < len(p.samples) { // the sample above last
		hi = p.samples[k]
	}
	return lo, hi, nil
}

// SamplesUpTo returns the samples of entries up to index (for a snapshot).
func (p *EntryPositions) SamplesUpTo(index uint64) []uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return append([]uint64(nil), p.samples[:min(len(p.samples), int(index/EntrySample))]...)
}

// Restore sets the positions from a snapshot: the samples of entries up to
// index, a multiple of EntrySample whose record is at seq (0, 0: empty).
func (p *EntryPositions) Restore(samples []uint64, index, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples, p.last, p.lastSeq, p.first, p.broken = samples, index, seq, 0, false
}

// RangeReader reads WAL records from lo to hi, in order (eventlog.Log's and
// eventlog.Reader's ReadRange).
type RangeReader func(lo, hi uint64, fn func(seq uint64, ev eventlog.Event) error) error

// groupSpan bounds how far apart wanted entries may be to be read in one
// range by Read.
const groupSpan = 4 * EntrySample

// ReadAll returns the effective records of the committed entries
// first..last, in index order, with one call of read.
func (p *EntryPositions) ReadAll(first, last uint64, read RangeReader) ([]eventlog.Event, error) {
	lo, hi, err := p.Span(first, last)
	if err != nil {
		return nil, err
	}
	found := make([]eventlog.Event, last-first+1)
	seen := make([]bool, len(found))
	err = read(lo, hi, func(_ uint64, ev eventlog.Event) error {
		if ev.Index >= first && ev.Index <= last {
			found[ev.Index-first], seen[ev.Index-first] = ev, true // the last one wins
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range found {
		if !seen[i] {
			return nil, fmt.Errorf("entry %d not found in WAL records %d..%d", first+uint64(i), lo, hi)
		}
	}
	return found, nil
}

// Read returns the effective records of the committed entries want, in the
// order given, reading each run of nearby entries with one call of read.
func (p *EntryPositions) Read(want []uint64, read RangeReader) ([]eventlog.Event, error) {
	out := make([]eventlog.Event, 0, len(want))
	for i := 0; i < len(want); {
		j := i + 1
		for j < len(want) && want[j] > want[j-1] && want[j]-want[i] < groupSpan {
			j++
		}
		evs, err := p.ReadAll(want[i], want[j-1], read)
		if err != nil {
			return nil, err
		}
		for _, w := range want[i:j] {
			out = append(out, evs[w-want[i]])
		}
		i = j
	}
	return out, nil
}
