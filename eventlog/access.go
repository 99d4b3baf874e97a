package eventlog

import "fmt"

// Private rooms, several keys per user, and notification settings (issue
// 16). All are above the baseline kind: a leader proposes them only once
// every member announces it can apply them (the upgrade rule,
// docs/ARCHITECTURE.md "Rolling upgrades").
const (
	// KindRoomAccessSet makes a room invite-only (Private 1) or open again.
	KindRoomAccessSet Kind = 30
	// KindRoomInvited lets a user into a private room.
	KindRoomInvited Kind = 31
	// KindRoomRemoved takes a user out of a private room: membership and
	// invitation (not the cluster-wide kick, which ends sessions).
	KindRoomRemoved Kind = 32
	// KindKeyAdded binds one more public key to a user name.
	KindKeyAdded Kind = 33
	// KindKeyRemoved unbinds one of a user's keys.
	KindKeyRemoved Kind = 34
	// KindNotifySet sets how a user is notified of a conversation.
	KindNotifySet Kind = 35
	// KindPrefSet sets one of a user's preferences (the bell, highlights).
	KindPrefSet Kind = 36
)

// Authority says on whose authority an access or key change was asked:
// Admin is 1 when the session that asked had an admin key (checked by the
// node that proposed it, as for moderation: admin keys live in each node's
// configuration, not in the log). Apply decides everything else from the
// log alone.
type Authority struct {
	By    string `json:"by"`
	Admin uint64 `json:"admin,omitempty"`
}

func (a *Authority) describe() string {
	if a.Admin != 0 {
		return fmt.Sprintf("by=%q admin", a.By)
	}
	return fmt.Sprintf("by=%q", a.By)
}

// RoomAccessSet makes Room invite-only (Private 1: its members keep their
// place, By becomes its owner, anyone else needs an invitation) or open to
// everyone again (Private 0).
type RoomAccessSet struct {
	Room    string `json:"room"`
	Private uint64 `json:"private"`
	Authority
}

func (*RoomAccessSet) Kind() Kind { return KindRoomAccessSet }
func (m *RoomAccessSet) Describe() string {
	return fmt.Sprintf("room=%q private=%d %s", m.Room, m.Private, m.describe())
}
func (m *RoomAccessSet) Wire(w Wire) {
	w.String(1, &m.Room)
	w.Uint(2, &m.Private)
	w.String(3, &m.By)
	w.Uint(4, &m.Admin)
}

// RoomInvited lets User into the private room Room.
type RoomInvited struct {
	Room string `json:"room"`
	User string `json:"user"`
	Authority
}

func (*RoomInvited) Kind() Kind { return KindRoomInvited }
func (m *RoomInvited) Describe() string {
	return fmt.Sprintf("room=%q user=%q %s", m.Room, m.User, m.describe())
}
func (m *RoomInvited) Wire(w Wire) {
	w.String(1, &m.Room)
	w.String(2, &m.User)
	w.String(3, &m.By)
	w.Uint(4, &m.Admin)
}

// RoomRemoved takes User out of the private room Room: they are no
// longer a member nor invited, and may not read it.
type RoomRemoved struct {
	Room   string `json:"room"`
	User   string `json:"user"`
	Reason string `json:"reason,omitempty"`
	Authority
}

func (*RoomRemoved) Kind() Kind { return KindRoomRemoved }
func (m *RoomRemoved) Describe() string {
	return fmt.Sprintf("room=%q user=%q reason=%q %s", m.Room, m.User, m.Reason, m.describe())
}
func (m *RoomRemoved) Wire(w Wire) {
	w.String(1, &m.Room)
	w.String(2, &m.User)
	w.String(3, &m.Reason)
	w.String(4, &m.By)
	w.Uint(5, &m.Admin)
}

// KeyAdded binds one more public key (its SHA256 fingerprint) to the
// user name Name; Label is what the user sees of it in a list (the key's
// type and comment).
type KeyAdded struct {
	Name           string `json:"name"`
	KeyFingerprint string `json:"key_fingerprint"`
	Label          string `json:"label,omitempty"`
	Authority
}

func (*KeyAdded) Kind() Kind { return KindKeyAdded }
func (m *KeyAdded) Describe() string {
	return fmt.Sprintf("name=%q key=%q label=%q %s", m.Name, m.KeyFingerprint, m.Label, m.describe())
}
func (m *KeyAdded) Wire(w Wire) {
	w.String(1, &m.Name)
	w.String(2, &m.KeyFingerprint)
	w.String(3, &m.Label)
	w.String(4, &m.By)
	w.Uint(5, &m.Admin)
}

// KeyRemoved unbinds the key KeyFingerprint from Name. A user's last key
// is never removed (apply refuses it).
type KeyRemoved struct {
	Name           string `json:"name"`
	KeyFingerprint string `json:"key_fingerprint"`
	Authority
}

func (*KeyRemoved) Kind() Kind { return KindKeyRemoved }
func (m *KeyRemoved) Describe() string {
	return fmt.Sprintf("name=%q key=%q %s", m.Name, m.KeyFingerprint, m.describe())
}
func (m *KeyRemoved) Wire(w Wire) {
	w.String(1, &m.Name)
	w.String(2, &m.KeyFingerprint)
	w.String(3, &m.By)
	w.Uint(4, &m.Admin)
}

// NotifySet sets how User is notified of Conv: a room's name, or "@" for
// every direct conversation. Level is "all", "mentions" or "none"; ""
// goes back to the default.
type NotifySet struct {
	User  string `json:"user"`
	Conv  string `json:"conv"`
	Level string `json:"level"`
}

func (*NotifySet) Kind() Kind { return KindNotifySet }
func (m *NotifySet) Describe() string {
	return fmt.Sprintf("user=%q conv=%q level=%q", m.User, m.Conv, m.Level)
}
func (m *NotifySet) Wire(w Wire) { w.String(1, &m.User); w.String(2, &m.Conv); w.String(3, &m.Level) }

// PrefSet sets one of User's preferences: Name "bell" with Value "on" or
// "off", or Name "highlight" with Value a word to highlight (Remove 1
// takes it off the list).
type PrefSet struct {
	User   string `json:"user"`
	Name   string `json:"name"`
	Value  string `json:"value"`
	Remove uint64 `json:"remove,omitempty"`
}

func (*PrefSet) Kind() Kind { return KindPrefSet }
func (m *PrefSet) Describe() string {
	s := fmt.Sprintf("user=%q name=%q value=%q", m.User, m.Name, m.Value)
	if m.Remove != 0 {
		s += " remove"
	}
	return s
}
func (m *PrefSet) Wire(w Wire) {
	w.String(1, &m.User)
	w.String(2, &m.Name)
	w.String(3, &m.Value)
	w.Uint(4, &m.Remove)
}

func init() {
	RegisterKind(KindRoomAccessSet, "room_access_set", func() Body { return &RoomAccessSet{} })
	RegisterKind(KindRoomInvited, "room_invited", func() Body { return &RoomInvited{} })
	RegisterKind(KindRoomRemoved, "room_removed", func() Body { return &RoomRemoved{} })
	RegisterKind(KindKeyAdded, "key_added", func() Body { return &KeyAdded{} })
	RegisterKind(KindKeyRemoved, "key_removed", func() Body { return &KeyRemoved{} })
	RegisterKind(KindNotifySet, "notify_set", func() Body { return &NotifySet{} })
	RegisterKind(KindPrefSet, "pref_set", func() Body { return &PrefSet{} })
}
