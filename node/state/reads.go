package state

import (
	"maps"
	"sort"
	"strings"
	"sync"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// Reads holds how far each user has seen each conversation (read marks).
// They are replicated, so unread counts and "new since you left" follow a
// user to any node and across failover; a mark only moves forward.
type Reads struct {
	mu    sync.RWMutex
	marks map[string]map[string]uint64 // user → conversation → index
}

// NewReads returns empty read marks.
func NewReads() *Reads { return &Reads{marks: map[string]map[string]uint64{}} }

func (p *Reads) Name() string           { return "reads" }
func (p *Reads) Kinds() []eventlog.Kind { return []eventlog.Kind{eventlog.KindReadMarked} }

func (p *Reads) Apply(index uint64, ev eventlog.Event) []api.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applyLocked(index, ev)
}

func (p *Reads) locker() sync.Locker { return &p.mu }

func (p *Reads) applyLocked(index uint64, ev eventlog.Event) []api.Event {
	b, ok := ev.Body.(*eventlog.ReadMarked)
	if !ok {
		return nil
	}
	m := p.marks[b.User]
	if m == nil {
		m = map[string]uint64{}
		p.marks[b.User] = m
	}
	if b.Index > m[b.Conv] {
		m[b.Conv] = b.Index
	}
	return nil
}

// Of returns user's marks (a copy).
func (p *Reads) Of(user string) map[string]uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return maps.Clone(p.marks[user])
}

// dmPeer returns the other user of the direct conversation conv (named as
// api.DMRoom names it) that user is in.
func dmPeer(conv, user string) (string, bool) {
	a, b, ok := strings.Cut(strings.TrimPrefix(conv, "@"), ",")
	switch {
	case !ok || !strings.HasPrefix(conv, "@"):
		return "", false
	case a == user:
		return b, true
	case b == user:
		return a, true
	}
	return "", false
}

// Conversations lists the rooms user has joined and the direct
// conversations they are in, with the newest message of each, the user's
// read mark and how many messages came after it.
func (s *State) Conversations(user string) []api.Conversation {
	marks := s.Reads.Of(user)
	c := s.Chat
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []api.Conversation
	add := func(name, with string) {
		conv := api.Conversation{Name: name, With: with, Read: marks[name]}
		if r := c.rooms[name]; r != nil && r.idx.count() > 0 {
			conv.Last = r.idx.last
			if pos, err := r.idx.searchGT(conv.Read, c.chunks); err == nil {
				conv.Unread = r.idx.count() - pos
			} // else unknown: the history read says why
		}
		out = append(out, conv)
	}
	for name := range c.userRoom[user] {
		add(name, "")
	}
	for name := range c.dms[user] {
		if with, ok := dmPeer(name, user); ok {
			add(name, with)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
