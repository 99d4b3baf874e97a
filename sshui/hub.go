package sshui

import (
	"context"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/ssh"
	"github.com/syncnet/syncnet/node/api"
)

// Messages the hub sends to a chat program.
type (
	// EventMsg carries one committed event.
	EventMsg struct{ Event api.Event }
	// ResyncMsg says the session missed events (its queue overflowed or the
	// hub's subscription was dropped): reload from HistoryAfter.
	ResyncMsg struct{}
	// StatusMsg is the cluster status, sent when it changes.
	StatusMsg struct{ Status api.ClusterStatus }
	// NoticeMsg is a line from this node (e.g. shutting down).
	NoticeMsg struct{ Text string }
	// KickedMsg ends the session: the user was kicked or banned.
	KickedMsg struct{ Mod api.Moderation }
	// MembersMsg is the hub's membership news, a snapshot of counters that
	// only grow: each session compares them with what it saw last, so any
	// session may get any snapshot, late or not at all (flushMembers). Its
	// maps are shared between sessions: read only.
	MembersMsg struct {
		Presence uint64               // counts presence changes: all panes are stale when it moved
		Rooms    map[string]uint64    // counts each room's joins and leaves
		Churn    map[string]roomChurn // large rooms' joins and leaves, not sent one by one
	}
)

// roomChurn counts the joins and leaves of a large room since the hub
// started.
type roomChurn struct{ Joined, Left int }

// Sender is what the hub needs from a *tea.Program.
type Sender interface{ Send(tea.Msg) }

// HubConfig configures a Hub.
type HubConfig struct {
	Queue      int           // per-session queue (default 64)
	LargeRoom  int           // rooms above this many members get no per-event join/leave lines (default 50)
	SubBuf     int           // the hub's Backend subscription buffer (default 4096)
	StatusPoll time.Duration // Status poll period (default 1s)
	Logger     *slog.Logger
}

// Hub fans committed events out to chat sessions on this node.
//
// Goroutines: Run (one, owns the Backend subscription and the status poll)
// and one pump per session (the only caller of that session's p.Send).
// Deliver never blocks: a session whose queue is full loses the event and
// is told to resync, so a stalled terminal never slows anyone else.
type Hub struct {
	b   api.Backend
	cfg HubConfig
	log *slog.Logger

	mu      sync.RWMutex
	clients map[*Client]struct{}
	byUser  map[string][]*Client // chat sessions per user (deliverTo)
	users   map[string]int       // sessions per user on this node
	status  api.ClusterStatus

	// Membership and presence news (see flushMembers): owned by Run, but
	// churn is read by sessions opening a room (churnTotal) under mmu.
	presenceGen uint64
	roomGen     map[string]uint64
	churn       map[string]roomChurn
	newsGen     uint64      // counts changes to the three above
	snap        *MembersMsg // their snapshot as of snapGen
	snapGen     uint64
	presenceOld bool      // a presence change since the members cache was marked stale
	order       []*Client // registered sessions, for flushMembers' rotation
	cursor      int       // the next session of order flushMembers looks at
	urgent      []*Client // sessions of users who joined or left a large room: news first

	// Members cache shared by every session (see Members).
	mmu     sync.Mutex
	members map[string]*membersEntry

	// Presence writes, one writer per user at a time (see presence).
	pmu      sync.Mutex
	pPending map[string]string // the status still to write, latest wins
	pWriting map[string]bool

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	started  atomic.Bool

	delivered, dropped atomic.Uint64 // events offered to sessions, and missed by a full queue (metrics)
}

// NewHub makes a hub; call Run to start it.
func NewHub(b api.Backend, cfg HubConfig) *Hub {
	if cfg.Queue <= 0 {
		cfg.Queue = 64
	}
	if cfg.SubBuf <= 0 {
		cfg.SubBuf = 4096
	}
	if cfg.StatusPoll <= 0 {
		cfg.StatusPoll = time.Second
	}
	if cfg.LargeRoom <= 0 {
		cfg.LargeRoom = 50
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{b: b, cfg: cfg, log: cfg.Logger, clients: map[*Client]struct{}{}, byUser: map[string][]*Client{},
		users: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{}),
		roomGen: map[string]uint64{}, churn: map[string]roomChurn{}, members: map[string]*membersEntry{}}
}

