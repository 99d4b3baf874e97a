package sshui

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"
)

// Backend is everything sshui needs from the node layer. sshui never imports
// node, ring or eventlog: node implements this interface and passes it to New.
//
// Contract (the node layer's duties):
//   - Every method is safe for concurrent use by many sessions.
//   - Mutating calls (Post, DirectMessage, BindName, JoinRoom, LeaveRoom,
//     SetTopic, SetPresence, Moderate) go through the replicated log and
//     return only once the entry is committed (I4), or an error. On no
//     quorum / timeout they return an error wrapping ErrNoQuorum; ctx carries
//     the caller's deadline.
//   - Every mutation is exactly once (I5). Each call carries a request id:
//     Post and DirectMessage take it as clientMsgID (the backend draws a
//     random one when it is empty); the others get a fresh random one per
//     call. A retry with the same id changes nothing more and returns the
//     index of the first entry; a retry with the same id but a different
//     request (other text, room...) also changes nothing and returns that
//     index with an error wrapping ErrIDReused.
//   - Bans and mutes are decided when the entry is applied, against the
//     entry's own time, on every node alike. A refused mutation returns a
//     *Refusal (which wraps ErrForbidden for a ban, ErrMuted for a mute);
//     its entry stays in the log as a record and changes nothing.
//   - Reads (History, HistoryAfter, Rooms, Members, RoomsOf, NameOwner,
//     IsBanned, IsMuted, Status) answer from this node's applied state without
//     blocking on the network.
//   - History and HistoryAfter return committed messages in cluster (index)
//     order, ascending. Direct messages are stored under DMRoom(a, b).
//   - Subscribe delivers committed events in index order. The channel is
//     bounded (buf); a subscriber that falls behind is dropped: C is closed and
//     Dropped reports true. The subscriber resyncs from HistoryAfter.
//   - Text returned by the Backend is NOT trusted: sshui cleans everything it
//     shows (see Clean).
type Backend interface {
	// Post appends a chat message to room and returns its committed index.
	// seenLamport is the largest Lamport time the author had seen (I6). A
	// banned author, or one muted in room, gets a *Refusal.
	Post(ctx context.Context, user, room, text, clientMsgID string, seenLamport uint64, action bool) (index uint64, err error)
	// DirectMessage appends a private message from -> to. A banned sender
	// gets a *Refusal.
	DirectMessage(ctx context.Context, from, to, text, clientMsgID string) (index uint64, err error)

	// History returns up to limit messages of room with Index < before
	// (before == 0: the newest), ascending.
	History(room string, before uint64, limit int) []Message
	// HistoryAfter returns up to limit messages of room with Index > after,
	// ascending. Used by tail --from and to resync a dropped subscription.
	HistoryAfter(room string, after uint64, limit int) []Message
	// Subscribe returns committed events matching f through a queue of buf.
	Subscribe(f Filter, buf int) Subscription

	// BindName binds name to the key fingerprint (replicated). It returns
	// nil if the name is free or already bound to this key, and an error
	// wrapping ErrNameTaken if another key owns it.
	BindName(ctx context.Context, name, fingerprint string) error
	// NameOwner reports the fingerprint bound to name.
	NameOwner(name string) (fingerprint string, ok bool)

	// Rooms lists every room; "general" always exists.
	Rooms() []RoomInfo
	// RoomsOf lists the rooms user has joined (replicated membership).
	RoomsOf(user string) []string
	// Members lists the members of room with their presence.
	Members(room string) []Presence
	JoinRoom(ctx context.Context, user, room string) error
	LeaveRoom(ctx context.Context, user, room string) error
	SetTopic(ctx context.Context, user, room, topic string) error
	// SetPresence records user's status on this node: "online" when the first
	// session of user opens here, "away" on /away, "offline" when the last
	// closes.
	SetPresence(ctx context.Context, user, status string) error

	// Moderate applies a kick, ban or mute (replicated, so it holds on every
	// node and after restarts). Kicks are delivered as EventModeration and
	// sshui closes the target's sessions on every node.
	Moderate(ctx context.Context, m Moderation) error
	IsBanned(user string) bool
	IsMuted(user, room string) bool

	// Status is this node's view of the cluster.
	Status() ClusterStatus
}

// Sentinel errors the Backend wraps so sshui can explain them.
var (
	ErrNoQuorum  = errors.New("no quorum: the cluster cannot commit right now")
	ErrNameTaken = errors.New("name is bound to another key")
	ErrNotFound  = errors.New("not found")
	ErrForbidden = errors.New("permission denied")
	ErrMuted     = errors.New("you are muted")
	// ErrIDReused: the request id was already used by another request of
	// the same author; nothing was changed, and the index returned with
	// the error is the entry that owns the id.
	ErrIDReused = errors.New("request id already used for a different request")
)

// Refusal is the error of a mutation refused by a ban or a mute. The
// decision is taken when the entry is applied, against the entry's own time
// (the leader's clock when it sequenced it), so every node refuses the same
// entries; a backend may also refuse early, from its local state, without
// proposing anything.
type Refusal struct {
	Action string    // "ban" or "mute": what refused it
	User   string    // the refused author
	Room   string    // mute: the room it holds in ("" = every room)
	By     string    // the moderator
	Reason string    // the moderator's reason, untrusted text
	Until  time.Time // end of the ban or mute; zero = no end
	At     time.Time // time of the refused entry (or of the early check)
}

