package peer

import "context"

// SetPeers replaces the peers this transport dials: their peer addresses
// (host:port) by id, this node's own id ignored. A new peer is dialed at
// once; a dropped one's connection is closed and the frames queued for it
// are lost (the protocols resend from their own state); a peer whose
// address changed is redialed there. Inbound connections are not limited
// to these ids: any node that proves itself may connect (frames.go). The
// node calls it when its membership changes.
func (t *Transport) SetPeers(peers map[string]string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return // closed
	}
	old := *t.out.Load()
	next := make(map[string]*outbound, len(peers))
	for id, addr := range peers {
		if id == t.cfg.ID {
			continue
		}
		if o := old[id]; o != nil && o.addr == addr {
			next[id] = o
			continue
		}
		ctx, cancel := context.WithCancel(t.ctx)
		o := &outbound{id: id, addr: addr, q: make(chan Frame, t.cfg.QueueLen), ctx: ctx, cancel: cancel}
		next[id] = o
		t.wg.Add(1)
		go t.dialLoop(o)
	}
	t.out.Store(&next)
	for id, o := range old {
		if next[id] != o {
			o.cancel()
		}
	}
}
