package node

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/replica"
	"github.com/syncnet/syncnet/node/state"
)

// entrySample is state.EntrySample: a snapshot's base entry is a multiple
// of it, so the entry index knows that entry's WAL position exactly.
const entrySample = state.EntrySample

// entryIndex is where this node's WAL holds each entry (state.EntryPositions,
// whose doc says why a sparse index is enough), and how far the WAL holds
// them durably. The driver goroutine writes (wrote, discard) after each WAL
// append; any goroutine reads.
type entryIndex struct {
	state.EntryPositions
	mu sync.Mutex
	// advanced is closed (and replaced) whenever an entry is written, for
	// readers waiting on an entry applied here before it was written here.
	advanced chan struct{}
}

func newEntryIndex() *entryIndex { return &entryIndex{advanced: make(chan struct{})} }

// wrote records that entry index is durable at WAL position seq.
func (x *entryIndex) wrote(index, seq uint64) {
	x.Wrote(index, seq)
	x.mu.Lock()
	close(x.advanced)
	x.advanced = make(chan struct{})
	x.mu.Unlock()
}

// durable returns the highest entry durable here, and a channel closed when
// an entry is written after this call.
func (x *entryIndex) durable() (uint64, <-chan struct{}) {
	x.mu.Lock()
	ch := x.advanced
	x.mu.Unlock()
	return x.Last(), ch
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
// index order, with one range read (a catching-up follower's batch).
func (r *entryReader) events(first, last uint64, fn func(ev eventlog.Event) error) error {
	evs, err := r.idx.ReadAll(first, last, r.wal.ReadRange)
	if err != nil {
		return err
	}
	r.reads.Add(uint64(len(evs)))
	for _, ev := range evs {
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

// Term implements replica.Storage: the term of a compacted entry.
func (r *entryReader) Term(i uint64) (uint64, error) {
	var t uint64
	err := r.events(i, i, func(ev eventlog.Event) error { t = ev.Term; return nil })
	return t, err
}

// Entries implements replica.Storage: compacted entries [lo, hi), in the
// form the leader first proposed them, at most maxBytes (at least one). It
// reads the stored records and splices them into the entry form
// (eventlog.ToEntryForm) without decoding them; the entries' data share one
// buffer.
func (r *entryReader) Entries(lo, hi uint64, maxBytes int) ([]replica.Entry, error) {
	if hi <= lo {
		return nil, nil
	}
	// Read in windows so a huge range costs no more than maxBytes of it.
	var out []replica.Entry
	size := 0
	for lo < hi {
		end := min(hi, lo+4096)
		ents, err := r.entryRecords(lo, end-1)
		if err != nil {
			return out, err
		}
		for _, e := range ents {
			size += len(e.Data) + 24
			if len(out) > 0 && size > maxBytes {
				return out, nil
			}
			out = append(out, e)
		}
		lo = end
	}
	return out, nil
}

// entryRecords returns entries first..last in their entry form. Where the
// WAL holds an index twice (a discarded suffix rewritten), the later record
// is the effective one.
func (r *entryReader) entryRecords(first, last uint64) ([]replica.Entry, error) {
	return r.entryRecordsInto(&entryScratch{}, first, last)
}

// entryScratch holds entryRecordsInto's buffers from one call to the next
// (a bulk reader's, seed_serve.go); what it returns is valid until then.
type entryScratch struct {
	ents  []replica.Entry
	spans [][2]int
	buf   []byte
	// unchained: read with Log.ReadRecordsUnchained (each record's CRC is
	// still checked by ToEntryForm, its chain link not), for a bulk reader
	// whose entries are proven another way (seed_serve.go).
	unchained bool
}

func (r *entryReader) entryRecordsInto(sc *entryScratch, first, last uint64) ([]replica.Entry, error) {
	lo, hi, err := r.idx.Span(first, last)
	if err != nil {
		return nil, err
	}
	n := int(last - first + 1)
	ents := slices.Grow(sc.ents[:0], n)[:n]
	clear(ents)
	spans := slices.Grow(sc.spans[:0], n)[:n]
	buf := sc.buf[:0]
	defer func() { sc.ents, sc.spans, sc.buf = ents, spans, buf }()
	read := r.wal.ReadRecords
	if sc.unchained {
		read = r.wal.ReadRecordsUnchained
	}
	err = read(lo, hi, func(seq uint64, rec []byte) error {
		if cap(buf) == 0 { // one allocation for the batch, sized by its first record
			buf = make([]byte, 0, (hi-lo+1)*uint64(len(rec)+len(rec)/4))
		}
		start := len(buf)
		var index, term uint64
		var k eventlog.Kind
		var err error
		buf, index, term, k, err = eventlog.ToEntryForm(buf, rec)
		if err != nil {
			return fmt.Errorf("wal record %d: %w", seq, err)
		}
		if index < first || index > last {
			buf = buf[:start]
			return nil
		}
		e := replica.Entry{Index: index, Term: term}
		if k == eventlog.KindNoOp {
			e.Type = replica.EntryNoop
			buf = buf[:start]
		}
		ents[index-first], spans[index-first] = e, [2]int{start, len(buf)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range ents {
		if ents[i].Index == 0 {
			return nil, fmt.Errorf("entry %d not found in WAL records %d..%d", first+uint64(i), lo, hi)
		}
		if sp := spans[i]; sp[1] > sp[0] {
			ents[i].Data = buf[sp[0]:sp[1]:sp[1]]
		}
	}
	r.reads.Add(uint64(len(ents)))
	return ents, nil
}

// waitForEntries bounds how long a history read waits for an entry that
// this node applied (it was committed elsewhere) but has not yet written.
const waitForEntries = 2 * time.Second

// Messages implements state.MessageSource: committed entries by index, for
// history pages that are not in the chat cache. An entry is applied here as
// soon as it is committed, which can be a moment before this node's own WAL
// append of it completes; such a read waits for it.
func (r *entryReader) Messages(indexes []uint64) ([]eventlog.Event, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	if err := r.waitDurable(slices.Max(indexes)); err != nil {
		return nil, err
	}
	evs, err := r.idx.Read(indexes, r.wal.ReadRange)
	r.reads.Add(uint64(len(evs)))
	return evs, err
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
