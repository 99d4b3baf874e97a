package state

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// GeneralRoom exists from the start on every node.
const GeneralRoom = "general"

// MessageSource reads committed entries back from where they are kept (the
// node's WAL): the events at the given cluster indexes, in the same order,
// each with its Header.Index set. The chat asks it for the messages it no
// longer holds in memory; it may be called from any goroutine, concurrently,
// and never with a lock of this package held.
type MessageSource interface {
	Messages(indexes []uint64) ([]eventlog.Event, error)
}

// ErrNoSource is returned (wrapped) by History and HistoryAfter for a
// message the chat does not hold in memory when it has no MessageSource:
// one applied before the snapshot a source-less State was restored from.
var ErrNoSource = errors.New("state: message not held in memory and no message source")

// Default sizes of the cache of recent messages (with a MessageSource).
const (
	// DefaultRecentPerRoom covers what a session reads on joining a room
	// (sshui's HistoryOnJoin, 50) and the live tail.
	DefaultRecentPerRoom = 64
	// DefaultRecentTotal bounds the cache across all rooms and direct
	// conversations: about 16 MiB at ~250 bytes a message.
	DefaultRecentTotal = 1 << 16
)

// Chat owns rooms, messages and direct messages. Retried posts never reach
// it twice: the State's exactly-once table stops them first (I5).
//
// Messages. Each room (a direct conversation is a room too, named
// api.DMRoom) keeps where its messages are in the log (msgIndex: a few
// bytes a message), their count and the newest index, and a cache of its
// most recent messages. Built with a MessageSource, the cache holds at most
// RecentPerRoom messages of a room and RecentTotal across all rooms; when
// it is over the total, the rooms used least recently (by a post or a
// read) lose their cached messages. History and HistoryAfter read the rest
// through the source, outside every lock, and put what they read back into
// the cache when it joins the room's cached newest messages. A message read
// from the source is built by the very code Apply uses (messageOf), so it
// is the message Apply made. Built without a source (NewChat, New), the
// cache is unbounded: every message applied here stays in memory, as
// before; only a State restored from a snapshot without a source lacks the
// messages before the snapshot, and reading them fails with ErrNoSource.
//
// Locks: mu guards the rooms, their indexes, members and counters. Every
// room's cache and the LRU list are guarded by mu held for writing, or by
// mu held for reading together with cmu: Apply holds mu and nothing else
// (no reader can be inside then, and a lock per message would cost the
// apply goroutine as much as the cache itself); readers take mu's read
// lock, then cmu (they move the LRU list and refill caches), and call the
// source holding neither.
type Chat struct {
	mu       sync.RWMutex
	rooms    map[string]*room
	members  map[string]map[string]bool
	userRoom map[string]map[string]bool
	dms      map[string]map[string]bool // user → the direct conversations they are in
	messages uint64
	lastLamp uint64
	out      [1]api.Event // Apply's result buffer: valid until the next Apply
	// threads: the replies of each message that has any (threads.go).
	threads map[uint64][]uint64

	src     MessageSource
	chunks  *ChunkFile // where full index chunks go; nil: they stay in memory
	perRoom int        // cached messages per room at most
	total   int        // cached messages across rooms at most

	cmu    sync.Mutex
	cached int  // messages in every room's cache
	lru    room // sentinel of the rooms with cached messages, most recently used first
}

type room struct {
	name  string
	topic string
	idx   msgIndex

	// Guarded as the cache (see Chat): the messages at positions [recentFrom,
	// idx.count()), oldest first.
	recent     ring
	recentFrom int
	prev, next *room // in Chat.lru while recent holds any
}

// NewChat returns a chat that keeps every message in memory.
func NewChat() *Chat { return newChat(nil, 0, 0) }