// Client is one chat session's place in the hub.
type Client struct {
	hub   *Hub
	apply func([]tea.Msg) bool // nil: p.Send each message
	// redraw, if set, draws a deferred frame on the pump (see DrawSoon).
	redraw func()
	// idle, if set, is called by a pump that exits for lack of work: the
	// session lets go of what only an active session reuses.
	idle    func()
	drawDue atomic.Bool
	running atomic.Bool // a pump goroutine runs (see ensurePump)
	batch   []tea.Msg   // pump's reusable batch
	user    string
	p       Sender
	q       chan tea.Msg  // events, bounded
	ctl     chan tea.Msg  // notices, kicks, quit: small, taken first
	kick    chan struct{} // wakes the pump for a resize or a resync
	quit    chan struct{}

	lagged atomic.Bool
	size   atomic.Uint64 // width<<32 | height, with bit 63 = pending
	rooms  atomic.Pointer[map[string]bool]

	slot    int    // index in Hub.order (under Hub.mu)
	newsGen uint64 // the hub's news this session was sent (owned by Run)
}

// Run consumes the Backend subscription until Stop.
func (h *Hub) Run() {
	if !h.started.CompareAndSwap(false, true) {
		return
	}
	defer close(h.done)
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("hub panic", "panic", r)
		}
	}()
	sub := h.b.Subscribe(api.Filter{}, h.cfg.SubBuf)
	defer func() { sub.Close() }()
	tick := time.NewTicker(h.cfg.StatusPoll)
	defer tick.Stop()
	h.guard(h.pollStatus)
	for {
		select {
		case <-h.stop:
			return
		case ev, ok := <-sub.C():
			if ok {
				if ev.Kind == api.EventStatus { // leader/quorum changed: show it now
					h.guard(h.pollStatus)
					continue
				}
				h.guard(func() { h.Deliver(ev) })
				continue
			}
			if !sub.Dropped() { // backend closed: wait for Stop
				<-h.stop
				return
			}
			h.log.Warn("hub subscription dropped; resubscribing")
			sub = h.b.Subscribe(api.Filter{}, h.cfg.SubBuf)
			h.each(func(c *Client) { c.markLagged() })
		case <-tick.C:
			h.guard(h.pollStatus)
			h.guard(h.flushMembers)
		}
	}
}

// guard runs f, logging a panic instead of killing the process.
func (h *Hub) guard(f func()) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("hub panic", "panic", r)
		}
	}()
	f()
}

func (h *Hub) pollStatus() {
	st := h.b.Status()
	h.mu.Lock()
	changed := !reflect.DeepEqual(statusKey(st), statusKey(h.status))
	h.status = st
	h.mu.Unlock()
	if changed {
		h.each(func(c *Client) { c.offer(StatusMsg{Status: st}) })
	}
}

// statusKey is the part of the status the chat UI shows.
func statusKey(st api.ClusterStatus) [4]any {
	online := 0
	for _, m := range st.Members {
		if m.Online {
			online++
		}
	}
	return [4]any{st.Leader, st.Term, st.Quorum, online}
}

// Status is the last polled cluster status.
func (h *Hub) Status() api.ClusterStatus {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.status
}

// Stop ends Run and every pump. Idempotent.
func (h *Hub) Stop() {
	h.stopOnce.Do(func() { close(h.stop) })
	if h.started.Load() {
		<-h.done
	}
	h.each(func(c *Client) { h.Unregister(c) })
}

// Shutdown tells every session why, then quits its program.
func (h *Hub) Shutdown(notice string) {
	h.each(func(c *Client) {
		c.control(NoticeMsg{Text: notice})
		c.control(tea.QuitMsg{})
	})
}

// Register adds a session for user whose program is p, and starts its pump.
func (h *Hub) Register(user string, p Sender) *Client {
	return h.register(user, p, nil, nil, nil, nil)
}

