package node

import (
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/replica"
	"github.com/syncnet/syncnet/node/state"
	"github.com/syncnet/syncnet/ring"
)

// recovery is what a node rebuilds from its snapshot and WAL before it talks
// to anyone: the applied state up to applied, the entries after it, and the
// folds of the local records.
type recovery struct {
	electionOnDisk    ring.HardState
	replicaTermOnDisk uint64
	commit            uint64
	lamport           uint64
	pending           []eventlog.Event // entries after the applied one, in index order
	records           uint64           // WAL records folded
	fromSnapshot      uint64           // applied index of the snapshot used (0: none)
}

// openLog opens the WAL and rebuilds the node from it: from the newest
// usable snapshot and the records after it, else from the whole WAL. A
// snapshot that cannot be read, or whose hash is not this WAL's, is skipped
// with a log line; the WAL is the truth and a snapshot only saves time.
func (n *Node) openLog() error {
	dir := n.cfg.WALDir(n.id)
	began := n.now()
	chunks, err := state.OpenChunkFile(filepath.Join(n.cfg.NodeDir(n.id), "index", "chunks"), n.opts.NoSync)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.id, err)
	}
	n.chunks = chunks
	snaps, err := eventlog.Snapshots(dir)
	if err != nil {
		n.log.Warn("cannot list snapshots; replaying the whole WAL", "dir", dir, "err", err)
	}
	for _, s := range snaps {
		img, st, info, err := n.readSnapshot(s.Path)
		if err != nil {
			n.log.Warn("snapshot unusable; trying an older one", "file", s.Path, "err", err)
			continue
		}
		l, err := n.openWAL(dir, &eventlog.Checkpoint{Seq: info.Seq, Hash: info.Hash})
		if errors.Is(err, eventlog.ErrCheckpoint) {
			n.log.Warn("snapshot is not of this WAL; trying an older one", "file", s.Path, "err", err)
			continue
		}
		if err != nil {
			return err
		}
		return n.recoverFrom(l, img, st, began)
	}
	l, err := n.openWAL(dir, nil)
	if err != nil {
		return err
	}
	return n.recoverFrom(l, nodeImage{}, n.newState(), began)
}

func (n *Node) openWAL(dir string, trust *eventlog.Checkpoint) (*eventlog.Log, error) {
	l, err := eventlog.Open(dir, eventlog.Options{
		NoSync:       n.opts.NoSync,
		SnapshotKeep: n.cfg.Storage.SnapshotKeep,
		Trust:        trust,
		Logf:         func(f string, a ...any) { n.log.Warn(fmt.Sprintf(f, a...)) },
		InjectFault:  n.opts.walFault,
	})
	if err != nil {
		return nil, fmt.Errorf("open wal of %s: %w", n.id, err)
	}
	return l, nil
}

// stateOptions are the plugins' settings: the dedupe window, and history
// read from this node's WAL through the entry index.
func (n *Node) stateOptions() state.Options {
	return state.Options{
		Now:        n.now,
		OnceWindow: n.cfg.Storage.DedupeWindow.Duration,
		Messages:   n.reader,
		Chunks:     n.chunks,
	}
}

func (n *Node) newState() *state.State { return state.NewWith(n.stateOptions()) }

// readSnapshot reads and decodes a snapshot file (the WAL is not open yet:
// the snapshot says how much of it to verify).
func (n *Node) readSnapshot(path string) (nodeImage, *state.State, eventlog.SnapshotInfo, error) {
	info, sections, err := eventlog.ReadSnapshot(path)
	if err != nil {
		return nodeImage{}, nil, info, err
	}
	var nodeData, stateData, membersData []byte
	for _, s := range sections {
		switch s.Name {
		case sectionNode:
			nodeData = s.Data
		case sectionState:
			stateData = s.Data
		case sectionMembers:
			membersData = s.Data
		}
	}
	if nodeData == nil || stateData == nil {
		return nodeImage{}, nil, info, fmt.Errorf("snapshot lacks its %q or %q section", sectionNode, sectionState)
	}
	img, err := decodeNodeImage(nodeData)
	if err != nil {
		return nodeImage{}, nil, info, err
	}
	if img.baseSeq != info.Seq {
		return nodeImage{}, nil, info, fmt.Errorf("%w: covers WAL record %d, the file says %d", errImage, img.baseSeq, info.Seq)
	}
	if membersData != nil {
		c, err := decodeMembers(membersData)
		if err != nil || c.id.Index > img.applied {
			return nodeImage{}, nil, info, fmt.Errorf("%w: members section: %v (entry %d, applied %d)", errImage, err, c.id.Index, img.applied)
		}
		img.members = &c
	}
	// The state reads old messages through n.reader, whose WAL is bound
	// once it is open (recoverFrom).
	st, err := state.Restore(stateData, n.stateOptions())
	if err != nil {
		return nodeImage{}, nil, info, err
	}
	return img, st, info, nil
}

