package walcmd

import (
	"fmt"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/state"
)

// walMessages is the state.MessageSource of replay, export and stats: it
// reads the messages node/state's chat no longer holds back from the WAL
// being audited, so the chat keeps only where each message is (a few bytes
// a message) and a bounded cache of recent ones.
//
// It finds an entry by its cluster index through state.EntryPositions (the
// WAL position of every 16th entry: 0.5 bytes an entry), filled by the
// folder as it applies entries (add, in index order, from 1); that type's
// doc says why a sparse index is enough. An uncommitted entry the folder
// applies (--include-uncommitted) is one that survived to the end of the
// log, so it too is the last record with its index.
//
// The folder's goroutine writes the index (add, flush after each batch);
// reads (Messages) come only after the folder is done (folder.wait) and
// the scan has handed over its Reader (setReader): the wait orders them.
type walMessages struct {
	pos state.EntryPositions
	r   *eventlog.Reader // the scan's, over the records it verified

	first uint64   // the entry of seqs[0]
	seqs  []uint64 // positions added and not yet handed to pos (flush)
}

// add records that entry index is at WAL sequence number seq. Positions
// reach pos at the next flush, in runs of consecutive entries, under one
// lock per run.
func (m *walMessages) add(index, seq uint64) {
	if len(m.seqs) > 0 && index != m.first+uint64(len(m.seqs)) {
		m.flush() // not the next one: pos decides what a gap means
	}
	if len(m.seqs) == 0 {
		m.first = index
	}
	m.seqs = append(m.seqs, seq)
}

// flush hands the positions added to pos; call it before any read.
func (m *walMessages) flush() {
	if len(m.seqs) > 0 {
		m.pos.WroteAll(m.first, m.seqs)
		m.seqs = m.seqs[:0]
	}
}

func (m *walMessages) setReader(r *eventlog.Reader) { m.r = r }

func (m *walMessages) close() {
	if m.r != nil {
		m.r.Close()
		m.r = nil
	}
}

// Messages implements state.MessageSource: the effective records of the
// entries at indexes, in the same order.
func (m *walMessages) Messages(indexes []uint64) ([]eventlog.Event, error) {
	if m.r == nil {
		return nil, fmt.Errorf("no WAL reader to read entries %d.. back", indexes[0])
	}
	return m.pos.Read(indexes, m.r.ReadRange)
}
