package replica

import "fmt"

// Ready is the work the caller must do, in this order (see doc.go):
//
//  1. persist HardState.Term (if HardState is non-nil), Snapshot, Discard,
//     Entries, then HardState.Commit (may be lazy), and fsync;
//  2. send Messages, except MsgSnapshotNeeded, which is kept for step 5;
//  3. load Snapshot into the state machine, then apply CommittedEntries in
//     index order;
//  4. call Advance(rd);
//  5. for each MsgSnapshotNeeded, call SendSnapshot(m.To, latest snapshot).
type Ready struct {
	// SoftState is non-nil when term, leader or role changed.
	SoftState *SoftState
	// HardState is non-nil when term or commit changed since the last
	// Ready. A new Term must be durable before Messages are sent.
	HardState *HardState
	// Snapshot (follower) replaces the whole log on disk: every entry on
	// disk is void, the log continues at Snapshot.Index+1.
	Snapshot *Snapshot
	// Discard voids every entry on disk with index >= FromIndex; it is
	// appended to the WAL before Entries.
	Discard *Discard
	// Entries to append durably, contiguous, in index order.
	Entries []Entry
	// Messages to send only after the above is durable.
	Messages []Message
	// CommittedEntries to apply in index order (at most MaxApplyEntries).
	CommittedEntries []Entry
}

// Describe renders the Ready's shape for logs.
func (rd Ready) Describe() string {
	s := fmt.Sprintf("ready ents=%d msgs=%d committed=%d", len(rd.Entries), len(rd.Messages), len(rd.CommittedEntries))
	if rd.HardState != nil {
		s += fmt.Sprintf(" hs=%d/%d", rd.HardState.Term, rd.HardState.Commit)
	}
	if rd.Discard != nil {
		s += " " + rd.Discard.Describe()
	}
	if rd.Snapshot != nil {
		s += " " + rd.Snapshot.Describe()
	}
	return s
}

// SplitMessages partitions rd.Messages for a driver that overlaps its own
// fsync with sending (Raft §10.2.1). early may be sent before rd's records
// are durable: MsgApp and MsgSnap, which claim nothing about our disk (a
// leader's own copy counts only after Advance) — but only when rd.HardState
// is nil, since a new term must be durable before anything carries it.
// late must wait for the fsync: every MsgAppResp (an accept claims durable
// entries, possibly appended as a follower earlier in this Ready). Local
// MsgSnapshotNeeded messages are in neither: answer them after Advance.
func (rd Ready) SplitMessages() (early, late []Message) {
	for _, m := range rd.Messages {
		switch {
		case m.Type == MsgSnapshotNeeded:
		case rd.HardState == nil && (m.Type == MsgApp || m.Type == MsgSnap):
			early = append(early, m)
		default:
			late = append(late, m)
		}
	}
	return early, late
}

// flush turns pending proposals into appends (so proposals made between two
// Readys travel in one batch).
func (r *Replica) flush() {
	if r.pendingBcast && r.role == Leader {
		r.bcastAppend()
	}
	r.pendingBcast = false
}

// HasReady reports whether Ready would return any work.
func (r *Replica) HasReady() bool {
	if r.readyOut {
		return false
	}
	return r.pendingBcast || len(r.msgs) > 0 || r.log.handed < r.log.lastIndex() ||
		r.log.pendingDiscard != 0 || r.log.pendingSnap != nil ||
		r.log.applied < r.log.committed || r.softState() != r.prevSoft ||
		(HardState{Term: r.term, Commit: r.log.committed}) != r.prevHard
}

// Ready returns the pending work. No other method but Status-like readers
// may be called until Advance(rd).
func (r *Replica) Ready() Ready {
	r.assertIdle("Ready")
	r.flush()
	var rd Ready
	if ss := r.softState(); ss != r.prevSoft {
		rd.SoftState, r.prevSoft = &ss, ss
	}
	if hs := (HardState{Term: r.term, Commit: r.log.committed}); hs != r.prevHard {
		rd.HardState = &hs
	}
	rd.Snapshot, r.log.pendingSnap = r.log.pendingSnap, nil
	if d := r.log.pendingDiscard; d != 0 {
		rd.Discard = &Discard{FromIndex: d, Term: r.term}
		r.log.pendingDiscard = 0
	}
	rd.Entries = r.log.unstable()
	rd.Messages, r.msgs = r.msgs, nil
	rd.CommittedEntries = r.log.nextCommitted(r.cfg.MaxApplyEntries)
	r.readyOut = true
	return rd
}

// Advance tells the replica that rd was handled: Entries are durable,
// Messages sent, CommittedEntries applied. A leader now counts its own
// newly durable entries toward commit. It is Accept followed by StableTo
// of rd's last entry, for a caller that writes synchronously.
func (r *Replica) Advance(rd Ready) {
	r.Accept(rd)
	if n := len(rd.Entries); n > 0 {
		r.StableTo(rd.Entries[n-1].Index, rd.Entries[n-1].Term)
	}
}

