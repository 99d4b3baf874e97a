package replica

import (
	"fmt"
	"slices"
)

// Step feeds one message received from a peer into the replica. A message
// it refuses changes nothing: Step returns a *RejectError (wrapping
// ErrBadMessage or ErrRejected) and counts it in Rejected. What a peer can
// never do is make it panic (see doc.go, "Refusing what a peer sends").
//
// With Config.Storage, a failed read returns an error wrapping ErrStorage
// (also in Err) instead of a refusal; once Err is set, Step returns it and
// does nothing.
func (r *Replica) Step(m Message) error {
	r.assertIdle("Step")
	if r.log.err != nil {
		return r.log.err
	}
	e := r.check(m)
	if r.log.err != nil {
		return r.log.err // check read storage and failed: nothing changed
	}
	if e != nil {
		if r.rejected == nil {
			r.rejected = make(map[string]int)
		}
		r.rejected[e.Reason]++
		return e
	}
	switch {
	case m.Term > r.term && m.Type == MsgAppResp:
		// A peer at a newer term refused us. The term is not ours to take:
		// terms are the ring's, and the peer's may be a candidacy nobody
		// adopted (the ring's pre-vote gate refused it). Moving to it would
		// leave this node's ring leading a term its replica can no longer
		// lead, with nothing to bring the two together (node simulation
		// seed 27062). Our appends are refused by that peer until the ring
		// settles it (a leader steps down for a member stuck at a higher
		// term; a leader elected in a newer term reaches us by the ring).
		return nil
	case m.Term > r.term:
		r.becomeFollower(m.Term, m.From)
	case m.Term < r.term:
		// Stale sender: refuse, with our term (a stale leader's replica does
		// not take it, see above; its ring moves it). Stale responses are
		// simply dropped.
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

// Rejected returns how many messages Step refused, by reason (the Reject*
// constants; absent reasons are zero). The map is a copy the caller owns.
// Like Status, it may be called while a Ready is outstanding.
func (r *Replica) Rejected() map[string]int {
	out := make(map[string]int, len(r.rejected))
	for k, v := range r.rejected {
		out[k] = v
	}
	return out
}

// check decides, without changing anything, whether Step may act on m. It
// runs every test that depends on what the sender wrote, so that past it
// nothing a peer sends can reach a panic (they all assert this node's own
// invariants) or change state and then fail. Stale messages (term below
// ours) pass: Step refuses or drops them as the protocol says.
func (r *Replica) check(m Message) *RejectError {
	rej := func(kind error, reason, detail string) *RejectError {
		return &RejectError{Peer: m.From, Reason: reason, Msg: m.Describe(), Detail: detail, kind: kind}
	}
	switch {
	case m.To != r.cfg.ID:
		return rej(ErrBadMessage, RejectNotForUs, "stepped into "+r.cfg.ID)
	case m.From == r.cfg.ID:
		return rej(ErrBadMessage, RejectNotForUs, "sent under our own id")
	case m.Type == MsgAppResp && !slices.Contains(r.cfg.Peers, m.From):
		// A leader tracks its members only. Appends are taken from any
		// node (the peer transport authenticates it): a follower's
		// membership may lag its leader's (membership.go).
		return rej(ErrBadMessage, RejectNotForUs, "sender is not a member")
	}
	if m.Type != MsgApp && m.Type != MsgAppResp && m.Type != MsgSnap {
		return rej(ErrBadMessage, RejectType, fmt.Sprintf("type %s is never stepped", m.Type))
	}
	if err := validate(m); err != nil {
		return rej(ErrBadMessage, RejectMalformed, err.Error())
	}
	if m.Term < r.term {
		return nil
	}
	switch m.Type {
	case MsgApp, MsgSnap:
		// A newer term has no leader in this replica yet: its sender will be.
		if m.Term == r.term && (r.role == Leader || (r.lead != "" && r.lead != m.From)) {
			return rej(ErrRejected, RejectSecondLeader, fmt.Sprintf("term %d is led by %s (I1)", r.term, r.lead))
		}
		var err error
		if m.Type == MsgApp {
			err = r.log.checkAppend(m.PrevIndex, m.PrevTerm, m.Entries)
		} else {
			err = r.log.checkSnapshot(*m.Snapshot)
		}
		if err == nil && m.Type == MsgSnap && r.log.storage != nil && m.Snapshot.Index > r.log.committed && !r.log.matchTerm(m.Snapshot.Index, m.Snapshot.Term) {
			// Installing it would leave a gap Storage cannot fill.
			return rej(ErrRejected, RejectSnapshotUnsupported, "this replica has Storage and catches up from the log only")
		}
		if err != nil {
			return rej(ErrRejected, RejectCommitConflict, err.Error())
		}
	case MsgAppResp:
		// A correct follower acks only what this leader sent it in this
		// term, and a leader's log never shrinks while it leads.
		if m.Term == r.term && r.role == Leader && !m.Reject && m.Index > r.log.lastIndex() {
			return rej(ErrRejected, RejectAckBeyondLog, fmt.Sprintf("ack of %d, our last index is %d", m.Index, r.log.lastIndex()))
		}
	}
	return nil
}

// maxIndex bounds every index a message may carry. No log comes near it;
// anything above it is garbage, and refusing it keeps index arithmetic
// (index+1, prevIndex+len(entries)) from overflowing.
const maxIndex = 1 << 62

// validate checks a message's internal consistency, independent of the
// replica's state, so that a malformed (but authenticated) message is an
// error, not a panic deep in the log.
func validate(m Message) error {
	switch m.Type {
	case MsgSnap:
		switch s := m.Snapshot; {
		case s == nil:
			return fmt.Errorf("missing snapshot")
		case s.Term > m.Term:
			return fmt.Errorf("snapshot term %d above message term", s.Term)
		case s.Index > maxIndex:
			return fmt.Errorf("snapshot index %d beyond any log", s.Index)
		case s.Index == 0 && s.Term != 0:
			return fmt.Errorf("snapshot at index 0 with term %d", s.Term)
		}
	case MsgApp:
		if m.PrevIndex > maxIndex-uint64(len(m.Entries)) {
			return fmt.Errorf("entries up to %d+%d beyond any log", m.PrevIndex, len(m.Entries))
		}
		if m.PrevTerm > m.Term {
			return fmt.Errorf("prev term above message term")
		}
		if m.PrevIndex == 0 && m.PrevTerm != 0 {
			return fmt.Errorf("prev index 0 with term %d", m.PrevTerm)
		}
		prevT := m.PrevTerm
		for i, e := range m.Entries {
			if e.Index != m.PrevIndex+1+uint64(i) || e.Term < prevT || e.Term > m.Term {
				return fmt.Errorf("entry %d/%d out of sequence", e.Index, e.Term)
			}
			prevT = e.Term
		}
	case MsgAppResp:
		if m.Index > maxIndex {
			return fmt.Errorf("index %d beyond any log", m.Index)
		}
		if m.Reject && (m.HintIndex > m.Index || m.HintTerm > m.Term) {
			return fmt.Errorf("hint %d/%d above the rejected index or the message term", m.HintIndex, m.HintTerm)
		}
	}
	return nil
}

// acceptLeader records the leader of the current term. check refused any
// second leader of the term (I1) before Step got here.
func (r *Replica) acceptLeader(from string) {
	if r.role == Leader || (r.lead != "" && r.lead != from) {
		panic(fmt.Sprintf("replica %s: %s leads term %d, led by %s (not caught by check: a bug here)", r.cfg.ID, from, r.term, r.lead))
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
	if r.log.err != nil {
		return // the hint came from a failed read: send nothing
	}
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

// handleAppResp takes a follower's answer of the current term. Whether the
// follower is a learner comes from the answer itself (Message.Learner),
// never from elsewhere: the leader may not have heard of its data loss in
// any other way. A learner's progress is tracked as any follower's, so it
// keeps being replicated to, but maybeCommit does not count it; once its
// answers say it was promoted, it counts again at once.
func (r *Replica) handleAppResp(m Message) {
	pr := r.prs[m.From]
	promoted := pr.learner && !m.Learner
	pr.learner = m.Learner
	if m.Reject {
		r.handleRefusal(m, pr)
	} else if r.handleAck(m, pr) {
		return // counted and broadcast already
	}
	if promoted && r.maybeCommit() {
		r.bcastAppend()
	}
}

// handleRefusal backs off after a rejected append (fast back-off by hint),
// or regresses a follower whose log ends below its match.
func (r *Replica) handleRefusal(m Message, pr *progress) {
	// The hint is at most the rejected index (validate); a refusal of
	// an append this leader sent before a crash may still name an
	// index beyond its (shorter) log: never probe past our end.
	hint := min(m.HintIndex, r.log.lastIndex())
	known := uint64(0) // an index the refusal proves the follower holds
	if m.HintTerm > 0 {
		var ht uint64
		hint, ht = r.log.findConflictByTerm(hint, m.HintTerm)
		if r.log.err != nil {
			return
		}
		if hint == m.HintIndex && ht == m.HintTerm {
			known = hint
		}
	}
	if hint < pr.match {
		// The follower's log ends below what we think it matched: it
		// lost entries it acknowledged (its data directory was
		// replaced and it restarted empty), or this is an old refusal
		// that overtook newer acks. A follower that still holds our
		// entry at match always hints at or above it, so ignoring
		// this as stale would stall it forever. Regress and probe
		// from the hint; in the second case that is merely a resend.
		// match drops to what the refusal proves the follower holds:
		// the hint entry, if it is ours (same index and term: by log
		// matching the whole prefix; the refusal left after the
		// follower's fsync), else nothing. Lowering match never
		// lowers the commit index, only makes counting more
		// conservative.
		pr.regress(known, hint+1)
		r.maybeSendAppend(m.From, false)
		return
	}
	if pr.maybeDecrTo(m.Index, hint) {
		r.maybeSendAppend(m.From, false)
	}
}

// handleAck records an accepted append; it reports whether it ran
// maybeCommit (on progress).
func (r *Replica) handleAck(m Message, pr *progress) bool {
	if !pr.maybeUpdate(m.Index) && !(pr.state == stateProbe && pr.match == m.Index) {
		return false
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
		return true
	}
	r.sendAppends(m.From)
	return true
}

// maybeCommit advances the commit index to the highest index durable on a
// majority, but only if that entry is of the current term (Raft §5.4.2,
// I3): counting replicas of older-term entries could commit an entry a
// later leader overwrites. The leader counts itself only up to its own
// durable (stable) index, so a commit never outruns the leader's fsync.
// A learner (as its last answer said) counts as holding nothing: it may
// have acknowledged, before it lost its data, entries it no longer holds,
// and the quorum stays a majority of all voters. Learners of the
// membership are not voters (membership.go).
func (r *Replica) maybeCommit() bool {
	ms := r.matchBuf[:0]
	if !r.nonVoters[r.cfg.ID] {
		ms = append(ms, r.log.stable)
	}
	for _, p := range r.cfg.Peers {
		if r.nonVoters[p] {
			continue // a learner of the membership (membership.go)
		}
		if pr, ok := r.prs[p]; ok {
			if pr.learner {
				ms = append(ms, 0)
			} else {
				ms = append(ms, pr.match)
			}
		}
	}
	r.matchBuf = ms
	slices.Sort(ms)
	if len(ms) < r.quorum {
		return false
	}
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

// catchUpBurst bounds how many batches read from Storage go out between
// two Advances (one pass of the node's driver: its Steps, then one Ready):
// Storage reads run inside Step, and the driver reads nothing else, sends
// no heartbeat and takes no proposal while they run. Filling a far-behind
// follower's whole window of CatchUpInflight batches at once, or a batch
// per ack when many acks arrive together, held everything up for all
// those reads. Acks and ticks send the next ones, so the window still
// fills, a burst per pass.
const catchUpBurst = 2

// readsStorage reports whether a follower's next batch comes from Storage.
func (r *Replica) readsStorage(pr *progress) bool {
	return r.log.storage != nil && pr.next < r.log.firstIndex()
}

// maybeSendAppend sends one MsgApp to a follower if its progress allows;
// force sends an empty one (heartbeat, commit update) when nothing else can
// go. It reports whether entries were sent (callers loop to fill the pipe).
// A follower that is catching up (see catchingUp) gets bulk batches.
func (r *Replica) maybeSendAppend(to string, force bool) bool {
	pr := r.prs[to]
	if pr.state == stateSnapshot || r.log.err != nil {
		return false
	}
	last := r.log.lastIndex()
	bulk := r.catchingUp(pr)
	fromStorage := r.readsStorage(pr)
	if pr.paused(r.inflightCap(bulk)) || (pr.state == stateReplicate && pr.next > last) ||
		(fromStorage && r.storageBudget <= 0) {
		if force && pr.state == stateReplicate {
			r.sendCommitOnly(to, pr)
		}
		return false
	}
	prev := pr.next - 1
	prevTerm, ok := r.log.term(prev)
	if r.log.err != nil {
		return false // storage failed: nothing built from it leaves
	}
	if !ok {
		r.requestSnapshot(to, pr)
		return false
	}
	var ents []Entry
	if pr.next <= last {
		maxN, maxB := r.cfg.MaxBatchEntries, r.cfg.MaxBatchBytes
		if bulk {
			maxN, maxB = r.cfg.CatchUpBatchEntries, r.cfg.CatchUpBatchBytes
		}
		if ents, ok = r.log.entries(pr.next, last+1, prevTerm, maxN, maxB); !ok {
			return false
		}
		if !bulk && !fromStorage && r.smallHeld(pr, len(ents), last) {
			if force {
				r.sendCommitOnly(to, pr)
			}
			return false
		}
		if fromStorage {
			r.storageBudget--
		}
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

// smallHeld reports whether a batch of n entries to a follower waits for
// the next ack (Config.SmallBatchInflight): it holds everything the
// follower lacks and is not full, and SmallBatchInflight batches are
// unacknowledged already. Entries held are sent by the ack that frees a
// slot (handleAck), or by a re-probe if acks stop (RetransmitTicks).
func (r *Replica) smallHeld(pr *progress, n int, last uint64) bool {
	return pr.state == stateReplicate && len(pr.inflight) >= r.cfg.SmallBatchInflight &&
		n < r.cfg.MaxBatchEntries && uint64(n) == last+1-pr.next
}

// catchingUp reports whether a follower is far behind: its next entry is at
// or below the compaction point (with Storage: read from disk), or it is
// more than a full window of ordinary batches behind the leader's last
// index. Such a follower gets bulk batches (CatchUpBatchEntries,
// CatchUpBatchBytes, at most CatchUpInflight in flight): a few large
// sequential reads instead of one MsgApp per MaxBatchEntries entries. Once
// within a window of the end it gets ordinary batches again, so the bytes
// in flight to it stay below CatchUpInflight*CatchUpBatchBytes plus one
// ordinary window.
func (r *Replica) catchingUp(pr *progress) bool {
	return pr.next <= r.log.snapIndex ||
		r.log.lastIndex() >= pr.next+uint64(r.cfg.MaxBatchEntries)*uint64(r.cfg.MaxInflight)
}

func (r *Replica) inflightCap(bulk bool) int {
	if bulk {
		return r.cfg.CatchUpInflight
	}
	return r.cfg.MaxInflight
}

// sendCommitOnly sends an empty append anchored at the follower's match, so
// in-flight batches can never make it fail; the follower commits up to
// min(commit, match).
func (r *Replica) sendCommitOnly(to string, pr *progress) {
	t, ok := r.log.term(pr.match)
	if !ok || r.log.err != nil {
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
