package ring

import (
	"fmt"
	"slices"
)

// This file: membership that changes (issue 13). The caller keeps the ring's
// membership equal to the latest membership in its log, committed or not
// (SetMembers after every append or truncation that changes it), as Raft's
// single-server changes do (docs/ARCHITECTURE.md, "Membership through the
// log"). Two things follow here:
//
//   - Majorities are of the voting members; learners of the membership
//     (Member.Learner) are on the ring and relay tokens like learners whose
//     data were lost (learner.go), but never vote.
//   - A round is won against the membership of its winner. The token
//     carries the best candidacy's membership (Candidate.Conf) and its
//     voters (Message.BestVoters), and the origin counts Passed against
//     those voters, exactly as a Raft candidate counts votes against the
//     latest configuration in its own log. The caller's rules on proposing changes (one voter at a time, the
//     next only once the previous one and the leader's own no-op are
//     committed) make any two memberships a winner can hold differ by at
//     most one voter, so their majorities intersect, and one member forwards
//     one token per term (I1). A winner always holds the latest committed
//     membership (it holds every committed entry, I3).

// ConfID names the log entry that holds a membership: its (index, term).
// Two logs that hold an entry with the same index and term agree up to it
// (I2), so equal ConfIDs mean equal memberships. The zero ConfID is the
// configured membership that the log starts from.
type ConfID struct {
	Index, Term uint64
}

// SetMembers replaces the membership with ms, the latest membership in the
// caller's log, held by the entry conf. The caller calls it before it steps
// anything else once its log holds another latest membership (an appended
// membership entry, or one truncated away). ms must hold this node (a
// removed node is given itself as a learner until its caller stops it).
//
// What is known about members that stay is kept; a new member is assumed
// alive for a failure timeout, as at start. A removed member's messages are
// refused from now on (ErrUnknownSender). If this node becomes a voter, it
// starts voting now: as a learner of the membership it never forwarded a
// token with its vote, so it cannot vote twice in a term.
func (n *Node) SetMembers(ms []Member, conf ConfID) error {
	sorted, err := sortedMembers(n.id, ms)
	if err != nil {
		return err
	}
	wasLearner := n.isLearner()
	n.setMembers(sorted, conf)
	switch {
	case wasLearner && !n.isLearner():
		n.endLearner()
		n.reason = fmt.Sprintf("promoted to voter by the membership at %d/%d", conf.Index, conf.Term)
	case !wasLearner && n.isLearner():
		if n.role == RoleLeader || n.role == RoleCandidate {
			n.leader, n.role = "", RoleFollower
		}
		n.outTok = nil
		n.reason = fmt.Sprintf("not a voter in the membership at %d/%d", conf.Index, conf.Term)
	}
	if n.outTok != nil && n.peers[n.outTok.to] == nil {
		n.outTok = nil
	}
	if n.outEl != nil && n.peers[n.outEl.to] == nil {
		n.outEl = nil
	}
	return nil
}

// setMembers installs ms (sorted, checked) and recounts the majority.
func (n *Node) setMembers(ms []Member, conf ConfID) {
	n.members, n.conf = ms, conf
	voters := 0
	keep := make(map[string]bool, len(ms))
	for _, m := range ms {
		if !m.Learner {
			voters++
		}
		if m.ID == n.id {
			n.nonVoter = m.Learner
			continue
		}
		keep[m.ID] = true
		p := n.peers[m.ID]
		if p == nil {
			p = &peer{id: m.ID, lastHeard: n.now, higherSince: -1}
			n.peers[m.ID] = p
		}
		p.ring, p.voter = m.Ring, !m.Learner
	}
	for id := range n.peers {
		if !keep[id] {
			delete(n.peers, id)
		}
	}
	for id := range n.strangers {
		if keep[id] || id == n.id {
			delete(n.strangers, id)
		}
	}
	n.voters, n.majority = voters, voters/2+1
}

// Conf returns the entry the current membership came from.
func (n *Node) Conf() ConfID { return n.conf }

// NonVoter reports whether this node is a learner of the current
// membership (Member.Learner).
func (n *Node) NonVoter() bool { return n.nonVoter }