// register is Register with the session's window-change channel, which the
// pump then reads (and drains after the program ends until the session
// closes it, docs/DEPENDENCIES.md §2.6): no goroutine of its own per session; and
// with apply, which takes queued hub messages in batches instead of
// p.Send one by one (frameModel.apply; false: not ready, use Send), and
// redraw, which draws a frame the App deferred; and idle, which the pump
// calls as it exits for lack of work (frameModel.trim).
func (h *Hub) register(user string, p Sender, win <-chan ssh.Window, apply func([]tea.Msg) bool, redraw, idle func()) *Client {
	c := &Client{hub: h, user: user, p: p, apply: apply, redraw: redraw, idle: idle,
		q: make(chan tea.Msg, h.cfg.Queue), ctl: make(chan tea.Msg, 8),
		kick: make(chan struct{}, 1), quit: make(chan struct{})}
	empty := map[string]bool{}
	c.rooms.Store(&empty)
	h.mu.Lock()
	h.clients[c] = struct{}{}
	c.slot = len(h.order)
	h.order = append(h.order, c)
	h.byUser[user] = append(h.byUser[user], c)
	h.users[user]++
	first := h.users[user] == 1
	h.mu.Unlock()
	if first {
		h.presence(user, "online")
	}
	if win != nil {
		go c.watchWindow(win)
	}
	c.ensurePump()
	return c
}

// Unregister removes c and stops its pump. Idempotent.
func (h *Hub) Unregister(c *Client) {
	h.mu.Lock()
	if _, ok := h.clients[c]; !ok {
		h.mu.Unlock()
		return
	}
	delete(h.clients, c)
	last := len(h.order) - 1
	h.order[c.slot] = h.order[last]
	h.order[c.slot].slot = c.slot
	h.order[last] = nil
	h.order = h.order[:last]
	if cs := slices.DeleteFunc(h.byUser[c.user], func(x *Client) bool { return x == c }); len(cs) > 0 {
		h.byUser[c.user] = cs
	} else {
		delete(h.byUser, c.user)
	}
	h.users[c.user]--
	gone := h.users[c.user] == 0
	if gone {
		delete(h.users, c.user)
	}
	h.mu.Unlock()
	close(c.quit)
	if gone {
		h.presence(c.user, "offline")
	}
}

// Attend counts an exec session of user that follows a room as a member
// (tail --join: syncnet chat) like a chat session, for presence: user is
// online from their first session on this node to their last. The
// returned func ends it; calling it again does nothing.
func (h *Hub) Attend(user string) (leave func()) {
	h.mu.Lock()
	h.users[user]++
	first := h.users[user] == 1
	h.mu.Unlock()
	if first {
		h.presence(user, "online")
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			h.users[user]--
			last := h.users[user] <= 0
			if last {
				delete(h.users, user)
			}
			h.mu.Unlock()
			if last {
				h.presence(user, "offline")
			}
		})
	}
}

// presence records a user's status without blocking the caller. Writes
// of one user go one at a time, in order, the latest status replacing one
// not yet written: a session that closes and opens again quickly must not
// leave its "offline" landing after its "online" (each used to be written
// by a goroutine of its own, in any order).
func (h *Hub) presence(user, status string) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	if h.pPending == nil {
		h.pPending, h.pWriting = map[string]string{}, map[string]bool{}
	}
	h.pPending[user] = status
	if !h.pWriting[user] {
		h.pWriting[user] = true
		go h.writePresence(user)
	}
}

// writePresence writes user's pending statuses until none is left.
func (h *Hub) writePresence(user string) {
	for {
		h.pmu.Lock()
		status, ok := h.pPending[user]
		delete(h.pPending, user)
		if !ok {
			delete(h.pWriting, user)
			h.pmu.Unlock()
			return
		}
		h.pmu.Unlock()
		func() {
			defer func() { _ = recover() }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := h.b.SetPresence(ctx, user, status); err != nil {
				h.log.Debug("set presence", "user", user, "status", status, "err", err)
			}
		}()
	}
}

// Len is the number of registered sessions.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.clients)
}

// Online reports whether user has a chat session on this node.
func (h *Hub) Online(user string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.users[user] > 0
}

