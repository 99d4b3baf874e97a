package replica

import (
	"fmt"
	"slices"
)

// Replica is the replication state machine of one member. It is not safe
// for concurrent use; the node's driver loop owns it.
type Replica struct {
	cfg    Config
	quorum int

	term uint64
	lead string
	role Role
	log  *memLog

	learner bool // Config.Learner until SetLearner: our answers say Learner
	// nonVoters: members that do not vote (learners of the membership,
	// membership.go); quorum is a majority of the others.
	nonVoters map[string]bool

	prs          map[string]*progress // leader only: one per follower
	hbElapsed    int
	pendingBcast bool     // leader: new entries to stream at the next Ready
	matchBuf     []uint64 // scratch for commit computation

	msgs     []Message
	prevHard HardState
	prevSoft SoftState
	readyOut bool // a Ready was returned and not yet Advanced
	// storageBudget is how many more batches read from Storage may go out
	// before the next Advance (catchUpBurst).
	storageBudget int

	rejected map[string]int // refused messages by reason (see Rejected)
}

// New builds a replica from its config and the state recovered from disk.
// It starts as a follower of its persisted term with no known leader.
func New(cfg Config, st State) (*Replica, error) {
	cfg = cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l, err := newMemLog(st, cfg.Storage)
	if err != nil {
		return nil, fmt.Errorf("replica %s: %w", cfg.ID, err)
	}
	if cfg.Storage != nil && l.snapIndex > 0 {
		// The compaction point must be where Storage ends: one read
		// catches a restart from the wrong (index, term).
		if t, err := cfg.Storage.Term(l.snapIndex); err != nil || t != l.snapTerm {
			return nil, fmt.Errorf("replica %s: restart point %d/%d, Storage has term %d there (%v)", cfg.ID, l.snapIndex, l.snapTerm, t, err)
		}
	}
	if lt := l.lastTerm(); lt > st.HardState.Term {
		return nil, fmt.Errorf("replica %s: recovered term %d below last log term %d", cfg.ID, st.HardState.Term, lt)
	}
	r := &Replica{cfg: cfg, quorum: len(cfg.Peers)/2 + 1, term: st.HardState.Term, log: l, learner: cfg.Learner,
		storageBudget: catchUpBurst}
	r.cfg.Peers = slices.Clone(cfg.Peers)
	r.prevHard = HardState{Term: r.term, Commit: l.committed}
	r.prevSoft = r.softState()
	return r, nil
}

// Err returns the first failure of Config.Storage (wrapping ErrStorage), or
// nil. It is sticky: the replica sent nothing built from the failed read,
// and from then on Step and Propose return it and Tick does nothing; Ready
// and Advance still work, so the node can persist what is pending, and must
// then stop.
func (r *Replica) Err() error { return r.log.err }

// FirstIndex returns the first index held in memory (the compaction point
// plus one). With Config.Storage, entries below it are read from Storage.
func (r *Replica) FirstIndex() uint64 { return r.log.firstIndex() }

func (r *Replica) softState() SoftState { return SoftState{Term: r.term, Lead: r.lead, Role: r.role} }

func (r *Replica) assertIdle(op string) {
	if r.readyOut {
		panic(fmt.Sprintf("replica %s: %s while a Ready is outstanding (call Advance first)", r.cfg.ID, op))
	}
}

// BecomeLeader makes this replica the leader of term, as decided by the
// election (which guarantees one leader per term and an up-to-date log).
// It appends the term's no-op and starts replicating.
func (r *Replica) BecomeLeader(term uint64) error {
	r.assertIdle("BecomeLeader")
	switch {
	case r.learner:
		return fmt.Errorf("%w: %s, BecomeLeader(%d)", ErrLearner, r.cfg.ID, term)
	case term < r.term:
		return fmt.Errorf("%w: BecomeLeader(%d) at term %d", ErrStaleTerm, term, r.term)
	case term == r.term && r.role == Leader:
		return nil
	case term == r.term && r.lead != "" && r.lead != r.cfg.ID:
		return fmt.Errorf("replica %s: BecomeLeader(%d) but %s leads that term (I1)", r.cfg.ID, term, r.lead)
	}
	r.term, r.role, r.lead = term, Leader, r.cfg.ID
	r.prs = make(map[string]*progress, len(r.cfg.Peers)-1)
	for _, p := range r.cfg.Peers {
		if p != r.cfg.ID {
			r.prs[p] = &progress{next: r.log.lastIndex() + 1, inflight: make([]uint64, 0, r.cfg.MaxInflight)}
		}
	}
	r.hbElapsed = 0
	r.log.append(Entry{Index: r.log.lastIndex() + 1, Term: term, Type: EntryNoop})
	r.pendingBcast = true
	return nil
}

// SetLearner makes this replica a learner (true) or a voting member
// (false, the promotion): every MsgAppResp it sends from now on says so in
// Message.Learner, and leaders count its acks towards a commit only when
// they say false. Answers still queued when it becomes a learner are marked
// too; those queued when it is promoted still say learner (harmless: the
// next ones count). The node promotes it once the ring's promotion is
// durable. A leader cannot become a learner (it panics: only the node
// decides this, at start).
func (r *Replica) SetLearner(learner bool) {
	r.assertIdle("SetLearner")
	if learner && r.role == Leader {
		panic(fmt.Sprintf("replica %s: SetLearner(true) while leading term %d", r.cfg.ID, r.term))
	}
	r.learner = learner
	if learner {
		for i := range r.msgs {
			if r.msgs[i].Type == MsgAppResp {
				r.msgs[i].Learner = true
			}
		}
	}
}

