package ring

import (
	"fmt"
	"strings"
	"time"
)

// Limits on everything that crosses the wire.
const (
	MaxMembers = 64   // configured members
	MaxIDLen   = 64   // bytes in a member id
	MaxMessage = 8192 // bytes in one encoded datagram
)

// MsgType identifies a wire message. Values are only ever appended.
type MsgType uint8

const (
	MsgHeartbeat MsgType = 1 // failure detection + status + (term, leader)
	MsgToken     MsgType = 2 // LCR election token
	MsgElected   MsgType = 3 // announcement: Leader won Term
	MsgAck       MsgType = 4 // transport-level acknowledgement of AckID
)

func (t MsgType) String() string {
	switch t {
	case MsgHeartbeat:
		return "heartbeat"
	case MsgToken:
		return "token"
	case MsgElected:
		return "elected"
	case MsgAck:
		return "ack"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Candidate is a node's candidacy: it is compared by (LastTerm, LastIndex, ID).
type Candidate struct {
	ID        string
	LastTerm  uint64
	LastIndex uint64
	// Conf names the membership in the candidate's log (Config.Conf,
	// SetMembers); its voters travel with it (Message.BestVoters), and the
	// origin of a round counts its majority against them (membership.go).
	// Not compared.
	Conf ConfID
}

// Beats reports whether c is a strictly better candidate than o: a more
// up-to-date log wins, the node id breaks ties (the LCR "largest id").
func (c Candidate) Beats(o Candidate) bool {
	if c.LastTerm != o.LastTerm {
		return c.LastTerm > o.LastTerm
	}
	if c.LastIndex != o.LastIndex {
		return c.LastIndex > o.LastIndex
	}
	return c.ID > o.ID
}

func (c Candidate) String() string {
	if c.Conf != (ConfID{}) {
		return fmt.Sprintf("%s@%d/%d(conf %d/%d)", c.ID, c.LastTerm, c.LastIndex, c.Conf.Index, c.Conf.Term)
	}
	return fmt.Sprintf("%s@%d/%d", c.ID, c.LastTerm, c.LastIndex)
}

// StatusInfo is what a node reports about itself in every heartbeat so that
// any node can show the whole cluster. It is opaque to the election except
// LastLogTerm/LastLogIndex and Proto, which the Node fills in itself (from
// Config.LogPosition and ProtoVersion); the caller sets the rest with
// SetLocalStatus.
type StatusInfo struct {
	BootID       uint64 // incarnation: grows on every restart
	CommitIndex  uint64
	LastLogTerm  uint64
	LastLogIndex uint64
	UptimeMillis uint64
	Clients      uint32
	Messages     uint64
	// LogHash is the hash chain over the applied log at HashIndex, a
	// checkpoint every node passes (node/loghash.go): equal indexes with
	// different hashes mean the logs diverged.
	HashIndex uint64
	LogHash   [32]byte
	// Proto is the ring protocol revision the sender speaks (ProtoVersion of
	// its build); 0 from a build that predates the field. Filled by the Node.
	Proto uint16
	// MaxKind is the highest event kind the sender's build can apply; 0 if
	// it does not say. The caller fills it (SetLocalStatus); the ring only
	// carries it. See Status.Supports for the rolling-upgrade check.
	MaxKind uint16
	// Learner: the sender runs as a learner (Config.Learner, until Promote):
	// it relays tokens but never votes, so no member counts it towards the
	// majority that decides whether to start a round (election.go). Filled
	// by the Node; on the wire from revision 3 (Proto >= 3), false from
	// older builds, which know no learners.
	Learner bool
}

// Message is one ring message. From/To are member ids. AckID, Incarnation and
// Seq belong to the transport: the core ignores them.
type Message struct {
	Type MsgType
	From string
	To   string
	Term uint64

	// Leader: in a heartbeat, the leader the sender follows ("" if none; ==
	// From if the sender leads); in elected, the winner.
	Leader string
	// Resigned: heartbeat from a node that led Term and stepped down, so its
	// followers need not wait out the lease (a candidate's heartbeat also has
	// no Leader, and a late one must not look like a resignation).
	Resigned bool
	// Origin: the member that started the round (token, elected).
	Origin string
	// Best: the best candidacy the token has seen so far.
	Best Candidate
	// Passed: members that persisted Term and forwarded this token, in order.
	Passed []string
	// BestVoters: in a token, the voting members of Best's membership
	// (Best.Conf), which the origin counts Passed against; empty when Best
	// holds the configured membership (membership.go).
	BestVoters []string
	// Status: heartbeat payload.
	Status StatusInfo
	// Hears: in a heartbeat, the members the sender heard within its
	// failure timeout, in ring order (the echo: evidence for the receiver
	// that the sender hears it). Only sent with Status.Proto >= 2; a
	// heartbeat with Proto 0 says nothing about whom its sender hears.
	Hears []string
	// Acked: in a MsgAck that a transport delivers to the core, the type of
	// the acknowledged token or elected; Term, Origin and (elected) Leader
	// are copied from it. Not on the wire: the sending transport fills them
	// in from its record of the message the AckID names.
	Acked MsgType

	// Received is when the datagram reached this host (the kernel's
	// receive timestamp where there is one, else when the transport read
	// it; local clock, not on the wire, never read by the core): the
	// driver measures how long a message waited before it was stepped.
	Received time.Time
	// ReadDelay is how long the datagram waited in the socket before the
	// transport read it (0 without kernel timestamps). Not on the wire.
	ReadDelay time.Duration

	AckID       uint64 // token/elected/ack: transport reliability
	Incarnation uint64 // set by the codec from the envelope
	Seq         uint64 // set by the codec from the envelope
}

// Describe renders m on one line, for logs and golden transcripts.
func (m Message) Describe() string {
	switch m.Type {
	case MsgHeartbeat:
		r := ""
		if m.Resigned {
			r = " resigned"
		}
		if m.Status.Proto != 0 {
			r += fmt.Sprintf(" proto=%d maxkind=%d hears=[%s]", m.Status.Proto, m.Status.MaxKind, strings.Join(m.Hears, ","))
		}
		if m.Status.Learner {
			r += " learner"
		}
		return fmt.Sprintf("%s->%s heartbeat term=%d leader=%s%s commit=%d log=%d/%d",
			m.From, m.To, m.Term, orNone(m.Leader), r, m.Status.CommitIndex, m.Status.LastLogTerm, m.Status.LastLogIndex)
	case MsgToken:
		v := ""
		if len(m.BestVoters) > 0 {
			v = " voters=[" + strings.Join(m.BestVoters, ",") + "]"
		}
		return fmt.Sprintf("%s->%s token term=%d origin=%s best=%s%s passed=[%s]",
			m.From, m.To, m.Term, m.Origin, m.Best, v, strings.Join(m.Passed, ","))
	case MsgElected:
		return fmt.Sprintf("%s->%s elected term=%d leader=%s origin=%s", m.From, m.To, m.Term, m.Leader, m.Origin)
	case MsgAck:
		if m.Acked != 0 {
			return fmt.Sprintf("%s->%s ack id=%d of %s term=%d origin=%s", m.From, m.To, m.AckID, m.Acked, m.Term, m.Origin)
		}
		return fmt.Sprintf("%s->%s ack id=%d", m.From, m.To, m.AckID)
	}
	return fmt.Sprintf("%s->%s %s", m.From, m.To, m.Type)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// HardState must be durably persisted (fsync) before the Messages of the
// same Ready are sent: it is the election's memory across crashes (I1).
type HardState struct {
	Term uint64
	// Vote is the origin of the single token this node forwarded (or, if
	// itself, started) in Term; "" if none.
	Vote string
	// Leader is the single leader this node accepted for Term; "" if none.
	Leader string
}

// Describe renders h on one line.
func (h HardState) Describe() string {
	return fmt.Sprintf("hard term=%d vote=%s leader=%s", h.Term, orNone(h.Vote), orNone(h.Leader))
}

// Role is a node's role in the election.
type Role uint8

const (
	RoleFollower  Role = iota
	RoleCandidate      // started a round in the current term, waiting for it
	RoleLeader
)

func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "follower"
	case RoleCandidate:
		return "candidate"
	case RoleLeader:
		return "leader"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// SoftState is volatile state worth reporting: who leads, in which term,
// and why it changed (e.g. "lost quorum: hears 1 of 3").
type SoftState struct {
	Term   uint64
	Leader string
	Role   Role
	Reason string
}

// Describe renders s on one line.
func (s SoftState) Describe() string {
	return fmt.Sprintf("soft term=%d leader=%s role=%s reason=%q", s.Term, orNone(s.Leader), s.Role, s.Reason)
}

// MemberState is what the failure detector believes about a member.
type MemberState uint8

const (
	MemberAlive MemberState = iota
	MemberSuspected
	MemberDead
)

func (s MemberState) String() string {
	switch s {
	case MemberAlive:
		return "alive"
	case MemberSuspected:
		return "suspected"
	case MemberDead:
		return "dead"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// MemberEvent is a failure-detector transition, for the event log.
type MemberEvent struct {
	ID    string
	From  MemberState
	To    MemberState
	Tick  int64 // the local tick of the transition
	Quiet int   // ticks since last heard
}

// Describe renders e on one line.
func (e MemberEvent) Describe() string {
	return fmt.Sprintf("member %s %s->%s quiet=%d", e.ID, e.From, e.To, e.Quiet)
}

// Ready is the output of the core. The caller must, in order:
//  1. persist HardState durably if non-nil,
//  2. send Messages,
//  3. apply SoftState and MemberChanges (log them, update status),
//  4. call Advance(rd).
type Ready struct {
	HardState     *HardState
	Messages      []Message
	SoftState     *SoftState
	MemberChanges []MemberEvent
}

// MemberStatus is what this node knows about one member, for `status`.
type MemberStatus struct {
	ID   string
	Ring int
	// Voter: a voting member of this node's current membership (not a
	// Member.Learner). A voter may still run as a learner because its data
	// were lost (Status.Learner).
	Voter  bool
	Self   bool
	State  MemberState
	Heard  bool // ever heard since this node started
	Quiet  int  // ticks since last heard
	Term   uint64
	Leader string
	Status StatusInfo
	// HearsUs: the member's latest heartbeat, heard within the failure
	// timeout, says it hears this node (always false for a member whose
	// build predates the echo, Status.Proto 0).
	HearsUs bool
	// Linked: this node would pass it an election token (heard within the
	// failure timeout, and it hears this node or predates the echo). A
	// member heard but not linked is cut off one way: it cannot hear us.
	Linked bool
}

// Supports reports whether this member is known to apply events of kind:
// it has been heard (or is this node) and announces MaxKind >= kind.
func (m MemberStatus) Supports(kind uint16) bool {
	return (m.Self || m.Heard) && m.Status.MaxKind >= kind
}

// Status is a snapshot of a Node for the `status` command.
type Status struct {
	ID      string
	Term    uint64
	Leader  string
	Role    Role
	Reason  string
	Members []MemberStatus
}

// Supports reports whether every configured member is known to apply
// events of kind (MemberStatus.Supports): the check before a leader first
// proposes a new kind during a rolling upgrade. A member never heard since
// this node started counts as not supporting it. What a member announced
// last is what counts: downgrading a member below a kind already in the
// log is the operator's mistake to avoid, not something this can see.
func (s Status) Supports(kind uint16) bool {
	for _, m := range s.Members {
		if !m.Supports(kind) {
			return false
		}
	}
	return len(s.Members) > 0
}
