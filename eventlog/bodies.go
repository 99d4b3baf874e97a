package eventlog

import (
	"fmt"
	"time"
)

// This file holds the built-in bodies. Each field's number in Wire is stored
// on disk: never change or reuse one. Optional fields use the zero value for
// "absent".

// NoOp is appended by a leader when it takes office, so that it commits an
// entry of its own term (a leader counts replicas only for its own term, I3).
type NoOp struct{}

func (*NoOp) Kind() Kind       { return KindNoOp }
func (*NoOp) Describe() string { return "" }
func (*NoOp) Wire(Wire)        {}

// MessagePosted is a chat message in a room.
type MessagePosted struct {
	Room        string `json:"room"`
	From        string `json:"from"`
	Text        string `json:"text"`
	ClientMsgID string `json:"client_msg_id"` // the request id (I5): see Header.RequestID
	// ReplyLamport is the Lamport time of the message this one answers, 0 if
	// none; the sequencer makes this event's Lamport time larger (I6).
	ReplyLamport uint64 `json:"reply_lamport"`
	// Action is 1 for an action ("/me waves"), 0 for plain text.
	Action uint64 `json:"action,omitempty"`
	// ReplyTo is the index of the message (in the same room) this one
	// answers, 0 if none: a thread is a message and its replies. Added
	// with kinds 27-29; a leader proposes a reply only once every member
	// applies those kinds (node/kinds.go), and an older reader skips the
	// field and shows a plain message.
	ReplyTo uint64 `json:"reply_to,omitempty"`
}

func (*MessagePosted) Kind() Kind { return KindMessagePosted }
func (m *MessagePosted) Describe() string {
	s := fmt.Sprintf("room=%q from=%q text=%q id=%q", m.Room, m.From, m.Text, m.ClientMsgID)
	if m.ReplyLamport != 0 {
		s += fmt.Sprintf(" reply_lamport=%d", m.ReplyLamport)
	}
	if m.Action != 0 {
		s += " action"
	}
	if m.ReplyTo != 0 {
		s += fmt.Sprintf(" reply_to=%d", m.ReplyTo)
	}
	return s
}
func (m *MessagePosted) Wire(w Wire) {
	w.String(1, &m.Room)
	w.String(2, &m.From)
	w.String(3, &m.Text)
	w.String(4, &m.ClientMsgID)
	w.Uint(5, &m.ReplyLamport)
	w.Uint(6, &m.Action)
	w.Uint(7, &m.ReplyTo)
}

// RoomCreated creates a chat room.
type RoomCreated struct {
	Room string `json:"room"`
	By   string `json:"by"`
}

func (*RoomCreated) Kind() Kind         { return KindRoomCreated }
func (m *RoomCreated) Describe() string { return fmt.Sprintf("room=%q by=%q", m.Room, m.By) }
func (m *RoomCreated) Wire(w Wire)      { w.String(1, &m.Room); w.String(2, &m.By) }

// RoomTopicSet sets a room's topic.
type RoomTopicSet struct {
	Room  string `json:"room"`
	Topic string `json:"topic"`
	By    string `json:"by"`
}

func (*RoomTopicSet) Kind() Kind { return KindRoomTopicSet }
func (m *RoomTopicSet) Describe() string {
	return fmt.Sprintf("room=%q topic=%q by=%q", m.Room, m.Topic, m.By)
}
func (m *RoomTopicSet) Wire(w Wire) { w.String(1, &m.Room); w.String(2, &m.Topic); w.String(3, &m.By) }

// DirectMessage is a private message between two users.
type DirectMessage struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Text        string `json:"text"`
	ClientMsgID string `json:"client_msg_id"` // as in MessagePosted
	// Action is 1 for an action (/me), as in MessagePosted. Added after
	// the kind: older readers skip the field and show the text plain.
	Action uint64 `json:"action,omitempty"`
	// ReplyTo is the index of the direct message (in the same
	// conversation) this one answers, as in MessagePosted.
	ReplyTo uint64 `json:"reply_to,omitempty"`
}

func (*DirectMessage) Kind() Kind { return KindDirectMessage }
func (m *DirectMessage) Describe() string {
	s := fmt.Sprintf("from=%q to=%q text=%q id=%q", m.From, m.To, m.Text, m.ClientMsgID)
	if m.ReplyTo != 0 {
		s += fmt.Sprintf(" reply_to=%d", m.ReplyTo)
	}
	return s
}
func (m *DirectMessage) Wire(w Wire) {
	w.String(1, &m.From)
	w.String(2, &m.To)
	w.String(3, &m.Text)
	w.String(4, &m.ClientMsgID)
	w.Uint(5, &m.Action)
	w.Uint(6, &m.ReplyTo)
}

