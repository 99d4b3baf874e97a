package ring

import (
	"errors"
	"fmt"
)

// This file: learners (issue 12). A node whose data directory was lost
// restarts with an empty HardState, yet before the loss it may have
// forwarded a token (voted) in some term T, persisted a term above what the
// others know, and acknowledged entries it no longer has. Voting again at
// once could forward a second token in T — two majorities in one term, two
// leaders (I1) — or help elect a leader that lacks an entry committed with
// its lost acknowledgement (I3). So its caller starts it as a learner
// (Config.Learner): it keeps the ring connected and follows leaders, but
// never votes, until the caller promotes it.
//
// A learner:
//   - relays a token it would have accepted as a member to its successor
//     unchanged (relayToken): it records no Vote, does not add itself to
//     Passed and puts no candidacy on it, so no token ever counts it towards
//     a majority and its (lost) log never becomes the best candidacy. It
//     adopts the token's term with no vote, and relays each (term, origin)
//     once;
//   - starts no round (no candidacy, no collision retry) and never leads:
//     an announcement naming it (which only a token of before the loss can
//     produce) is recorded but not followed, and that term is never led;
//   - heartbeats, runs the failure detector, accepts and relays elected
//     announcements and records each term's leader (HardState.Leader), as a
//     member does; its heartbeats say it is a learner (StatusInfo.Learner).

// ErrPromote wraps every refused promotion; nothing changes.
var ErrPromote = errors.New("ring: cannot promote")

// relayToken: a learner passes the token m on to its successor the way a
// member moves a token past a silent member: the same token, with no vote
// and no candidacy added (sendToken), watched until it arrives (relay.go).
func (n *Node) relayToken(m Message) {
	if m.Term > n.hs.Term {
		n.hs = HardState{Term: m.Term} // the term, persisted as usual, with no vote
		if n.leader != "" {
			n.lastLead = n.leader
		}
		n.leader = ""
	}
	n.reason = fmt.Sprintf("learner: relayed %s's token for term %d", m.Origin, m.Term)
	n.relayed.term, n.relayed.origin = m.Term, m.Origin
	n.outTok = nil
	if next := n.nextHop(n.id, m); next != "" {
		n.sendToken(m, next)
	}
}

// PromotionState returns the HardState to Promote this learner with, as far
// as the ring can tell: {Term: T, Vote: L, Leader: L} where T is its current
// term and L the leader of T it learned as a learner (from an announcement
// or a leader's heartbeat). It is ok only if this node heard, within the
// failure timeout, a majority of the configured members other than itself,
// and every member it heard reports a term no higher than T.
//
// Why: before the loss this node may have held a term T' above T. If it
// acknowledged an entry of T', that entry's commit majority holds T' (or
// more) durably, and a majority of the others intersects it, so someone
// heard reports a term above T; promoting into a term below T' would let
// this node acknowledge and vote as if it had never been there (I3). If it
// voted in T', the origin of that token holds T' while its round can still
// win, and reports it when heard; promoting below it could let this node
// vote twice in T' (I1). The leader steps down for a member stuck above its
// term and a new round moves everyone above it, after which ok turns true.
// What the ring cannot see is a term held only by members it does not hear:
// a token of before the loss still travelling whose origin is cut off from
// this node (doc.go, Invariants, names this limit).
//
// It is not ok while this node is not a learner. The caller adds what the
// ring cannot see: the log is caught up (doc.go, Caller's duties).
func (n *Node) PromotionState() (hs HardState, ok bool) {
	if !n.learner || n.hs.Term == 0 || n.hs.Leader == "" {
		return HardState{}, false
	}
	heard := 0
	for _, p := range n.peers {
		if !p.heard || !n.alive(p) {
			continue
		}
		if !p.voter {
			continue // a learner of the membership holds no vote to remember
		}
		if p.term > n.hs.Term {
			return HardState{}, false
		}
		heard++
	}
	if heard < n.majority {
		return HardState{}, false
	}
	return HardState{Term: n.hs.Term, Vote: n.hs.Leader, Leader: n.hs.Leader}, true
}