func (h *Hub) each(f func(*Client)) {
	h.mu.RLock()
	cs := make([]*Client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.RUnlock()
	for _, c := range cs {
		f(c)
	}
}

// Deliver fans ev out to every interested session without blocking. The
// message is boxed once and shared: no allocation per session.
//
// Joins, leaves and presence changes are the connect storm's N² (every
// newcomer is news to everyone): presence is never sent one by one, and
// joins/leaves of a large room reach only the user's own sessions; the
// others learn of them from MembersMsg (flushMembers). Call from one
// goroutine at a time (Run's, or a test's without Run).
func (h *Hub) Deliver(ev api.Event) {
	if h.deliverAccess(ev) { // private rooms, settings, keys (hub_access.go)
		return
	}
	switch ev.Kind {
	case api.EventPresence:
		h.presenceGen++
		h.newsGen++
		h.presenceOld = true
		return
	case api.EventJoin, api.EventLeave:
		large := h.roomSize(ev.Room) > h.cfg.LargeRoom
		h.roomGen[ev.Room]++
		h.newsGen++
		d := 1
		if ev.Kind == api.EventLeave {
			d = -1
		}
		h.memberChanged(ev.Room, d)
		if large {
			h.mmu.Lock()
			ch := h.churn[ev.Room]
			if ev.Kind == api.EventJoin {
				ch.Joined++
			} else {
				ch.Left++
			}
			h.churn[ev.Room] = ch
			h.mmu.Unlock()
			h.deliverTo(ev.User, ev)
			return
		}
	}
	msg := tea.Msg(EventMsg{Event: ev})
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		if ev.Kind == api.EventModeration && endsSession(ev.Mod.Action) && ev.Mod.Target == c.user {
			c.control(KickedMsg{Mod: ev.Mod})
			continue
		}
		if c.wants(ev) {
			c.offer(msg)
		}
	}
}

// endsSession reports whether a moderation action ends its target's
// sessions: a kick, a ban, and a released name (another key may claim it).
func endsSession(action string) bool {
	return action == "kick" || action == "ban" || action == "release"
}

// deliverTo sends ev to user's sessions only, and puts them first in
// line for the membership news: their own join shows in their members
// pane at the next poll, not at their turn.
func (h *Hub) deliverTo(user string, ev api.Event) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	cs := h.byUser[user]
	if len(cs) == 0 {
		return
	}
	msg := tea.Msg(EventMsg{Event: ev})
	for _, c := range cs {
		c.offer(msg)
		if len(h.urgent) < membersFanout {
			h.urgent = append(h.urgent, c)
		}
	}
}

// membersFanout bounds the sessions one StatusPoll sends MembersMsg to.
// Each one redraws the session it reaches, its members pane and summary
// line (~250 µs each, measured in a connect storm): sent to every session
// at once, sessions connecting at 100/s kept both cores busy redrawing "N
// people joined" and pushed connects past 8 s, and a summary every few
// seconds still stalled connects for seconds at 9,000 sessions. In turns
// of 200 a poll, each session hears of a change within ceil(sessions/200)
// polls (a second up to 200 sessions, 50 s at 10,000), and the redraws
// are spread evenly.
const membersFanout = 200

// flushMembers sends the membership news to the next membersFanout
// sessions (in turn) that have not had it. Every session that was sent an
// older snapshot or none gets the latest; one whose queue is full is
// tried again on the next turn.
func (h *Hub) flushMembers() {
	if h.presenceOld {
		h.invalidateMembers("")
		h.presenceOld = false
	}
	if h.newsGen == 0 {
		return
	}
	if h.snapGen != h.newsGen {
		h.snapGen = h.newsGen
		h.mmu.Lock()
		h.snap = &MembersMsg{Presence: h.presenceGen, Rooms: maps.Clone(h.roomGen), Churn: maps.Clone(h.churn)}
		h.mmu.Unlock()
	}
	h.refreshWanted() // after the snapshot: a list read now shows what it counts
	msg := tea.Msg(*h.snap)
	h.mu.RLock()
	defer h.mu.RUnlock()
	send := func(c *Client) bool {
		if c.newsGen == h.snapGen {
			return false
		}
		select {
		case c.q <- msg:
			c.newsGen = h.snapGen
			c.ensurePump()
			return true
		default:
			return false
		}
	}
	for _, c := range h.urgent {
		if _, ok := h.clients[c]; ok {
			send(c)
		}
	}
	clear(h.urgent)
	h.urgent = h.urgent[:0]
	sent := 0
	for range len(h.order) {
		if sent == membersFanout {
			break
		}
		h.cursor %= len(h.order)
		c := h.order[h.cursor]
		h.cursor++
		if send(c) {
			sent++
		}
	}
}