// recoverFrom folds the WAL after the snapshot img (the zero image: the
// whole WAL) into st, and builds the protocol cores.
func (n *Node) recoverFrom(l *eventlog.Log, img nodeImage, st *state.State, began time.Time) error {
	n.wal = l
	q := newAsyncWAL(l) // the simulation replaces it before the driver runs
	n.walq, n.durableC = q, q.done
	n.snaps = &snapshotter{wal: l, logf: n.log.Info, last: img.applied}
	n.reader.wal = l // before any read: sessions start after recovery
	n.state = st
	n.hash = img.hash
	if img.members != nil {
		n.membersApplied = *img.members
	}
	n.applied.Store(img.applied)
	n.appliedTerm = img.appliedTerm
	n.index.Restore(img.samples, img.base, img.baseSeq)
	// The commit fold restarts at the snapshot's base entry: a commit
	// record is only ever written after the entries it covers, so entries
	// the fold collects become final at the next commit record it meets.
	rc := recovery{electionOnDisk: img.election, replicaTermOnDisk: img.replicaTerm, commit: img.base,
		lamport: img.lamport, fromSnapshot: img.applied}
	if err := n.foldWAL(l, img.baseSeq, &rc); err != nil {
		l.Close()
		return fmt.Errorf("rebuild state from %s: %w", l.Dir(), err)
	}
	n.log.Info("wal recovered", "dir", l.Dir(), "snapshot_applied", rc.fromSnapshot,
		"records_replayed", rc.records, "verified_from_record", l.VerifiedFrom(),
		"applied", n.applied.Load(), "uncommitted", len(rc.pending), "term", rc.electionOnDisk.Term,
		"took", n.now().Sub(began).Round(time.Millisecond))
	n.electionOnDisk, n.replicaTermOnDisk = rc.electionOnDisk, rc.replicaTermOnDisk
	n.lamport.Store(rc.lamport)
	n.commitRecorded = max(rc.commit, img.commit)
	n.durable = durableMarks{election: n.electionOnDisk, replicaTerm: n.replicaTermOnDisk, commit: n.commitRecorded}
	n.recoveredFromSnapshot = img.applied
	// Every entry this WAL recorded as committed is applied already.
	close(n.caughtUp)
	learner, err := n.decideLearner()
	if err != nil {
		l.Close()
		return err
	}
	if err := n.newCores(rc, learner); err != nil {
		return err
	}
	for _, ev := range rc.pending { // the uncommitted tail: memberships count once in the log
		n.noteMembersEntry(ev.Index, ev.Term, ev)
	}
	n.syncMembers()
	n.publishView() // status shows the recovered commit before the first Ready
	return nil
}