// RoomMember is the body shared by MemberJoinedRoom and MemberLeftRoom.
type RoomMember struct {
	Room string `json:"room"`
	User string `json:"user"`
}

func (m *RoomMember) Describe() string { return fmt.Sprintf("room=%q user=%q", m.Room, m.User) }
func (m *RoomMember) Wire(w Wire)      { w.String(1, &m.Room); w.String(2, &m.User) }

// MemberJoinedRoom: a user joined a room.
type MemberJoinedRoom struct{ RoomMember }

func (*MemberJoinedRoom) Kind() Kind { return KindMemberJoinedRoom }

// MemberLeftRoom: a user left a room.
type MemberLeftRoom struct{ RoomMember }

func (*MemberLeftRoom) Kind() Kind { return KindMemberLeftRoom }

// UserRegistered binds a user name to the fingerprint of the first public
// key that claimed it.
type UserRegistered struct {
	Name           string `json:"name"`
	KeyFingerprint string `json:"key_fingerprint"`
}

func (*UserRegistered) Kind() Kind { return KindUserRegistered }
func (m *UserRegistered) Describe() string {
	return fmt.Sprintf("name=%q key=%q", m.Name, m.KeyFingerprint)
}
func (m *UserRegistered) Wire(w Wire) { w.String(1, &m.Name); w.String(2, &m.KeyFingerprint) }

// Moderation is the body shared by UserKicked, UserBanned and UserMuted.
type Moderation struct {
	Target string `json:"target"`
	By     string `json:"by"`
	Room   string `json:"room"` // "" = every room
	Reason string `json:"reason"`
	Until  int64  `json:"until"` // Unix nanoseconds; 0 = no end
}

func (m *Moderation) Describe() string {
	s := fmt.Sprintf("target=%q by=%q room=%q reason=%q", m.Target, m.By, m.Room, m.Reason)
	if m.Until != 0 {
		s += " until=" + time.Unix(0, m.Until).UTC().Format(time.RFC3339)
	}
	return s
}
func (m *Moderation) Wire(w Wire) {
	w.String(1, &m.Target)
	w.String(2, &m.By)
	w.String(3, &m.Room)
	w.String(4, &m.Reason)
	w.Int(5, &m.Until)
}

// UserKicked removes a user from a room (or every room).
type UserKicked struct{ Moderation }

func (*UserKicked) Kind() Kind { return KindUserKicked }

// UserBanned bans a user until Until (0 = for ever).
type UserBanned struct{ Moderation }

func (*UserBanned) Kind() Kind { return KindUserBanned }

// UserMuted mutes a user until Until (0 = for ever).
type UserMuted struct{ Moderation }

func (*UserMuted) Kind() Kind { return KindUserMuted }

// NameReleased frees a user name an admin released: the next key that
// claims it owns it.
type NameReleased struct {
	Name string `json:"name"`
	By   string `json:"by"`
}

func (*NameReleased) Kind() Kind { return KindNameReleased }
func (m *NameReleased) Describe() string {
	return fmt.Sprintf("name=%q by=%q", m.Name, m.By)
}
func (m *NameReleased) Wire(w Wire) { w.String(1, &m.Name); w.String(2, &m.By) }

// UserUnbanned lifts the ban on Target (Room and Until unused).
type UserUnbanned struct{ Moderation }

func (*UserUnbanned) Kind() Kind { return KindUserUnbanned }

// UserUnmuted lifts Target's mutes: in Room, or every one when Room is "".
type UserUnmuted struct{ Moderation }

func (*UserUnmuted) Kind() Kind { return KindUserUnmuted }

// ReadMarked records that User has seen the messages of Conv (a room, or a
// direct conversation named as api.DMRoom names it) up to and including
// Index. Marks only move forward: a lower one changes nothing.
type ReadMarked struct {
	User  string `json:"user"`
	Conv  string `json:"conv"`
	Index uint64 `json:"up_to"`
}

func (*ReadMarked) Kind() Kind { return KindReadMarked }
func (m *ReadMarked) Describe() string {
	return fmt.Sprintf("user=%q conv=%q up_to=%d", m.User, m.Conv, m.Index)
}
func (m *ReadMarked) Wire(w Wire) { w.String(1, &m.User); w.String(2, &m.Conv); w.Uint(3, &m.Index) }

