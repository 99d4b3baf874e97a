package node

import (
	"context"
	"fmt"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/ring"
	"github.com/syncnet/syncnet/sshui"
)

// The node is sshui's Backend: every mutation goes through the replicated
// log and returns once committed and applied here; every read answers from
// this node's applied state.
var _ sshui.Backend = (*Node)(nil)

func (n *Node) ev(b eventlog.Body) eventlog.Event { return eventlog.Event{Body: b} }

// Post appends a chat message and returns its committed index (I4, I5, I6).
func (n *Node) Post(ctx context.Context, user, room, text, clientMsgID string, seenLamport uint64, action bool) (uint64, error) {
	if n.st.Moderation.Banned(user) {
		return 0, fmt.Errorf("%w: %s is banned", sshui.ErrForbidden, user)
	}
	if n.st.Moderation.Muted(user, room) {
		return 0, sshui.ErrMuted
	}
	b := &eventlog.MessagePosted{Room: room, From: user, Text: text, ClientMsgID: clientMsgID, ReplyLamport: seenLamport}
	if action {
		b.Action = 1
	}
	return n.propose(ctx, n.ev(b), user, clientMsgID, seenLamport)
}

// DirectMessage appends a private message.
func (n *Node) DirectMessage(ctx context.Context, from, to, text, clientMsgID string) (uint64, error) {
	if n.st.Moderation.Banned(from) {
		return 0, fmt.Errorf("%w: %s is banned", sshui.ErrForbidden, from)
	}
	if _, ok := n.st.Identity.Lookup(to); !ok {
		return 0, fmt.Errorf("%w: no user %q", sshui.ErrNotFound, to)
	}
	return n.propose(ctx, n.ev(&eventlog.DirectMessage{From: from, To: to, Text: text, ClientMsgID: clientMsgID}), from, clientMsgID, 0)
}

// History returns committed messages of room before an index, ascending.
func (n *Node) History(room string, before uint64, limit int) []sshui.Message {
	return n.st.Chat.History(room, before, limit)
}

// HistoryAfter returns committed messages of room after an index, ascending.
func (n *Node) HistoryAfter(room string, after uint64, limit int) []sshui.Message {
	return n.st.Chat.HistoryAfter(room, after, limit)
}

// Subscribe streams committed events through a bounded queue.
func (n *Node) Subscribe(f sshui.Filter, buf int) sshui.Subscription { return n.hub.subscribe(f, buf) }

// BindName binds name to a key fingerprint, first claim wins cluster-wide.
func (n *Node) BindName(ctx context.Context, name, fingerprint string) error {
	if fp, ok := n.st.Identity.Lookup(name); ok {
		if fp == fingerprint {
			return nil
		}
		return fmt.Errorf("%w: %q", sshui.ErrNameTaken, name)
	}
	if _, err := n.propose(ctx, n.ev(&eventlog.UserRegistered{Name: name, KeyFingerprint: fingerprint}), "", "", 0); err != nil {
		return err
	}
	if fp, _ := n.st.Identity.Lookup(name); fp != fingerprint {
		return fmt.Errorf("%w: %q", sshui.ErrNameTaken, name) // another key won the race
	}
	return nil
}

// NameOwner reports the fingerprint bound to name.
func (n *Node) NameOwner(name string) (string, bool) { return n.st.Identity.Lookup(name) }

// Rooms lists the rooms.
func (n *Node) Rooms() []sshui.RoomInfo { return n.st.Chat.Rooms() }

// RoomsOf lists the rooms user joined.
func (n *Node) RoomsOf(user string) []string { return n.st.Chat.RoomsOf(user) }

// Members lists a room's members with their presence.
func (n *Node) Members(room string) []sshui.Presence {
	return n.st.Presence.Of(n.st.Chat.Members(room))
}

// JoinRoom makes user a member of room (creating it).
func (n *Node) JoinRoom(ctx context.Context, user, room string) error {
	_, err := n.propose(ctx, n.ev(&eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: room, User: user}}), "", "", 0)
	return err
}

// LeaveRoom ends user's membership of room.
func (n *Node) LeaveRoom(ctx context.Context, user, room string) error {
	_, err := n.propose(ctx, n.ev(&eventlog.MemberLeftRoom{RoomMember: eventlog.RoomMember{Room: room, User: user}}), "", "", 0)
	return err
}

// SetTopic sets room's topic.
func (n *Node) SetTopic(ctx context.Context, user, room, topic string) error {
	_, err := n.propose(ctx, n.ev(&eventlog.RoomTopicSet{Room: room, Topic: topic, By: user}), "", "", 0)
	return err
}

// SetPresence records user's presence on this node.
func (n *Node) SetPresence(ctx context.Context, user, status string) error {
	_, err := n.propose(ctx, n.ev(&eventlog.PresenceChanged{User: user, Node: n.id, Status: status}), "", "", 0)
	return err
}

// Moderate applies a kick, ban or mute cluster-wide.
func (n *Node) Moderate(ctx context.Context, m sshui.Moderation) error {
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
	default:
		return fmt.Errorf("unknown moderation action %q", m.Action)
	}
	_, err := n.propose(ctx, n.ev(b), "", "", 0)
	return err
}

// IsBanned reports whether user is banned.
func (n *Node) IsBanned(user string) bool { return n.st.Moderation.Banned(user) }

// IsMuted reports whether user is muted in room.
func (n *Node) IsMuted(user, room string) bool { return n.st.Moderation.Muted(user, room) }

// Status is this node's view of the cluster: its own state plus what every
// member last said in its heartbeat.
func (n *Node) Status() sshui.ClusterStatus {
	n.mu.RLock()
	v := n.view
	n.mu.RUnlock()
	cs := sshui.ClusterStatus{Node: n.id, Leader: v.leader, Term: v.term, Quorum: v.quorum}
	for _, m := range v.members {
		c, _ := n.cfg.Node(m.ID) // members come from the config
		online := m.Self || (m.Heard && m.State == ring.MemberAlive)
		// A member leads if we follow it and it says so itself (or it is us).
		leads := (online && m.Leader == m.ID && m.ID == v.leader) || (m.Self && v.leader == n.id)
		ms := sshui.MemberStatus{
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
			ms.Messages = n.st.Chat.Count()
			ms.CommitIndex = v.commit
			ms.Uptime = n.now().Sub(n.start)
		}
		cs.Members = append(cs.Members, ms)
	}
	return cs
}
