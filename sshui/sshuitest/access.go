package sshuitest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/syncnet/syncnet/node/api"
)

// The fake's api.Access: private rooms, keys and notification settings,
// with node/state's rules (access.go, keys.go, notify.go) and sentences,
// decided at once under the fake's lock.

type fakePrivate struct {
	owner   string
	allowed map[string]bool
}

type fakeAccess struct {
	private map[string]*fakePrivate
	keys    map[string][]api.Key // every key of a name that added one
	prefs   map[string]*api.NotifySettings
}

// accessLocked is the fake's access state, made on first use. Holds f.mu.
func (f *Fake) accessLocked() *fakeAccess {
	if f.acc == nil {
		f.acc = &fakeAccess{private: map[string]*fakePrivate{}, keys: map[string][]api.Key{}, prefs: map[string]*api.NotifySettings{}}
	}
	return f.acc
}

func refused(user, room, format string, args ...any) *api.Refusal {
	return &api.Refusal{Action: api.RefusedAccess, User: user, Room: room, Reason: fmt.Sprintf(format, args...)}
}

// canReadLocked is state.CanRead. Holds f.mu.
func (f *Fake) canReadLocked(user, conv string) bool {
	if parties, ok := strings.CutPrefix(conv, "@"); ok {
		a, b, ok := strings.Cut(parties, ",")
		return ok && (user == a || user == b)
	}
	p := f.accessLocked().private[conv]
	return p == nil || p.allowed[user]
}

// memberRefusalLocked is why user may not post to or join room. Holds f.mu.
func (f *Fake) memberRefusalLocked(user, room string, join bool) error {
	if f.canReadLocked(user, room) {
		return nil
	}
	if join {
		return refused(user, room, "#%s is private: ask one of its members to invite you", room)
	}
	return refused(user, room, "#%s is private and you are not a member", room)
}

// readableLocked is node's Filter.Reader rule. Holds f.mu.
func (f *Fake) readableLocked(reader string, e api.Event) bool {
	if e.Kind == api.EventMessageChanged { // as its message (messages.go)
		return f.canReadLocked(reader, e.Room)
	}
	if e.Kind != api.EventMessage {
		return true
	}
	if e.Message.IsDM() {
		return e.Message.From == reader || e.Message.To == reader
	}
	return f.canReadLocked(reader, e.Message.Room)
}

func (f *Fake) CanRead(user, conv string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.canReadLocked(user, conv)
}

func (f *Fake) RoomAccess(room string) api.RoomAccess {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.accessLocked().private[room]
	if p == nil {
		return api.RoomAccess{Room: room}
	}
	return api.RoomAccess{Room: room, Private: true, Owner: p.owner, Allowed: slices.Sorted(maps.Keys(p.allowed))}
}

func (f *Fake) accessEventLocked(action, room, user, by, reason string) {
	f.publishLocked(api.Event{Kind: api.EventAccess, Index: f.index, Room: room, User: user,
		Mod: api.Moderation{Action: action, Target: user, By: by, Room: room, Reason: reason}})
}

func (f *Fake) SetRoomPrivate(ctx context.Context, by, room string, private, admin bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	acc := f.accessLocked()
	p := acc.private[room]
	r := f.rooms[room]
	switch {
	case room == "general":
		return refused(by, room, "#general is everyone's room: it cannot be private")
	case private && p != nil:
		return f.write(ctx)
	case private && admin && r == nil:
		return refused(by, room, "no room #%s", room)
	case private && !admin && (r == nil || len(r.members) != 1 || !r.members[by]):
		return refused(by, room, "only an admin, or #%s's only member, may make it private (a new room: /join #NAME, then /private)", room)
	case !private && p == nil:
		return refused(by, room, "#%s is not private", room)
	case !private && !admin && p.owner != by:
		return refused(by, room, "only #%s's owner or an admin may open it to everyone", room)
	}
	if err := f.write(ctx); err != nil {
		return err
	}
	if !private {
		delete(acc.private, room)
		f.accessEventLocked("public", room, by, by, "")
		return nil
	}
	p = &fakePrivate{owner: by, allowed: map[string]bool{by: true}}
	for u := range r.members {
		p.allowed[u] = true
	}
	acc.private[room] = p
	f.accessEventLocked("private", room, by, by, "")
	return nil
}

func (f *Fake) Invite(ctx context.Context, by, room, user string, admin bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.accessLocked().private[room]
	_, bound := f.names[user]
	switch {
	case !bound:
		return refused(by, room, "no user %q", user)
	case p == nil:
		return refused(by, room, "#%s is not private: anyone may /join it", room)
	case !admin && !p.allowed[by]:
		return refused(by, room, "only members of #%s may invite people to it", room)
	}
	if err := f.write(ctx); err != nil {
		return err
	}
	if !p.allowed[user] {
		p.allowed[user] = true
		f.accessEventLocked("invite", room, user, by, "")
	}
	return nil
}

func (f *Fake) RemoveFromRoom(ctx context.Context, by, room, user, reason string, admin bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.accessLocked().private[room]
	r := f.room(room)
	switch {
	case p == nil:
		return refused(by, room, "#%s is not private: /remove takes people out of private rooms (an admin's /kick disconnects a user)", room)
	case !p.allowed[user] && !r.members[user]:
		return refused(by, room, "%s is not in #%s", user, room)
	case !admin && by != p.owner && by != user:
		return refused(by, room, "only #%s's owner or an admin may remove people from it", room)
	}
	if err := f.write(ctx); err != nil {
		return err
	}
	delete(p.allowed, user)
	if p.owner == user {
		p.owner = ""
	}
	if r.members[user] {
		delete(r.members, user)
		f.publishLocked(api.Event{Kind: api.EventLeave, Index: f.index, Room: room, User: user})
	}
	f.accessEventLocked("remove", room, user, by, reason)
	return nil
}