// Error says why, for the refused user: "you are banned until 15:04 UTC
// (spam)", "you are muted in #general until 2025-06-01 15:04 UTC". The time
// of day alone is shown when Until is within a day of At. The reason is not
// cleaned here: sshui cleans everything it shows.
func (r *Refusal) Error() string {
	var b strings.Builder
	b.WriteString("you are ")
	if r.Action == "mute" {
		b.WriteString("muted")
		if r.Room != "" {
			b.WriteString(" in #" + r.Room)
		}
	} else {
		b.WriteString("banned")
	}
	if !r.Until.IsZero() {
		u := r.Until.UTC()
		layout := "2006-01-02 15:04 UTC"
		if d := r.Until.Sub(r.At); d >= 0 && d < 24*time.Hour {
			layout = "15:04 UTC"
		}
		b.WriteString(" until " + u.Format(layout))
	}
	if r.Reason != "" {
		b.WriteString(" (" + r.Reason + ")")
	}
	return b.String()
}

// Is makes a ban's refusal match ErrForbidden and a mute's ErrMuted.
func (r *Refusal) Is(target error) bool {
	if r.Action == "mute" {
		return target == ErrMuted
	}
	return target == ErrForbidden
}

// Message is one committed chat message.
type Message struct {
	Index   uint64    `json:"index"`            // log index: cluster order
	ID      string    `json:"id"`               // client message id (I5)
	Room    string    `json:"room"`             // room name, or DMRoom(from, to) for DMs
	From    string    `json:"from"`             // author
	To      string    `json:"to,omitempty"`     // recipient of a direct message
	Text    string    `json:"text"`             // raw, untrusted
	Lamport uint64    `json:"lamport"`          // Lamport time (I6)
	Time    time.Time `json:"time"`             // leader's wall clock, display only
	Action  bool      `json:"action,omitempty"` // /me
}

// IsDM reports whether m is a direct message.
func (m Message) IsDM() bool { return m.To != "" }

// DMRoom is the history key of the direct conversation between a and b.
func DMRoom(a, b string) string {
	p := []string{a, b}
	sort.Strings(p)
	return "@" + p[0] + "," + p[1]
}

// EventKind says what an Event carries.
type EventKind int

const (
	EventMessage    EventKind = iota + 1 // Message is set (room message or DM)
	EventJoin                            // User joined Room
	EventLeave                           // User left Room
	EventTopic                           // Room's topic is now Text
	EventPresence                        // User's Status changed (Node: where)
	EventModeration                      // Mod is set
	EventStatus                          // cluster status changed (leader, term, quorum)
)

// Event is one committed (or, for EventPresence/EventStatus, observed) fact.
type Event struct {
	Kind    EventKind
	Index   uint64 // log index for replicated events; 0 otherwise
	Message Message
	Room    string
	User    string
	Text    string // topic for EventTopic; status for EventPresence
	Node    string
	Mod     Moderation
}

// Filter selects events. Zero value: every event.
type Filter struct {
	Rooms    []string // only messages/joins/leaves/topics of these rooms (empty: all)
	DMsFor   string   // also direct messages to or from this user
	Messages bool     // only EventMessage
}

// Match reports whether e passes f. Backends may use it.
func (f Filter) Match(e Event) bool {
	if f.Messages && e.Kind != EventMessage {
		return false
	}
	if e.Kind == EventMessage && e.Message.IsDM() {
		if f.DMsFor != "" {
			return e.Message.From == f.DMsFor || e.Message.To == f.DMsFor
		}
		return len(f.Rooms) == 0
	}
	if len(f.Rooms) == 0 {
		return true
	}
	room := e.Room
	if e.Kind == EventMessage {
		room = e.Message.Room
	}
	if room == "" {
		return true
	}
	for _, r := range f.Rooms {
		if r == room {
			return true
		}
	}
	return false
}

// Subscription is a bounded stream of committed events.
type Subscription interface {
	// C delivers events in index order; it is closed by Close or on drop.
	C() <-chan Event
	// Dropped reports whether the subscriber was cut off for being slow.
	Dropped() bool
	Close()
}

// RoomInfo describes a room.
type RoomInfo struct {
	Name      string `json:"name"`
	Topic     string `json:"topic"`
	Members   int    `json:"members"`
	LastIndex uint64 `json:"last_index"`
}

// Presence is a member of a room.
type Presence struct {
	User   string `json:"user"`
	Status string `json:"status"` // online | away | offline
	Node   string `json:"node"`   // node the user is connected to
}

// Moderation is a kick, ban or mute.
type Moderation struct {
	Action string    `json:"action"` // kick | ban | mute
	Target string    `json:"target"`
	By     string    `json:"by"`
	Room   string    `json:"room,omitempty"` // mute scope; "" = everywhere
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until,omitempty"` // zero = forever
}

// ClusterStatus is one node's view of the cluster.
type ClusterStatus struct {
	Node    string         `json:"node"`   // this node
	Leader  string         `json:"leader"` // "" when unknown
	Term    uint64         `json:"term"`
	Quorum  bool           `json:"quorum"` // a majority is reachable
	Members []MemberStatus `json:"members"`
}

// MemberStatus is one node as seen by the reporting node.
type MemberStatus struct {
	ID            string        `json:"id"`
	Online        bool          `json:"online"`
	Leader        bool          `json:"leader"`
	LeaderID      string        `json:"leader_id"` // whom this member names as leader (SPLIT detection)
	Term          uint64        `json:"term"`
	Uptime        time.Duration `json:"-"`
	Clients       int           `json:"clients"`
	Messages      uint64        `json:"messages"`
	CommitIndex   uint64        `json:"commit_index"`
	LogHash       string        `json:"log_hash"`
	Host          string        `json:"host"`
	SSHPort       int           `json:"ssh_port"`
	PeerPort      int           `json:"peer_port"`
	HeartbeatPort int           `json:"heartbeat_port"`
}
