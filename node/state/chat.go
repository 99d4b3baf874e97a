package state

import (
	"sort"
	"sync"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// GeneralRoom exists from the start on every node.
const GeneralRoom = "general"

// Chat owns rooms, messages and direct messages. Retried posts never reach
// it twice: the State's exactly-once table stops them first (I5).
type Chat struct {
	mu       sync.RWMutex
	rooms    map[string]*room
	members  map[string]map[string]bool
	userRoom map[string]map[string]bool
	messages uint64
	lastLamp uint64
	out      [1]api.Event // Apply's result buffer: valid until the next Apply
}

type room struct {
	topic string
	msgs  []api.Message // ascending index
}

func NewChat() *Chat {
	c := &Chat{
		rooms:   map[string]*room{},
		members: map[string]map[string]bool{}, userRoom: map[string]map[string]bool{},
	}
	c.rooms[GeneralRoom] = &room{}
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
	if ev.Lamport > c.lastLamp {
		c.lastLamp = ev.Lamport
	}
	switch b := ev.Body.(type) {
	case *eventlog.MessagePosted:
		return c.post(index, ev, b.Room, b.From, "", b.Text, b.ClientMsgID)
	case *eventlog.DirectMessage:
		return c.post(index, ev, api.DMRoom(b.From, b.To), b.From, b.To, b.Text, b.ClientMsgID)
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
		r = &room{}
		c.rooms[name] = r
	}
	return r
}

// post records a message. id is the client message id, shown as the
// message's id; an entry with only a header request id shows that.
func (c *Chat) post(index uint64, ev eventlog.Event, roomName, from, to, text, id string) []api.Event {
	if id == "" {
		id = ev.RequestID
	}
	m := api.Message{Index: index, ID: id, Room: roomName, From: from, To: to, Text: text,
		Lamport: ev.Lamport, Time: time.Unix(0, ev.Time).UTC()}
	if to == "" {
		m.Action = isAction(ev)
	}
	r := c.room(roomName)
	r.msgs = append(r.msgs, m)
	c.messages++
	// A million-message replay allocates nothing here: the one event goes
	// out in a buffer the caller consumes before the next Apply.
	c.out[0] = api.Event{Kind: api.EventMessage, Index: index, Message: m}
	return c.out[:]
}

func isAction(ev eventlog.Event) bool {
	b, ok := ev.Body.(*eventlog.MessagePosted)
	return ok && b.Action != 0
}

func (c *Chat) History(roomName string, before uint64, limit int) []api.Message {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r := c.rooms[roomName]
	if r == nil || limit <= 0 {
		return nil
	}
	end := len(r.msgs)
	if before != 0 {
		end = sort.Search(len(r.msgs), func(i int) bool { return r.msgs[i].Index >= before })
	}
	start := max(0, end-limit)
	return append([]api.Message(nil), r.msgs[start:end]...)
}

func (c *Chat) HistoryAfter(roomName string, after uint64, limit int) []api.Message {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r := c.rooms[roomName]
	if r == nil || limit <= 0 {
		return nil
	}
	start := sort.Search(len(r.msgs), func(i int) bool { return r.msgs[i].Index > after })
	end := min(len(r.msgs), start+limit)
	return append([]api.Message(nil), r.msgs[start:end]...)
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
		if n := len(r.msgs); n > 0 {
			info.LastIndex = r.msgs[n-1].Index
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
