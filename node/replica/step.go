package replica

import (
	"fmt"
	"slices"
)

// Step feeds one message received from a peer into the replica.
func (r *Replica) Step(m Message) error {
	r.assertIdle("Step")
	if m.To != r.cfg.ID || m.From == r.cfg.ID || !slices.Contains(r.cfg.Peers, m.From) {
		return fmt.Errorf("%w: %s at %s", ErrBadMessage, m.Describe(), r.cfg.ID)
	}
	if m.Type != MsgApp && m.Type != MsgAppResp && m.Type != MsgSnap {
		return fmt.Errorf("%w: type %s is never stepped", ErrBadMessage, m.Type)
	}
	if err := validate(m); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadMessage, m.Describe(), err)
	}
	switch {
	case m.Term > r.term:
		lead := m.From
		if m.Type == MsgAppResp {
			lead = "" // a peer moved to a newer term: we are stale, leader unknown
		}
		r.becomeFollower(m.Term, lead)
		if m.Type == MsgAppResp {
			return nil
		}
	case m.Term < r.term:
		// Stale sender: refuse, and tell a stale leader our term so it steps
		// down. Stale responses are simply dropped.
		// The refusal carries a real hint about our log: the sender may be
		// re-elected in our term by the time it arrives, and then treats it
		// as an ordinary rejection (regression: a hint of 0 sent it back to
		// index 1, TestStaleRefusalKeepsProgress).
		if m.Type != MsgAppResp {
			r.rejectAppend(m)
		}
		return nil
	}
	switch m.Type {
	case MsgApp:
		r.acceptLeader(m.From)
		r.handleAppend(m)
	case MsgSnap:
		r.acceptLeader(m.From)
		r.handleSnapshot(m)
	case MsgAppResp:
		if r.role == Leader {
			r.handleAppResp(m)
		}
	}
	return nil
}

// validate checks a message's internal consistency, so that a malformed
// (but authenticated) message is an error, not a panic deep in the log.
func validate(m Message) error {
	switch m.Type {
	case MsgSnap:
		if m.Snapshot == nil || m.Snapshot.Term > m.Term {
			return fmt.Errorf("missing snapshot or snapshot term above message term")
		}
	case MsgApp:
		prevT := m.PrevTerm
		for i, e := range m.Entries {
			if e.Index != m.PrevIndex+1+uint64(i) || e.Term < prevT || e.Term > m.Term {
				return fmt.Errorf("entry %d/%d out of sequence", e.Index, e.Term)
			}
			prevT = e.Term
		}
		if m.PrevTerm > m.Term {
			return fmt.Errorf("prev term above message term")
		}
	}
	return nil
}

// acceptLeader records the leader of the current term; two leaders in one
// term is an election bug (I1) and stops the replica loudly.
func (r *Replica) acceptLeader(from string) {
	if r.role == Leader || (r.lead != "" && r.lead != from) {
		panic(fmt.Sprintf("replica %s: %s claims term %d led by %s (I1 broken)", r.cfg.ID, from, r.term, r.lead))
	}
	r.lead = from
}

func (r *Replica) handleAppend(m Message) {
	r.log.truncatedAt = 0
	lastNew, ok := r.log.maybeAppend(m.PrevIndex, m.PrevTerm, m.Commit, m.Entries)
	if c := r.log.truncatedAt; c != 0 {
		r.dropAcksFrom(c)
	}
	if ok {
		r.send(Message{Type: MsgAppResp, To: m.From, Index: lastNew})
		return
	}
	r.rejectAppend(m)
}

// rejectAppend refuses m with a back-off hint: the largest index <= its
// PrevIndex whose term is <= its PrevTerm, and that term.
func (r *Replica) rejectAppend(m Message) {
	prevIndex, prevTerm := m.PrevIndex, m.PrevTerm
	if m.Type == MsgSnap {
		prevIndex, prevTerm = m.Snapshot.Index, m.Snapshot.Term
	}
	hi, ht := r.log.findConflictByTerm(min(prevIndex, r.log.lastIndex()), prevTerm)
	r.send(Message{Type: MsgAppResp, To: m.From, Reject: true, Index: prevIndex, HintIndex: hi, HintTerm: ht})
}

func (r *Replica) handleSnapshot(m Message) {
	s := *m.Snapshot
	switch {
	case s.Index <= r.log.committed:
		r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.committed})
	case r.log.matchTerm(s.Index, s.Term):
		r.log.commitTo(s.Index)
		r.send(Message{Type: MsgAppResp, To: m.From, Index: s.Index})
	default:
		r.log.restore(s)
		r.dropAcksFrom(s.Index + 1)
		r.send(Message{Type: MsgAppResp, To: m.From, Index: s.Index})
	}
}

