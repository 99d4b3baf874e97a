// Package sshuitest provides an in-memory api.Backend that behaves like a
// single healthy node: it assigns log indexes, commits instantly, honours
// client message ids, and can simulate losing quorum.
package sshuitest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// Fake is an in-memory Backend. The zero value is not usable: call New.
type Fake struct {
	mu       sync.Mutex
	node     string
	now      func() time.Time
	index    uint64
	lamport  uint64
	msgs     map[string][]api.Message // by history key
	ids      map[string]uint64        // from+"\x00"+clientMsgID → index
	names    map[string]string
	rooms    map[string]*room
	presence map[string]string
	bans     map[string]time.Time
	mutes    map[string]time.Time
	// sanctions are the bans and mutes as given, for Sanctions
	sanctions map[string]api.Moderation
	reads     map[string]map[string]uint64 // user → conversation → read mark
	subs      map[*sub]struct{}
	quorum    bool
	status    *api.ClusterStatus
	posts     int
	histErr   error
	histHook  func(room string, before uint64, limit int)
	// streams (Submit)
	gate       chan struct{}
	submitted  int
	allowances map[string][2]float64
	acc        *fakeAccess // private rooms, keys, settings (access.go)
	ed         *fakeEdits  // edits, deletions, reactions, threads (messages.go)
}

type room struct {
	topic   string
	members map[string]bool
}

// New returns a fake node named node with #general and quorum. now gives
// message times (nil: a fixed clock starting 2026-01-02 15:04:05 UTC that
// advances one second per entry, so golden files are stable).
func New(node string, now func() time.Time) *Fake {
	if now == nil {
		t := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
		var mu sync.Mutex
		now = func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			t = t.Add(time.Second)
			return t
		}
	}
	f := &Fake{node: node, now: now, msgs: map[string][]api.Message{}, ids: map[string]uint64{},
		names: map[string]string{}, rooms: map[string]*room{}, presence: map[string]string{},
		bans: map[string]time.Time{}, mutes: map[string]time.Time{}, sanctions: map[string]api.Moderation{}, subs: map[*sub]struct{}{}, quorum: true}
	f.rooms["general"] = &room{members: map[string]bool{}}
	return f
}

// SetQuorum simulates losing (false) or regaining (true) the majority:
// without it every write fails with ErrNoQuorum.
func (f *Fake) SetQuorum(ok bool) {
	f.mu.Lock()
	f.quorum = ok
	f.publishLocked(api.Event{Kind: api.EventStatus})
	f.mu.Unlock()
}

// SetStatus overrides what Status reports (Quorum still follows SetQuorum).
func (f *Fake) SetStatus(st api.ClusterStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = &st
}

// Posts counts the entries Post and DirectMessage appended.
func (f *Fake) Posts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts
}

// Subscribers is the number of open subscriptions.
func (f *Fake) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// write checks quorum and ctx; call with f.mu held.
func (f *Fake) write(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake: %w: %w", api.ErrNoQuorum, err)
	}
	if !f.quorum {
		return fmt.Errorf("fake: %w", api.ErrNoQuorum)
	}
	f.index++
	return nil
}

func (f *Fake) room(name string) *room {
	r := f.rooms[name]
	if r == nil {
		r = &room{members: map[string]bool{}}
		f.rooms[name] = r
	}
	return r
}

func (f *Fake) Post(ctx context.Context, user, roomName, text, id string, seen uint64, action bool) (uint64, error) {
	return f.post(ctx, user, roomName, text, id, seen, action, 0)
}

