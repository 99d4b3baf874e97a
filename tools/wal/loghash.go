package walcmd

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/syncnet/syncnet/eventlog"
)

// logHash is the log hash a node computes over the entries it applies
// (node/loghash.go), recomputed from a WAL's committed entries: it is what
// auditors compare across nodes and with `status`. The WAL's own chain
// (each record's hash) also covers the node's local records, so its head
// differs on every node; this one covers only the committed history, which
// is the same everywhere.
//
// The definition must stay the node's: h(i) = SHA-256(h(i-1) ‖ index ‖ term
// ‖ type ‖ data), big-endian, with h(0) all zero, type 1 and no data for a
// leader's no-op, type 0 and data = the entry as it travels between nodes
// (the record with index and term zero and no previous hash) for any other
// entry. A node shows the hash at its latest checkpoint, every hashEvery
// entries. TestCommittedHashMatchesStatus runs a cluster and checks that
// verify prints what the nodes' status shows.
type logHash struct {
	h          [32]byte
	index      uint64
	checkpoint uint64
	atCheck    [32]byte
	buf        []byte // the entry's data, reused
}

// hashEvery is the node's checkpoint spacing (node/loghash.go).
const hashEvery = 64

// add chains the next committed entry.
func (l *logHash) add(ev eventlog.Event) error {
	var hdr [8 + 8 + 1]byte
	binary.BigEndian.PutUint64(hdr[:8], ev.Index)
	binary.BigEndian.PutUint64(hdr[8:16], ev.Term)
	var data []byte
	if ev.Kind() == eventlog.KindNoOp {
		hdr[16] = 1
	} else {
		index := ev.Index
		ev.Index, ev.Term = 0, 0
		var err error
		if l.buf, err = eventlog.AppendRecord(l.buf[:0], eventlog.Hash{}, ev); err != nil {
			return fmt.Errorf("log hash at cluster index %d: %w", index, err)
		}
		data = l.buf
	}
	d := sha256.New()
	d.Write(l.h[:])
	d.Write(hdr[:])
	d.Write(data)
	d.Sum(l.h[:0])
	l.index = binary.BigEndian.Uint64(hdr[:8])
	if l.index%hashEvery == 0 {
		l.checkpoint, l.atCheck = l.index, l.h
	}
	return nil
}

// String is the hash as `status` shows it: 12 hex digits @ index, "-" when
// nothing is hashed.
func (l *logHash) String() string { return hashAt(l.h, l.index) }

// Checkpoint is the hash at the last checkpoint, as `status` shows it.
func (l *logHash) Checkpoint() string { return hashAt(l.atCheck, l.checkpoint) }

func hashAt(h [32]byte, index uint64) string {
	if index == 0 {
		return "-"
	}
	return fmt.Sprintf("%s@%d", eventlog.Hash(h).Short(), index)
}
