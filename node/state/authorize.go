package state

import (
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// Authorization.
//
// Whether an entry may change anything is decided here, in Authorize, and
// nowhere else. The State calls it for every committed entry, in log order,
// before the entry's plugin sees it, and judges the entry at the entry's
// own time (Header.Time, stamped by the leader that sequenced it), never at
// the clock of the node applying it. The moderation it consults is the
// fold of the entries before it. Every node therefore refuses exactly the
// same entries, whatever its clock and however late it applies: a ban
// committed at index i refuses a post at index i+1 stamped inside the ban,
// even if the node that proposed the post had not heard of the ban yet.
//
// A refused entry stays in the log (the log is the audit trail) but changes
// no state and produces no event; it is recorded as refused in the
// exactly-once table, so its proposer can tell the user why (Outcome).
//
// Rules:
//   - A banned user (a ban on them whose Until is 0 or after the entry's
//     time; a later ban replaces an earlier one) may not post, send direct
//     messages, set topics or join rooms.
//   - A muted user (any mute on them for that room or every room, active at
//     the entry's time) may not post in the room or set its topic. Direct
//     messages are not muted.
//   - A private room lets in only its members and invited users: nobody
//     else may post in it, set its topic or join it. Who may make a room
//     private, invite, remove, add or remove keys, and which notification
//     settings are valid is decided by authorizeAccess (access.go).
//   - Edits, deletions, reactions and replies (kinds 27 to 29, ReplyTo)
//     are decided by authorizeChange (edits.go): only the author edits,
//     the author or an admin deletes, only existing messages of a
//     conversation one may read; a banned user may do none of it, a muted
//     one may not edit or react in that room.
//   - Everything else passes: leaving a room, presence (a node must always
//     be able to say its user went offline), name binding, and moderation,
//     whose authority is the admin key checked by the session that asked.
//
// The node's backend may call Authorize at its own clock before proposing,
// to answer at once from local state; that answer is only a fast path.

// Authorize decides whether ev may change state, at ev.Time against the
// state applied so far. It returns nil, or why not.
// It holds the once table's read lock, as admit holds its lock: an edit
// or deletion is decided by what that table remembers (edits.go).
func (s *State) Authorize(ev eventlog.Event) *api.Refusal {
	s.once.mu.RLock()
	defer s.once.mu.RUnlock()
	return s.authorize(ev, false)
}

// authorize is Authorize; modLocked says the caller holds the moderation's
// lock (ApplyRun).
func (s *State) authorize(ev eventlog.Event, modLocked bool) *api.Refusal {
	var user, room string
	scoped := false // mutes apply
	in := ""        // a room that must let user in (access.go)
	change := false // an edit, deletion, reaction or reply (edits.go)
	switch b := ev.Body.(type) {
	case *eventlog.MessagePosted:
		user, room, scoped, in, change = b.From, b.Room, true, b.Room, b.ReplyTo != 0
	case *eventlog.RoomTopicSet:
		user, room, scoped, in = b.By, b.Room, true, b.Room
	case *eventlog.DirectMessage:
		user, change = b.From, b.ReplyTo != 0
	case *eventlog.MemberJoinedRoom:
		user, in = b.User, b.Room
	case *eventlog.MessageEdited:
		user, scoped, change = b.By, !api.IsDMRoom(b.Conv), true
	case *eventlog.ReactionSet:
		user, scoped, change = b.By, !api.IsDMRoom(b.Conv), true
	case *eventlog.MessageDeleted:
		user, change = b.By, true // a ban refuses it, a mute does not
		if b.Admin != 0 {
			user = "" // an admin's, like moderation, passes
		}
	default:
		r, _ := s.authorizeAccess(ev, modLocked) // private rooms, keys, settings
		return r
	}
	if scoped && room == "" {
		room = changedConv(ev)
	}
	if user != "" {
		var (
			m      eventlog.Moderation
			action string
			ok     bool
		)
		if modLocked {
			m, action, ok = s.Moderation.refusesLocked(user, room, scoped, ev.Time)
		} else {
			m, action, ok = s.Moderation.refuses(user, room, scoped, ev.Time)
		}
		if ok {
			return refusal(action, user, m, ev.Time)
		}
		if in != "" && s.Access.n.Load() != 0 { // no call at all while no room is private
			if r := s.refusesMember(ev, user, in, modLocked); r != nil {
				return r
			}
		}
	}
	if change {
		return s.authorizeChange(ev, modLocked)
	}
	return nil
}

func refusal(action, user string, m eventlog.Moderation, at int64) *api.Refusal {
	r := &api.Refusal{Action: action, User: user, By: m.By, Reason: m.Reason, At: time.Unix(0, at).UTC()}
	if action == "mute" {
		r.Room = m.Room
	}
	if m.Until != 0 {
		r.Until = time.Unix(0, m.Until).UTC()
	}
	return r
}