func (r *Replica) handleAppResp(m Message) {
	pr := r.prs[m.From]
	if m.Reject {
		hint := m.HintIndex
		if m.HintTerm > 0 {
			hint, _ = r.log.findConflictByTerm(m.HintIndex, m.HintTerm)
		}
		if pr.maybeDecrTo(m.Index, hint) {
			r.maybeSendAppend(m.From, false)
		}
		return
	}
	if !pr.maybeUpdate(m.Index) && !(pr.state == stateProbe && pr.match == m.Index) {
		return
	}
	switch pr.state {
	case stateProbe:
		pr.becomeReplicate()
	case stateSnapshot:
		if _, ok := r.log.term(pr.match); ok {
			pr.becomeReplicate()
		}
	}
	if r.maybeCommit() {
		r.bcastAppend()
		return
	}
	r.sendAppends(m.From)
}

// maybeCommit advances the commit index to the highest index durable on a
// majority, but only if that entry is of the current term (Raft §5.4.2,
// I3): counting replicas of older-term entries could commit an entry a
// later leader overwrites. The leader counts itself only up to its own
// durable (stable) index, so a commit never outruns the leader's fsync.
func (r *Replica) maybeCommit() bool {
	ms := append(r.matchBuf[:0], r.log.stable)
	for _, p := range r.cfg.Peers {
		if pr, ok := r.prs[p]; ok {
			ms = append(ms, pr.match)
		}
	}
	r.matchBuf = ms
	slices.Sort(ms)
	q := ms[len(ms)-r.quorum]
	if q <= r.log.committed {
		return false
	}
	if t, _ := r.log.term(q); t != r.term {
		return false
	}
	r.log.commitTo(q)
	return true
}

// bcastAppend streams to every follower (see sendAppends).
func (r *Replica) bcastAppend() {
	for _, to := range r.followers() {
		r.sendAppends(to)
	}
}

// sendAppends fills a follower's pipeline; if nothing new can go but the
// follower could learn a higher commit index (up to its match), it gets an
// empty append carrying it, so followers apply without waiting for a
// heartbeat.
func (r *Replica) sendAppends(to string) {
	pr := r.prs[to]
	sent := false
	for r.maybeSendAppend(to, false) {
		sent = true
	}
	if !sent && pr.state == stateReplicate && pr.sentCommit < min(r.log.committed, pr.match) {
		r.sendCommitOnly(to, pr)
	}
}

// maybeSendAppend sends one MsgApp to a follower if its progress allows;
// force sends an empty one (heartbeat, commit update) when nothing else can
// go. It reports whether entries were sent (callers loop to fill the pipe).
func (r *Replica) maybeSendAppend(to string, force bool) bool {
	pr := r.prs[to]
	if pr.state == stateSnapshot {
		return false
	}
	last := r.log.lastIndex()
	if pr.paused(r.cfg.MaxInflight) || (pr.state == stateReplicate && pr.next > last) {
		if force && pr.state == stateReplicate {
			r.sendCommitOnly(to, pr)
		}
		return false
	}
	prev := pr.next - 1
	prevTerm, ok := r.log.term(prev)
	if !ok {
		r.requestSnapshot(to, pr)
		return false
	}
	var ents []Entry
	if pr.next <= last {
		ents = r.log.slice(pr.next, last+1, r.cfg.MaxBatchEntries, r.cfg.MaxBatchBytes)
	}
	r.send(Message{Type: MsgApp, To: to, PrevIndex: prev, PrevTerm: prevTerm, Entries: ents, Commit: r.log.committed})
	pr.sentCommit = max(pr.sentCommit, min(r.log.committed, prev+uint64(len(ents))))
	if pr.state == stateProbe {
		pr.probeSent = true
		return false
	}
	n := ents[len(ents)-1].Index
	pr.next = n + 1
	pr.inflight = append(pr.inflight, n)
	return true
}

// sendCommitOnly sends an empty append anchored at the follower's match, so
// in-flight batches can never make it fail; the follower commits up to
// min(commit, match).
func (r *Replica) sendCommitOnly(to string, pr *progress) {
	t, ok := r.log.term(pr.match)
	if !ok {
		return
	}
	r.send(Message{Type: MsgApp, To: to, PrevIndex: pr.match, PrevTerm: t, Commit: r.log.committed})
	pr.sentCommit = max(pr.sentCommit, min(r.log.committed, pr.match))
}

// requestSnapshot asks the node layer (via a local MsgSnapshotNeeded) for a
// snapshot to send, because the follower needs compacted entries.
func (r *Replica) requestSnapshot(to string, pr *progress) {
	pr.becomeSnapshot()
	r.send(Message{Type: MsgSnapshotNeeded, To: to, Index: r.log.firstIndex()})
}
