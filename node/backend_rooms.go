package node

import (
	"context"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// The Backend's api.Access: private rooms, keys, notification settings.
// Every change is a request through the log (mutate), so it is exactly
// once and decided at apply time (node/state, access.go); mutate's early
// Authorize answers a refusal at once from local state.

var _ api.Access = (*Node)(nil)

func authority(by string, admin bool) eventlog.Authority {
	a := eventlog.Authority{By: by}
	if admin {
		a.Admin = 1
	}
	return a
}

// CanRead reports whether user may read conv (state.CanRead).
func (n *Node) CanRead(user, conv string) bool { return n.state.CanRead(user, conv) }

// RoomAccess describes room's access.
func (n *Node) RoomAccess(room string) api.RoomAccess { return n.state.Access.Room(room) }

// SetRoomPrivate makes room invite-only, or open again.
func (n *Node) SetRoomPrivate(ctx context.Context, by, room string, private, admin bool) error {
	b := &eventlog.RoomAccessSet{Room: room, Authority: authority(by, admin)}
	if private {
		b.Private = 1
	}
	_, err := n.mutate(ctx, b, by, "", 0)
	return err
}

// Invite lets user into the private room.
func (n *Node) Invite(ctx context.Context, by, room, user string, admin bool) error {
	_, err := n.mutate(ctx, &eventlog.RoomInvited{Room: room, User: user, Authority: authority(by, admin)}, by, "", 0)
	return err
}

// RemoveFromRoom takes user out of the private room.
func (n *Node) RemoveFromRoom(ctx context.Context, by, room, user, reason string, admin bool) error {
	b := &eventlog.RoomRemoved{Room: room, User: user, Reason: reason, Authority: authority(by, admin)}
	_, err := n.mutate(ctx, b, by, "", 0)
	return err
}

// Keys lists name's keys.
func (n *Node) Keys(name string) []api.Key { return n.state.Identity.Keys(name) }

// HasKey reports whether fp logs in as name.
func (n *Node) HasKey(name, fp string) bool { return n.state.Identity.HasKey(name, fp) }

// AddKey binds one more key to name.
func (n *Node) AddKey(ctx context.Context, by, name, fp, label string, admin bool) error {
	b := &eventlog.KeyAdded{Name: name, KeyFingerprint: fp, Label: label, Authority: authority(by, admin)}
	_, err := n.mutate(ctx, b, by, "", 0)
	return err
}

// RemoveKey unbinds one of name's keys.
func (n *Node) RemoveKey(ctx context.Context, by, name, fp string, admin bool) error {
	b := &eventlog.KeyRemoved{Name: name, KeyFingerprint: fp, Authority: authority(by, admin)}
	_, err := n.mutate(ctx, b, by, "", 0)
	return err
}

// NotifySettings is user's notification settings.
func (n *Node) NotifySettings(user string) api.NotifySettings { return n.state.Prefs.Of(user) }

// SetNotify sets user's notification level for conv.
func (n *Node) SetNotify(ctx context.Context, user, conv, level string) error {
	_, err := n.mutate(ctx, &eventlog.NotifySet{User: user, Conv: conv, Level: level}, user, "", 0)
	return err
}

// SetPref sets one of user's preferences.
func (n *Node) SetPref(ctx context.Context, user, name, value string, remove bool) error {
	b := &eventlog.PrefSet{User: user, Name: name, Value: value}
	if remove {
		b.Remove = 1
	}
	_, err := n.mutate(ctx, b, user, "", 0)
	return err
}
