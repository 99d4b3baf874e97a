package api

import "context"

// Backend is everything a front end needs from a node. node.Node implements
// it; sshui (the SSH front end) uses it, and sshuitest fakes it in memory.
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
//     IsBanned, Status) answer from this node's applied state without
//     blocking on the network.
//   - History and HistoryAfter return committed messages in cluster (index)
//     order, ascending. Direct messages are stored under DMRoom(a, b).
//     Older pages are read from this node's WAL on disk, so they may take a
//     few milliseconds (a front end calls them off its event loop) and may
//     fail: an error means this node could not read its own log. Nothing is
//     lost (the log is replicated and the entries stay committed); the
//     caller shows the error and may retry, and ignores any messages
//     returned with it.
//   - Subscribe delivers committed events in index order. The channel is
//     bounded (buf); a subscriber that falls behind is dropped: C is closed and
//     Dropped reports true. The subscriber resyncs from HistoryAfter.
//   - Text returned by the Backend is NOT trusted: a front end cleans
//     everything it shows (sshui.Clean).
type Backend interface {
	Access   // private rooms, notification settings, keys (rooms.go)
	Messages // edits, deletions, reactions, threads (messages.go)
	Search   // full-text search of the history (search.go)

	// Post appends a chat message to room and returns its committed index.
	// seenLamport is the largest Lamport time the author had seen (I6). A
	// banned author, or one muted in room, gets a *Refusal.
	Post(ctx context.Context, user, room, text, clientMsgID string, seenLamport uint64, action bool) (index uint64, err error)
	// DirectMessage appends a private message from -> to. A banned sender
	// gets a *Refusal.
	// action marks it an action (/me).
	DirectMessage(ctx context.Context, from, to, text, clientMsgID string, action bool) (index uint64, err error)

	// Submit hands a post (Room) or direct message (To) to the log and
	// returns at once, so a stream can pipeline many; Pending.Wait gives
	// what Post or DirectMessage would have returned. It blocks only while
	// the node's queue of proposals is full (back-pressure). Requests one
	// caller submits are placed in that order while the leader stays.
	Submit(ctx context.Context, r PostRequest) Pending
	// PostAllowance is user's own allowance of posts and direct messages:
	// the rate per second and the burst of the [[bot]] entry in
	// cluster.toml of the key that owns the name; 0, 0 for everyone else
	// (a person's default applies).
	PostAllowance(user string) (rate float64, burst int)

	// History returns up to limit messages of room with Index < before
	// (before == 0: the newest), ascending.
	History(room string, before uint64, limit int) ([]Message, error)
	// HistoryAfter returns up to limit messages of room with Index > after,
	// ascending. Used by tail --from and to resync a dropped subscription.
	HistoryAfter(room string, after uint64, limit int) ([]Message, error)
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
	// Conversations lists the rooms user has joined and the direct
	// conversations they are in, with their read marks and unread counts
	// (replicated: the same on every node).
	Conversations(user string) []Conversation
	// MarkRead records that user has seen conversation conv (a room, or
	// DMRoom(user, other)) up to and including index. Marks only move
	// forward; a lower one changes nothing.
	MarkRead(ctx context.Context, user, conv string, index uint64) error
	// Members lists the members of room with their presence.
	Members(room string) []Presence
	JoinRoom(ctx context.Context, user, room string) error
	LeaveRoom(ctx context.Context, user, room string) error
	SetTopic(ctx context.Context, user, room, topic string) error
	// SetPresence records user's status on this node: "online" when the first
	// session of user opens here, "away" on /away, "offline" when the last
	// closes.
	SetPresence(ctx context.Context, user, status string) error

	// Moderate applies a kick, ban, mute, unban or unmute (replicated, so
	// it holds on every node and after restarts). Kicks and bans are
	// delivered as EventModeration and sshui closes the target's sessions
	// on every node. An unmute with Room "" lifts every mute of the target.
	Moderate(ctx context.Context, m Moderation) error
	IsBanned(user string) bool
	// Sanctions lists the bans and mutes in force now (Action "ban" or
	// "mute"), sorted by target.
	Sanctions() []Moderation
	// ReleaseName frees name (replicated; by is the admin who asked): the
	// next key to claim it owns it, and the sessions using it end (an
	// EventModeration with Action "release").
	ReleaseName(ctx context.Context, name, by string) error

	// Status is this node's view of the cluster.
	Status() ClusterStatus
}

// PostRequest is one post or direct message of a stream (Backend.Submit).
type PostRequest struct {
	User   string
	Room   string // a room, or "" for a direct message to To
	To     string
	Text   string
	ID     string // the request id (exactly once); random when empty
	Action bool   // an action (/me)
	// ReplyTo is the message this one answers (0: none), in the same
	// room or direct conversation; a reply to a reply goes to the thread
	// of the first (Messages.Thread). A message that is not there, or
	// that the user may not read, is ErrNotFound.
	ReplyTo uint64
}

// Pending is a submitted request. Wait returns its committed index or why
// it failed, exactly as Post does; it may be called once.
type Pending interface {
	Wait(ctx context.Context) (index uint64, err error)
}

// Subscription is a bounded stream of committed events.
type Subscription interface {
	// C delivers events in index order; it is closed by Close or on drop.
	C() <-chan Event
	// Dropped reports whether the subscriber was cut off for being slow.
	Dropped() bool
	Close()
}
