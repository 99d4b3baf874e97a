package state

import (
	"fmt"
	"slices"

	"github.com/syncnet/syncnet/node/api"
)

// Threads. A reply is a post (or direct message) whose ReplyTo names an
// earlier message of the same conversation (Authorize refuses one whose
// parent is not there: authorizeChange). The chat keeps, under its lock,
// the replies of each message that has any (threads: parent index → reply
// indexes, ascending): 8 bytes a reply and a map entry a thread, nothing
// for other messages. A front end sends a reply to a reply to the thread
// of the first (node: the parent's own ReplyTo), so threads are one level
// deep, as in the chat systems people know.

// addReply records reply m under its parent. Holds mu for writing.
func (c *Chat) addReply(m *api.Message) {
	if c.threads == nil {
		c.threads = map[uint64][]uint64{}
	}
	c.threads[m.ReplyTo] = append(c.threads[m.ReplyTo], m.Index)
}

// Replies returns the indexes of the replies to the message at index,
// ascending (a copy).
func (c *Chat) Replies(index uint64) []uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.threads[index])
}

// holds reports whether the message at index is in conv: its index is in
// the room's message index (a refused post, or an entry of another kind,
// is not). locked: the caller holds mu (the apply goroutine, in ApplyRun);
// otherwise it takes the read lock. A stored chunk may be read from the
// index chunk file.
func (c *Chat) holds(conv string, index uint64, locked bool) (bool, error) {
	if !locked {
		c.mu.RLock()
		defer c.mu.RUnlock()
	}
	r := c.rooms[conv]
	if r == nil || index == 0 || r.idx.count() == 0 || index > r.idx.last {
		return false, nil
	}
	p, err := r.idx.searchGE(index, c.chunks)
	if err != nil || p >= r.idx.count() {
		return false, err
	}
	got, err := r.idx.indexes(make([]uint64, 0, 1), p, p+1, c.chunks)
	if err != nil {
		return false, err
	}
	return got[0] == index, nil
}

// roomOf returns the conversation holding the message at index: the
// entry read through the source (the room it names must hold it), or,
// without a source, the room whose index holds it.
func (c *Chat) roomOf(index uint64) (string, bool, error) {
	c.mu.RLock()
	known := false // some room has a message at or after index
	for _, r := range c.rooms {
		if r.idx.count() > 0 && r.idx.last >= index {
			known = true
			break
		}
	}
	c.mu.RUnlock()
	if !known {
		return "", false, nil // beyond every message: never ask the source (it would wait for it)
	}
	if c.src != nil {
		evs, err := c.src.Messages([]uint64{index})
		if err != nil {
			return "", false, err
		}
		if len(evs) != 1 {
			return "", false, fmt.Errorf("the message source returned %d events for index %d", len(evs), index)
		}
		m, ok := messageOf(index, evs[0])
		if !ok {
			return "", false, nil
		}
		ok, err = c.holds(m.Room, index, false)
		return m.Room, ok, err
	}
	c.mu.RLock()
	names := make([]string, 0, len(c.rooms))
	for name, r := range c.rooms {
		if r.idx.count() > 0 && r.idx.last >= index {
			names = append(names, name)
		}
	}
	c.mu.RUnlock()
	for _, name := range names {
		ok, err := c.holds(name, index, false)
		if err != nil || ok {
			return name, ok, err
		}
	}
	return "", false, nil
}

// messagesAt returns the messages of conv at the given indexes (each held
// by conv, ascending), as History builds them: from the cache of recent
// messages, else through the source.
func (c *Chat) messagesAt(conv string, indexes []uint64) ([]api.Message, error) {
	out := make([]api.Message, 0, len(indexes))
	for _, x := range indexes {
		// One page of one: History finds the message through the index
		// and the cache, or reads it, exactly as a page of many.
		msgs, err := c.History(conv, x+1, 1)
		if err != nil {
			return nil, err
		}
		if len(msgs) != 1 || msgs[0].Index != x {
			return nil, fmt.Errorf("room %q: no message at index %d", conv, x)
		}
		out = append(out, msgs[0])
	}
	return out, nil
}
