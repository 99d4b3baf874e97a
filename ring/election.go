package ring

import (
	"fmt"
	"slices"
)

// This file: LCR election with terms and a majority. See docs/ARCHITECTURE.md, "Leader election".

func (n *Node) tickLeader() {
	if !n.hearsMajority() {
		n.stepDown(fmt.Sprintf("lost quorum: hears %d of %d", n.heardCount()+1, n.voters))
		return
	}
	for _, p := range n.peers {
		if p.higherSince >= 0 && p.term > n.hs.Term && n.linked(p) && n.now-p.higherSince >= int64(n.cfg.FailureTicks) {
			// p is stuck in a term nobody else adopted (it lost contact with
			// us but not with a majority). Only a round above its term can
			// bring it back, and only the leader may start that one. Not
			// while p cannot hear us (it is not linked): the round could not
			// reach it, and stepping down for it would let a deaf member
			// stop the majority; once it hears us again, this fires. A
			// learner counts like a member: it too drops tokens below its
			// term, so it too would break every round through it.
			n.stepDown(fmt.Sprintf("member %s stuck at term %d", p.id, p.term))
			n.startRound()
			return
		}
	}
}

func (n *Node) tickElection() {
	n.leaderElapsed++
	if n.leader != "" && n.leaderElapsed >= n.cfg.FailureTicks {
		n.loseLeader(fmt.Sprintf("leader %s silent for %d ticks", n.leader, n.leaderElapsed))
	}
	if n.leader != "" || n.isLearner() {
		return // a learner never starts a round (learner.go)
	}
	// The round timer runs only while the pre-vote gate is open, so the
	// stagger order holds from the moment a majority is known leaderless.
	if !n.majorityLeaderless() {
		return
	}
	n.roundElapsed++
	if n.roundElapsed >= n.roundTimeout {
		n.startRound()
	}
}

// majorityLeaderless is the pre-vote check on the originator's side: start a
// round only if this node and enough live peers to make a majority report no
// leader in their latest heartbeats. A peer that still follows a leader would
// drop the token anyway, so a node that merely lost contact (or rejoins
// after a partition) waits instead of bumping terms (I7, no disruption).
//
// Only fresh reports of linked peers count. Linked (they hear this node
// too, detector.go): a round needs a majority that can pass a token, and a
// member that cannot hear anyone reports no leader for good. Fresh (at most
// two heartbeat intervals old): a node that has just become deaf keeps its
// peers' last reports for a failure timeout, and those predate the leader
// it can no longer hear; starting a round on them would disrupt it.
//
// Learners do not count (their heartbeats say so, StatusInfo.Learner): the
// gate asks whether a majority would pass a token, and a learner only
// relays one, it never adds its vote, so a round that needs it to reach a
// majority cannot win and would only bump the term. (Safety does not rest
// on this: completeRound counts Passed, which never holds a learner.) This
// node itself counts as 1 only as a member; a learner never gets here.
func (n *Node) majorityLeaderless() bool {
	c := 1
	for _, p := range n.peers {
		if p.voter && p.heard && n.now-p.lastHeard <= int64(2*n.cfg.HeartbeatTicks) && n.linked(p) && p.leader == "" &&
			!p.status.Learner {
			c++
		}
	}
	return c >= n.majority
}

func (n *Node) loseLeader(reason string) {
	if n.leader != "" {
		n.lastLead = n.leader
	}
	n.leader, n.reason = "", reason
	if n.role == RoleLeader {
		n.role = RoleFollower
	}
	n.leaderElapsed = n.cfg.FailureTicks
	n.roundElapsed, n.roundTimeout = 0, n.stagger(n.lastLead)
	n.broadcastHeartbeat() // peers learn at once that we are leaderless
}

// stepDown: a leader gives up its term's leadership and tells everyone at
// once (a heartbeat with no leader), so they need not wait out the lease.
func (n *Node) stepDown(reason string) {
	n.lastLead = n.id
	n.leader, n.role, n.reason = "", RoleFollower, reason
	n.leaderElapsed = n.cfg.FailureTicks
	n.roundElapsed, n.roundTimeout = 0, n.cfg.ElectionTicks+n.stagger(n.termAnchor())
	n.broadcastHeartbeat()
}

// termAnchor is the stagger anchor for retrying after a round of the
// current term failed. Every member that took part in the round knows the
// term, so they all rank themselves from the same anchor and the next round
// is normally started by one node only; the starter rotates with the term.
func (n *Node) termAnchor() string {
	return n.members[int(n.hs.Term%uint64(len(n.members)))].ID
}

