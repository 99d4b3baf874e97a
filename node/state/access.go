package state

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// CanRead reports whether user may read conversation conv: a room's
// history, tail, members and search results, or a direct conversation
// (api.DMRoom) of which user is one of the two parties. Every read path
// (exec commands, the chat app, subscriptions, search) asks this one
// function, so a rule added here holds everywhere at once.
//
// A private room (Access) may be read by the users it lets in: its
// members when it was made private, and whoever was invited since, until
// they are removed. Leaving a private room keeps the invitation (the user
// may join again); being removed ends it. Every other room is open.
func (s *State) CanRead(user, conv string) bool {
	if parties, ok := strings.CutPrefix(conv, "@"); ok {
		a, b, ok := strings.Cut(parties, ",")
		return ok && (user == a || user == b)
	}
	return s.Access.Allowed(user, conv)
}

// Access holds which rooms are private (invite-only), who owns each and
// who is let in. Public rooms hold nothing here: its memory is per private
// room and per person let in, never per message.
//
// Who may do what is decided at apply time, by Authorize, from the log
// alone (authorizeAccess): a user may make a room private while they are
// its only member (a room they just made; they become its owner), an admin
// any room but #general; anyone let in may invite; its owner or an admin
// may remove people and open it again. Admin authority is the admin key
// the proposing session held, carried in the entry (eventlog.Authority),
// as for moderation.
//
// Locks: Apply takes the chat's lock, then its own (room_removed ends a
// membership, which the chat keeps); readers take only its own.
type Access struct {
	mu      sync.RWMutex
	private map[string]*roomAccess
	n       atomic.Int32 // len(private): a post to any room skips the lock while no room is private
	chat    *Chat
	out     []api.Event // Apply's result buffer: valid until the next Apply
}

type roomAccess struct {
	owner   string          // "" after the owner was removed: admins manage it
	allowed map[string]bool // members when made private, and invited since
}

// NewAccess returns the access state of chat c: every room public.
func NewAccess(c *Chat) *Access { return &Access{private: map[string]*roomAccess{}, chat: c} }

func (a *Access) Name() string { return "access" }
func (a *Access) Kinds() []eventlog.Kind {
	return []eventlog.Kind{eventlog.KindRoomAccessSet, eventlog.KindRoomInvited, eventlog.KindRoomRemoved}
}

func (a *Access) Apply(index uint64, ev eventlog.Event) []api.Event {
	a.chat.mu.Lock()
	defer a.chat.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applyLocked(index, ev)
}

// locker is its own lock; ApplyRun takes the chat's before it.
func (a *Access) locker() sync.Locker { return &a.mu }

// applyLocked folds an admitted entry; the chat's lock and a.mu are held.
func (a *Access) applyLocked(index uint64, ev eventlog.Event) []api.Event {
	a.out = a.out[:0]
	event := func(action, room, user, by, reason string) {
		a.out = append(a.out, api.Event{Kind: api.EventAccess, Index: index, Room: room, User: user,
			Mod: api.Moderation{Action: action, Target: user, By: by, Room: room, Reason: reason}})
	}
	switch b := ev.Body.(type) {
	case *eventlog.RoomAccessSet:
		if b.Private == 0 {
			if _, ok := a.private[b.Room]; ok {
				delete(a.private, b.Room)
				a.n.Add(-1)
				event("public", b.Room, b.By, b.By, "")
			}
			return a.out
		}
		if _, ok := a.private[b.Room]; ok {
			return nil // already private: nothing changes
		}
		r := &roomAccess{owner: strings.Clone(b.By), allowed: map[string]bool{}}
		for u := range a.chat.members[b.Room] {
			r.allowed[u] = true
		}
		r.allowed[r.owner] = true
		a.private[strings.Clone(b.Room)] = r
		a.n.Add(1)
		event("private", b.Room, b.By, b.By, "")
	case *eventlog.RoomInvited:
		r := a.private[b.Room]
		if r == nil || r.allowed[b.User] {
			return nil
		}
		r.allowed[strings.Clone(b.User)] = true
		event("invite", b.Room, b.User, b.By, "")
	case *eventlog.RoomRemoved:
		r := a.private[b.Room]
		if r == nil {
			return nil
		}
		delete(r.allowed, b.User)
		if r.owner == b.User {
			r.owner = ""
		}
		if a.chat.members[b.Room][b.User] {
			delete(a.chat.members[b.Room], b.User)
			delete(a.chat.userRoom[b.User], b.Room)
			a.out = append(a.out, api.Event{Kind: api.EventLeave, Index: index, Room: b.Room, User: b.User})
		}
		event("remove", b.Room, b.User, b.By, b.Reason)
	}
	return a.out
}

