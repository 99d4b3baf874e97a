package ring

import "slices"

// This file: the heartbeat failure detector and the ring view.

// alive reports whether p was heard within FailureTicks (or, before it was
// ever heard, whether this node started less than FailureTicks ago).
func (n *Node) alive(p *peer) bool {
	return n.now-p.lastHeard < int64(n.cfg.FailureTicks)
}

// Arrived tells the core that an authenticated heartbeat from member from
// reached this node's socket since the last Tick, whether or not its
// content has been stepped yet. The failure detector judges by arrival:
// a heartbeat queued behind client work still proves its sender alive, so
// load on this node cannot make it suspect a peer, nor a follower drop a
// leader it hears. The content (term, leader, echo, status) takes effect
// when the message itself is stepped. The caller collects arrivals where
// datagrams are read and passes them before the next Tick (node's driver:
// the tick input). Unknown ids are ignored.
func (n *Node) Arrived(from string) {
	p := n.peers[from]
	if p == nil {
		return
	}
	p.lastHeard = n.now
	if from == n.leader && n.role != RoleLeader {
		n.leaderElapsed = 0
	}
}

// Suspicions is how many times this node has suspected a member since it
// started (for status and benchmarks: a busy machine should raise none).
func (n *Node) Suspicions() uint64 { return n.suspicions }

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
	if to == MemberSuspected {
		n.suspicions++
	}
	p.state = to
}

func (n *Node) tickHeartbeat() {
	n.hbElapsed++
	if n.hbElapsed >= n.cfg.HeartbeatTicks {
		n.broadcastHeartbeat()
	}
}

// broadcastHeartbeat sends every other member a heartbeat that echoes the
// members this node heard within FailureTicks (Hears). A peer whose build
// predates the echo (its heartbeats show Proto 0) gets the heartbeat it can
// parse, without the extension (codec.go, Compatibility).
func (n *Node) broadcastHeartbeat() {
	n.hbElapsed = 0
	st := n.localStatus()
	var hears []string
	for _, m := range n.members {
		if p := n.peers[m.ID]; p != nil && p.heard && n.alive(p) {
			hears = append(hears, m.ID)
		}
	}
	strangers := n.liveStrangers()
	hears = append(hears, strangers...)
	for _, m := range n.members {
		p := n.peers[m.ID]
		if p == nil {
			continue
		}
		hb := Message{Type: MsgHeartbeat, To: m.ID, Term: n.hs.Term, Leader: n.leader, Status: st, Hears: hears,
			Resigned: n.ledTerm == n.hs.Term && n.role != RoleLeader}
		if p.heard && p.status.Proto == 0 {
			hb.Status.Proto, hb.Status.MaxKind, hb.Hears, hb.Status.Learner = 0, 0, nil, false
		}
		n.send(hb)
	}
	for _, id := range strangers {
		n.send(Message{Type: MsgHeartbeat, To: id, Term: n.hs.Term, Leader: n.leader, Status: st, Hears: hears,
			Resigned: n.ledTerm == n.hs.Term && n.role != RoleLeader})
	}
}

// stepHeartbeat: any heartbeat revives its sender; one that names a leader
// may teach this node a newer term or its leader.
func (n *Node) stepHeartbeat(p *peer, m Message) {
	p.lastHeard, p.heard = n.now, true
	p.term, p.leader, p.status = m.Term, m.Leader, m.Status
	p.hearsMe = slices.Contains(m.Hears, n.id)
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
		if m.Resigned {
			p.resignedIn = max(p.resignedIn, m.Term)
		}
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
		if n.leader == "" && n.ledTerm != m.Term && n.peers[m.From].resignedIn != m.Term {
			n.leader, n.role, n.reason = m.Leader, RoleFollower, "leader "+m.Leader+" heard again"
		}
		if n.leader == m.Leader {
			n.leaderElapsed = 0
		}
	}
}

// linked reports whether this node has evidence both ways that it can
// exchange messages with p: p was heard within FailureTicks, and p's latest
// heartbeat echoes that p heard this node within its own FailureTicks. A
// member that cannot hear us (a one-way cut: "deaf" to us) is heard but not
// linked, so no token is sent into it. Two cases count on p being heard
// alone: a peer whose build predates the echo (Proto 0), and a peer not
// heard since this node started, which is presumed alive for FailureTicks.
func (n *Node) linked(p *peer) bool {
	return n.alive(p) && (!p.heard || p.status.Proto == 0 || p.hearsMe)
}

// nextHop returns the member that the election message m goes to from
// this node after member `after` (this node itself for a first send, the
// previous receiver when m is moved on): the first member after it in ring
// order that is linked, skipping members that already passed a token and
// never going past the origin of an announcement; "" if the ring comes back
// to this node first. The ring repairs itself around dead and deaf members.
//
// Learners of the membership (Member.Learner) are skipped: they have no
// vote to add, and one that this node's membership holds but the others'
// do not (an entry not committed, and then overwritten) could only be a
// dead end. They learn each leader from its heartbeats. (A voter that runs
// as a learner because its data were lost still gets tokens and relays
// them.)
func (n *Node) nextHop(after string, m Message) string {
	i := n.indexOf(after)
	for k := 1; k < len(n.members); k++ {
		id := n.members[(i+k)%len(n.members)].ID
		switch {
		case id == n.id:
			return ""
		case m.Type == MsgElected && id == m.Origin:
			return ""
		case m.Type == MsgToken && id != m.Origin && slices.Contains(m.Passed, id):
			continue
		case !n.peers[id].voter:
			continue
		}
		if n.linked(n.peers[id]) {
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
//
// Learners count here, deliberately. Only a leader asks (tickLeader), and
// whether it stays leader is liveness, not safety (I1 rests on the tokens).
// A leader that hears a majority only with a learner in it stays, because
// stepping down could not help: no round can win without the learner's
// vote either, and a learner is promoted only once it knows a leader of a
// term it did not vote in (learner.go), so stepping down would leave the
// cluster with no leader and the learner with no way to become a member.
func (n *Node) hearsMajority() bool {
	return n.heardCount()+1 >= n.majority
}

func (n *Node) heardCount() int {
	c := 0
	for _, p := range n.peers {
		if p.voter && p.heard && n.alive(p) {
			c++
		}
	}
	return c
}

// maxPeerTerm is the highest term reported by a live peer. Learners count:
// a learner's term is one that some round or leader really had, and a new
// round above every term anyone holds is what keeps its token from being
// dropped as stale.
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
// Learners take no rank: they never start a round, so waiting for them
// would only delay the member after them.
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
		if p := n.peers[id]; p != nil && n.alive(p) && !p.status.Learner {
			rank++
		}
	}
	return rank*step + n.cfg.Rand.Intn(step/2+1)
}