// hearsLiveLeader is the pre-vote check: a node that heard its leader within
// the lease (or leads itself) ignores tokens, so a node that merely lost
// contact cannot disrupt a working cluster.
func (n *Node) hearsLiveLeader() bool {
	return n.role == RoleLeader || (n.leader != "" && n.leaderElapsed < n.lease)
}

// startRound begins an election: a higher term, persisted with a vote for
// our own token, and the token sent to our successor.
func (n *Node) startRound() {
	if n.isLearner() {
		return // never reached (tickElection, collisionLoser and tickLeader exclude it); a learner never votes
	}
	term := max(n.hs.Term, n.maxPeerTerm()) + 1
	n.hs = HardState{Term: term, Vote: n.id}
	n.leader, n.role, n.reason = "", RoleCandidate, fmt.Sprintf("started round for term %d", term)
	n.roundElapsed, n.roundTimeout = 0, n.cfg.ElectionTicks+n.stagger(n.termAnchor())
	in := Message{Type: MsgToken, Term: term, Origin: n.id}
	if next := n.nextHop(n.id, in); next != "" {
		n.sendToken(in, next)
	} else if n.majority == 1 {
		n.completeRound(Message{Type: MsgToken, Term: term, Origin: n.id, Best: n.candidacy(),
			BestVoters: n.bestVoters(), Passed: []string{n.id}})
	}
}

// stepToken handles an election token: adopt its term, record the vote,
// and forward the better of the token's candidate and our own. The vote
// is persisted (Ready.HardState) before the forward is sent.
func (n *Node) stepToken(m Message) {
	if reason := n.rejectToken(m); reason != "" {
		n.drop("token: " + reason)
		if n.collisionLoser(m) {
			// Both our token and m's will die in this term. Rather than
			// wait out election_timeout, the smaller origin retries at
			// once in the next term; the larger one simply waits for it.
			n.startRound()
		}
		return
	}
	if n.isLearner() {
		n.relayToken(m) // learner.go: passed on, no vote
		return
	}
	if m.Origin == n.id {
		n.completeRound(m)
		return
	}
	if m.Term > n.hs.Term {
		n.hs = HardState{Term: m.Term}
	}
	n.hs.Vote = m.Origin
	if n.role == RoleLeader || n.role == RoleCandidate {
		n.role = RoleFollower
	}
	if n.leader != "" {
		n.lastLead = n.leader
	}
	n.leader, n.reason = "", fmt.Sprintf("forwarded %s's token for term %d", m.Origin, m.Term)
	n.roundElapsed, n.roundTimeout = 0, n.cfg.ElectionTicks+n.stagger(n.termAnchor())
	n.outTok = nil
	if next := n.nextHop(n.id, m); next != "" {
		n.sendToken(m, next)
	}
}

// rejectToken returns why m must be ignored, "" if it may be handled.
func (n *Node) rejectToken(m Message) string {
	switch {
	case !n.validToken(m):
		return "malformed"
	case m.Term < n.hs.Term:
		return "stale term"
	case n.isLearner() && m.Origin == n.id:
		return "learner: own token from before" // it started no round since it restarted
	case m.Origin == n.id:
		if m.Term != n.hs.Term || n.hs.Vote != n.id || n.hs.Leader != "" {
			return "own token from an old round"
		}
		return ""
	case m.Origin != n.id && n.peers[m.Origin] == nil:
		// A node removed from the membership that has not learned it (its
		// log stops before its removal, and no leader is left to send it)
		// would otherwise spend every member's vote, term after term, on
		// rounds that cannot come back to it.
		return "origin is not a member"
	case n.hearsLiveLeader() && m.Origin != n.leader:
		return "live leader"
	case slices.Contains(m.Passed, n.id):
		return "already passed"
	case m.Term == n.hs.Term && n.hs.Leader != "":
		return "term has a leader"
	case n.isLearner() && m.Term == n.relayed.term && m.Origin == n.relayed.origin:
		return "learner: already relayed"
	case n.isLearner():
		return "" // it does not vote, so a token of its term is no second vote
	case m.Term == n.hs.Term && n.hs.Vote != "":
		return "already forwarded a token this term"
	}
	return ""
}