// isLearner: this node does not vote, because its data were lost (learner),
// because the membership says so (nonVoter), or while it hands over
// (HandOver).
func (n *Node) isLearner() bool { return n.learner || n.nonVoter || n.now < n.handOverUntil }

// handOverFailures: failure timeouts a node that hands over keeps out of
// elections at most, time for the others to elect one of them. It ends
// earlier, as soon as this node hears of a leader of a later term
// (acceptLeader): from then on its vote is the others' fault tolerance
// while the change that asked for the hand-over commits.
const handOverFailures = 10

// HandOver makes this node give up its leadership, if it leads, and take
// part in elections only as a learner does until another node leads (at
// most handOverFailures failure timeouts): it relays tokens, never votes,
// never starts a round, never leads; so one of the others is elected. Once
// one is, this node votes again — should the new leader fail before the
// change commits, this node may be elected again, refuse the change again
// and hand over again, which costs an election, not liveness. The caller uses it before the
// membership change that removes this node (a leader is never removed
// while it leads). Safe at any time: a node that votes less can only make
// elections slower, never elect two leaders (I1), and its candidacy is on
// no token, so no winner's completeness depends on it (I3).
func (n *Node) HandOver() {
	n.handOverUntil = n.now + int64(handOverFailures*n.cfg.FailureTicks)
	n.handingOver, n.handOverTerm = true, n.hs.Term
	n.outTok = nil
	if n.role == RoleLeader {
		n.stepDown("handing over leadership")
	} else if n.role == RoleCandidate {
		n.role = RoleFollower
	}
}

// HandOverTicks returns how many ticks this node's hand-over (HandOver)
// still lasts, 0 if it hands over no more. Until then it does not vote,
// so the others elect without it (the cluster simulation's liveness check
// counts on it).
func (n *Node) HandOverTicks() int64 { return max(0, n.handOverUntil-n.now) }

// tickHandOver ends a hand-over whose time is up: the node votes again.
func (n *Node) tickHandOver() {
	if n.handingOver && n.now >= n.handOverUntil {
		n.handingOver = false
		if !n.isLearner() {
			n.endLearner()
			n.reason = "hand-over over: votes again"
		}
	}
}

// voterIDs lists the voting members of this node's membership, in ring order.
func (n *Node) voterIDs() []string {
	out := make([]string, 0, n.voters)
	for _, m := range n.members {
		if !m.Learner {
			out = append(out, m.ID)
		}
	}
	return out
}

// bestVoters is what goes on a token beside this node's candidacy: the
// voters of its membership, none for the configured one (membership.go).
func (n *Node) bestVoters() []string {
	if n.conf == (ConfID{}) {
		return nil
	}
	return n.voterIDs()
}

// countIDs counts the ids of set that are in ids.
func countIDs(ids, set []string) int {
	c := 0
	for _, id := range set {
		if slices.Contains(ids, id) {
			c++
		}
	}
	return c
}

// noteStranger: a heartbeat from a sender outside this node's membership.
// Its content is not stepped, but the sender gets this node's heartbeats
// while it keeps sending (liveStrangers). Why: memberships differ while a
// change travels, and one entry that never commits may leave a node
// holding a membership without the leader that the others elected. Such
// a node refuses the leader's messages; if it also sent the leader
// nothing, the leader could never see that it is stuck in a higher term
// (tickLeader) and start the round that brings it back, and its log
// would never be replaced. Raft servers likewise answer any leader.
func (n *Node) noteStranger(id string) {
	if id == "" || id == n.id || len(id) > MaxIDLen {
		return
	}
	if n.strangers == nil {
		n.strangers = map[string]int64{}
	}
	if _, ok := n.strangers[id]; !ok && len(n.strangers) >= MaxMembers {
		return
	}
	n.strangers[id] = n.now
}

// liveStrangers lists, sorted, the strangers heard within the failure
// timeout, and forgets those silent longer.
func (n *Node) liveStrangers() []string {
	var out []string
	for id, at := range n.strangers {
		if n.now-at < int64(n.cfg.FailureTicks) {
			out = append(out, id)
		} else {
			delete(n.strangers, id)
		}
	}
	slices.Sort(out)
	return out
}
