package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/state"
	"github.com/syncnet/syncnet/ring"
)

// Snapshots (docs/ARCHITECTURE.md, "Snapshots and restart").
//
// A node snapshot is a file beside the WAL (eventlog.WriteSnapshot: written
// to a temporary file, fsynced, renamed, directory fsynced, checksummed)
// with two sections: "node", this file's nodeImage, and "state", the
// plugins' state (state.Image). It covers the WAL up to a record S and the
// applied state up to an entry A:
//
//   - S is the record of entry B = A rounded down to a multiple of
//     entrySample, which the entry index remembers exactly. Every record a
//     restart needs after the snapshot follows S: the effective records of
//     entries after B do (WAL positions grow with the index along the
//     effective log), and the snapshot's folds of local records (terms,
//     vote, commit, Lamport time) are maxima, so folding records between S
//     and the capture a second time changes nothing.
//   - The file names S and the chain hash of record S; a restart opens the
//     WAL trusting that hash and verifies only what follows it.
//
// The snapshot is captured on the driver goroutine between two batches
// (state.Capture is cheap: the message positions are shared, not copied),
// then encoded and written by one background writer, so a large state never
// stalls heartbeats. If a write is still running when the next one is due,
// the next one waits for the next batch.

const (
	sectionNode  = "node"
	sectionState = "state"
	// sectionMembers: the membership applied at the snapshot's entry
	// (membership.go), written once a membership entry was applied; a
	// snapshot without it holds the configured one.
	sectionMembers = "members"
	// nodeImageVersion is the layout of the "node" section.
	nodeImageVersion = 1
)

// nodeImage is the node's own part of a snapshot.
type nodeImage struct {
	applied, appliedTerm uint64         // the applied state is at entry applied
	lamport              uint64         // Lamport clock at capture (a maximum)
	election             ring.HardState // the election's durable state at capture
	replicaTerm          uint64         // the replica's durable term at capture
	commit               uint64         // highest commit recorded in the WAL
	hash                 logHash        // the applied-log hash at applied
	samples              []uint64       // the entry index up to base
	base, baseSeq        uint64         // entry B and its record S
	// members: the "members" section (not part of this section's layout),
	// nil if the snapshot has none.
	members *memberConf
}

func (m *nodeImage) encode() []byte {
	b := binary.AppendUvarint(nil, nodeImageVersion)
	for _, v := range []uint64{m.applied, m.appliedTerm, m.lamport, m.election.Term, m.replicaTerm, m.commit,
		m.hash.index, m.hash.checkpoint, m.base, m.baseSeq} {
		b = binary.AppendUvarint(b, v)
	}
	for _, s := range []string{m.election.Vote, m.election.Leader} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, m.hash.h[:]...)
	b = append(b, m.hash.atCheck[:]...)
	b = binary.AppendUvarint(b, uint64(len(m.samples)))
	prev := uint64(0)
	for _, s := range m.samples {
		b = binary.AppendUvarint(b, s-prev) // ascending: small deltas
		prev = s
	}
	return b
}

// errImage is wrapped by every decoding error of a "node" section.
var errImage = errors.New("node section of snapshot")

func decodeNodeImage(b []byte) (nodeImage, error) {
	var m nodeImage
	bad := func(what string) (nodeImage, error) { return nodeImage{}, fmt.Errorf("%w: %s", errImage, what) }
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	if v, ok := uv(); !ok || v != nodeImageVersion {
		return bad(fmt.Sprintf("layout version %d, this build reads %d", v, nodeImageVersion))
	}
	for _, p := range []*uint64{&m.applied, &m.appliedTerm, &m.lamport, &m.election.Term, &m.replicaTerm, &m.commit,
		&m.hash.index, &m.hash.checkpoint, &m.base, &m.baseSeq} {
		v, ok := uv()
		if !ok {
			return bad("truncated")
		}
		*p = v
	}
	for _, p := range []*string{&m.election.Vote, &m.election.Leader} {
		l, ok := uv()
		if !ok || l > uint64(len(b)) || l > 64 {
			return bad("bad member id")
		}
		*p, b = string(b[:l]), b[l:]
	}
	if len(b) < 64 {
		return bad("truncated hash")
	}
	copy(m.hash.h[:], b)
	copy(m.hash.atCheck[:], b[32:])
	b = b[64:]
	count, ok := uv()
	if !ok || count != m.base/entrySample || count > uint64(len(b)) {
		return bad(fmt.Sprintf("%d index samples for base entry %d", count, m.base))
	}
	m.samples = make([]uint64, count)
	prev := uint64(0)
	for i := range m.samples {
		d, ok := uv()
		if !ok || (i > 0 && d == 0) {
			return bad("bad index sample")
		}
		prev += d
		m.samples[i] = prev
	}
	switch {
	case len(b) != 0:
		return bad("trailing bytes")
	case m.base > m.applied || m.applied-m.base >= entrySample || m.base%entrySample != 0:
		return bad(fmt.Sprintf("base entry %d does not fit applied entry %d", m.base, m.applied))
	case m.base > 0 && m.samples[len(m.samples)-1] != m.baseSeq:
		return bad("base record is not the last sample")
	case m.hash.index != m.applied:
		return bad(fmt.Sprintf("log hash at entry %d, state at %d", m.hash.index, m.applied))
	}
	return m, nil
}

// snapshotJob is a captured snapshot on its way to disk.
type snapshotJob struct {
	seq     uint64 // record S
	applied uint64
	node    []byte
	state   *state.Image
	members []byte // sectionMembers, nil for the configured membership
}

