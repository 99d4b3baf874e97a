package node

import (
	"sync"

	"github.com/syncnet/syncnet/node/api"
)

// subscribers is the set of the node's Subscribe callers; it fans the events
// of applied entries out to them through bounded queues. It is fed only by the
// apply goroutine, so events arrive in index order. A subscriber whose queue
// is full is dropped (its channel closed, Dropped true) and resyncs from
// history: a slow front end never slows the node or anyone else. (sshui's
// Hub is one such subscriber, which fans out again to its SSH sessions.)
type subscribers struct {
	mu   sync.Mutex
	subs map[*subscription]struct{}
	// canRead is the node's read rule (state.CanRead) for subscriptions
	// with a Filter.Reader (subscribers_access.go).
	canRead func(user, conv string) bool
}

func newSubscribers() *subscribers { return &subscribers{subs: map[*subscription]struct{}{}} }

type subscription struct {
	set     *subscribers
	f       api.Filter
	c       chan api.Event
	closed  bool
	dropped bool
}

func (set *subscribers) subscribe(f api.Filter, buf int) *subscription {
	if buf <= 0 {
		buf = 256
	}
	s := &subscription{set: set, f: f, c: make(chan api.Event, buf)}
	set.mu.Lock()
	set.subs[s] = struct{}{}
	set.mu.Unlock()
	return s
}

func (set *subscribers) publish(evs []api.Event) {
	if len(evs) == 0 {
		return
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	for s := range set.subs {
		for _, e := range evs {
			if !s.f.Match(e) || (s.f.Reader != "" && !set.readable(s.f.Reader, e)) {
				continue
			}
			select {
			case s.c <- e:
			default:
				s.dropped = true
				delete(set.subs, s)
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
	s.set.mu.Lock()
	defer s.set.mu.Unlock()
	return s.dropped
}

func (s *subscription) Close() {
	s.set.mu.Lock()
	defer s.set.mu.Unlock()
	delete(s.set.subs, s)
	s.closeLocked()
}

func (s *subscription) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.c)
	}
}