// churnTotal is room's joins and leaves counted so far: a session opening
// the room starts counting from there.
func (h *Hub) churnTotal(room string) roomChurn {
	h.mmu.Lock()
	defer h.mmu.Unlock()
	return h.churn[room]
}

// membersEntry is one room's cached member list.
type membersEntry struct {
	list   []api.Presence
	stale  bool
	wanted bool // stale and asked for: read again at the next poll
	delta  int  // joins minus leaves since list was read (roomSize)
}

// Members is room's member list from a cache shared by every session on
// this node: Backend.Members runs at most once per change per room, not
// once per session (a room of N sessions would otherwise cost N² per
// join). A large room's list is read again at most once a poll
// (refreshWanted): until then a session gets the list as it was, and its
// news (flushMembers) brings the new one. Reading 10,000 members (and
// sorting them) after every join of a connect storm was half the node's
// CPU at 100 connects/s. The slice is shared: callers must not modify it.
func (h *Hub) Members(room string) []api.Presence {
	h.mmu.Lock()
	defer h.mmu.Unlock()
	e := h.members[room]
	switch {
	case e == nil:
		if len(h.members) > 4096 { // bound: forget everything, rebuild on demand
			clear(h.members)
		}
		e = h.readMembers(room)
	case e.stale && len(e.list) <= h.cfg.LargeRoom:
		e = h.readMembers(room)
	case e.stale:
		e.wanted = true
	}
	return e.list
}

// readMembers reads room's list into the cache. Call with mmu held.
func (h *Hub) readMembers(room string) *membersEntry {
	e := &membersEntry{list: h.b.Members(room)}
	h.members[room] = e
	return e
}

// refreshWanted reads again the stale lists sessions asked for since the
// last poll.
func (h *Hub) refreshWanted() {
	h.mmu.Lock()
	defer h.mmu.Unlock()
	for room, e := range h.members {
		if e.stale && e.wanted {
			h.readMembers(room)
		}
	}
}

// invalidateMembers marks room's cached list stale ("": every room).
func (h *Hub) invalidateMembers(room string) {
	h.mmu.Lock()
	defer h.mmu.Unlock()
	if room == "" {
		for _, e := range h.members {
			e.stale = true
		}
		return
	}
	if e := h.members[room]; e != nil {
		e.stale = true
	}
}

// memberChanged marks room's cached list stale after a join (d = 1) or a
// leave (-1), and counts it for roomSize.
func (h *Hub) memberChanged(room string, d int) {
	h.mmu.Lock()
	defer h.mmu.Unlock()
	if e := h.members[room]; e != nil {
		e.stale = true
		e.delta += d
	}
}

// roomSize is room's member count, which picks how joins are shown: the
// cached list's length and the joins and leaves since, so a join does not
// reread the room (in a connect storm every join reread all N members: N²).
func (h *Hub) roomSize(room string) int {
	h.mmu.Lock()
	if e := h.members[room]; e != nil {
		n := len(e.list) + e.delta
		h.mmu.Unlock()
		return n
	}
	h.mmu.Unlock()
	return len(h.Members(room))
}

// SetRooms sets the rooms whose events this session receives.
func (c *Client) SetRooms(rooms []string) {
	m := make(map[string]bool, len(rooms))
	for _, r := range rooms {
		m[r] = true
	}
	c.rooms.Store(&m)
}

func (c *Client) wants(ev api.Event) bool {
	rooms := *c.rooms.Load()
	switch ev.Kind {
	case api.EventMessage:
		if ev.Message.IsDM() {
			return ev.Message.From == c.user || ev.Message.To == c.user
		}
		return rooms[ev.Message.Room]
	case api.EventJoin, api.EventLeave, api.EventTopic:
		return rooms[ev.Room] || ev.User == c.user
	case api.EventModeration:
		return ev.Mod.Target == c.user || ev.Mod.Room == "" || rooms[ev.Mod.Room]
	case api.EventMessageChanged: // an edit, deletion or reaction: as its message
		if api.IsDMRoom(ev.Room) {
			return api.InDMRoom(ev.Room, c.user)
		}
		return rooms[ev.Room]
	}
	return true // presence, status
}