// snapshotter writes captured snapshots, one at a time. Production runs
// each write on its own goroutine; the cluster simulation runs it inline at
// the point of its choosing (write), so its schedule stays deterministic.
type snapshotter struct {
	wal  *eventlog.Log
	logf func(msg string, args ...any)

	mu      sync.Mutex
	busy    bool
	done    chan struct{} // closed when the running write ends
	last    uint64        // applied index of the newest snapshot on disk
	lastAt  time.Time
	written int
}

// due reports whether a snapshot of applied should be captured now.
func (s *snapshotter) due(applied uint64, every int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.busy && applied >= s.last+uint64(every)
}

// start marks a write as running; the caller then runs write (inline or on
// a goroutine).
func (s *snapshotter) start() {
	s.mu.Lock()
	s.busy, s.done = true, make(chan struct{})
	s.mu.Unlock()
}

// write encodes and writes one snapshot.
func (s *snapshotter) write(j snapshotJob, now time.Time) {
	data, err := j.state.Encode()
	var info eventlog.SnapshotInfo
	if err == nil {
		secs := []eventlog.Section{{Name: sectionNode, Data: j.node}, {Name: sectionState, Data: data}}
		if j.members != nil {
			secs = append(secs, eventlog.Section{Name: sectionMembers, Data: j.members})
		}
		info, err = s.wal.WriteSnapshot(j.seq, secs)
	}
	s.mu.Lock()
	s.busy = false
	close(s.done)
	if err == nil {
		s.last, s.lastAt = j.applied, now
		s.written++
	}
	s.mu.Unlock()
	if err != nil {
		// The WAL is whole; a missing snapshot only makes the next restart
		// longer. Say so, and try again at the next one due.
		s.logf("snapshot failed; the next restart will replay more of the WAL", "applied", j.applied, "err", err)
		return
	}
	s.logf("snapshot written", "applied", j.applied, "wal_record", j.seq, "state_bytes", len(data), "file", info.Path)
}

// wait blocks until no write is running.
func (s *snapshotter) wait() {
	s.mu.Lock()
	busy, done := s.busy, s.done
	s.mu.Unlock()
	if busy {
		<-done
	}
}

// snapshotStatus is what the snapshotter reports.
type snapshotStatus struct {
	applied uint64    // applied index of the newest snapshot (0: none)
	at      time.Time // when this process wrote it (zero: found at start)
	written int       // snapshots this process wrote
}

func (s *snapshotter) status() snapshotStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return snapshotStatus{applied: s.last, at: s.lastAt, written: s.written}
}

// captureSnapshot captures the applied state if a snapshot is due and every
// applied entry is durable here, and hands it to the writer. It runs on the
// driver goroutine between batches.
func (n *Node) captureSnapshot(force bool) (snapshotJob, bool) {
	applied := n.applied.Load()
	durable, _ := n.index.durable()
	if applied < entrySample || applied > durable {
		return snapshotJob{}, false
	}
	if !force && !n.snaps.due(applied, n.cfg.Storage.SnapshotEvery) {
		return snapshotJob{}, false
	}
	if force {
		n.snaps.wait()
		if n.snaps.status().applied == applied {
			return snapshotJob{}, false
		}
	}
	base := applied / entrySample * entrySample
	samples := n.index.SamplesUpTo(base)
	img := nodeImage{
		applied: applied, appliedTerm: n.appliedTerm, lamport: n.lamport.Load(),
		// The marks durable in the WAL, not those still being written: a
		// restart must find the log the snapshot's commit names.
		election: n.durable.election, replicaTerm: n.durable.replicaTerm, commit: n.durable.commit,
		hash: n.hash, samples: samples, base: base, baseSeq: samples[len(samples)-1],
	}
	j := snapshotJob{seq: img.baseSeq, applied: applied, node: img.encode(), state: n.state.Capture(),
		members: encodeMembers(n.membersApplied)}
	n.snaps.start()
	return j, true
}

// verifyPause spaces the background verification's chunks so it yields the
// disk and a core to the serving path.
const verifyPause = 20 * time.Millisecond

// verifyState is what the background verification of the whole WAL chain
// found, for status and the log.
type verifyState struct {
	mu      sync.Mutex
	state   string // "", "running", "ok", "failed"
	records uint64
	err     error
}

func (v *verifyState) get() (string, uint64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state, v.records, v.err
}

// verifyInBackground re-verifies the whole WAL hash chain (start-up trusted
// the snapshot's hash for the records before it) at low priority, and says
// what it found: a damaged record is logged as an error and shown in
// status, and the node keeps serving from what it verified at start.
func (n *Node) verifyInBackground(ctx context.Context) {
	if !n.cfg.Storage.BackgroundVerify || n.wal.VerifiedFrom() <= max(n.wal.FirstSeq(), 1) {
		return // start-up verified every record already
	}
	n.verify.mu.Lock()
	n.verify.state = "running"
	n.verify.mu.Unlock()
	began := time.Now()
	res, err := n.wal.VerifyChain(ctx, verifyPause)
	if ctx.Err() != nil {
		return
	}
	n.verify.mu.Lock()
	n.verify.records, n.verify.err = res.Records, err
	if err != nil {
		n.verify.state = "failed"
	} else {
		n.verify.state = "ok"
	}
	n.verify.mu.Unlock()
	if err != nil {
		n.log.Error("background WAL verification found damage; run `syncnet wal verify` on this node's WAL", "records_checked", res.Records, "err", err)
		return
	}
	n.log.Info("background WAL verification done: the whole hash chain holds", "records", res.Records, "took", time.Since(began).Round(time.Millisecond))
}