// post is Post of a message that may answer another (messages.go).
func (f *Fake) post(ctx context.Context, user, roomName, text, id string, seen uint64, action bool, replyTo uint64) (uint64, error) {
	f.mu.Lock()
	if idx, ok := f.ids[user+"\x00"+id]; ok && id != "" {
		f.mu.Unlock()
		return idx, nil
	}
	if replyTo != 0 {
		var err error
		if replyTo, err = f.replyParentLocked(user, roomName, replyTo); err != nil {
			f.mu.Unlock()
			return 0, err
		}
	}
	if f.muted(user, roomName) {
		f.mu.Unlock()
		return 0, api.ErrMuted
	}
	if err := f.memberRefusalLocked(user, roomName, false); err != nil {
		f.mu.Unlock()
		return 0, err
	}
	if err := f.write(ctx); err != nil {
		f.mu.Unlock()
		return 0, err
	}
	f.room(roomName)
	f.lamport = max(f.lamport, seen) + 1
	m := api.Message{Index: f.index, ID: id, Room: roomName, From: user, Text: text,
		Lamport: f.lamport, Time: f.now(), Action: action, ReplyTo: replyTo}
	f.msgs[roomName] = append(f.msgs[roomName], m)
	f.noteReplyLocked(m)
	f.ids[user+"\x00"+id] = m.Index
	f.posts++
	f.publishLocked(api.Event{Kind: api.EventMessage, Index: m.Index, Message: m, Room: roomName})
	f.mu.Unlock()
	return m.Index, nil
}

func (f *Fake) DirectMessage(ctx context.Context, from, to, text, id string, action bool) (uint64, error) {
	return f.directMessage(ctx, from, to, text, id, action, 0)
}

// directMessage is DirectMessage of a message that may answer another.
func (f *Fake) directMessage(ctx context.Context, from, to, text, id string, action bool, replyTo uint64) (uint64, error) {
	f.mu.Lock()
	if idx, ok := f.ids[from+"\x00"+id]; ok && id != "" {
		f.mu.Unlock()
		return idx, nil
	}
	if replyTo != 0 {
		var err error
		if replyTo, err = f.replyParentLocked(from, api.DMRoom(from, to), replyTo); err != nil {
			f.mu.Unlock()
			return 0, err
		}
	}
	if err := f.write(ctx); err != nil {
		f.mu.Unlock()
		return 0, err
	}
	key := api.DMRoom(from, to)
	f.lamport++
	m := api.Message{Index: f.index, ID: id, Room: key, From: from, To: to, Text: text,
		Lamport: f.lamport, Time: f.now(), Action: action, ReplyTo: replyTo}
	f.msgs[key] = append(f.msgs[key], m)
	f.noteReplyLocked(m)
	f.ids[from+"\x00"+id] = m.Index
	f.posts++
	f.publishLocked(api.Event{Kind: api.EventMessage, Index: m.Index, Message: m})
	f.mu.Unlock()
	return m.Index, nil
}

// SetHistoryErr makes History and HistoryAfter fail with err, as a node
// that cannot read its own log does (nil: they work again).
func (f *Fake) SetHistoryErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.histErr = err
}

