package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/config"
)

// The node is its front ends' api.Backend: every mutation goes through the
// replicated log as a request with an id (mutate) and returns once committed
// and applied here; every read answers from this node's applied state.
var _ api.Backend = (*Node)(nil)

// requestEvent is the event of a request: body, proposed by author with
// request id id (see eventlog.Header).
func requestEvent(b eventlog.Body, author, id string) eventlog.Event {
	return eventlog.Event{Header: eventlog.Header{Author: author, RequestID: id}, Body: b}
}

// newRequestID draws a request id: 16 random bytes, in hex.
func newRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("node: no randomness for a request id: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// mutate proposes body as the request (author, id) and answers with what
// became of it. Every Backend mutation goes through here, so each is
// exactly once (I5) and authorized at apply time, in node/state:
//
//   - A request not yet applied here is first checked against this node's
//     state at its clock (state.Authorize): a fast path that refuses
//     without proposing. The decision that counts is taken at apply time.
//   - Once the entry is applied here, the exactly-once table says what
//     became of the request: the index of its first entry, a refusal
//     (*api.Refusal), or that the id was taken by another request (that
//     index and api.ErrIDReused).
func (n *Node) mutate(ctx context.Context, body eventlog.Body, author, id string, seen uint64) (uint64, error) {
	return n.startRequest(ctx, body, author, id, seen).Wait(ctx)
}

// pending is a request handed to the driver (or refused before that),
// whose answer Wait reads.
type pending struct {
	n   *Node
	ev  eventlog.Event
	p   *proposal // nil: err is the answer
	err error
}

// startRequest checks a request on local state and hands it to the driver; the
// first half of mutate.
func (n *Node) startRequest(ctx context.Context, body eventlog.Body, author, id string, seen uint64) *pending {
	if id == "" {
		id = newRequestID()
	}
	ev := requestEvent(body, author, id)
	if _, done := n.state.Lookup(author, id); !done {
		probe := ev
		probe.Time = n.now().UnixNano()
		if r := n.state.Authorize(probe); r != nil {
			return &pending{err: r}
		}
	}
	p, err := n.enqueue(ctx, ev, author, id, seen)
	return &pending{n: n, ev: ev, p: p, err: err}
}

// Wait implements api.Pending: the second half of mutate.
func (w *pending) Wait(ctx context.Context) (uint64, error) {
	if w.p == nil {
		return 0, w.err
	}
	n, ev := w.n, w.ev
	author, id := ev.Header.Author, ev.Header.RequestID
	idx, err := n.await(ctx, w.p)
	if err != nil {
		return idx, err
	}
	o, ok := n.state.Lookup(author, id)
	switch {
	case !ok:
		return idx, nil // not in the table: cannot happen once applied here; trust the driver
	case !o.Matches(ev):
		return o.Index, fmt.Errorf("%w: %q is entry %d", api.ErrIDReused, id, o.Index)
	case o.Refusal != nil:
		return 0, o.Refusal
	}
	return o.Index, nil
}

// Submit implements api.Backend: a post or direct message handed to the
// log without waiting for it (a stream pipelines many). It blocks only
// while the driver's queue is full.
func (n *Node) Submit(ctx context.Context, r api.PostRequest) api.Pending {
	id := r.ID
	if id == "" {
		id = newRequestID()
	}
	var action uint64
	if r.Action {
		action = 1
	}
	var parent uint64 // a reply's (backend_messages.go)
	if r.ReplyTo != 0 {
		conv := r.Room
		if r.To != "" {
			conv = api.DMRoom(r.User, r.To)
		}
		var err error
		if parent, err = n.replyParent(r.User, conv, r.ReplyTo); err != nil {
			return &pending{err: err}
		}
	}
	if r.To != "" {
		if _, ok := n.state.Identity.Lookup(r.To); !ok {
			return &pending{err: fmt.Errorf("%w: no user %q", api.ErrNotFound, r.To)}
		}
		return n.startRequest(ctx, &eventlog.DirectMessage{From: r.User, To: r.To, Text: r.Text, ClientMsgID: id, Action: action, ReplyTo: parent}, r.User, id, 0)
	}
	return n.startRequest(ctx, &eventlog.MessagePosted{Room: r.Room, From: r.User, Text: r.Text, ClientMsgID: id, Action: action, ReplyTo: parent},
		r.User, id, 0)
}

// Post appends a chat message and returns its committed index (I4, I5, I6).
// clientMsgID is the request id; a random one is drawn if it is empty.
func (n *Node) Post(ctx context.Context, user, room, text, clientMsgID string, seenLamport uint64, action bool) (uint64, error) {
	if clientMsgID == "" {
		clientMsgID = newRequestID()
	}
	b := &eventlog.MessagePosted{Room: room, From: user, Text: text, ClientMsgID: clientMsgID, ReplyLamport: seenLamport}
	if action {
		b.Action = 1
	}
	return n.mutate(ctx, b, user, clientMsgID, seenLamport)
}

// DirectMessage appends a private message.
func (n *Node) DirectMessage(ctx context.Context, from, to, text, clientMsgID string, action bool) (uint64, error) {
	if _, ok := n.state.Identity.Lookup(to); !ok {
		return 0, fmt.Errorf("%w: no user %q", api.ErrNotFound, to)
	}
	if clientMsgID == "" {
		clientMsgID = newRequestID()
	}
	dm := &eventlog.DirectMessage{From: from, To: to, Text: text, ClientMsgID: clientMsgID}
	if action {
		dm.Action = 1
	}
	return n.mutate(ctx, dm, from, clientMsgID, 0)
}

// History returns committed messages of room before an index, ascending.
// Pages older than the chat's cache are read from this node's WAL.
func (n *Node) History(room string, before uint64, limit int) ([]api.Message, error) {
	msgs, err := n.state.History(room, before, limit) // with edits, reactions, replies laid over
	if err != nil {
		n.log.Error("read history from the WAL", "room", room, "before", before, "err", err)
	}
	return msgs, err
}

// HistoryAfter returns committed messages of room after an index, ascending.
func (n *Node) HistoryAfter(room string, after uint64, limit int) ([]api.Message, error) {
	msgs, err := n.state.HistoryAfter(room, after, limit)
	if err != nil {
		n.log.Error("read history from the WAL", "room", room, "after", after, "err", err)
	}
	return msgs, err
}

// Subscribe streams committed events through a bounded queue.
func (n *Node) Subscribe(f api.Filter, buf int) api.Subscription {
	return n.subscribers.subscribe(f, buf)
}

// BindName binds name to a key fingerprint, first claim wins cluster-wide.
func (n *Node) BindName(ctx context.Context, name, fingerprint string) error {
	if fp, ok := n.state.Identity.Lookup(name); ok {
		if fp == fingerprint {
			return nil
		}
		return fmt.Errorf("%w: %q", api.ErrNameTaken, name)
	}
	if _, err := n.mutate(ctx, &eventlog.UserRegistered{Name: name, KeyFingerprint: fingerprint}, name, "", 0); err != nil {
		return err
	}
	if fp, _ := n.state.Identity.Lookup(name); fp != fingerprint {
		return fmt.Errorf("%w: %q", api.ErrNameTaken, name) // another key won the race
	}
	return nil
}

// NameOwner reports the fingerprint bound to name.
func (n *Node) NameOwner(name string) (string, bool) { return n.state.Identity.Lookup(name) }

// Rooms lists the rooms.
func (n *Node) Rooms() []api.RoomInfo { return n.state.Chat.Rooms() }

// RoomsOf lists the rooms user joined.
func (n *Node) RoomsOf(user string) []string { return n.state.Chat.RoomsOf(user) }

// Conversations lists user's rooms and direct conversations with their
// read marks.
func (n *Node) Conversations(user string) []api.Conversation { return n.state.Conversations(user) }

// MarkRead records user's read mark in conv (replicated).
func (n *Node) MarkRead(ctx context.Context, user, conv string, index uint64) error {
	_, err := n.mutate(ctx, &eventlog.ReadMarked{User: user, Conv: conv, Index: index}, user, "", 0)
	return err
}

// Members lists a room's members with their presence. Presence reported
// by a node this node does not hear as alive is left out: its sessions
// died with it (or cannot reach us), so its users show offline here until
// they connect to a live node (docs/ARCHITECTURE.md, "Presence").
func (n *Node) Members(room string) []api.Presence {
	n.mu.RLock()
	down := n.view.down // replaced, never modified, by publishView
	n.mu.RUnlock()
	return n.state.Presence.OfExcept(n.state.Chat.Members(room), down)
}

// JoinRoom makes user a member of room (creating it).
func (n *Node) JoinRoom(ctx context.Context, user, room string) error {
	_, err := n.mutate(ctx, &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: room, User: user}}, user, "", 0)
	return err
}

