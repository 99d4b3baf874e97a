package ring

// This file: the heartbeat failure detector and the ring view.

// alive reports whether p was heard within FailureTicks (or, before it was
// ever heard, whether this node started less than FailureTicks ago).
func (n *Node) alive(p *peer) bool {
	return n.now-p.lastHeard < int64(n.cfg.FailureTicks)
}

func (n *Node) tickDetector() {
	for _, m := range n.members {
		p := n.peers[m.ID]
		if p == nil {
			continue
		}
		quiet := n.now - p.lastHeard
		to := p.state
		switch {
		case quiet >= int64(n.cfg.DeadTicks):
			to = MemberDead
		case quiet >= int64(n.cfg.FailureTicks) && p.state == MemberAlive:
			to = MemberSuspected
		}
		n.transition(p, to)
	}
}

func (n *Node) transition(p *peer, to MemberState) {
	if p.state == to {
		return
	}
	n.events = append(n.events, MemberEvent{ID: p.id, From: p.state, To: to, Tick: n.now, Quiet: int(n.now - p.lastHeard)})
	p.state = to
}

func (n *Node) tickHeartbeat() {
	n.hbElapsed++
	if n.hbElapsed >= n.cfg.HeartbeatTicks {
		n.broadcastHeartbeat()
	}
}

func (n *Node) broadcastHeartbeat() {
	n.hbElapsed = 0
	st := n.localStatus()
	for _, m := range n.members {
		if m.ID != n.id {
			n.send(Message{Type: MsgHeartbeat, To: m.ID, Term: n.hs.Term, Leader: n.leader, Status: st,
				Resigned: n.ledTerm == n.hs.Term && n.role != RoleLeader})
		}
	}
}

// stepHeartbeat: any heartbeat revives its sender; one that names a leader
// may teach this node a newer term or its leader.
func (n *Node) stepHeartbeat(p *peer, m Message) {
	p.lastHeard, p.heard = n.now, true
	p.term, p.leader, p.status = m.Term, m.Leader, m.Status
	n.transition(p, MemberAlive)
	if m.Term > n.hs.Term && m.Leader == "" {
		if p.higherSince < 0 {
			p.higherSince = n.now
		}
	} else {
		p.higherSince = -1
	}
	switch {
	case m.Leader == "":
		if m.Resigned && m.From == n.leader && m.Term == n.hs.Term {
			n.loseLeader("leader " + m.From + " stepped down")
		}
	case m.Term > n.hs.Term:
		// Only an elected leader is ever named with its term, so adopting it
		// is safe; a heartbeat without a leader never moves our term (that is
		// what keeps a node that merely lost contact from disrupting, I7).
		n.acceptLeader(m.Term, m.Leader, "heartbeat from "+m.From)
	case m.Term == n.hs.Term:
		n.sameTermLeader(m)
	default:
		n.drop("heartbeat stale term")
	}
}

func (n *Node) sameTermLeader(m Message) {
	switch {
	case n.hs.Leader == "":
		n.acceptLeader(m.Term, m.Leader, "heartbeat from "+m.From)
	case n.hs.Leader != m.Leader:
		n.drop("conflicting leader") // would be an I1 violation; never follow it
	case m.From == m.Leader && m.Leader != n.id:
		if n.leader == "" && n.ledTerm != m.Term {
			n.leader, n.role, n.reason = m.Leader, RoleFollower, "leader "+m.Leader+" heard again"
		}
		if n.leader == m.Leader {
			n.leaderElapsed = 0
		}
	}
}

// successor returns the next member after this one in ring order that is
// believed alive, "" if none: the ring repairs itself around dead nodes.
func (n *Node) successor() string {
	i := n.indexOf(n.id)
	for k := 1; k < len(n.members); k++ {
		id := n.members[(i+k)%len(n.members)].ID
		if n.alive(n.peers[id]) {
			return id
		}
	}
	return ""
}

func (n *Node) indexOf(id string) int {
	for i, m := range n.members {
		if m.ID == id {
			return i
		}
	}
	return -1
}

// hearsMajority: this node plus the peers it heard within FailureTicks form
// a majority of the configured members. A node that cannot hear a majority
// never starts a round (so an isolated node does not inflate its term) and a
// leader that cannot hear one steps down.
func (n *Node) hearsMajority() bool {
	return n.heardCount()+1 >= n.majority
}

func (n *Node) heardCount() int {
	c := 0
	for _, p := range n.peers {
		if p.heard && n.alive(p) {
			c++
		}
	}
	return c
}

// maxPeerTerm is the highest term reported by a live peer.
func (n *Node) maxPeerTerm() uint64 {
	var t uint64
	for _, p := range n.peers {
		if p.heard && n.alive(p) && p.term > t {
			t = p.term
		}
	}
	return t
}

// stagger delays the start of a round by this node's rank among the live
// members that follow anchor on the ring (anchor's live successor has rank
// 0, anchor itself comes last), so that usually exactly one node starts a
// round and rounds do not collide. After a leader is lost the anchor is the
// old leader; after a failed round it is derived from the term (termAnchor).
func (n *Node) stagger(anchor string) int {
	step := n.cfg.StaggerTicks
	start := n.indexOf(anchor)
	if start < 0 {
		start = len(n.members) - 1
	}
	rank := 0
	for k := 1; k <= len(n.members); k++ {
		id := n.members[(start+k)%len(n.members)].ID
		if id == n.id {
			break
		}
		if p := n.peers[id]; p != nil && n.alive(p) {
			rank++
		}
	}
	return rank*step + n.cfg.Rand.Intn(step/2+1)
}
