package eventlog

import (
	"fmt"
	"sync"
)

// Kind identifies the type of an event's body. Kinds are stored on disk and
// on the wire: they are only ever appended to this list, never renumbered or
// reused. A kind that is retired keeps its number and its decoder.
type Kind uint16

// The built-in kinds. Append new kinds at the end only.
const (
	KindInvalid          Kind = 0 // never written; the zero value
	KindNoOp             Kind = 1 // a new leader takes office
	KindMessagePosted    Kind = 2
	KindRoomCreated      Kind = 3
	KindRoomTopicSet     Kind = 4
	KindDirectMessage    Kind = 5
	KindMemberJoinedRoom Kind = 6
	KindMemberLeftRoom   Kind = 7
	KindUserRegistered   Kind = 8
	KindUserKicked       Kind = 9
	KindUserBanned       Kind = 10
	KindUserMuted        Kind = 11
	KindPresenceChanged  Kind = 12
	KindTermStarted      Kind = 13
	KindLeaderElected    Kind = 14
	KindVoteCast         Kind = 15
	KindNodeJoined       Kind = 16
	KindNodeLeft         Kind = 17
	KindNodeSuspected    Kind = 18
	KindNodeRecovered    Kind = 19
	KindCommittedUpTo    Kind = 20
	KindSuffixDiscarded  Kind = 21
	// Above the baseline: a leader proposes these only once every member
	// announces it can apply them (the upgrade rule).
	KindNameReleased Kind = 22
	KindUserUnbanned Kind = 23
	KindUserUnmuted  Kind = 24
	KindReadMarked   Kind = 25 // a user has read a conversation up to an index
	// KindMembershipChanged: the cluster's membership after one change
	// (issue 13; docs/ARCHITECTURE.md, "Membership through the log").
	KindMembershipChanged Kind = 26
)

// kindInfo is what the codec needs to know about a kind.
type kindInfo struct {
	name    string
	newBody func() Body
}

// kinds is the kind table. It is filled by init (built-ins) and RegisterKind;
// after init it is only read, so decoding takes no lock. kindsMu only orders
// registrations among themselves.
var (
	kindsMu sync.Mutex
	kinds   []kindInfo // indexed by Kind; newBody == nil for unused numbers
	byName  = map[string]Kind{}
)

// info returns the table entry of k (zero if unknown).
func (k Kind) info() kindInfo {
	if int(k) < len(kinds) {
		return kinds[k]
	}
	return kindInfo{}
}

// RegisterKind adds a kind defined outside this package (by a plugin) so that
// records of that kind can be encoded and decoded. It must be called from an
// init function, before any log is opened: the table is read without a lock.
// It panics if the number or the name is taken, because two features sharing a
// kind would corrupt each other's state.
func RegisterKind(k Kind, name string, newBody func() Body) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if k == KindInvalid || name == "" || newBody == nil {
		panic(fmt.Sprintf("eventlog: RegisterKind(%d, %q): invalid arguments", k, name))
	}
	if old := k.info(); old.newBody != nil {
		panic(fmt.Sprintf("eventlog: kind %d registered twice (%s, %s)", k, old.name, name))
	}
	if old, ok := byName[name]; ok {
		panic(fmt.Sprintf("eventlog: kind name %q registered twice (%d, %d)", name, old, k))
	}
	if got := newBody().Kind(); got != k {
		panic(fmt.Sprintf("eventlog: RegisterKind(%d, %q): body reports kind %d", k, name, got))
	}
	for int(k) >= len(kinds) {
		kinds = append(kinds, kindInfo{})
	}
	kinds[k] = kindInfo{name: name, newBody: newBody}
	byName[name] = k
}

// Known reports whether k has a registered decoder.
func (k Kind) Known() bool { return k.info().newBody != nil }

// String returns the kind's snake_case name, or "kind(N)" if unknown.
func (k Kind) String() string {
	if ki := k.info(); ki.newBody != nil {
		return ki.name
	}
	return fmt.Sprintf("kind(%d)", uint16(k))
}

// ParseKind returns the kind with the given name (as printed by String).
func ParseKind(name string) (Kind, bool) {
	k, ok := byName[name]
	return k, ok
}

// Kinds returns every registered kind in numeric order.
func Kinds() []Kind {
	var out []Kind
	for k, ki := range kinds {
		if ki.newBody != nil {
			out = append(out, Kind(k))
		}
	}
	return out
}

// NewBody returns an empty body for k, or nil if k is unknown.
func NewBody(k Kind) Body {
	if ki := k.info(); ki.newBody != nil {
		return ki.newBody()
	}
	return nil
}

func init() {
	reg := func(k Kind, name string, f func() Body) { RegisterKind(k, name, f) }
	reg(KindNoOp, "noop", func() Body { return &NoOp{} })
	reg(KindMessagePosted, "message_posted", func() Body { return &MessagePosted{} })
	reg(KindRoomCreated, "room_created", func() Body { return &RoomCreated{} })
	reg(KindRoomTopicSet, "room_topic_set", func() Body { return &RoomTopicSet{} })
	reg(KindDirectMessage, "direct_message", func() Body { return &DirectMessage{} })
	reg(KindMemberJoinedRoom, "member_joined_room", func() Body { return &MemberJoinedRoom{} })
	reg(KindMemberLeftRoom, "member_left_room", func() Body { return &MemberLeftRoom{} })
	reg(KindUserRegistered, "user_registered", func() Body { return &UserRegistered{} })
	reg(KindUserKicked, "user_kicked", func() Body { return &UserKicked{} })
	reg(KindUserBanned, "user_banned", func() Body { return &UserBanned{} })
	reg(KindUserMuted, "user_muted", func() Body { return &UserMuted{} })
	reg(KindPresenceChanged, "presence_changed", func() Body { return &PresenceChanged{} })
	reg(KindTermStarted, "term_started", func() Body { return &TermStarted{} })
	reg(KindLeaderElected, "leader_elected", func() Body { return &LeaderElected{} })
	reg(KindVoteCast, "vote_cast", func() Body { return &VoteCast{} })
	reg(KindNodeJoined, "node_joined", func() Body { return &NodeJoined{} })
	reg(KindNodeLeft, "node_left", func() Body { return &NodeLeft{} })
	reg(KindNodeSuspected, "node_suspected", func() Body { return &NodeSuspected{} })
	reg(KindNodeRecovered, "node_recovered", func() Body { return &NodeRecovered{} })
	reg(KindCommittedUpTo, "committed_up_to", func() Body { return &CommittedUpTo{} })
	reg(KindSuffixDiscarded, "suffix_discarded", func() Body { return &SuffixDiscarded{} })
	reg(KindNameReleased, "name_released", func() Body { return &NameReleased{} })
	reg(KindUserUnbanned, "user_unbanned", func() Body { return &UserUnbanned{} })
	reg(KindUserUnmuted, "user_unmuted", func() Body { return &UserUnmuted{} })
	reg(KindReadMarked, "read_marked", func() Body { return &ReadMarked{} })
	reg(KindMembershipChanged, "membership_changed", func() Body { return &MembershipChanged{} })
}
