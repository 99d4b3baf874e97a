package sshui

import (
	"fmt"

	"github.com/syncnet/syncnet/node/api"
)

// Private rooms on every read path. The rule is the Backend's
// (api.Access.CanRead, node/state's CanRead): every exec command that
// reads a room (history, tail, who ROOM, room), the chat app (joining,
// loading a conversation, /who, /rooms, /whois) and the live events of
// the hub and of tail ask it. A private room's name is not secret (rooms
// lists it, marked private); its messages, members and topic are.

// readRefusal is the sentence a user gets for a room they may not read.
func readRefusal(room string) string {
	return fmt.Sprintf("permission denied: #%s is private; ask one of its members to invite you", Clean(room, MaxNameLen))
}

// mayRead refuses, with exit status 1, a room the session's user may not
// read; cmd names the command in the error.
func (e *execEnv) mayRead(cmd, room string) (int, bool) {
	if e.b.CanRead(e.id.Name, room) {
		return exitOK, true
	}
	return e.errorf("%s: %s", cmd, readRefusal(room)), false
}

// roomDoc is one room as rooms lists it (and its JSON line): a private
// room a user may not read shows its name only, marked private.
type roomDoc struct {
	api.RoomInfo
	Private bool `json:"private,omitempty"`
	hidden  bool // private and not readable: no members, topic or index
}

func (r roomDoc) mark() string {
	if r.Private {
		return " (private)"
	}
	return ""
}

func (r roomDoc) members() string {
	if r.hidden {
		return "-"
	}
	return fmt.Sprint(r.Members)
}

// visibleRooms is every room as user may see it.
func visibleRooms(b api.Backend, user string) []roomDoc {
	rooms := b.Rooms()
	out := make([]roomDoc, 0, len(rooms))
	for _, r := range rooms {
		d := roomDoc{RoomInfo: r, Private: b.RoomAccess(r.Name).Private}
		if d.Private && !b.CanRead(user, r.Name) {
			d.hidden = true
			d.RoomInfo = api.RoomInfo{Name: r.Name}
		}
		out = append(out, d)
	}
	return out
}

// shutOut says why an event ends this tail ("" if it does not): its user
// was removed from the room, or the room became private without letting
// them in (a tail need not be a member of a public room), or the key it
// logged in with was removed from its name.
func (t *tailer) shutOut(ev api.Event) string {
	if ev.Kind == api.EventKeys && ev.User == t.e.id.Name && ev.Mod.Action == "key_removed" && ev.Mod.Target == t.e.id.Fingerprint {
		return "the key of this session was removed from " + Clean(ev.User, MaxNameLen) + " by " + Clean(ev.Mod.By, MaxNameLen)
	}
	if ev.Kind != api.EventAccess || ev.Room != t.room {
		return ""
	}
	me := t.e.id.Name
	switch ev.Mod.Action {
	case "remove":
		if ev.Mod.Target == me {
			return removedText(ev.Mod)
		}
	case "private":
		if !t.e.b.CanRead(me, t.room) {
			return readRefusal(t.room)
		}
	}
	return ""
}

// removedText tells a user they were taken out of a private room.
func removedText(m api.Moderation) string {
	s := "you were removed from #" + Clean(m.Room, MaxNameLen) + " by " + Clean(m.By, MaxNameLen)
	if m.Target == m.By {
		s = "you left #" + Clean(m.Room, MaxNameLen) + " and gave up your invitation"
	}
	return s + reasonText(m.Reason)
}

// explainChange is explain for a change of settings, access or keys: no
// request id to retry with.
func explainChange(err error, timeout string) string {
	if noQuorum(err) {
		return "not done: the cluster has no quorum (waited up to " + timeout + "); try again"
	}
	return explain(err, timeout)
}