// LeaveRoom ends user's membership of room.
func (n *Node) LeaveRoom(ctx context.Context, user, room string) error {
	_, err := n.mutate(ctx, &eventlog.MemberLeftRoom{RoomMember: eventlog.RoomMember{Room: room, User: user}}, user, "", 0)
	return err
}

// SetTopic sets room's topic.
func (n *Node) SetTopic(ctx context.Context, user, room, topic string) error {
	_, err := n.mutate(ctx, &eventlog.RoomTopicSet{Room: room, Topic: topic, By: user}, user, "", 0)
	return err
}

// SetPresence records user's presence on this node.
func (n *Node) SetPresence(ctx context.Context, user, status string) error {
	_, err := n.mutate(ctx, &eventlog.PresenceChanged{User: user, Node: n.id, Status: status}, user, "", 0)
	return err
}

// ClearStalePresence marks offline the users this node still shows as
// present from before a crash: their sessions died with the old process.
// It waits for a quorum so the cleanup is itself replicated, then does
// nothing if sessions (the front end's count of its sessions here) reports
// anyone: people are back already, and their sessions keep presence right.
// It returns when done or when ctx ends; run it once the front end serves.
func (n *Node) ClearStalePresence(ctx context.Context, sessions func() int) {
	for !n.Status().Quorum {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	if sessions() > 0 {
		return
	}
	for _, u := range n.state.Presence.OnNode(n.id) {
		pctx, cancel := context.WithTimeout(ctx, n.cfg.Timing.PostTimeout.Duration)
		if err := n.SetPresence(pctx, u, "offline"); err != nil {
			n.log.Debug("clear stale presence", "user", u, "err", err)
		}
		cancel()
	}
}

// Moderate applies a kick, ban or mute cluster-wide.
func (n *Node) Moderate(ctx context.Context, m api.Moderation) error {
	body := eventlog.Moderation{Target: m.Target, By: m.By, Room: m.Room, Reason: m.Reason}
	if !m.Until.IsZero() {
		body.Until = m.Until.UnixNano()
	}
	var b eventlog.Body
	switch m.Action {
	case "kick":
		b = &eventlog.UserKicked{Moderation: body}
	case "ban":
		b = &eventlog.UserBanned{Moderation: body}
	case "mute":
		b = &eventlog.UserMuted{Moderation: body}
	case "unban":
		b = &eventlog.UserUnbanned{Moderation: body}
	case "unmute":
		b = &eventlog.UserUnmuted{Moderation: body}
	default:
		return fmt.Errorf("unknown moderation action %q", m.Action)
	}
	_, err := n.mutate(ctx, b, m.By, "", 0)
	return err
}

// IsBanned reports whether user is banned.
func (n *Node) IsBanned(user string) bool { return n.state.Moderation.Banned(user) }

// Sanctions lists the bans and mutes in force now, by this node's clock.
func (n *Node) Sanctions() []api.Moderation { return n.state.Moderation.Active() }

// ReleaseName frees name cluster-wide; the next key to claim it owns it.
// A name nobody owns is not found (nothing is proposed).
func (n *Node) ReleaseName(ctx context.Context, name, by string) error {
	if _, ok := n.state.Identity.Lookup(name); !ok {
		return fmt.Errorf("%w: nobody owns the name %q", api.ErrNotFound, name)
	}
	_, err := n.mutate(ctx, &eventlog.NameReleased{Name: name, By: by}, by, "", 0)
	return err
}

// Status is this node's view of the cluster: its own state plus what every
// member last said in its heartbeat.
func (n *Node) Status() api.ClusterStatus {
	n.mu.RLock()
	v := n.view
	n.mu.RUnlock()
	cs := api.ClusterStatus{Node: n.id, Leader: v.leader, Term: v.term, Quorum: v.quorum}
	members := n.membersView.Load()
	for _, m := range v.members {
		c, _ := n.cfg.Node(m.ID) // where the membership has no entry for it
		if members != nil {
			if s, ok := members.spec(m.ID); ok {
				c = config.Node{ID: s.ID, Host: s.Host, SSHPort: s.SSHPort, PeerPort: s.PeerPort, HeartbeatPort: s.HeartbeatPort}
			}
		}
		online := heardAlive(m) // the rule of quorum, Stats (ready.go)
		// A member leads if we follow it and it says so itself (or it is us).
		leads := (online && m.Leader == m.ID && m.ID == v.leader) || (m.Self && v.leader == n.id)
		ms := api.MemberStatus{
			ID: m.ID, Online: online, Leader: leads,
			LeaderID: m.Leader, Term: m.Term, Clients: int(m.Status.Clients), Messages: m.Status.Messages,
			CommitIndex: m.Status.CommitIndex, Uptime: time.Duration(m.Status.UptimeMillis) * time.Millisecond,
			Host: c.Host, SSHPort: c.SSHPort, PeerPort: c.PeerPort, HeartbeatPort: c.HeartbeatPort,
		}
		if m.Status.HashIndex != 0 {
			ms.LogHash = fmt.Sprintf("%s@%d", eventlog.Hash(m.Status.LogHash).Short(), m.Status.HashIndex)
		}
		if m.Self {
			ms.Clients = n.clientsNow()
			ms.Messages = n.state.Chat.Count()
			ms.CommitIndex = v.commit
			ms.Uptime = n.now().Sub(n.start)
		}
		ms.Learner = m.Status.Learner || !m.Voter // a learner of the membership has no vote either
		if m.Self {
			ms.Learner = n.learnerNow.Load() || !m.Voter
		}
		cs.Members = append(cs.Members, ms)
	}
	cs.Storage = n.storageStatus()
	cs.Ring = n.ringStats()
	return cs
}

// storageStatus reports the newest snapshot and the WAL verification.
func (n *Node) storageStatus() api.StorageStatus {
	var s api.StorageStatus
	ss := n.snaps.status()
	s.SnapshotIndex, s.SnapshotAt = ss.applied, ss.at
	state, records, err := n.verify.get()
	switch {
	case state == "failed":
		s.WALVerify = "failed: " + err.Error()
	case state != "":
		s.WALVerify = state
	case n.wal.VerifiedFrom() <= max(n.wal.FirstSeq(), 1):
		s.WALVerify = "all"
	default:
		s.WALVerify = "off"
	}
	s.WALRecords = records
	return s
}