// newChat returns a chat reading old messages from src; perRoom and total
// are the cache sizes, already defaulted (ignored when src is nil).
func newChat(src MessageSource, perRoom, total int) *Chat {
	c := &Chat{
		rooms:   map[string]*room{},
		members: map[string]map[string]bool{}, userRoom: map[string]map[string]bool{},
		dms: map[string]map[string]bool{},
		src: src, perRoom: perRoom, total: total,
	}
	if src == nil {
		c.perRoom, c.total = int(^uint(0)>>1), int(^uint(0)>>1)
	}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	c.room(GeneralRoom)
	return c
}

func (c *Chat) Name() string { return "chat" }

func (c *Chat) Kinds() []eventlog.Kind {
	return []eventlog.Kind{eventlog.KindMessagePosted, eventlog.KindDirectMessage, eventlog.KindRoomCreated,
		eventlog.KindRoomTopicSet, eventlog.KindMemberJoinedRoom, eventlog.KindMemberLeftRoom}
}

func (c *Chat) Apply(index uint64, ev eventlog.Event) []api.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applyLocked(index, ev)
}

func (c *Chat) locker() sync.Locker { return &c.mu }

func (c *Chat) applyLocked(index uint64, ev eventlog.Event) []api.Event {
	if ev.Lamport > c.lastLamp {
		c.lastLamp = ev.Lamport
	}
	if m, ok := messageOf(index, ev); ok {
		return c.post(m)
	}
	switch b := ev.Body.(type) {
	case *eventlog.RoomCreated:
		c.room(b.Room)
	case *eventlog.RoomTopicSet:
		c.room(b.Room).topic = b.Topic
		return []api.Event{{Kind: api.EventTopic, Index: index, Room: b.Room, User: b.By, Text: b.Topic}}
	case *eventlog.MemberJoinedRoom:
		c.room(b.Room)
		setAdd(c.members, b.Room, b.User)
		setAdd(c.userRoom, b.User, b.Room)
		return []api.Event{{Kind: api.EventJoin, Index: index, Room: b.Room, User: b.User}}
	case *eventlog.MemberLeftRoom:
		delete(c.members[b.Room], b.User)
		delete(c.userRoom[b.User], b.Room)
		return []api.Event{{Kind: api.EventLeave, Index: index, Room: b.Room, User: b.User}}
	}
	return nil
}

