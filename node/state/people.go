package state

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// Identity binds user names to the key that first claimed them, and to
// the keys added since (keys.go).
type Identity struct {
	mu    sync.RWMutex
	owner map[string]string    // name -> key fingerprint (the first of keys[name])
	keys  map[string][]keyInfo // name -> every key, for a name with more than one (keys.go)
}

func NewIdentity() *Identity {
	return &Identity{owner: map[string]string{}, keys: map[string][]keyInfo{}}
}

func (p *Identity) Name() string { return "identity" }
func (p *Identity) Kinds() []eventlog.Kind {
	return []eventlog.Kind{eventlog.KindUserRegistered, eventlog.KindNameReleased,
		eventlog.KindKeyAdded, eventlog.KindKeyRemoved}
}

func (p *Identity) Apply(index uint64, ev eventlog.Event) []api.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applyLocked(index, ev)
}

func (p *Identity) locker() sync.Locker { return &p.mu }

func (p *Identity) applyLocked(index uint64, ev eventlog.Event) []api.Event {
	switch b := ev.Body.(type) {
	case *eventlog.UserRegistered:
		if _, taken := p.owner[b.Name]; !taken { // first claim wins, on every node alike
			p.owner[b.Name] = b.KeyFingerprint
		}
	case *eventlog.NameReleased:
		// An admin freed the name: the next key to claim it owns it. The
		// sessions using it end (sshui treats it like a kick).
		delete(p.owner, b.Name)
		delete(p.keys, b.Name)
		mod := api.Moderation{Action: "release", Target: b.Name, By: b.By}
		return []api.Event{{Kind: api.EventModeration, Index: index, User: b.Name, Mod: mod}}
	case *eventlog.KeyAdded:
		return p.applyKeyLocked(index, b.Name, b.KeyFingerprint, b.Label, b.By, true)
	case *eventlog.KeyRemoved:
		return p.applyKeyLocked(index, b.Name, b.KeyFingerprint, "", b.By, false)
	}
	return nil
}

func (p *Identity) Lookup(name string) (string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	fp, ok := p.owner[name]
	return fp, ok
}

// Moderation holds bans and mutes (kicks leave no state). Whether one holds
// is a question with a time: Authorize asks at an entry's time, so every
// node answers alike; Banned and Muted ask at this node's clock, for the
// fast paths and displays that read the local state.
type Moderation struct {
	mu    sync.RWMutex
	bans  map[string]eventlog.Moderation
	mutes map[string][]eventlog.Moderation
	now   func() time.Time
}

func NewModeration(now func() time.Time) *Moderation {
	return &Moderation{bans: map[string]eventlog.Moderation{}, mutes: map[string][]eventlog.Moderation{}, now: now}
}

func (p *Moderation) Name() string { return "moderation" }
func (p *Moderation) Kinds() []eventlog.Kind {
	return []eventlog.Kind{eventlog.KindUserKicked, eventlog.KindUserBanned, eventlog.KindUserMuted,
		eventlog.KindUserUnbanned, eventlog.KindUserUnmuted}
}

func (p *Moderation) Apply(index uint64, ev eventlog.Event) []api.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applyLocked(index, ev)
}

func (p *Moderation) locker() sync.Locker { return &p.mu }

func (p *Moderation) applyLocked(index uint64, ev eventlog.Event) []api.Event {
	var m eventlog.Moderation
	var action string
	switch b := ev.Body.(type) {
	case *eventlog.UserKicked:
		m, action = b.Moderation, "kick"
	case *eventlog.UserBanned:
		m, action = b.Moderation, "ban"
		p.bans[m.Target] = m
	case *eventlog.UserMuted:
		m, action = b.Moderation, "mute"
		p.mutes[m.Target] = append(p.mutes[m.Target], m)
	case *eventlog.UserUnbanned:
		m, action = b.Moderation, "unban"
		delete(p.bans, m.Target)
	case *eventlog.UserUnmuted:
		m, action = b.Moderation, "unmute"
		p.unmuteLocked(m.Target, m.Room)
	}
	mod := api.Moderation{Action: action, Target: m.Target, By: m.By, Room: m.Room, Reason: m.Reason}
	if m.Until != 0 {
		mod.Until = time.Unix(0, m.Until).UTC()
	}
	return []api.Event{{Kind: api.EventModeration, Index: index, User: m.Target, Room: m.Room, Mod: mod}}
}

// unmuteLocked lifts user's mutes in room, or all of them when room is "".
func (p *Moderation) unmuteLocked(user, room string) {
	kept := slices.DeleteFunc(p.mutes[user], func(m eventlog.Moderation) bool { return room == "" || m.Room == room })
	if len(kept) == 0 {
		delete(p.mutes, user)
		return
	}
	p.mutes[user] = kept
}

