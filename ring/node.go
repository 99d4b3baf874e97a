package ring

import (
	"errors"
	"fmt"
)

// Errors returned by Step. The input is ignored; no state changes.
var (
	ErrUnknownSender = errors.New("ring: message from unknown member")
	ErrMisdirected   = errors.New("ring: message for another member")
	ErrBadMessage    = errors.New("ring: malformed message")
)

// peer is what the failure detector and status know about one other member.
type peer struct {
	id        string
	ring      int
	voter     bool  // not a Member.Learner: majorities count it
	lastHeard int64 // local tick; 0 at start (assumed alive until proven silent)
	heard     bool
	state     MemberState
	term      uint64
	leader    string
	status    StatusInfo
	// hearsMe: p's latest heartbeat lists this node among those p heard
	// within its failure timeout (the echo; see linked).
	hearsMe bool
	// higherSince: tick since which this peer reports a term above ours with
	// no leader (a node stuck in a term nobody else adopted); -1 if not.
	higherSince int64
	// resignedIn: the term in which this peer said it stepped down as
	// leader; a heartbeat of its that arrives later but names it leader of
	// that term was sent before (reordered) and must not revive it.
	resignedIn uint64
}

// Node is the deterministic ring core of one member: failure detector, ring
// view and LCR election with terms. It is not safe for concurrent use; it
// does no IO and reads no clock.
type Node struct {
	cfg      Config
	id       string
	members  []Member // sorted by ring position
	peers    map[string]*peer
	voters   int    // voting members (not Member.Learner)
	majority int    // of the voting members
	conf     ConfID // the log entry members came from (membership.go)
	// nonVoter: this node is a Member.Learner of the current membership
	// (membership.go); it acts as a learner while it is one.
	nonVoter bool
	// handOverUntil: while now is before it, this node hands over
	// (membership.go, HandOver); handingOver until that ended. It began in
	// term handOverTerm; a leader of a later term ends it early.
	handOverUntil int64
	handingOver   bool
	handOverTerm  uint64
	// strangers: senders of heartbeats that are not in this node's
	// membership, by the tick last heard (membership.go, answerStrangers).
	strangers map[string]int64
	lease     int // ticks a heard leader counts as live for the pre-vote check

	hs       HardState // current
	prevHS   HardState // last persisted (acknowledged through Advance)
	role     Role
	leader   string // leader followed now ("" if none or lost)
	reason   string
	prevSoft SoftState
	ledTerm  uint64 // the term this node led (never lead a term twice)
	lastLead string // last leader known, to rank who starts a round first

	// learner: the node does not vote (learner.go). relayed: the (term,
	// origin) of the last token it relayed as a learner, so that a copy of
	// it is not relayed again.
	learner bool
	relayed struct {
		term   uint64
		origin string
	}

	now           int64
	hbElapsed     int
	leaderElapsed int
	roundElapsed  int
	roundTimeout  int

	local StatusInfo

	// The token and the elected announcement this node sent last, until
	// there is evidence that their receivers got them (relay.go).
	outTok, outEl *relay

	msgs       []Message
	events     []MemberEvent
	suspicions uint64
	drops      map[string]int
}

// New returns a Node restarted from its persisted HardState (zero value for
// a fresh node). A restarted node is always a follower: it never resumes a
// leadership it held before the crash.
func New(cfg Config, persisted HardState) (*Node, error) {
	ms, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		id:      cfg.ID,
		peers:   map[string]*peer{},
		lease:   cfg.FailureTicks - cfg.HeartbeatTicks,
		hs:      persisted,
		prevHS:  persisted,
		drops:   map[string]int{},
		learner: cfg.Learner,
	}
	n.setMembers(ms, cfg.Conf)
	if persisted.Leader == cfg.ID {
		n.ledTerm = persisted.Term
	}
	n.lastLead = persisted.Leader
	// Wait a full failure timeout for an existing leader before competing.
	n.roundTimeout = cfg.FailureTicks + n.stagger(n.lastLead)
	n.prevSoft = n.softState()
	return n, nil
}

// ID returns this node's id.
func (n *Node) ID() string { return n.id }

// Term returns the current term. The replication layer must reject appends
// from leaders of lower terms once this has moved (I3 relies on it).
func (n *Node) Term() uint64 { return n.hs.Term }

// Leader returns the leader followed now, "" if none.
func (n *Node) Leader() string { return n.leader }

// Role returns this node's role.
func (n *Node) Role() Role { return n.role }

// Learner reports whether this node is a learner because its data were
// lost: it started with Config.Learner and was not promoted yet
// (learner.go). NonVoter says whether it is a learner of the membership.
func (n *Node) Learner() bool { return n.learner }

// HardState returns the current (possibly not yet persisted) hard state.
func (n *Node) HardState() HardState { return n.hs }

// SetLocalStatus sets the payload carried by the next heartbeats.
func (n *Node) SetLocalStatus(s StatusInfo) { n.local = s }