// Promote ends the learner phase: the node adopts hs, which the caller sets
// to {Term: T, Vote: L, Leader: L} for a term T whose leader L it knows
// (PromotionState), as if it had forwarded L's winning token in T, so it
// can never forward another token in T; then it votes, starts rounds and
// may lead like any member (never T itself, though, if L is this node). hs
// reaches the caller in the next Ready.HardState and, as always, is
// persisted before that Ready's messages are sent, so nothing that depends
// on it leaves this node first.
//
// It refuses (ErrPromote, nothing changes) when this node is not a learner,
// when hs.Term is 0 or below the current term, when hs.Vote or hs.Leader is
// not a member, or when hs contradicts what this node holds for the same
// term (another leader, another vote).
func (n *Node) Promote(hs HardState) error {
	switch {
	case !n.learner:
		return fmt.Errorf("%w: %s is not a learner", ErrPromote, n.id)
	case hs.Term == 0:
		return fmt.Errorf("%w: term 0 has no leader (see PromoteFresh)", ErrPromote)
	case hs.Term < n.hs.Term:
		return fmt.Errorf("%w: term %d is below the current term %d", ErrPromote, hs.Term, n.hs.Term)
	case n.indexOf(hs.Vote) < 0 || n.indexOf(hs.Leader) < 0:
		return fmt.Errorf("%w: vote %q and leader %q must be members", ErrPromote, hs.Vote, hs.Leader)
	case hs.Term == n.hs.Term && n.hs.Leader != "" && n.hs.Leader != hs.Leader:
		return fmt.Errorf("%w: term %d has leader %s, not %s", ErrPromote, hs.Term, n.hs.Leader, hs.Leader)
	case hs.Term == n.hs.Term && n.hs.Vote != "" && n.hs.Vote != hs.Vote:
		return fmt.Errorf("%w: term %d already holds a vote for %s, not %s", ErrPromote, hs.Term, n.hs.Vote, hs.Vote)
	}
	prev := n.hs
	n.endLearner()
	n.hs = hs
	n.reason = fmt.Sprintf("promoted in term %d (leader %s)", hs.Term, hs.Leader)
	if hs.Leader == n.id {
		n.ledTerm = hs.Term // it led T before its data were lost, or was named by a token of then
	}
	if hs.Term > prev.Term || prev.Leader == "" {
		if n.leader != "" {
			n.lastLead = n.leader
		}
		n.leader = ""
		if hs.Leader != n.id {
			n.leader, n.lastLead, n.leaderElapsed = hs.Leader, hs.Leader, 0
		}
	}
	return nil
}

// CanPromoteFresh reports whether PromoteFresh would succeed: this node is
// a learner with an empty log, it heard every other member within the
// failure timeout, and each reports an empty log (no entry, commit 0) and
// no leader. Then no entry was ever acknowledged by anyone that another
// member still holds — this node's lost acknowledgements, if any, were of
// entries nobody has, so nothing committed can be lost by its vote — and
// every term any round ever used is at most the highest term reported,
// since a round's origin persists its term and reports it.
//
// In a brand-new cluster every member reports term 0. It also ends the
// deadlock of a young cluster in which learners outnumber the voters
// before anything was written: no leader can be elected without them,
// and without a leader they could never be promoted.
func (n *Node) CanPromoteFresh() bool {
	if !n.learner {
		return false
	}
	if lt, li := n.cfg.LogPosition(); lt != 0 || li != 0 {
		return false
	}
	for _, p := range n.peers {
		if !p.heard || !n.alive(p) || p.leader != "" ||
			p.status.LastLogIndex != 0 || p.status.CommitIndex != 0 {
			return false
		}
	}
	return true
}

// PromoteFresh ends the learner phase of a node of a cluster that never
// wrote anything (CanPromoteFresh; ErrPromote otherwise). In term 0 it
// simply stops being a learner. Above it, it takes the highest term any
// member reports, T, with a vote for itself: it forwards no token in T
// (it may have voted in T before it lost its data) and votes from T+1 on.
// A token of its own from before the loss may still complete T with it as
// leader, but every log is empty, so nothing can be lost; and since such a
// round holds its own pre-loss vote, no other round of T can also win.
func (n *Node) PromoteFresh() error {
	if !n.CanPromoteFresh() {
		return fmt.Errorf("%w: not a learner with an empty log that hears every member with an empty log and no leader", ErrPromote)
	}
	if t := max(n.hs.Term, n.maxPeerTerm()); t > 0 {
		n.hs = HardState{Term: t, Vote: n.id}
	}
	n.endLearner()
	n.reason = "promoted in a cluster that never wrote anything"
	return nil
}

// endLearner: from now on this node votes. A token it relayed as a learner
// is no longer watched (a resend would carry its vote), and the round timer
// starts as after a restart: a full failure timeout plus its stagger.
func (n *Node) endLearner() {
	n.learner = false
	n.outTok = nil
	n.relayed.term, n.relayed.origin = 0, ""
	n.roundElapsed, n.roundTimeout = 0, n.cfg.FailureTicks+n.stagger(n.lastLead)
}