// PresenceChanged records a user's presence on a node ("online", "away",
// "offline", ...).
type PresenceChanged struct {
	User   string `json:"user"`
	Node   string `json:"node"`
	Status string `json:"status"`
}

func (*PresenceChanged) Kind() Kind { return KindPresenceChanged }
func (m *PresenceChanged) Describe() string {
	return fmt.Sprintf("user=%q node=%q status=%q", m.User, m.Node, m.Status)
}
func (m *PresenceChanged) Wire(w Wire) {
	w.String(1, &m.User)
	w.String(2, &m.Node)
	w.String(3, &m.Status)
}

// TermStarted: this node started (or learned of) a new election term.
type TermStarted struct {
	Term      uint64 `json:"term"`
	Candidate string `json:"candidate"`
}

func (*TermStarted) Kind() Kind { return KindTermStarted }
func (m *TermStarted) Describe() string {
	return fmt.Sprintf("term=%d candidate=%q", m.Term, m.Candidate)
}
func (m *TermStarted) Wire(w Wire) { w.Uint(1, &m.Term); w.String(2, &m.Candidate) }

// LeaderElected: Leader won the election of Term.
type LeaderElected struct {
	Term   uint64 `json:"term"`
	Leader string `json:"leader"`
}

func (*LeaderElected) Kind() Kind { return KindLeaderElected }
func (m *LeaderElected) Describe() string {
	return fmt.Sprintf("term=%d leader=%q", m.Term, m.Leader)
}
func (m *LeaderElected) Wire(w Wire) { w.Uint(1, &m.Term); w.String(2, &m.Leader) }

// VoteCast records that this node forwarded the LCR token of Candidate in
// Term, i.e. voted for it. The election core persists it before sending, so a
// restarted node never votes for two candidates in one term (I1).
type VoteCast struct {
	Term      uint64 `json:"term"`
	Candidate string `json:"candidate"`
}

func (*VoteCast) Kind() Kind { return KindVoteCast }
func (m *VoteCast) Describe() string {
	return fmt.Sprintf("term=%d candidate=%q", m.Term, m.Candidate)
}
func (m *VoteCast) Wire(w Wire) { w.Uint(1, &m.Term); w.String(2, &m.Candidate) }

// NodeEvent is the body shared by the membership kinds.
type NodeEvent struct {
	Node string `json:"node"`
}

func (m *NodeEvent) Describe() string { return fmt.Sprintf("node=%q", m.Node) }
func (m *NodeEvent) Wire(w Wire)      { w.String(1, &m.Node) }

// NodeJoined: a node joined the cluster.
type NodeJoined struct{ NodeEvent }

func (*NodeJoined) Kind() Kind { return KindNodeJoined }

// NodeLeft: a node left the cluster.
type NodeLeft struct{ NodeEvent }

func (*NodeLeft) Kind() Kind { return KindNodeLeft }

// NodeSuspected: the failure detector suspects a node.
type NodeSuspected struct{ NodeEvent }

func (*NodeSuspected) Kind() Kind { return KindNodeSuspected }

// NodeRecovered: a suspected node answers again.
type NodeRecovered struct{ NodeEvent }

func (*NodeRecovered) Kind() Kind { return KindNodeRecovered }

// CommittedUpTo records that every entry with cluster index ≤ Index is
// committed.
type CommittedUpTo struct {
	Index uint64 `json:"index"`
}

func (*CommittedUpTo) Kind() Kind         { return KindCommittedUpTo }
func (m *CommittedUpTo) Describe() string { return fmt.Sprintf("index=%d", m.Index) }
func (m *CommittedUpTo) Wire(w Wire)      { w.Uint(1, &m.Index) }

// SuffixDiscarded records that the uncommitted entries with cluster index ≥
// FromIndex were discarded when the leader of Term overruled them. The log is
// never rewritten: this record is how the discard is expressed, and the
// replication layer's fold honours it. eventlog itself does not interpret it.
type SuffixDiscarded struct {
	FromIndex uint64 `json:"from_index"`
	Term      uint64 `json:"term"`
}

func (*SuffixDiscarded) Kind() Kind { return KindSuffixDiscarded }
func (m *SuffixDiscarded) Describe() string {
	return fmt.Sprintf("from_index=%d term=%d", m.FromIndex, m.Term)
}
func (m *SuffixDiscarded) Wire(w Wire) { w.Uint(1, &m.FromIndex); w.Uint(2, &m.Term) }
