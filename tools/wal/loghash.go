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
}

// hashEvery is the node's checkpoint spacing (node/loghash.go).
const hashEvery = 64

// addData chains the next committed entry, at index in term, whose entry
// form is data, spliced from its stored record
// (eventlog.CheckedRecord.AppendEntryForm): the bytes the leader encoded and
// every node hashed, not an encoding of the decoded event again. Empty data
// is a leader's no-op (type 1, no data); any other entry form is a whole
// record, never empty.
func (l *logHash) addData(index, term uint64, data []byte) {
	var hdr [8 + 8 + 1]byte
	binary.BigEndian.PutUint64(hdr[:8], index)
	binary.BigEndian.PutUint64(hdr[8:16], term)
	if len(data) == 0 {
		hdr[16] = 1
	}
	l.chain(hdr, data)
}

func (l *logHash) chain(hdr [17]byte, data []byte) {
	d := sha256.New()
	d.Write(l.h[:])
	d.Write(hdr[:])
	d.Write(data)
	d.Sum(l.h[:0])
	l.index = binary.BigEndian.Uint64(hdr[:8])
	if l.index%hashEvery == 0 {
		l.checkpoint, l.atCheck = l.index, l.h
	}
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