func setAdd(m map[string]map[string]bool, k, v string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

func (c *Chat) room(name string) *room {
	r := c.rooms[name]
	if r == nil {
		// A copy of the name, not a window into the payload of the entry
		// that made the room: the map compares every lookup with it, and
		// a small string of its own stays in cache beside the others.
		name = strings.Clone(name)
		r = &room{name: name}
		c.rooms[name] = r
	}
	return r
}

// messageOf is the message a post or direct message at index makes, the
// one code for Apply and for messages read back through a MessageSource.
// Its id is the client message id, or else the header's request id.
func messageOf(index uint64, ev eventlog.Event) (api.Message, bool) {
	var m api.Message
	id := ""
	switch b := ev.Body.(type) {
	case *eventlog.MessagePosted:
		m = api.Message{Room: b.Room, From: b.From, Text: b.Text, Action: b.Action != 0, ReplyTo: b.ReplyTo}
		id = b.ClientMsgID
	case *eventlog.DirectMessage:
		m = api.Message{Room: api.DMRoom(b.From, b.To), From: b.From, To: b.To, Text: b.Text, Action: b.Action != 0, ReplyTo: b.ReplyTo}
		id = b.ClientMsgID
	default:
		return api.Message{}, false
	}
	if id == "" {
		id = ev.RequestID
	}
	m.Index, m.ID, m.Lamport, m.Time = index, id, ev.Lamport, time.Unix(0, ev.Time).UTC()
	return m, true
}

// post records a message.
func (c *Chat) post(m api.Message) []api.Event {
	r := c.room(m.Room)
	r.idx.add(m.Index, c.chunks)
	c.messages++
	if m.To != "" {
		setAdd(c.dms, m.From, m.Room)
		setAdd(c.dms, m.To, m.Room)
	}
	if m.ReplyTo != 0 {
		c.addReply(&m) // threads.go
	}
	if c.perRoom > 0 { // mu is held for writing: no cmu (see Chat)
		if r.recent.n == 0 {
			r.recentFrom = r.idx.count() - 1
		}
		if r.recent.push(m, c.perRoom) {
			r.recentFrom++
		} else {
			c.cached++
		}
		c.touch(r)
		c.evict()
	}
	// A million-message replay allocates nothing here: the one event goes
	// out in a buffer the caller consumes before the next Apply.
	e := &c.out[0]
	e.Kind, e.Index, e.Message = api.EventMessage, m.Index, m
	return c.out[:]
}

// touch makes r the most recently used room. Holds mu, or mu's read lock
// and cmu.
func (c *Chat) touch(r *room) {
	if c.src == nil {
		return // nothing is ever evicted
	}
	if r.next != nil {
		r.prev.next, r.next.prev = r.next, r.prev
	}
	r.prev, r.next = &c.lru, c.lru.next
	c.lru.next.prev = r
	c.lru.next = r
}

// evict empties the caches of the rooms used least recently until the
// cache is within its total. Holds mu, or mu's read lock and cmu.
func (c *Chat) evict() {
	for c.cached > c.total {
		r := c.lru.prev
		if r == &c.lru {
			return
		}
		r.prev.next, r.next.prev = r.next, r.prev
		r.prev, r.next = nil, nil
		c.cached -= r.recent.n
		r.recentFrom += r.recent.n
		r.recent = ring{}
	}
}

// History returns up to limit messages of a room (or direct conversation)
// with an index below before (0: the newest), oldest first. The error is
// the MessageSource's, for messages no longer held in memory.
func (c *Chat) History(roomName string, before uint64, limit int) ([]api.Message, error) {
	c.mu.RLock()
	r := c.rooms[roomName]
	if r == nil || limit <= 0 {
		c.mu.RUnlock()
		return nil, nil
	}
	end := r.idx.count()
	if before != 0 {
		var err error
		if end, err = r.idx.searchGE(before, c.chunks); err != nil {
			c.mu.RUnlock()
			return nil, fmt.Errorf("room %q: %w", r.name, err)
		}
	}
	return c.read(r, max(0, end-limit), end)
}

// HistoryAfter returns up to limit messages of a room (or direct
// conversation) with an index above after, oldest first.
func (c *Chat) HistoryAfter(roomName string, after uint64, limit int) ([]api.Message, error) {
	c.mu.RLock()
	r := c.rooms[roomName]
	if r == nil || limit <= 0 {
		c.mu.RUnlock()
		return nil, nil
	}
	start, err := r.idx.searchGT(after, c.chunks)
	if err != nil {
		c.mu.RUnlock()
		return nil, fmt.Errorf("room %q: %w", r.name, err)
	}
	return c.read(r, start, start+min(r.idx.count()-start, limit))
}

// read returns the messages of r at positions [from, to). It is called
// with mu read-locked and unlocks it.
func (c *Chat) read(r *room, from, to int) ([]api.Message, error) {
	if from >= to {
		c.mu.RUnlock()
		return nil, nil
	}
	out := make([]api.Message, to-from)
	c.cmu.Lock()
	cachedFrom := r.recentFrom
	if r.recent.n == 0 {
		cachedFrom = to // empty; no position below it is cached
	}
	for p := max(from, cachedFrom); p < to; p++ {
		out[p-from] = *r.recent.at(p - r.recentFrom)
	}
	if r.recent.n > 0 {
		c.touch(r)
	}
	c.cmu.Unlock()
	miss := min(to, cachedFrom) - from
	if miss <= 0 {
		c.mu.RUnlock()
		return out, nil
	}
	idx, err := r.idx.indexes(make([]uint64, 0, miss), from, from+miss, c.chunks)
	c.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("room %q: %w", r.name, err)
	}
	if c.src == nil {
		return nil, fmt.Errorf("room %q: message at index %d: %w", r.name, idx[0], ErrNoSource)
	}
	evs, err := c.src.Messages(idx)
	if err != nil {
		return nil, fmt.Errorf("room %q: reading %d messages from index %d: %w", r.name, len(idx), idx[0], err)
	}
	if len(evs) != len(idx) {
		return nil, fmt.Errorf("room %q: the message source returned %d events for %d indexes from %d", r.name, len(evs), len(idx), idx[0])
	}
	for i, ev := range evs {
		m, ok := messageOf(idx[i], ev)
		if ev.Index != idx[i] || !ok || m.Room != r.name {
			return nil, fmt.Errorf("room %q: the message source returned %s at index %d for index %d", r.name, ev.Kind(), ev.Index, idx[i])
		}
		out[i] = m
	}
	c.refill(r, from, out[:miss])
	return out, nil
}