// keysLocked is name's keys (the first is the name's owner key). Holds f.mu.
func (f *Fake) keysLocked(name string) []api.Key {
	if ks := f.accessLocked().keys[name]; ks != nil {
		return ks
	}
	if fp, ok := f.names[name]; ok {
		return []api.Key{{Fingerprint: fp}}
	}
	return nil
}

func (f *Fake) Keys(name string) []api.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.keysLocked(name))
}

func (f *Fake) HasKey(name, fp string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hasKeyLocked(name, fp)
}

func (f *Fake) hasKeyLocked(name, fp string) bool {
	return slices.ContainsFunc(f.keysLocked(name), func(k api.Key) bool { return k.Fingerprint == fp })
}

func (f *Fake) keysEventLocked(name, action, fp, by string) {
	f.publishLocked(api.Event{Kind: api.EventKeys, Index: f.index, User: name, Mod: api.Moderation{Action: action, Target: fp, By: by}})
}

func (f *Fake) AddKey(ctx context.Context, by, name, fp, label string, admin bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ks := f.keysLocked(name)
	switch {
	case by != name && !admin:
		return refused(by, "", "you may add keys to your own name only")
	case ks == nil:
		return refused(by, "", "no user %q", name)
	case f.hasKeyLocked(name, fp):
		return refused(by, "", "that key is already one of %s's keys", name)
	case len(ks) >= 16:
		return refused(by, "", "%s has 16 keys, the most a name may have: remove one first", name)
	}
	for n := range f.names {
		if n != name && f.hasKeyLocked(n, fp) {
			return refused(by, "", "that key belongs to another name: one key, one person")
		}
	}
	if err := f.write(ctx); err != nil {
		return err
	}
	f.accessLocked().keys[name] = append(slices.Clone(ks), api.Key{Fingerprint: fp, Label: label})
	f.keysEventLocked(name, "key_added", fp, by)
	return nil
}

func (f *Fake) RemoveKey(ctx context.Context, by, name, fp string, admin bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ks := f.keysLocked(name)
	switch {
	case by != name && !admin:
		return refused(by, "", "you may remove keys of your own name only")
	case ks == nil:
		return refused(by, "", "no user %q", name)
	case !f.hasKeyLocked(name, fp):
		return refused(by, "", "%s is not one of %s's keys (keys list shows them)", fp, name)
	case len(ks) == 1:
		return refused(by, "", "%s is %s's only key: add another first (keys add), or an admin releases the name", fp, name)
	}
	if err := f.write(ctx); err != nil {
		return err
	}
	kept := slices.DeleteFunc(slices.Clone(ks), func(k api.Key) bool { return k.Fingerprint == fp })
	f.accessLocked().keys[name] = kept
	f.names[name] = kept[0].Fingerprint
	f.keysEventLocked(name, "key_removed", fp, by)
	return nil
}

func (f *Fake) NotifySettings(user string) api.NotifySettings {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := api.NotifySettings{Bell: true, Notify: map[string]string{}}
	if p := f.accessLocked().prefs[user]; p != nil {
		out.Bell = p.Bell
		out.Notify = maps.Clone(p.Notify)
		out.Highlights = slices.Clone(p.Highlights)
	}
	return out
}

func (f *Fake) prefsLocked(user string) *api.NotifySettings {
	acc := f.accessLocked()
	p := acc.prefs[user]
	if p == nil {
		p = &api.NotifySettings{Bell: true, Notify: map[string]string{}}
		acc.prefs[user] = p
	}
	return p
}

func (f *Fake) SetNotify(ctx context.Context, user, conv, level string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains([]string{api.NotifyAll, api.NotifyMentions, api.NotifyNone, ""}, level) {
		return refused(user, "", "notify level %q: want all, mentions or none", level)
	}
	if conv == "" {
		return refused(user, "", "notify: name a room, or @ for direct messages")
	}
	if err := f.write(ctx); err != nil {
		return err
	}
	p := f.prefsLocked(user)
	if level == "" {
		delete(p.Notify, conv)
	} else {
		p.Notify[conv] = level
	}
	f.publishLocked(api.Event{Kind: api.EventSettings, Index: f.index, User: user})
	return nil
}

func (f *Fake) SetPref(ctx context.Context, user, name, value string, remove bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case name == api.PrefBell && value != "on" && value != "off":
		return refused(user, "", "bell %q: want on or off", value)
	case name == api.PrefHighlight && (value == "" || strings.ContainsAny(value, " \t\n")):
		return refused(user, "", "highlight %q: not one word (no spaces or control characters)", value)
	case name != api.PrefBell && name != api.PrefHighlight:
		return refused(user, "", "no setting %q (bell, highlight)", name)
	}
	if err := f.write(ctx); err != nil {
		return err
	}
	p := f.prefsLocked(user)
	if name == api.PrefBell {
		p.Bell = value == "on"
	} else {
		w := strings.ToLower(value)
		i := slices.Index(p.Highlights, w)
		switch {
		case remove && i >= 0:
			p.Highlights = slices.Delete(p.Highlights, i, i+1)
		case !remove && i < 0:
			p.Highlights = append(p.Highlights, w)
		}
		if len(p.Highlights) == 0 {
			p.Highlights = nil
		}
	}
	f.publishLocked(api.Event{Kind: api.EventSettings, Index: f.index, User: user})
	return nil
}
