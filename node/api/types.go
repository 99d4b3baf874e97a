package api

import (
	"sort"
	"strings"
	"time"
)

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
	// ReplyTo is the index of the message this one answers (0: none).
	ReplyTo uint64 `json:"reply_to,omitempty"`
	// Extra is what happened to the message since (edits, deletion,
	// reactions, replies: messages.go), nil when nothing did. Reads fill
	// it in; it is never shared between two Messages.
	Extra *MessageExtra `json:"extra,omitempty"`
}

// IsDM reports whether m is a direct message.
func (m Message) IsDM() bool { return m.To != "" }

// DMRoom is the history key of the direct conversation between a and b.
func DMRoom(a, b string) string {
	p := []string{a, b}
	sort.Strings(p)
	return "@" + p[0] + "," + p[1]
}

// IsDMRoom reports whether conv is a direct conversation's key (DMRoom).
func IsDMRoom(conv string) bool { return len(conv) > 0 && conv[0] == '@' }

// InDMRoom reports whether user is one of the two parties of the direct
// conversation conv (DMRoom).
func InDMRoom(conv, user string) bool {
	if !IsDMRoom(conv) {
		return false
	}
	a, b, ok := strings.Cut(conv[1:], ",")
	return ok && (user == a || user == b)
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
	Change  *MessageChange // EventMessageChanged (messages.go)
}

// Filter selects events. Zero value: every event.
type Filter struct {
	Rooms    []string // only messages/joins/leaves/topics of these rooms (empty: all)
	DMsFor   string   // also direct messages to or from this user
	Messages bool     // only EventMessage
	// Reader, when set, leaves out the messages Reader may not read
	// (Access.CanRead at the time each is applied): a private room's
	// after Reader was removed from it, direct messages of others.
	Reader string
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
	if e.Kind == EventMessageChanged && IsDMRoom(e.Room) {
		if f.DMsFor != "" {
			return InDMRoom(e.Room, f.DMsFor)
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

// RoomInfo describes a room.
type RoomInfo struct {
	Name      string `json:"name"`
	Topic     string `json:"topic"`
	Members   int    `json:"members"`
	LastIndex uint64 `json:"last_index"`
}

// Conversation is a room a user has joined, or a direct conversation they
// are in, with how far they have read it.
type Conversation struct {
	Name   string `json:"name"`           // the room, or DMRoom(user, With)
	With   string `json:"with,omitempty"` // the other user of a direct conversation
	Last   uint64 `json:"last_index"`     // its newest message (0: none yet)
	Read   uint64 `json:"read_index"`     // the user's read mark: every message at or below it was seen
	Unread int    `json:"unread"`         // messages after Read
}

// Presence is a member of a room.
type Presence struct {
	User   string `json:"user"`
	Status string `json:"status"` // online | away | offline
	Node   string `json:"node"`   // node the user is connected to
}

// Moderation is a kick, ban or mute.
type Moderation struct {
	Action string    `json:"action"` // kick | ban | mute | unban | unmute | release (a name)
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
	// Storage is the reporting node's own snapshot and WAL verification.
	Storage StorageStatus `json:"storage"`
	// Ring is the reporting node's failure detector and heartbeat path.
	Ring RingStats `json:"ring"`
}

// RingStats tells whether load delays the heartbeat path: how many times
// this node suspected a member since it started, and how long received
// heartbeats waited between their read off the socket and their step in
// the driver (arrival is the kernel's receive timestamp; percentiles and
// maximum over the latest 256).
type RingStats struct {
	Suspicions        uint64        `json:"suspicions"`
	Heartbeats        uint64        `json:"heartbeats"`
	HeartbeatDelayP50 time.Duration `json:"heartbeat_delay_p50_ns"`
	HeartbeatDelayP99 time.Duration `json:"heartbeat_delay_p99_ns"`
	HeartbeatDelayMax time.Duration `json:"heartbeat_delay_max_ns"`
	// KeepaliveRepeats counts heartbeats the transport repeated because
	// the driver was behind; RecvOverflow, datagrams dropped because the
	// driver's queue was full.
	KeepaliveRepeats uint64 `json:"keepalive_repeats"`
	RecvOverflow     uint64 `json:"recv_overflow"`
	// ReadDelayP99 and ReadDelayMax: the part of the wait spent in the
	// socket before the transport's goroutine read the heartbeat.
	ReadDelayP99 time.Duration `json:"read_delay_p99_ns"`
	ReadDelayMax time.Duration `json:"read_delay_max_ns"`
}

// StorageStatus is what a node did to bound its restart time and to prove
// its WAL: its newest snapshot and the background check of the whole hash
// chain.
type StorageStatus struct {
	// SnapshotIndex is the applied entry the newest snapshot holds (0: none).
	SnapshotIndex uint64 `json:"snapshot_index"`
	// SnapshotAt is when this process wrote it (zero: found at start).
	SnapshotAt time.Time `json:"snapshot_at,omitzero"`
	// WALVerify is "all" (start-up verified every record), "running",
	// "ok" (the background check proved the whole chain), "failed: ..."
	// or "off" (background_verify = false; start-up verified the records
	// after the snapshot).
	WALVerify string `json:"wal_verify"`
	// WALRecords is how many records the background check proved.
	WALRecords uint64 `json:"wal_records,omitempty"`
}

// MemberStatus is one node as seen by the reporting node.
type MemberStatus struct {
	ID            string        `json:"id"`
	Online        bool          `json:"online"`
	Leader        bool          `json:"leader"`
	LeaderID      string        `json:"leader_id"` // whom this member names as leader (SPLIT detection)
	Learner       bool          `json:"learner"`   // catching up after a lost data directory: no vote yet
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