// refill puts messages read through the source, at positions [from,
// from+len(msgs)), into r's cache if they join its cached newest messages.
func (c *Chat) refill(r *room, from int, msgs []api.Message) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if r.recent.n >= c.perRoom {
		return
	}
	if from+len(msgs) != r.recentFrom {
		// Not adjacent to the cached messages (an empty cache starts at
		// the room's count): Apply or an eviction moved it on since.
		return
	}
	take := min(len(msgs), c.perRoom-r.recent.n)
	r.recent.prepend(msgs[len(msgs)-take:])
	r.recentFrom -= take
	c.cached += take
	c.touch(r)
	c.evict()
}

func (c *Chat) Rooms() []api.RoomInfo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []api.RoomInfo
	for name, r := range c.rooms {
		if len(name) > 0 && name[0] == '@' {
			continue // direct conversations are not rooms
		}
		info := api.RoomInfo{Name: name, Topic: r.topic, Members: len(c.members[name])}
		if r.idx.count() > 0 {
			info.LastIndex = r.idx.last
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (c *Chat) RoomsOf(user string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	for r := range c.userRoom[user] {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

func (c *Chat) Members(roomName string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	for u := range c.members[roomName] {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

func (c *Chat) Count() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.messages
}

// MessageCounts returns how many messages each room and direct
// conversation holds, for those that hold any.
func (c *Chat) MessageCounts() map[string]int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]int, len(c.rooms))
	for name, r := range c.rooms {
		if n := r.idx.count(); n > 0 {
			out[name] = n
		}
	}
	return out
}

// IndexBytes is the memory the rooms' message indexes hold, for
// measurements.
func (c *Chat) IndexBytes() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := 0
	for _, r := range c.rooms {
		n += r.idx.bytes()
	}
	return n
}

// Cached is how many messages the cache of recent messages holds.
func (c *Chat) Cached() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return c.cached
}

// ring is a room's cache: a queue of messages, oldest first.
type ring struct {
	buf  []api.Message
	head int
	n    int
}

func (q *ring) at(i int) *api.Message { return &q.buf[(q.head+i)%len(q.buf)] }

// push appends m; when the ring already holds limit messages it drops the
// oldest and reports so.
func (q *ring) push(m api.Message, limit int) (dropped bool) {
	if q.n == len(q.buf) && q.n < limit {
		q.grow(min(limit, max(4, 2*len(q.buf))))
	}
	if q.n < len(q.buf) {
		*q.at(q.n) = m
		q.n++
		return false
	}
	q.buf[q.head] = m
	q.head = (q.head + 1) % len(q.buf)
	return true
}

// grow reallocates the ring to size slots, oldest first.
func (q *ring) grow(size int) {
	buf := make([]api.Message, size)
	for i := 0; i < q.n; i++ {
		buf[i] = *q.at(i)
	}
	q.buf, q.head = buf, 0
}

// prepend puts older messages before the ones held; the caller keeps the
// ring within its limit.
func (q *ring) prepend(msgs []api.Message) {
	buf := make([]api.Message, len(msgs)+q.n, max(len(q.buf), len(msgs)+q.n))
	copy(buf, msgs)
	for i := 0; i < q.n; i++ {
		buf[len(msgs)+i] = *q.at(i)
	}
	q.buf, q.head, q.n = buf[:cap(buf)], 0, len(msgs)+q.n
}
