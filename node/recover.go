package node

import (
	"fmt"
	"math/rand"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/replica"
	"github.com/syncnet/syncnet/node/state"
	"github.com/syncnet/syncnet/ring"
)

// recovered is what a node rebuilds from its WAL before it talks to anyone.
type recovered struct {
	electionOnDisk    ring.HardState
	replicaTermOnDisk uint64
	commit            uint64
	entries           []replica.Entry
	lamport           uint64
	records           uint64
}

// openLog opens the WAL (verifying every record and cutting a torn tail, I8)
// and folds it into the state the protocol cores restart from.
func (n *Node) openLog() error {
	dir := n.cfg.WALDir(n.id)
	l, err := eventlog.Open(dir, eventlog.Options{
		NoSync:        n.opts.NoSync,
		SnapshotEvery: -1, // state is rebuilt from the replicated log; see recover.go
		Logf:          func(f string, a ...any) { n.log.Warn(fmt.Sprintf(f, a...)) },
		InjectFault:   n.opts.walFault,
	})
	if err != nil {
		return fmt.Errorf("open wal of %s: %w", n.id, err)
	}
	n.wal = l
	rc, err := recoverLog(l)
	if err != nil {
		l.Close()
		return fmt.Errorf("rebuild state from %s: %w", dir, err)
	}
	n.log.Info("wal recovered", "dir", dir, "records", rc.records, "entries", len(rc.entries),
		"commit", rc.commit, "term", rc.electionOnDisk.Term)
	n.electionOnDisk, n.replicaTermOnDisk = rc.electionOnDisk, rc.replicaTermOnDisk
	n.lamport.Store(rc.lamport)
	n.commitRecorded = rc.commit
	n.recoveredCommit = rc.commit
	if rc.commit == 0 {
		close(n.caughtUp)
	}
	return n.newCores(rc)
}

// recoverLog folds the WAL: the replicated log (shared with the audit tools,
// see state.ReplicatedLog), the election's hard state, and Lamport time.
func recoverLog(l *eventlog.Log) (recovered, error) {
	var rc recovered
	var rl state.ReplicatedLog
	err := l.Iter(0, func(seq uint64, ev eventlog.Event) error {
		rc.records++
		rc.lamport = max(rc.lamport, ev.Lamport)
		switch b := ev.Body.(type) {
		case *eventlog.TermStarted:
			rc.term(b.Term)
		case *eventlog.VoteCast:
			if rc.term(b.Term) {
				rc.electionOnDisk.Vote = b.Candidate
			}
		case *eventlog.LeaderElected:
			if rc.term(b.Term) {
				rc.electionOnDisk.Leader = b.Leader
			}
		}
		return rl.Add(seq, ev)
	})
	if err != nil {
		return rc, err
	}
	rc.commit, rc.replicaTermOnDisk = rl.Commit, rl.MaxTerm
	rc.entries = make([]replica.Entry, 0, len(rl.Entries))
	for _, e := range rl.Entries {
		re, err := replicaEntry(e)
		if err != nil {
			return rc, err
		}
		rc.entries = append(rc.entries, re)
	}
	return rc, nil
}

// term moves the election's hard state to t if t is newer, and reports
// whether t is the current term.
func (rc *recovered) term(t uint64) bool {
	if t > rc.electionOnDisk.Term {
		rc.electionOnDisk = ring.HardState{Term: t}
	}
	return t == rc.electionOnDisk.Term
}

// replicaEntry turns a WAL entry back into the replica's form: the event
// without its index and term, encoded as the leader first proposed it.
func replicaEntry(e state.Entry) (replica.Entry, error) {
	ev := e.Event
	re := replica.Entry{Index: ev.Index, Term: ev.Term}
	if ev.Kind() == eventlog.KindNoOp {
		re.Type = replica.EntryNoop
		return re, nil
	}
	ev.Index, ev.Term = 0, 0
	data, err := eventlog.AppendRecord(nil, eventlog.Hash{}, ev)
	if err != nil {
		return re, fmt.Errorf("wal record %d: %w", e.Seq, err)
	}
	re.Data = data
	return re, nil
}

// newCores builds the ring and replica state machines from recovered state.
func (n *Node) newCores(rc recovered) error {
	var members []ring.Member
	for _, m := range n.cfg.Nodes {
		members = append(members, ring.Member{ID: m.ID, Ring: m.Ring})
	}
	rn, err := ring.New(ring.Config{
		ID: n.id, Members: members,
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
	rep, err := replica.New(replica.Config{ID: n.id, Peers: n.memberIDs(), HeartbeatTicks: 2}.Default(),
		replica.State{HardState: replica.HardState{Term: rc.replicaTermOnDisk, Commit: rc.commit}, Entries: rc.entries})
	if err != nil {
		return err
	}
	n.ring, n.replication = rn, rep
	return nil
}