// Accept tells the replica that rd was taken: its records are queued for
// the disk in order (they may still be being written), the messages that
// need no durability sent and the others held, CommittedEntries applied.
// The replica may be stepped again and the next Ready taken at once; a
// leader counts rd's Entries toward commit only after StableTo. The caller
// must still send rd's acks (MsgAppResp) only once everything queued up to
// and including rd's records is durable — an ack claims the follower's disk.
func (r *Replica) Accept(rd Ready) {
	if !r.readyOut {
		panic(fmt.Sprintf("replica %s: Advance without Ready", r.cfg.ID))
	}
	r.readyOut = false
	r.storageBudget = catchUpBurst
	if rd.HardState != nil {
		r.prevHard = *rd.HardState
	}
	if n := len(rd.Entries); n > 0 {
		r.log.handed = max(r.log.handed, rd.Entries[n-1].Index)
	}
	if n := len(rd.CommittedEntries); n > 0 {
		r.log.applied = max(r.log.applied, rd.CommittedEntries[n-1].Index)
	}
}

// StableTo tells the replica that its entries up to index, the last of
// which has term, are durable (the write of an accepted Ready completed,
// and every write queued before it). It is ignored when the log no longer
// holds that entry (a discard voided it meanwhile: a later write's StableTo
// covers what replaced it). A leader then counts them toward commit.
func (r *Replica) StableTo(index, term uint64) {
	r.assertIdle("StableTo")
	if index <= r.log.stable || index > r.log.handed || !r.log.matchTerm(index, term) {
		return
	}
	r.log.stable = index
	if r.role == Leader && r.maybeCommit() {
		r.bcastAppend()
	}
}

// Compact forgets log entries up to and including index, which must be
// applied and durable (index <= Status().Applied and <= Status().Stable;
// ErrCompact otherwise; an index at or below FirstIndex()-1 is a no-op).
//
// Without Config.Storage the node must have captured them in a durable
// snapshot of its applied state; followers that need them later get
// MsgSnapshotNeeded. With Storage, Storage must serve every index up to
// index from now on (the node's WAL does); followers that need them get
// them in MsgApp read from Storage. A leader may then compact everything
// applied and durable: nothing it must send depends on memory. Keeping a
// slack of recent entries (those a follower's Match in Progress() has not
// reached) only saves disk reads.
func (r *Replica) Compact(index uint64) error {
	r.assertIdle("Compact")
	return r.log.compact(index)
}

// SendSnapshot answers MsgSnapshotNeeded: the leader sends s to follower to.
// s must be of committed state and at or after the leader's log start so
// replication can continue from s.Index+1.
func (r *Replica) SendSnapshot(to string, s Snapshot) error {
	r.assertIdle("SendSnapshot")
	if r.role != Leader {
		return ErrNotLeader
	}
	if r.log.storage != nil {
		return fmt.Errorf("%w: this replica has Storage: followers catch up from the log", ErrBadSnapshot)
	}
	pr, ok := r.prs[to]
	if !ok {
		return fmt.Errorf("%w: unknown follower %q", ErrBadMessage, to)
	}
	if s.Index > r.log.committed || !r.log.matchTerm(s.Index, s.Term) {
		return fmt.Errorf("%w: %s (commit %d, log from %d)", ErrBadSnapshot, s.Describe(), r.log.committed, r.log.firstIndex())
	}
	pr.becomeSnapshot()
	pr.pendingSnap = s.Index
	r.send(Message{Type: MsgSnap, To: to, Snapshot: &s})
	return nil
}

// Status is a read-only summary for the node layer and the ring.
type Status struct {
	ID                              string
	Term                            uint64
	Lead                            string
	Role                            Role
	Commit                          uint64
	FirstIndex, LastIndex, LastTerm uint64
	Stable, Applied                 uint64
	Learner                         bool // Config.Learner / SetLearner
}

// Status returns the replica's current summary. It allocates nothing; the
// per-follower view is Progress.
func (r *Replica) Status() Status {
	return Status{
		ID: r.cfg.ID, Term: r.term, Lead: r.lead, Role: r.role, Commit: r.log.committed,
		FirstIndex: r.log.firstIndex(), LastIndex: r.log.lastIndex(), LastTerm: r.log.lastTerm(),
		Stable: r.log.stable, Applied: r.log.applied, Learner: r.learner,
	}
}

// ProgressStatus is the leader's view of one follower.
type ProgressStatus struct {
	// Match is the highest index known durable on the follower and equal
	// to the leader's entry there.
	Match uint64
	// Next is the next index the leader will send it.
	Next uint64
	// CatchingUp: the follower is far behind and gets bulk batches (with
	// Storage, read from disk when Next is below FirstIndex).
	CatchingUp bool
	// Learner: its last answer said it is a learner; it is replicated to
	// but not counted towards a commit.
	Learner bool
}

// Progress returns, on a leader, each follower's replication state (a map
// the caller owns); nil on a follower. Like Status it may be called while a
// Ready is outstanding. The node may use the lowest Match to keep entries
// followers are about to need in memory; with Storage it need not.
func (r *Replica) Progress() map[string]ProgressStatus {
	if r.role != Leader {
		return nil
	}
	out := make(map[string]ProgressStatus, len(r.prs))
	for id, pr := range r.prs {
		out[id] = ProgressStatus{Match: pr.match, Next: pr.next, CatchingUp: r.catchingUp(pr), Learner: pr.learner}
	}
	return out
}

// LastIndexTerm returns the log's last term and index, which the election
// compares (lastTerm first, then lastIndex) to keep I3.
func (r *Replica) LastIndexTerm() (lastTerm, lastIndex uint64) {
	return r.log.lastTerm(), r.log.lastIndex()
}

// Term returns the term of the entry at index i, if the log holds it (or i
// is the snapshot base). With Config.Storage, indexes below the compaction
// point are read from Storage (false on a failure, recorded in Err).
func (r *Replica) Term(i uint64) (uint64, bool) { return r.log.term(i) }