// Drops returns how many inputs the core ignored, by reason (a copy).
func (n *Node) Drops() map[string]int {
	out := make(map[string]int, len(n.drops))
	for k, v := range n.drops {
		out[k] = v
	}
	return out
}

func (n *Node) drop(reason string) { n.drops[reason]++ }

// candidacy is read fresh from the caller's log at every use, never cached:
// a token must carry every entry this node has appended, because the acks
// for them may leave in the same Ready as the token (I3).
func (n *Node) candidacy() Candidate {
	lt, li := n.cfg.LogPosition()
	return Candidate{ID: n.id, LastTerm: lt, LastIndex: li, Conf: n.conf}
}

// Tick advances logical time by one tick.
func (n *Node) Tick() {
	n.now++
	n.tickHandOver()
	n.tickDetector()
	n.tickHeartbeat()
	n.tickRelays()
	if n.role == RoleLeader {
		n.tickLeader()
	} else {
		n.tickElection()
	}
}

// Step feeds one authenticated message into the core.
func (n *Node) Step(m Message) error {
	if m.To != n.id {
		n.drop("misdirected")
		return fmt.Errorf("%w: to %q", ErrMisdirected, m.To)
	}
	p, ok := n.peers[m.From]
	switch {
	case ok:
	case m.Type == MsgToken || m.Type == MsgElected || m.Type == MsgAck:
		// From a node outside this node's membership (membership.go): the
		// transport authenticated it, and an election message does not
		// depend on who handed it on (Passed is counted by the origin
		// against the winner's voters).
	default:
		n.drop("unknown sender")
		if m.Type == MsgHeartbeat {
			n.noteStranger(m.From)
		}
		return fmt.Errorf("%w: %q", ErrUnknownSender, m.From)
	}
	switch m.Type {
	case MsgHeartbeat:
		n.stepHeartbeat(p, m)
	case MsgToken:
		n.stepToken(m)
	case MsgElected:
		n.stepElected(m)
	case MsgAck:
		n.stepAck(m)
	default:
		n.drop("bad type")
		return fmt.Errorf("%w: type %d", ErrBadMessage, m.Type)
	}
	return nil
}

func (n *Node) send(m Message) {
	m.From = n.id
	n.msgs = append(n.msgs, m)
}

func (n *Node) softState() SoftState {
	return SoftState{Term: n.hs.Term, Leader: n.leader, Role: n.role, Reason: n.reason}
}

// HasReady reports whether Ready would return anything.
func (n *Node) HasReady() bool {
	s := n.softState()
	return n.hs != n.prevHS || len(n.msgs) > 0 || len(n.events) > 0 ||
		s.Term != n.prevSoft.Term || s.Leader != n.prevSoft.Leader || s.Role != n.prevSoft.Role
}

// Ready returns what the caller must persist, send and apply, in that order.
func (n *Node) Ready() Ready {
	var rd Ready
	if n.hs != n.prevHS {
		hs := n.hs
		rd.HardState = &hs
	}
	s := n.softState()
	if s.Term != n.prevSoft.Term || s.Leader != n.prevSoft.Leader || s.Role != n.prevSoft.Role {
		rd.SoftState = &s
	}
	rd.Messages = append([]Message(nil), n.msgs...)
	rd.MemberChanges = append([]MemberEvent(nil), n.events...)
	return rd
}

// Advance acknowledges that rd was handled: persisted, sent and applied.
func (n *Node) Advance(rd Ready) {
	if rd.HardState != nil {
		n.prevHS = *rd.HardState
	}
	if rd.SoftState != nil {
		n.prevSoft = *rd.SoftState
	}
	n.msgs = append(n.msgs[:0], n.msgs[len(rd.Messages):]...)
	n.events = append(n.events[:0], n.events[len(rd.MemberChanges):]...)
}

// Status returns a snapshot for the `status` command.
func (n *Node) Status() Status {
	st := Status{ID: n.id, Term: n.hs.Term, Leader: n.leader, Role: n.role, Reason: n.reason}
	for _, m := range n.members {
		if m.ID == n.id {
			st.Members = append(st.Members, MemberStatus{ID: m.ID, Ring: m.Ring, Voter: !m.Learner, Self: true, Heard: true,
				Term: n.hs.Term, Leader: n.leader, Status: n.localStatus()})
			continue
		}
		p := n.peers[m.ID]
		st.Members = append(st.Members, MemberStatus{ID: p.id, Ring: p.ring, Voter: p.voter, State: p.state, Heard: p.heard,
			Quiet: int(n.now - p.lastHeard), Term: p.term, Leader: p.leader, Status: p.status,
			HearsUs: p.heard && n.alive(p) && p.hearsMe, Linked: p.heard && n.linked(p)})
	}
	return st
}

// Members returns the per-member part of Status.
func (n *Node) Members() []MemberStatus { return n.Status().Members }

func (n *Node) localStatus() StatusInfo {
	s := n.local
	s.LastLogTerm, s.LastLogIndex = n.cfg.LogPosition()
	s.Proto = ProtoVersion
	s.Learner = n.isLearner()
	return s
}