// Allowed reports whether user may read and join room: it is public, or
// it lets user in.
func (a *Access) Allowed(user, room string) bool {
	if a.n.Load() == 0 {
		return true
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.allowedLocked(user, room)
}

func (a *Access) allowedLocked(user, room string) bool {
	r := a.private[room]
	return r == nil || r.allowed[user]
}

// Private reports whether room is invite-only.
func (a *Access) Private(room string) bool {
	if a.n.Load() == 0 {
		return false
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.private[room] != nil
}

// Room describes room's access: whether it is private, its owner and who
// it lets in (sorted).
func (a *Access) Room(room string) api.RoomAccess {
	a.mu.RLock()
	defer a.mu.RUnlock()
	r := a.private[room]
	if r == nil {
		return api.RoomAccess{Room: room}
	}
	return api.RoomAccess{Room: room, Private: true, Owner: r.owner, Allowed: slices.Sorted(maps.Keys(r.allowed))}
}

// accessRefusal is a refusal of ev by the access rules, its reason the
// whole sentence the user reads.
func accessRefusal(ev eventlog.Event, user, room, format string, args ...any) *api.Refusal {
	return &api.Refusal{Action: api.RefusedAccess, User: user, Room: room, Reason: fmt.Sprintf(format, args...),
		At: timeOf(ev.Time)}
}

// refusesMember says why user may not post to, set the topic of or join
// room (a private room that does not let them in), or nil. locked: the
// caller holds every plugin's lock (ApplyRun).
func (s *State) refusesMember(ev eventlog.Event, user, room string, locked bool) *api.Refusal {
	a := s.Access
	if a.n.Load() == 0 {
		return nil
	}
	if !locked {
		a.mu.RLock()
		defer a.mu.RUnlock()
	}
	if a.allowedLocked(user, room) {
		return nil
	}
	if _, join := ev.Body.(*eventlog.MemberJoinedRoom); join {
		return accessRefusal(ev, user, room, "#%s is private: ask one of its members to invite you", room)
	}
	return accessRefusal(ev, user, room, "#%s is private and you are not a member", room)
}

// authorizeAccess decides the entries of the access, key and settings
// kinds (ok true), from the state applied so far; ok is false for every
// other kind. locked: the caller holds every plugin's lock (ApplyRun).
func (s *State) authorizeAccess(ev eventlog.Event, locked bool) (r *api.Refusal, ok bool) {
	switch b := ev.Body.(type) {
	case *eventlog.RoomAccessSet:
		return s.authorizeRoomAccess(ev, b, locked), true
	case *eventlog.RoomInvited:
		return s.authorizeInvite(ev, b, locked), true
	case *eventlog.RoomRemoved:
		return s.authorizeRemove(ev, b, locked), true
	case *eventlog.KeyAdded:
		return s.Identity.authorizeKeyAdded(ev, b, locked), true
	case *eventlog.KeyRemoved:
		return s.Identity.authorizeKeyRemoved(ev, b, locked), true
	case *eventlog.NotifySet:
		return s.Prefs.authorizeNotify(ev, b, locked), true
	case *eventlog.PrefSet:
		return s.Prefs.authorizePref(ev, b, locked), true
	}
	return nil, false
}

// readAccess runs f with the access state (and the chat's membership)
// readable: it takes their read locks unless the caller holds them.
func (s *State) readAccess(locked bool, f func(a *Access, c *Chat)) {
	if !locked {
		s.Chat.mu.RLock()
		defer s.Chat.mu.RUnlock()
		s.Access.mu.RLock()
		defer s.Access.mu.RUnlock()
	}
	f(s.Access, s.Chat)
}

func (s *State) authorizeRoomAccess(ev eventlog.Event, b *eventlog.RoomAccessSet, locked bool) (ref *api.Refusal) {
	switch {
	case b.Room == GeneralRoom:
		return accessRefusal(ev, b.By, b.Room, "#%s is everyone's room: it cannot be private", GeneralRoom)
	case strings.HasPrefix(b.Room, "@"):
		return accessRefusal(ev, b.By, b.Room, "a direct conversation is private already")
	}
	s.readAccess(locked, func(a *Access, c *Chat) {
		r := a.private[b.Room]
		switch {
		case b.Private != 0 && r != nil:
			// Already private: nothing changes, whoever asks.
		case b.Private != 0 && b.Admin != 0:
			if _, ok := c.rooms[b.Room]; !ok {
				ref = accessRefusal(ev, b.By, b.Room, "no room #%s", b.Room)
			}
		case b.Private != 0:
			members := c.members[b.Room]
			if len(members) != 1 || !members[b.By] {
				ref = accessRefusal(ev, b.By, b.Room,
					"only an admin, or #%s's only member, may make it private (a new room: /join #NAME, then /private)", b.Room)
			}
		case r == nil:
			ref = accessRefusal(ev, b.By, b.Room, "#%s is not private", b.Room)
		case b.Admin == 0 && r.owner != b.By:
			ref = accessRefusal(ev, b.By, b.Room, "only #%s's owner%s or an admin may open it to everyone", b.Room, ownerText(r.owner))
		}
	})
	return ref
}

// ownerText names an owner in a refusal: " (bob)", or "" when the room
// has none.
func ownerText(owner string) string {
	if owner == "" {
		return ""
	}
	return " (" + owner + ")"
}

func (s *State) authorizeInvite(ev eventlog.Event, b *eventlog.RoomInvited, locked bool) (ref *api.Refusal) {
	if _, ok := s.Identity.lookup(b.User, locked); !ok {
		return accessRefusal(ev, b.By, b.Room, "no user %q", b.User)
	}
	s.readAccess(locked, func(a *Access, _ *Chat) {
		r := a.private[b.Room]
		switch {
		case r == nil:
			ref = accessRefusal(ev, b.By, b.Room, "#%s is not private: anyone may /join it", b.Room)
		case b.Admin == 0 && !r.allowed[b.By]:
			ref = accessRefusal(ev, b.By, b.Room, "only members of #%s may invite people to it", b.Room)
		}
	})
	return ref
}

func (s *State) authorizeRemove(ev eventlog.Event, b *eventlog.RoomRemoved, locked bool) (ref *api.Refusal) {
	s.readAccess(locked, func(a *Access, c *Chat) {
		r := a.private[b.Room]
		switch {
		case r == nil:
			ref = accessRefusal(ev, b.By, b.Room,
				"#%s is not private: /remove takes people out of private rooms (an admin's /kick disconnects a user)", b.Room)
		case !r.allowed[b.User] && !c.members[b.Room][b.User]:
			ref = accessRefusal(ev, b.By, b.Room, "%s is not in #%s", b.User, b.Room)
		case b.Admin == 0 && b.By != r.owner && b.By != b.User:
			ref = accessRefusal(ev, b.By, b.Room, "only #%s's owner%s or an admin may remove people from it", b.Room, ownerText(r.owner))
		}
	})
	return ref
}