// SetHistoryHook makes History (not HistoryAfter) call h first, without the
// fake's lock held, so a test can block it (a slow disk read) or count
// calls. nil removes the hook.
func (f *Fake) SetHistoryHook(h func(room string, before uint64, limit int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.histHook = h
}

func (f *Fake) History(roomName string, before uint64, limit int) ([]api.Message, error) {
	f.mu.Lock()
	hook := f.histHook
	f.mu.Unlock()
	if hook != nil {
		hook(roomName, before, limit)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.histErr != nil {
		return nil, fmt.Errorf("fake: read history of %s: %w", roomName, f.histErr)
	}
	all := f.msgs[roomName]
	end := len(all)
	if before > 0 {
		end = sort.Search(len(all), func(i int) bool { return all[i].Index >= before })
	}
	start := max(end-limit, 0)
	out := slices.Clone(all[start:end])
	f.overlayLocked(out)
	return out, nil
}

func (f *Fake) HistoryAfter(roomName string, after uint64, limit int) ([]api.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.histErr != nil {
		return nil, fmt.Errorf("fake: read history of %s: %w", roomName, f.histErr)
	}
	all := f.msgs[roomName]
	start := sort.Search(len(all), func(i int) bool { return all[i].Index > after })
	end := min(start+limit, len(all))
	out := slices.Clone(all[start:end])
	f.overlayLocked(out)
	return out, nil
}

// Append adds a message as if another node had committed it (no quorum
// check): for tests that need history.
func (f *Fake) Append(m api.Message) api.Message {
	f.mu.Lock()
	f.index++
	f.lamport++
	m.Index, m.Lamport = f.index, f.lamport
	if m.Time.IsZero() {
		m.Time = f.now()
	}
	key := m.Room
	if m.To != "" {
		key = api.DMRoom(m.From, m.To)
		m.Room = key
	} else {
		f.room(key)
	}
	f.msgs[key] = append(f.msgs[key], m)
	f.publishLocked(api.Event{Kind: api.EventMessage, Index: m.Index, Message: m, Room: m.Room})
	f.mu.Unlock()
	return m
}

func (f *Fake) BindName(ctx context.Context, name, fp string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if owner, ok := f.names[name]; ok {
		if owner == fp {
			return nil
		}
		return fmt.Errorf("bind %s: %w", name, api.ErrNameTaken)
	}
	if err := f.write(ctx); err != nil {
		return err
	}
	f.names[name] = fp
	return nil
}

func (f *Fake) NameOwner(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fp, ok := f.names[name]
	return fp, ok
}

func (f *Fake) Rooms() []api.RoomInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]api.RoomInfo, 0, len(f.rooms))
	for name, r := range f.rooms {
		info := api.RoomInfo{Name: name, Topic: r.topic, Members: len(r.members)}
		if ms := f.msgs[name]; len(ms) > 0 {
			info.LastIndex = ms[len(ms)-1].Index
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (f *Fake) RoomsOf(user string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name, r := range f.rooms {
		if r.members[user] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Conversations lists user's rooms and direct conversations with their
// read marks, as node/state does.
func (f *Fake) Conversations(user string) []api.Conversation {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Conversation
	add := func(name, with string) {
		c := api.Conversation{Name: name, With: with, Read: f.reads[user][name]}
		for _, m := range f.msgs[name] {
			c.Last = m.Index
			if m.Index > c.Read {
				c.Unread++
			}
		}
		out = append(out, c)
	}
	for name, r := range f.rooms {
		if r.members[user] {
			add(name, "")
		}
	}
	for key, msgs := range f.msgs {
		if len(msgs) == 0 || msgs[0].To == "" {
			continue
		}
		if m := msgs[0]; m.From == user || m.To == user {
			with := m.To
			if with == user {
				with = m.From
			}
			add(key, with)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// MarkRead records user's read mark in conv; marks only move forward.
func (f *Fake) MarkRead(ctx context.Context, user, conv string, index uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.write(ctx); err != nil {
		return err
	}
	if f.reads == nil {
		f.reads = map[string]map[string]uint64{}
	}
	if f.reads[user] == nil {
		f.reads[user] = map[string]uint64{}
	}
	f.reads[user][conv] = max(f.reads[user][conv], index)
	return nil
}

func (f *Fake) Members(roomName string) []api.Presence {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rooms[roomName]
	if r == nil {
		return nil
	}
	var out []api.Presence
	for u := range r.members {
		st := f.presence[u]
		if st == "" {
			st = "offline"
		}
		node := ""
		if st != "offline" {
			node = f.node
		}
		out = append(out, api.Presence{User: u, Status: st, Node: node})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out
}

func (f *Fake) membership(ctx context.Context, kind api.EventKind, user, roomName string) error {
	f.mu.Lock()
	if kind == api.EventJoin {
		if err := f.memberRefusalLocked(user, roomName, true); err != nil {
			f.mu.Unlock()
			return err
		}
	}
	if err := f.write(ctx); err != nil {
		f.mu.Unlock()
		return err
	}
	r := f.room(roomName)
	if kind == api.EventJoin {
		r.members[user] = true
	} else {
		delete(r.members, user)
	}
	idx := f.index
	f.publishLocked(api.Event{Kind: kind, Index: idx, Room: roomName, User: user})
	f.mu.Unlock()
	return nil
}

func (f *Fake) JoinRoom(ctx context.Context, user, roomName string) error {
	return f.membership(ctx, api.EventJoin, user, roomName)
}

func (f *Fake) LeaveRoom(ctx context.Context, user, roomName string) error {
	return f.membership(ctx, api.EventLeave, user, roomName)
}

func (f *Fake) SetTopic(ctx context.Context, user, roomName, topic string) error {
	f.mu.Lock()
	if err := f.write(ctx); err != nil {
		f.mu.Unlock()
		return err
	}
	f.room(roomName).topic = topic
	idx := f.index
	f.publishLocked(api.Event{Kind: api.EventTopic, Index: idx, Room: roomName, User: user, Text: topic})
	f.mu.Unlock()
	return nil
}

func (f *Fake) SetPresence(_ context.Context, user, status string) error {
	f.mu.Lock()
	f.presence[user] = status
	f.publishLocked(api.Event{Kind: api.EventPresence, User: user, Text: status, Node: f.node})
	f.mu.Unlock()
	return nil
}

// Presence reports a user's status ("" if never set).
func (f *Fake) Presence(user string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.presence[user]
}

func (f *Fake) Moderate(ctx context.Context, m api.Moderation) error {
	f.mu.Lock()
	if err := f.write(ctx); err != nil {
		f.mu.Unlock()
		return err
	}
	until := m.Until
	if until.IsZero() {
		until = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	switch m.Action {
	case "ban":
		f.bans[m.Target] = until
		f.sanctions[m.Target+"\x00ban"] = m
	case "mute":
		f.mutes[m.Target+"\x00"+m.Room] = until
		f.sanctions[m.Target+"\x00mute\x00"+m.Room] = m
	case "unban":
		delete(f.bans, m.Target)
		delete(f.sanctions, m.Target+"\x00ban")
	case "unmute":
		for k := range f.mutes {
			if k == m.Target+"\x00"+m.Room || (m.Room == "" && strings.HasPrefix(k, m.Target+"\x00")) {
				delete(f.mutes, k)
				delete(f.sanctions, m.Target+"\x00mute\x00"+strings.TrimPrefix(k, m.Target+"\x00"))
			}
		}
	}
	idx := f.index
	f.publishLocked(api.Event{Kind: api.EventModeration, Index: idx, Room: m.Room, User: m.Target, Mod: m})
	f.mu.Unlock()
	return nil
}

// Sanctions lists the bans and mutes in force, sorted by target.
func (f *Fake) Sanctions() []api.Moderation {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	var out []api.Moderation
	for _, m := range f.sanctions {
		if m.Until.IsZero() || now.Before(m.Until) {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Target != out[j].Target {
			return out[i].Target < out[j].Target
		}
		return out[i].Action < out[j].Action
	})
	return out
}

// ReleaseName frees a bound name.
func (f *Fake) ReleaseName(ctx context.Context, name, by string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.names[name]; !ok {
		return fmt.Errorf("fake: %w: nobody owns the name %q", api.ErrNotFound, name)
	}
	if err := f.write(ctx); err != nil {
		return err
	}
	delete(f.names, name)
	delete(f.accessLocked().keys, name)
	mod := api.Moderation{Action: "release", Target: name, By: by}
	f.publishLocked(api.Event{Kind: api.EventModeration, Index: f.index, User: name, Mod: mod})
	return nil
}

func (f *Fake) IsBanned(user string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Now().Before(f.bans[user])
}

func (f *Fake) IsMuted(user, roomName string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.muted(user, roomName)
}

func (f *Fake) muted(user, roomName string) bool {
	now := time.Now()
	return now.Before(f.mutes[user+"\x00"]) || now.Before(f.mutes[user+"\x00"+roomName])
}

// Status reports a healthy three-node cluster led by this node unless
// SetStatus overrode it; Quorum follows SetQuorum.
func (f *Fake) Status() api.ClusterStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status != nil {
		st := *f.status
		st.Members = slices.Clone(st.Members)
		st.Quorum = f.quorum
		return st
	}
	st := api.ClusterStatus{Node: f.node, Leader: f.node, Term: 3, Quorum: f.quorum}
	for i, id := range []string{f.node, f.node + "b", f.node + "c"} {
		online := i == 0 || f.quorum
		st.Members = append(st.Members, api.MemberStatus{ID: id, Online: online, Leader: i == 0,
			LeaderID: f.node, Term: 3, Uptime: time.Duration(3600+i) * time.Second, Messages: f.index,
			CommitIndex: f.index, LogHash: "abcdef0123456789", Host: "127.0.0.1",
			SSHPort: 2222 + i, PeerPort: 7000 + i, HeartbeatPort: 7100 + i})
	}
	return st
}

// sub is a bounded subscription; publish drops it when its buffer is full.
type sub struct {
	f       *Fake
	filter  api.Filter
	c       chan api.Event
	dropped bool
	closed  bool
}

func (s *sub) C() <-chan api.Event { return s.c }

func (s *sub) Dropped() bool {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	return s.dropped
}

func (s *sub) Close() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.closeLocked()
}

func (s *sub) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.c)
		delete(s.f.subs, s)
	}
}

func (f *Fake) Subscribe(filter api.Filter, buf int) api.Subscription {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &sub{f: f, filter: filter, c: make(chan api.Event, max(buf, 1))}
	f.subs[s] = struct{}{}
	return s
}

// publish delivers e to every matching subscriber, dropping slow ones.
// Call with f.mu held, so events go out in index order.
func (f *Fake) publishLocked(e api.Event) {
	for s := range f.subs {
		if !s.filter.Match(e) || (s.filter.Reader != "" && !f.readableLocked(s.filter.Reader, e)) {
			continue
		}
		select {
		case s.c <- e:
		default:
			s.dropped = true
			s.closeLocked()
		}
	}
}

// Submit implements api.Backend: the post is made when Wait is called,
// after the submit gate (SetSubmitGate) opens; a closed gate, or none,
// lets it through at once.
func (f *Fake) Submit(ctx context.Context, r api.PostRequest) api.Pending {
	f.mu.Lock()
	f.submitted++
	gate := f.gate
	f.mu.Unlock()
	return fakePending(func(ctx context.Context) (uint64, error) {
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return 0, fmt.Errorf("fake: %w: %w", api.ErrNoQuorum, ctx.Err())
			}
		}
		if r.To != "" {
			return f.directMessage(ctx, r.User, r.To, r.Text, r.ID, r.Action, r.ReplyTo)
		}
		return f.post(ctx, r.User, r.Room, r.Text, r.ID, 0, r.Action, r.ReplyTo)
	})
}

type fakePending func(ctx context.Context) (uint64, error)

func (p fakePending) Wait(ctx context.Context) (uint64, error) { return p(ctx) }

// SetSubmitGate holds every post submitted from now on until gate is
// closed (nil: none are held), as a node without quorum holds them.
func (f *Fake) SetSubmitGate(gate chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = gate
}

// Submitted counts Submit calls.
func (f *Fake) Submitted() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.submitted
}

// SetAllowance gives user an allowance of its own (PostAllowance).
func (f *Fake) SetAllowance(user string, rate float64, burst int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.allowances == nil {
		f.allowances = map[string][2]float64{}
	}
	f.allowances[user] = [2]float64{rate, float64(burst)}
}

// PostAllowance implements api.Backend: SetAllowance's, or 0, 0 (none of
// its own).
func (f *Fake) PostAllowance(user string) (float64, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.allowances[user]
	return a[0], int(a[1])
}
