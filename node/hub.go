package node

import (
	"sync"

	"github.com/syncnet/syncnet/node/api"
)

// hub fans committed events out to subscribers through bounded queues. It is
// fed only by the apply goroutine, so events arrive in index order. A
// subscriber whose queue is full is dropped (its channel closed, Dropped
// true) and resyncs from history: a slow terminal never slows the node or
// anyone else.
type hub struct {
	mu   sync.Mutex
	subs map[*subscription]struct{}
}

func newHub() *hub { return &hub{subs: map[*subscription]struct{}{}} }

type subscription struct {
	h       *hub
	f       api.Filter
	c       chan api.Event
	closed  bool
	dropped bool
}

func (h *hub) subscribe(f api.Filter, buf int) *subscription {
	if buf <= 0 {
		buf = 256
	}
	s := &subscription{h: h, f: f, c: make(chan api.Event, buf)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (h *hub) publish(evs []api.Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		for _, e := range evs {
			if !s.f.Match(e) {
				continue
			}
			select {
			case s.c <- e:
			default:
				s.dropped = true
				delete(h.subs, s)
				s.closeLocked()
			}
			if s.dropped {
				break
			}
		}
	}
}

func (s *subscription) C() <-chan api.Event { return s.c }

func (s *subscription) Dropped() bool {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.dropped
}

func (s *subscription) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	delete(s.h.subs, s)
	s.closeLocked()
}

func (s *subscription) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.c)
	}
}