// offer queues m, or drops it and asks for a resync when the queue is full.
func (c *Client) offer(m tea.Msg) {
	select {
	case c.q <- m:
		c.hub.delivered.Add(1)
		c.ensurePump()
	default:
		c.hub.dropped.Add(1)
		c.markLagged()
	}
}

func (c *Client) markLagged() {
	c.lagged.Store(true)
	c.wake()
}

func (c *Client) control(m tea.Msg) {
	select {
	case c.ctl <- m:
		c.ensurePump()
	default:
	}
}

func (c *Client) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
	c.ensurePump()
}

// Resize records the latest window size; the pump sends it.
func (c *Client) Resize(w, h int) {
	w, h = min(max(w, 0), 1<<16), min(max(h, 0), 1<<16) // SSH allows any uint32
	c.size.Store(1<<63 | uint64(w)<<32 | uint64(h))
	c.wake()
}

// pumpLinger is how long an idle pump waits for more before it exits. An
// idle session then holds no pump goroutine, whose stack the draw path has
// grown: measured at 2,000 idle sessions, 131–133 KiB RSS per session once
// the GC had run, against 154 KiB with a pump per session for good. A pump
// that has to start again costs more (2,000 cold pumps: p99 400 ms for the
// first line, against 75 ms warm), so it lingers long enough that only a
// room quiet for a minute pays that.
const pumpLinger = time.Minute

// ensurePump starts the session's pump unless one runs or the session
// ended. Called after anything is queued for the pump.
func (c *Client) ensurePump() {
	if !c.running.CompareAndSwap(false, true) {
		return
	}
	select {
	case <-c.quit:
		return // stays "running": no pump after the end
	default:
	}
	go c.pump()
}

// pending reports whether anything waits for the pump.
func (c *Client) pending() bool { return len(c.q) > 0 || len(c.ctl) > 0 || len(c.kick) > 0 }

// pump is the only caller of p.Send for this session. It runs while there
// is work (and pumpLinger after), and ends for good on Unregister.
func (c *Client) pump() {
	defer func() { _ = recover() }()
	idle := time.NewTimer(pumpLinger)
	defer idle.Stop()
	for {
		select {
		case <-c.quit:
			return
		case m := <-c.ctl:
			c.p.Send(m)
			continue
		default:
		}
		select {
		case <-c.quit:
			return
		case m := <-c.ctl:
			c.p.Send(m)
		case <-c.kick:
			c.flushKick()
		case m := <-c.q:
			c.deliver(m)
		case <-idle.C:
			c.running.Store(false)
			if !c.pending() || !c.running.CompareAndSwap(false, true) {
				if c.idle != nil {
					c.idle() // safe beside a new pump: it takes the frame lock
				}
				return
			}
		}
		idle.Reset(pumpLinger)
	}
}

// watchWindow forwards the session's window sizes to the pump until the
// session closes the channel (it must be drained, docs/DEPENDENCIES.md §2.6).
func (c *Client) watchWindow(win <-chan ssh.Window) {
	defer func() { _ = recover() }()
	for w := range win {
		c.Resize(w.Width, w.Height)
	}
}

// maxBatch bounds how many queued messages the pump applies at once.
const maxBatch = 32

// deliver hands m, and whatever else is queued, to the program.
func (c *Client) deliver(m tea.Msg) {
	if c.apply == nil {
		c.p.Send(m)
		return
	}
	batch := append(c.batch[:0], m)
	for len(batch) < maxBatch {
		select {
		case m := <-c.q:
			batch = append(batch, m)
			continue
		default:
		}
		break
	}
	if !c.apply(batch) {
		for _, m := range batch {
			c.p.Send(m)
		}
	}
	clear(batch)
	c.batch = batch[:0]
}

// DrawSoon asks the pump to call redraw.
func (c *Client) DrawSoon() {
	c.drawDue.Store(true)
	c.wake()
}

func (c *Client) flushKick() {
	if c.drawDue.Swap(false) && c.redraw != nil {
		c.redraw()
	}
	if v := c.size.Swap(0); v&(1<<63) != 0 {
		c.p.Send(tea.WindowSizeMsg{Width: int(uint32(v>>32) &^ (1 << 31)), Height: int(uint32(v))})
	}
	if c.lagged.Swap(false) {
		c.p.Send(ResyncMsg{})
	}
}
