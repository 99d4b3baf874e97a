package sshui

import (
	"maps"
	"sync"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// lastSeen remembers when this node last saw each member online. The
// Backend reports an offline member with the values of its last heartbeat
// and no time, so without this status would show them as current.
type lastSeen struct {
	mu  sync.Mutex
	at  map[string]time.Time
	now func() time.Time
}

func newLastSeen(now func() time.Time) *lastSeen {
	return &lastSeen{at: map[string]time.Time{}, now: now}
}

func (l *lastSeen) record(st api.ClusterStatus) {
	t := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range st.Members {
		if m.Online {
			l.at[m.ID] = t
		}
	}
}

func (l *lastSeen) get() map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.at)
}

// seenBackend is the Backend the hub gets: its Status poll (every
// StatusPoll, for as long as the server runs) keeps lastSeen current.
type seenBackend struct {
	api.Backend
	seen *lastSeen
}

func (b seenBackend) Status() api.ClusterStatus {
	st := b.Backend.Status()
	b.seen.record(st)
	return st
}

// status is the Backend's status, recorded in lastSeen.
func (s *Server) status() api.ClusterStatus {
	return seenBackend{s.b, s.seen}.Status()
}