// collisionLoser: m is another origin's token in the term of our own round,
// from a larger origin id.
func (n *Node) collisionLoser(m Message) bool {
	return n.role == RoleCandidate && n.hs.Vote == n.id && n.hs.Leader == "" &&
		m.Term == n.hs.Term && m.Origin != n.id && m.Origin > n.id && n.validToken(m) &&
		n.majorityLeaderless()
}

// validToken: a token of a term, whose Passed starts at its origin, names
// each member once and holds its best candidate. Passed may name members
// this node does not know (its membership may lag the origin's); only the
// origin counts them, against its own voters (completeRound).
func (n *Node) validToken(m Message) bool {
	if m.Term == 0 || len(m.Passed) == 0 || len(m.Passed) > MaxMembers || m.Passed[0] != m.Origin {
		return false
	}
	seen := map[string]bool{}
	if (m.Best.Conf == ConfID{}) != (len(m.BestVoters) == 0) || len(m.BestVoters) > MaxMembers {
		return false
	}
	for _, id := range m.Passed {
		if seen[id] || id == "" || len(id) > MaxIDLen {
			return false
		}
		seen[id] = true
	}
	return seen[m.Best.ID]
}

// completeRound: our token came back. It wins only if a majority of the
// voters of its best candidate's membership (membership.go) persisted its
// term and passed it; then that candidate is the leader of the term and we
// announce it around the ring.
func (n *Node) completeRound(m Message) {
	voters := m.BestVoters
	if len(voters) == 0 {
		// The best candidate holds the configured membership.
		if n.conf != (ConfID{}) {
			n.drop("token: winner holds another membership")
			n.reason = fmt.Sprintf("token for term %d: best %s holds the configured membership, this node %d/%d",
				m.Term, m.Best.ID, n.conf.Index, n.conf.Term)
			return
		}
		voters = n.voterIDs()
	}
	votes, of := countIDs(m.Passed, voters), len(voters)
	if votes < of/2+1 {
		n.drop("token: no majority")
		n.reason = fmt.Sprintf("token for term %d passed only %d of %d voters", m.Term, votes, of)
		return
	}
	n.acceptLeader(m.Term, m.Best.ID, fmt.Sprintf("won term %d with %d of %d", m.Term, votes, of))
	n.sendElected(Message{Type: MsgElected, Term: m.Term, Leader: m.Best.ID, Origin: n.id}, n.id)
}

// stepElected: record the term's leader (persisted before forwarding) and
// pass the announcement on, once, until it is back at its origin.
func (n *Node) stepElected(m Message) {
	switch {
	case m.Term == 0 || n.indexOf(m.Leader) < 0 || n.indexOf(m.Origin) < 0:
		n.drop("elected: malformed")
		return
	case m.Term < n.hs.Term:
		n.drop("elected: stale term")
		return
	case m.Term == n.hs.Term && n.hs.Leader != "":
		if n.hs.Leader != m.Leader {
			n.drop("elected: conflicting leader")
		} else {
			n.drop("elected: duplicate")
		}
		return
	}
	n.acceptLeader(m.Term, m.Leader, fmt.Sprintf("elected in term %d (round of %s)", m.Term, m.Origin))
	if m.Origin == n.id {
		return
	}
	n.sendElected(Message{Type: MsgElected, Term: m.Term, Leader: m.Leader, Origin: m.Origin}, n.id)
}

// acceptLeader records leader as the one leader of term (persisted) and
// follows it; the news is fresh, so the leader counts as just heard.
func (n *Node) acceptLeader(term uint64, leader string, reason string) {
	if term > n.hs.Term {
		n.hs = HardState{Term: term}
	}
	n.hs.Leader = leader
	n.reason = reason
	if leader == n.id {
		if n.isLearner() {
			// Only a candidacy this node put on a token before it lost its
			// data can name it (a learner's is never on a token), and it no
			// longer has that log: it never leads this term (I3), not even
			// once promoted. Its heartbeats say it resigned, so followers
			// of the announcement move on at once.
			n.ledTerm = term
		}
		if n.ledTerm == term {
			n.leader, n.role = "", RoleFollower // led it before a crash or step-down
			return
		}
		n.ledTerm, n.leader, n.role, n.lastLead = term, n.id, RoleLeader, n.id
		n.broadcastHeartbeat() // tell everyone now: election latency
		return
	}
	n.role, n.leader, n.lastLead = RoleFollower, leader, leader
	n.leaderElapsed = 0
	if n.handingOver && term > n.handOverTerm {
		n.handOverUntil = n.now // another node leads: the hand-over is done
		n.tickHandOver()
	}
}
