package ring

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// peerTable is what UDPTransport knows of the members: their heartbeat and
// election addresses and how many heartbeats each sent. SetPeers replaces
// it whole, so readers take it without a lock. strangers holds the source
// address of heartbeats from nodes outside the membership, so that the
// core can answer them (membership.go, noteStranger).
type peerTable struct {
	hb, el map[string]*net.UDPAddr
	heard  map[string]*atomic.Uint64

	mu        sync.Mutex
	strangers map[string]*net.UDPAddr
}

// heartbeatAddr is where heartbeats to id go: its configured address, or
// for a stranger the address its heartbeats came from.
func (pt *peerTable) heartbeatAddr(id string) *net.UDPAddr {
	if a := pt.hb[id]; a != nil {
		return a
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.strangers[id]
}

func (pt *peerTable) noteStranger(id string, from *net.UDPAddr) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.strangers == nil {
		pt.strangers = map[string]*net.UDPAddr{}
	}
	if _, ok := pt.strangers[id]; ok || len(pt.strangers) < MaxMembers {
		pt.strangers[id] = from
	}
}

// SetPeers replaces the members this transport sends to and accepts from:
// their heartbeat and election addresses (host:port) by id, this node
// excluded. The node calls it when its membership changes
// (docs/ARCHITECTURE.md, "Membership through the log"). Messages queued
// for a removed member are still retransmitted until they give up;
// heartbeat counts of members that stay are kept.
func (t *UDPTransport) SetPeers(heartbeat, election map[string]string) error {
	pt := &peerTable{hb: map[string]*net.UDPAddr{}, el: map[string]*net.UDPAddr{}, heard: map[string]*atomic.Uint64{}}
	old := t.peers.Load()
	ids := []string{t.cfg.ID}
	for id, a := range heartbeat {
		addr, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			return fmt.Errorf("ring: heartbeat address of %s: %w", id, err)
		}
		pt.hb[id] = addr
		if old != nil && old.heard[id] != nil {
			pt.heard[id] = old.heard[id]
		} else {
			pt.heard[id] = &atomic.Uint64{}
		}
		ids = append(ids, id)
	}
	for id, a := range election {
		addr, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			return fmt.Errorf("ring: election address of %s: %w", id, err)
		}
		pt.el[id] = addr
	}
	t.peers.Store(pt)
	t.guard.SetMembers(ids)
	return nil
}