// foldWAL folds the records after WAL position from: entries after the
// applied one are collected and applied as soon as a commit record covers
// them (so a full replay holds only the uncommitted tail in memory), local
// records move the election's and the replica's durable state.
func (n *Node) foldWAL(l *eventlog.Log, from uint64, rc *recovery) error {
	err := l.Iter(from+1, func(seq uint64, ev eventlog.Event) error {
		rc.records++
		rc.lamport = max(rc.lamport, ev.Lamport)
		if ev.Index != 0 {
			return n.foldEntry(seq, ev, rc)
		}
		switch b := ev.Body.(type) {
		case *eventlog.TermStarted:
			rc.term(b.Term)
			rc.replicaTermOnDisk = max(rc.replicaTermOnDisk, b.Term)
		case *eventlog.VoteCast:
			if rc.term(b.Term) {
				rc.electionOnDisk.Vote = b.Candidate
			}
		case *eventlog.LeaderElected:
			if rc.term(b.Term) {
				rc.electionOnDisk.Leader = b.Leader
			}
		case *eventlog.SuffixDiscarded:
			last := n.applied.Load() + uint64(len(rc.pending))
			if b.FromIndex < 1 || b.FromIndex > last+1 {
				return fmt.Errorf("wal record %d discards from index %d but the log ends at %d", seq, b.FromIndex, last)
			}
			if b.FromIndex <= rc.commit {
				return fmt.Errorf("wal record %d discards from index %d, below the recorded commit index %d", seq, b.FromIndex, rc.commit)
			}
			// A discard at or below the applied entry can only precede
			// that entry's own record (committed entries are never
			// discarded): it voids the versions the fold skipped.
			keep := int(max(b.FromIndex, n.applied.Load()+1) - n.applied.Load() - 1)
			rc.pending = rc.pending[:keep]
			n.index.Discard(b.FromIndex)
		case *eventlog.CommittedUpTo:
			rc.commit = max(rc.commit, b.Index)
			return n.applyRecovered(rc)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return n.applyRecovered(rc)
}

// foldEntry adds one entry record to the fold.
func (n *Node) foldEntry(seq uint64, ev eventlog.Event, rc *recovery) error {
	applied := n.applied.Load()
	next := applied + uint64(len(rc.pending)) + 1
	switch {
	case ev.Index > next:
		return fmt.Errorf("wal record %d holds cluster index %d but the log only reaches %d", seq, ev.Index, next-1)
	case ev.Index > applied && ev.Index < next:
		// The writer never does this: a replacement follows a discard.
		return fmt.Errorf("wal record %d rewrites cluster index %d without a discard record", seq, ev.Index)
	}
	lastTerm := n.appliedTerm
	if len(rc.pending) > 0 {
		lastTerm = rc.pending[len(rc.pending)-1].Term
	}
	if ev.Index == next && ev.Term < lastTerm {
		return fmt.Errorf("wal record %d: term %d at index %d is below term %d of the entry before it", seq, ev.Term, ev.Index, lastTerm)
	}
	n.index.wrote(ev.Index, seq)
	rc.replicaTermOnDisk = max(rc.replicaTermOnDisk, ev.Term)
	if ev.Index == next {
		rc.pending = append(rc.pending, ev)
	}
	// An entry at or below the applied one is a version the snapshot has
	// applied already (or a void one before it): only indexed.
	return nil
}

// applyRecovered applies the collected entries the fold knows committed.
func (n *Node) applyRecovered(rc *recovery) error {
	applied := n.applied.Load()
	k := 0
	for ; k < len(rc.pending) && applied+uint64(k)+1 <= rc.commit; k++ {
		if err := n.applyEntry(rc.pending[k]); err != nil {
			return err
		}
	}
	rc.pending = append(rc.pending[:0], rc.pending[k:]...)
	return nil
}

// applyEntry applies one committed entry read from the WAL, as the driver
// applies one it just committed: the plugins' state, the applied-log hash,
// the Lamport clock.
func (n *Node) applyEntry(ev eventlog.Event) error {
	re, err := replicaEntry(ev)
	if err != nil {
		return err
	}
	n.hash.add(re)
	n.observeLamport(ev.Lamport)
	n.state.Apply(ev.Index, ev)
	n.noteMembersApplied(ev.Index, ev.Term, ev)
	n.applied.Store(ev.Index)
	n.appliedTerm = ev.Term
	return nil
}

// term moves the election's hard state to t if t is newer, and reports
// whether t is the current term.
func (rc *recovery) term(t uint64) bool {
	if t > rc.electionOnDisk.Term {
		rc.electionOnDisk = ring.HardState{Term: t}
	}
	return t == rc.electionOnDisk.Term
}

// replicaEntry turns a WAL entry back into the replica's form: the event
// without its index and term, encoded as the leader first proposed it.
func replicaEntry(ev eventlog.Event) (replica.Entry, error) {
	re := replica.Entry{Index: ev.Index, Term: ev.Term}
	if ev.Kind() == eventlog.KindNoOp {
		re.Type = replica.EntryNoop
		return re, nil
	}
	ev.Index, ev.Term = 0, 0
	data, err := eventlog.AppendRecord(nil, eventlog.Hash{}, ev)
	if err != nil {
		return re, fmt.Errorf("wal entry %d: %w", re.Index, err)
	}
	re.Data = data
	return re, nil
}

// A far-behind follower's batches are read from the WAL on the driver
// goroutine, inside the replica's Step: each read stalls every proposal
// behind it. Batches of 2,048 entries (about 20 ms of reading and encoding
// here) keep that stall short while the round trips stay few.
const (
	catchUpBatchEntries = 2048
	catchUpBatchBytes   = 1 << 20
	catchUpInflight     = 16
)

// newCores builds the ring and replica state machines from recovered state.
// The replica holds in memory only the entries after the applied one; it
// reads older ones from the WAL when a follower needs them.
func (n *Node) newCores(rc recovery, learner bool) error {
	var members []ring.Member
	for _, m := range n.cfg.Nodes {
		members = append(members, ring.Member{ID: m.ID, Ring: m.Ring})
	}
	rn, err := ring.New(ring.Config{
		ID: n.id, Members: members, Learner: learner,
		HeartbeatTicks: ticksPerHeartbeat,
		FailureTicks:   n.ticks(n.cfg.Timing.FailureTimeout),
		ElectionTicks:  n.ticks(n.cfg.Timing.ElectionTimeout),
		Rand:           rand.New(rand.NewSource(int64(n.bootID))),
		// The candidacy is the replica's in-memory log at the moment of
		// every ring step (the I3 contract in ring/doc.go).
		LogPosition: func() (uint64, uint64) { return n.replication.LastIndexTerm() },
	}, rc.electionOnDisk)
	if err != nil {
		return err
	}
	ents := make([]replica.Entry, 0, len(rc.pending))
	for _, ev := range rc.pending {
		re, err := replicaEntry(ev)
		if err != nil {
			return err
		}
		ents = append(ents, re)
	}
	applied := n.applied.Load()
	rep, err := replica.New(replica.Config{ID: n.id, Peers: n.memberIDs(), HeartbeatTicks: 2, Storage: n.reader, Learner: learner,
		CatchUpBatchEntries: catchUpBatchEntries, CatchUpBatchBytes: catchUpBatchBytes, CatchUpInflight: catchUpInflight}.Default(),
		replica.State{
			HardState: replica.HardState{Term: rc.replicaTermOnDisk, Commit: applied},
			Snapshot:  replica.Snapshot{Index: applied, Term: n.appliedTerm},
			Entries:   ents,
			Applied:   applied,
		})
	if err != nil {
		return err
	}
	n.ring, n.replication = rn, rep
	return nil
}
