package walcmd

import (
	"fmt"

	"github.com/syncnet/syncnet/eventlog"
)

// entrySample spaces the entries whose WAL sequence number walMessages
// remembers: reading an entry costs one read of about entrySample records,
// and the index costs 8 bytes per entrySample entries (0.5 bytes an entry,
// 5 MB at 10M), as node/entryindex.go does for the node.
const entrySample = 16

// walMessages is the state.MessageSource of replay, export and stats: it
// reads the messages node/state's chat no longer holds back from the WAL
// being audited, so the chat keeps only where each message is (a few bytes
// a message) and a bounded cache of recent ones.
//
// It finds an entry by its cluster index through a sparse index of WAL
// sequence numbers, filled by the folder as it applies entries (add, in
// index order, from 1). Two facts make a sparse index enough (the argument
// of node/entryindex.go):
//
//   - Along the effective log, WAL positions grow with the cluster index.
//   - The effective record of an entry the folder applied is the last
//     record with its index anywhere in the WAL: a later one would need a
//     discard at or below it, and committed entries are never discarded
//     (logFold refuses such a log); an uncommitted entry the folder
//     applies (--include-uncommitted) is one that survived to the end.
//
// So entry i lies between the recorded positions of the sampled entries
// around it, and is the last record there that carries index i.
//
// The folder's goroutine writes the index (add); reads (Messages) come only
// after the folder is done (folder.wait) and the scan has handed over its
// Reader (setReader): the wait orders them.
type walMessages struct {
	samples []uint64 // samples[k]: WAL seq of entry (k+1)*entrySample
	last    uint64   // highest entry added
	lastSeq uint64   // its seq
	first   uint64   // seq of entry 1

	r *eventlog.Reader // the scan's, over the records it verified
}

// add records that entry index is at WAL sequence number seq. Entries come
// in index order, each once, from 1.
func (m *walMessages) add(index, seq uint64) {
	if index != m.last+1 {
		// logFold hands entries on contiguously from 1; anything else is a
		// bug, which a read then reports rather than misfinding entries.
		m.samples, m.last, m.lastSeq = nil, 0, 0
		m.first = ^uint64(0)
		return
	}
	if index == 1 {
		m.first = seq
	}
	if index%entrySample == 0 {
		m.samples = append(m.samples, seq)
	}
	m.last, m.lastSeq = index, seq
}

func (m *walMessages) setReader(r *eventlog.Reader) { m.r = r }

func (m *walMessages) close() {
	if m.r != nil {
		m.r.Close()
		m.r = nil
	}
}

// span returns the WAL positions [lo, hi] between which the effective
// records of entries first..last lie.
func (m *walMessages) span(first, last uint64) (lo, hi uint64, err error) {
	if first == 0 || last < first || last > m.last || m.first == ^uint64(0) {
		return 0, 0, fmt.Errorf("entries %d..%d not applied from this WAL (it applied 1..%d)", first, last, m.last)
	}
	lo = m.first
	if k := int(first/entrySample) - 1; k >= 0 {
		lo = m.samples[k]
	}
	hi = m.lastSeq
	if k := int(last / entrySample); k < len(m.samples) { // the sample above last
		hi = m.samples[k]
	}
	return lo, hi, nil
}

// Messages implements state.MessageSource: the effective records of the
// entries at indexes, in the same order.
func (m *walMessages) Messages(indexes []uint64) ([]eventlog.Event, error) {
	if m.r == nil {
		return nil, fmt.Errorf("no WAL reader to read entries %d.. back", indexes[0])
	}
	out := make([]eventlog.Event, 0, len(indexes))
	for i := 0; i < len(indexes); {
		// One read covers every wanted entry within a few samples.
		j := i + 1
		for j < len(indexes) && indexes[j] > indexes[j-1] && indexes[j]-indexes[i] < 4*entrySample {
			j++
		}
		want := indexes[i:j]
		lo, hi, err := m.span(want[0], want[len(want)-1])
		if err != nil {
			return nil, err
		}
		// want is ascending and spans fewer than 4*entrySample indexes:
		// slot[ev.Index-want[0]] is ev's place in it, or -1.
		var slot [4 * entrySample]int8
		for k := range slot {
			slot[k] = -1
		}
		for k, w := range want {
			slot[w-want[0]] = int8(k)
		}
		found := make([]eventlog.Event, len(want))
		seen := make([]bool, len(want))
		err = m.r.ReadRange(lo, hi, func(_ uint64, ev eventlog.Event) error {
			if d := ev.Index - want[0]; ev.Index >= want[0] && d < uint64(len(slot)) && slot[d] >= 0 {
				found[slot[d]], seen[slot[d]] = ev, true // the last one wins
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for k := range want {
			if !seen[k] {
				return nil, fmt.Errorf("entry %d not found in WAL records %d..%d", want[k], lo, hi)
			}
		}
		out = append(out, found...)
		i = j
	}
	return out, nil
}
