package node

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/syncnet/syncnet/node/replica"
)

// hashEvery spaces the checkpoints of the applied-log hash. Every node
// reports the hash at its latest checkpoint, so two nodes that applied past
// the same checkpoint can be compared while the cluster runs: a divergence
// shows in `status` without stopping anything.
const hashEvery = 64

// logHash chains the committed entries in apply order: h(i) = SHA-256(h(i-1)
// ‖ index ‖ term ‖ type ‖ data). Unlike the WAL's own chain, which also
// covers each node's local records, it is the same on every node (I2, I6).
// `syncnet wal verify` and `wal diff` recompute it from a WAL's committed
// entries (tools/wal/loghash.go) so that auditors can compare it with
// status: change both together (tools/wal's TestCommittedHashMatchesStatus
// runs a cluster and compares them).
type logHash struct {
	h          [32]byte
	index      uint64
	checkpoint uint64
	atCheck    [32]byte
}

func (l *logHash) add(e replica.Entry) {
	var hdr [8 + 8 + 1]byte
	binary.BigEndian.PutUint64(hdr[:8], e.Index)
	binary.BigEndian.PutUint64(hdr[8:16], e.Term)
	hdr[16] = byte(e.Type)
	d := sha256.New()
	d.Write(l.h[:])
	d.Write(hdr[:])
	d.Write(e.Data)
	d.Sum(l.h[:0])
	l.index = e.Index
	if e.Index%hashEvery == 0 {
		l.checkpoint, l.atCheck = e.Index, l.h
	}
}
