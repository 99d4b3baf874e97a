package ring

import "slices"

// This file: the token and the elected announcement a node sent, watched
// until there is evidence that they arrived, and moved on to the next
// member when there is none. See docs/ARCHITECTURE.md, "Leader election".

// relay is an election message this node sent whose receiver has not shown
// yet that it got it.
type relay struct {
	// in: for a token, the token as this node accepted it (Best and Passed
	// before this node; for a round this node started, no Passed), so that a
	// resend carries this node's candidacy as it is then; for an
	// announcement, the message as sent.
	in    Message
	to    string
	since int64 // tick of the last send
	// learner: sent by a learner, unchanged (learner.go); Promote drops it,
	// so a resend can never put this node's vote on it.
	learner bool
}

// sendToken puts this node's candidacy and itself on the token in and sends
// it to member to, then watches it. The candidacy is read again at every
// send (the I3 contract in doc.go).
func (n *Node) sendToken(in Message, to string) {
	if n.isLearner() {
		// A learner moves the token on as it came: no candidacy, no vote.
		n.send(Message{Type: MsgToken, To: to, Term: in.Term, Origin: in.Origin, Best: in.Best,
			BestVoters: slices.Clone(in.BestVoters), Passed: slices.Clone(in.Passed)})
		n.outTok = &relay{in: in, to: to, since: n.now, learner: true}
		return
	}
	best, voters := in.Best, in.BestVoters
	if me := n.candidacy(); len(in.Passed) == 0 || me.Beats(best) {
		best, voters = me, n.bestVoters()
	}
	passed := append(slices.Clip(in.Passed), n.id)
	n.send(Message{Type: MsgToken, To: to, Term: in.Term, Origin: in.Origin, Best: best,
		BestVoters: slices.Clone(voters), Passed: passed})
	n.outTok = &relay{in: in, to: to, since: n.now}
}

// sendElected sends the announcement m to the next member after `after`
// (see nextHop) and watches it; it sends nothing if there is none.
func (n *Node) sendElected(m Message, after string) {
	n.outEl = nil
	to := n.nextHop(after, m)
	if to == "" {
		return
	}
	m.To = to
	n.send(m)
	n.outEl = &relay{in: m, to: to, since: n.now}
}

// stepAck: a transport acknowledgement (Message.Acked) that the receiver of
// a watched token or announcement got it.
func (n *Node) stepAck(m Message) {
	if r := n.outTok; r != nil && m.Acked == MsgToken && m.From == r.to && m.Term == r.in.Term && m.Origin == r.in.Origin {
		n.outTok = nil
	}
	if r := n.outEl; r != nil && m.Acked == MsgElected && m.From == r.to && m.Term == r.in.Term &&
		m.Origin == r.in.Origin && m.Leader == r.in.Leader {
		n.outEl = nil
	}
}

// tickRelays stops watching what arrived or no longer matters, and moves on
// what shows no sign of arrival after AckTicks: to the next member after
// the silent receiver (nextHop), which is how a token gets past a member
// that is heard but cannot hear (its echo can lag by a failure timeout).
// Evidence of arrival is a stepped transport ack or a heartbeat of the
// receiver showing that it holds the term (for an announcement: the term's
// leader); a transport without acks is served by the heartbeats alone.
func (n *Node) tickRelays() {
	if r := n.outTok; r != nil {
		p := n.peers[r.to] // never nil: SetMembers drops a relay to a removed member
		switch {
		case r.in.Term != n.hs.Term || n.hs.Leader != "":
			n.outTok = nil // a newer term, or this one has its leader
		case p.term >= r.in.Term:
			n.outTok = nil // it holds the term: it got this token, or a rival's
		case r.learner != n.isLearner():
			n.outTok = nil // promoted since: its vote must not go on a token it did not vote for
		case n.now-r.since >= int64(n.cfg.AckTicks):
			n.outTok = nil
			if to := n.nextHop(r.to, r.in); to != "" {
				n.sendToken(r.in, to)
			}
		}
	}
	if r := n.outEl; r != nil {
		p := n.peers[r.to]
		switch {
		case r.in.Term != n.hs.Term:
			n.outEl = nil
		case p.term > r.in.Term || p.term == r.in.Term && p.leader != "":
			n.outEl = nil
		case n.now-r.since >= int64(n.cfg.AckTicks):
			n.sendElected(r.in, r.to)
		}
	}
}