// BecomeFollower makes this replica a follower in term; lead may be "" when
// the leader is not known yet (it is learnt from the first MsgApp).
func (r *Replica) BecomeFollower(term uint64, lead string) error {
	r.assertIdle("BecomeFollower")
	if term < r.term {
		return fmt.Errorf("%w: BecomeFollower(%d) at term %d", ErrStaleTerm, term, r.term)
	}
	if term == r.term && lead != "" && r.lead != "" && lead != r.lead {
		return fmt.Errorf("replica %s: BecomeFollower(%d, %s) but %s leads that term (I1)", r.cfg.ID, term, lead, r.lead)
	}
	if lead == r.cfg.ID {
		return fmt.Errorf("replica %s: BecomeFollower with itself as leader", r.cfg.ID)
	}
	r.becomeFollower(term, lead)
	return nil
}

// becomeFollower also drops every queued message of an older term: once this
// node has moved to a term (for instance because it passed an election token
// for it), no acknowledgement it made to a leader of an older term may leave
// it, or that leader could count it toward a commit the new term's winner
// does not hold (the I3 contract in ring/doc.go).
func (r *Replica) becomeFollower(term uint64, lead string) {
	if term > r.term {
		r.msgs = slices.DeleteFunc(r.msgs, func(m Message) bool { return m.Term < term })
	}
	r.term, r.role, r.lead = term, Follower, lead
	r.prs, r.pendingBcast = nil, false
}

// Tick advances logical time by one tick. Followers do nothing (failure
// detection belongs to the ring); a leader sends heartbeats and
// retransmits to followers whose acks stalled.
func (r *Replica) Tick() {
	r.assertIdle("Tick")
	if r.role != Leader || r.log.err != nil {
		return
	}
	for _, to := range r.followers() {
		r.tickProgress(to, r.prs[to])
	}
	for _, to := range r.followers() {
		if pr := r.prs[to]; r.readsStorage(pr) && !pr.paused(r.inflightCap(true)) {
			r.sendAppends(to) // a window that acks alone did not refill
		}
	}
	r.hbElapsed++
	if r.hbElapsed < r.cfg.HeartbeatTicks {
		return
	}
	r.hbElapsed = 0
	for _, to := range r.followers() {
		pr := r.prs[to]
		pr.probeSent = false
		r.maybeSendAppend(to, true)
	}
}

func (r *Replica) tickProgress(to string, pr *progress) {
	switch {
	case pr.state == stateReplicate && len(pr.inflight) > 0:
		pr.idleTicks++
		if pr.idleTicks >= r.cfg.RetransmitTicks {
			// Acks were lost (or the follower restarted). Probe optimistically
			// at our last index: the reject hint then points at the follower's
			// real end, instead of re-walking from match one batch per round trip.
			pr.becomeProbe()
			pr.next = r.log.lastIndex() + 1
		}
	case pr.state == stateSnapshot:
		pr.idleTicks++
		if pr.idleTicks >= r.cfg.SnapshotRetryTicks {
			pr.becomeProbe() // will ask the node for a snapshot again if still needed
		}
	}
}

// followers returns the other members in config order (deterministic).
func (r *Replica) followers() []string {
	out := make([]string, 0, len(r.cfg.Peers)-1)
	for _, p := range r.cfg.Peers {
		if p != r.cfg.ID {
			out = append(out, p)
		}
	}
	return out
}

// Propose appends data to the leader's log and returns the entry's index and
// term. The proposal committed iff a CommittedEntries entry later has this
// index and term; it failed iff an entry with this index and another term
// is committed (see doc.go).
func (r *Replica) Propose(data []byte) (index, term uint64, err error) {
	r.assertIdle("Propose")
	if r.log.err != nil {
		return 0, 0, r.log.err
	}
	if r.role != Leader {
		return 0, 0, ErrNotLeader
	}
	if len(data) > r.cfg.MaxEntryBytes {
		return 0, 0, fmt.Errorf("%w: %d > %d bytes", ErrEntryTooLarge, len(data), r.cfg.MaxEntryBytes)
	}
	if r.log.lastIndex()-r.log.committed >= uint64(r.cfg.MaxUncommittedEntries) {
		return 0, 0, ErrBusy
	}
	e := Entry{Index: r.log.lastIndex() + 1, Term: r.term, Type: EntryNormal, Data: data}
	r.log.append(e)
	r.pendingBcast = true
	return e.Index, e.Term, nil
}

// send queues m with our id and term filled in.
func (r *Replica) send(m Message) {
	m.From, m.Term = r.cfg.ID, r.term
	if m.Type == MsgAppResp {
		m.Learner = r.learner
	}
	r.msgs = append(r.msgs, m)
}

// dropAcksFrom removes queued accepts claiming entries >= i, which a
// discard just voided (an ack must never outrun what is on disk).
func (r *Replica) dropAcksFrom(i uint64) {
	r.msgs = slices.DeleteFunc(r.msgs, func(m Message) bool {
		return m.Type == MsgAppResp && !m.Reject && m.Index >= i
	})
}