// Active lists the bans and mutes in force now, by this node's clock and
// state, sorted by target (bans first, then mutes by end).
func (p *Moderation) Active() []api.Moderation {
	t := p.now().UnixNano()
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []api.Moderation
	add := func(action string, m eventlog.Moderation) {
		if !activeAt(m, t) {
			return
		}
		a := api.Moderation{Action: action, Target: m.Target, By: m.By, Room: m.Room, Reason: m.Reason}
		if m.Until != 0 {
			a.Until = time.Unix(0, m.Until).UTC()
		}
		out = append(out, a)
	}
	for _, m := range p.bans {
		add("ban", m)
	}
	for _, ms := range p.mutes {
		for _, m := range ms {
			add("mute", m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.Action != b.Action {
			return a.Action < b.Action
		}
		return a.Until.Before(b.Until)
	})
	return out
}

// activeAt reports whether m holds at t (Unix ns): it has no end, or ends
// after t.
func activeAt(m eventlog.Moderation, t int64) bool { return m.Until == 0 || t < m.Until }

// banAt returns the ban on user that holds at t. The latest ban on a user
// replaces the earlier ones (a short ban after a long one shortens it).
func (p *Moderation) banAt(user string, t int64) (eventlog.Moderation, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.banAtLocked(user, t)
}

func (p *Moderation) banAtLocked(user string, t int64) (eventlog.Moderation, bool) {
	m, ok := p.bans[user]
	return m, ok && activeAt(m, t)
}

// muteAt returns a mute on user for room (or every room) that holds at t:
// one without end if there is one, else the one that ends last, so a
// refusal names the longest wait.
func (p *Moderation) muteAt(user, room string, t int64) (eventlog.Moderation, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.muteAtLocked(user, room, t)
}

func (p *Moderation) muteAtLocked(user, room string, t int64) (eventlog.Moderation, bool) {
	var best eventlog.Moderation
	found := false
	for _, m := range p.mutes[user] {
		if (m.Room != "" && m.Room != room) || !activeAt(m, t) {
			continue
		}
		if !found || best.Until != 0 && (m.Until == 0 || m.Until > best.Until) {
			best, found = m, true
		}
	}
	return best, found
}

// refuses returns what Authorize refuses an entry of user at t for: a ban
// (action "ban"), or else, when scoped, a mute in room ("mute"). One read
// lock for both: it runs for every entry.
func (p *Moderation) refuses(user, room string, scoped bool, t int64) (m eventlog.Moderation, action string, ok bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.refusesLocked(user, room, scoped, t)
}

func (p *Moderation) refusesLocked(user, room string, scoped bool, t int64) (m eventlog.Moderation, action string, ok bool) {
	if m, ok := p.banAtLocked(user, t); ok {
		return m, "ban", true
	}
	if scoped {
		if m, ok := p.muteAtLocked(user, room, t); ok {
			return m, "mute", true
		}
	}
	return m, "", false
}

// Banned reports whether user is banned now, by this node's clock and state.
func (p *Moderation) Banned(user string) bool {
	_, ok := p.banAt(user, p.now().UnixNano())
	return ok
}

// Muted reports whether user is muted in room now, by this node's clock and
// state.
func (p *Moderation) Muted(user, room string) bool {
	_, ok := p.muteAt(user, room, p.now().UnixNano())
	return ok
}

// Presence tracks who is online where. It is replicated so every node's
// members pane agrees. Each node reports its own sessions ("online" on a
// user's first session there, "offline" on the last), so a user is online
// if any node says so.
//
// A node that dies cannot report its users offline: its entries stay in
// the replicated state until it restarts and clears them. Readers that
// know which nodes are down (the node's ring view) ask OfExcept, which
// leaves out what those nodes report: presence is a derived view of the
// replicated state and the reader's liveness, never a write decided from a
// clock, so the applied state stays the same on every node (see
// docs/ARCHITECTURE.md, "Presence").
type Presence struct {
	mu    sync.RWMutex
	state map[string]map[string]string // user -> node -> status
}

func NewPresence() *Presence { return &Presence{state: map[string]map[string]string{}} }

func (p *Presence) Name() string           { return "presence" }
func (p *Presence) Kinds() []eventlog.Kind { return []eventlog.Kind{eventlog.KindPresenceChanged} }

func (p *Presence) Apply(index uint64, ev eventlog.Event) []api.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applyLocked(index, ev)
}

func (p *Presence) locker() sync.Locker { return &p.mu }

func (p *Presence) applyLocked(index uint64, ev eventlog.Event) []api.Event {
	b := ev.Body.(*eventlog.PresenceChanged)
	if p.state[b.User] == nil {
		p.state[b.User] = map[string]string{}
	}
	if b.Status == "offline" {
		delete(p.state[b.User], b.Node)
	} else {
		p.state[b.User][b.Node] = b.Status
	}
	merged := p.mergedLocked(b.User, nil)
	return []api.Event{{Kind: api.EventPresence, Index: index, User: b.User, Text: merged.Status, Node: merged.Node}}
}

// presenceRank orders statuses: online beats away beats offline.
var presenceRank = map[string]int{"offline": 0, "away": 1, "online": 2}

// mergedLocked combines a user's per-node presence: online beats away beats
// offline; the node shown is the first (by name) with the winning status.
// What a node in down reports is left out.
func (p *Presence) mergedLocked(user string, down map[string]bool) api.Presence {
	best := api.Presence{User: user, Status: "offline"}
	nodes := make([]string, 0, len(p.state[user]))
	for n := range p.state[user] {
		if !down[n] {
			nodes = append(nodes, n)
		}
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		st := p.state[user][n]
		if presenceRank[st] > presenceRank[best.Status] {
			best.Status, best.Node = st, n
		}
	}
	return best
}

// Of returns the merged presence of users, as replicated.
func (p *Presence) Of(users []string) []api.Presence { return p.OfExcept(users, nil) }

// OfExcept returns the merged presence of users, leaving out what the
// nodes in down report: their sessions died with them (or are cut off
// from the reader), so a user present only there is shown offline.
func (p *Presence) OfExcept(users []string, down map[string]bool) []api.Presence {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]api.Presence, 0, len(users))
	for _, u := range users {
		out = append(out, p.mergedLocked(u, down))
	}
	return out
}

// OnNode lists the users a node reports as present.
func (p *Presence) OnNode(node string) []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []string
	for u, per := range p.state {
		if _, ok := per[node]; ok {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}
