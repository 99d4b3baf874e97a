package api

import "context"

// Access is the part of a Backend for private rooms, notification
// settings and several keys per person (issue 16). Every change is a
// replicated entry decided at apply time (who may make a room private,
// invite, remove; whose keys; valid settings), so every node refuses the
// same requests; a refusal is a *Refusal with Action RefusedAccess whose
// Error is the sentence to show.
type Access interface {
	// CanRead reports whether user may read conversation conv: a room
	// (public, or private and letting user in) or a direct conversation
	// (DMRoom) user is a party of. Every read path asks it: history,
	// tail, members, search, the chat app.
	CanRead(user, conv string) bool
	// RoomAccess describes room's access (Private false: open to all).
	RoomAccess(room string) RoomAccess
	// SetRoomPrivate makes room invite-only (private) or open again. by
	// is the user asking; admin says their session has an admin key.
	SetRoomPrivate(ctx context.Context, by, room string, private, admin bool) error
	// Invite lets user into the private room.
	Invite(ctx context.Context, by, room, user string, admin bool) error
	// RemoveFromRoom takes user out of the private room: membership and
	// invitation. It is not Moderate's kick, which ends sessions.
	RemoveFromRoom(ctx context.Context, by, room, user, reason string, admin bool) error

	// Keys lists the keys bound to name, in the order they were bound.
	Keys(name string) []Key
	// HasKey reports whether the key with fingerprint fp logs in as name.
	HasKey(name, fp string) bool
	// AddKey binds one more key to name (by: the user asking, admin: their
	// session has an admin key). A key bound to another name is refused.
	AddKey(ctx context.Context, by, name, fp, label string, admin bool) error
	// RemoveKey unbinds a key from name; never the last one.
	RemoveKey(ctx context.Context, by, name, fp string, admin bool) error

	// NotifySettings is user's notification settings (defaults if none).
	NotifySettings(user string) NotifySettings
	// SetNotify sets user's level for conv (a room, or "@" for direct
	// messages): NotifyAll, NotifyMentions, NotifyNone, or "" for the
	// default.
	SetNotify(ctx context.Context, user, conv, level string) error
	// SetPref sets one of user's preferences: PrefBell "on"/"off", or
	// PrefHighlight with a word (remove: take it off the list).
	SetPref(ctx context.Context, user, name, value string, remove bool) error
}

// Event kinds of this part (numbered apart from types.go's list, which
// grows on its own).
const (
	// EventAccess: a room's access changed. Mod.Action is "private",
	// "public" (User and Mod.By: who), "invite" or "remove" (User and
	// Mod.Target: whom; Mod.By: who; Mod.Reason for a removal). A removal
	// of a member comes after an EventLeave of them.
	EventAccess EventKind = 30 + iota
	// EventSettings: User's notification settings changed
	// (NotifySettings reads them).
	EventSettings
	// EventKeys: User's keys changed. Mod.Action is "key_added" or
	// "key_removed", Mod.Target the key's fingerprint, Mod.By who.
	EventKeys
)

// RefusedAccess is the Action of a Refusal by the access rules (private
// rooms, keys, settings); its Reason is the whole sentence.
const RefusedAccess = "access"

// RoomAccess describes who may read and join a room.
type RoomAccess struct {
	Room    string   `json:"room"`
	Private bool     `json:"private"`
	Owner   string   `json:"owner,omitempty"`   // made it private; "" after being removed (admins manage it)
	Allowed []string `json:"allowed,omitempty"` // members and invited, sorted
}

// Key is one of a user's keys.
type Key struct {
	Fingerprint string `json:"fingerprint"` // SHA256:...
	Label       string `json:"label,omitempty"`
}

// Notification levels and preference names.
const (
	NotifyAll      = "all"      // every message counts as news, rings the bell
	NotifyMentions = "mentions" // unread counted, bell and marker on mentions and highlights
	NotifyNone     = "none"     // nothing: no unread count, no bell, no marker

	PrefBell      = "bell"
	PrefHighlight = "highlight"

	// NotifyDMs is the conversation name of every direct conversation in
	// NotifySettings.Notify.
	NotifyDMs = "@"
)

// NotifySettings is how a user wants to be told about new messages.
type NotifySettings struct {
	Notify     map[string]string `json:"notify"` // room or NotifyDMs → level
	Bell       bool              `json:"bell"`
	Highlights []string          `json:"highlights"`
}

// Level is the level of conv (a room, or "@name" for a direct
// conversation): the one set, else mentions for a room and all for a
// direct conversation.
func (s NotifySettings) Level(conv string) string {
	if len(conv) > 0 && conv[0] == '@' {
		conv = NotifyDMs
	}
	if l := s.Notify[conv]; l != "" {
		return l
	}
	if conv == NotifyDMs {
		return NotifyAll
	}
	return NotifyMentions
}
