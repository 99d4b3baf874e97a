package node

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncnet/syncnet/node/api"

	"github.com/syncnet/syncnet/ring"
)

// ringTransport is what the driver needs from the ring's network.
type ringTransport interface {
	Send(to string, m ring.Message) error
	Recv() <-chan ring.Message
	Close() error
}

// openRing binds (or takes) the heartbeat and election sockets and starts
// the ring's authenticated UDP transport on them.
func (n *Node) openRing(secret []byte, ls *Listeners) error {
	var err error
	hb, el := ls.Heartbeat, ls.Election
	if hb == nil {
		if hb, err = listenUDP(n.self.Host, n.self.HeartbeatPort); err != nil {
			return fmt.Errorf("bind heartbeat_port: %w", err)
		}
	}
	if el == nil {
		if el, err = listenUDP(n.self.Host, n.self.ElectionPort); err != nil {
			hb.Close()
			return fmt.Errorf("bind election_port: %w", err)
		}
	}
	hbAddrs, elAddrs := map[string]string{}, map[string]string{}
	for _, m := range n.cfg.Nodes {
		if m.ID != n.id {
			hbAddrs[m.ID] = addr(m.Host, m.HeartbeatPort)
			elAddrs[m.ID] = addr(m.Host, m.ElectionPort)
		}
	}
	inc, err := ring.NextIncarnation(n.cfg.NodeDir(n.id), time.Now()) // persisted: survives a clock step
	if err != nil {
		hb.Close()
		el.Close()
		return fmt.Errorf("ring incarnation: %w", err)
	}
	t, err := ring.NewUDPTransport(ring.UDPConfig{
		ID: n.id, Incarnation: inc, Secret: secret, Seal: n.seal,
		HeartbeatConn: hb, ElectionConn: el, HeartbeatAddrs: hbAddrs, ElectionAddrs: elAddrs,
		// Heartbeats leave on time when the driver is behind its queue
		// (client load), as long as it passes through its loop at least
		// every keepaliveStall failure timeouts (appendTicks).
		Keepalive: n.cfg.Timing.HeartbeatInterval.Duration,
		MaxStall:  keepaliveStall * n.cfg.Timing.FailureTimeout.Duration,
	})
	if err != nil {
		hb.Close()
		el.Close()
		return err
	}
	n.ringNet = t
	return nil
}

func listenUDP(host string, port int) (*net.UDPConn, error) {
	a, err := net.ResolveUDPAddr("udp", addr(host, port))
	if err != nil {
		return nil, err
	}
	return net.ListenUDP("udp", a)
}

// keepaliveStall: a driver that has not passed through its loop for this
// many failure timeouts is stuck (a hung disk), and its transport stops
// repeating its heartbeats, so its peers suspect it and elect another
// leader. Load alone never stalls it that long (issue 17: at most 2.8 s
// per pass with 16,000 posts in flight on two busy cores).
const keepaliveStall = 10

// progressNoter is what a ring transport with a keepalive offers.
type progressNoter interface{ Progress() }

// heartbeatCounter is what a ring transport offers when it counts the
// heartbeats it receives as they arrive (ring.UDPTransport does; the
// cluster simulation's transport does not, and its ticks carry no
// arrivals).
type heartbeatCounter interface {
	HeartbeatsFrom(id string) uint64
}

// ringClock is the driver's side of the heartbeat path: the transport's
// arrival counts already passed to the core, and the figures status shows.
// Driver-only, except the stats (their own lock and atomics).
type ringClock struct {
	seen  map[string]uint64
	stats ringStats
}

// appendTicks appends the tick input for one wake of the ticker. It
// carries the members whose heartbeats arrived since the last tick
// (ring.Node.Arrived): the detector judges by arrival, not by when the
// driver gets to a heartbeat queued behind proposals and frames. A tick
// missed while a batch ran is not made up: a driver behind its queue lets
// its own clock run slow rather than condemn peers it could not listen to,
// and its heartbeats still leave on time, repeated by the transport's
// keepalive, which each pass here vouches for (Progress).
func (n *Node) appendTicks(batch []input) []input {
	if p, ok := n.ringNet.(progressNoter); ok {
		p.Progress()
	}
	return append(batch, input{kind: inputTick, arrived: n.arrivals()})
}

// arrivals lists the members whose heartbeats the transport counted since
// the last call.
func (n *Node) arrivals() []string {
	hc, ok := n.ringNet.(heartbeatCounter)
	if !ok {
		return nil
	}
	c := &n.clock
	if c.seen == nil {
		c.seen = map[string]uint64{}
	}
	var out []string
	for _, m := range n.membersNow.specs {
		if m.ID == n.id {
			continue
		}
		if v := hc.HeartbeatsFrom(m.ID); v != c.seen[m.ID] {
			c.seen[m.ID] = v
			out = append(out, m.ID)
		}
	}
	return out
}

// stepTick hands a tick to the ring core: first the arrivals it carries,
// then the tick itself.
func (n *Node) stepTick(in *input) {
	for _, id := range in.arrived {
		n.ring.Arrived(id)
	}
	n.ring.Tick()
	n.clock.stats.suspicions.Store(n.ring.Suspicions())
}

// noteRingDelay records how long a heartbeat waited between its arrival
// (the kernel's stamp) and the driver's step, and the part of that before
// the transport read it.
func (n *Node) noteRingDelay(m *ring.Message) {
	if m.Type != ring.MsgHeartbeat || m.Received.IsZero() {
		return
	}
	n.clock.stats.add(n.now().Sub(m.Received), m.ReadDelay)
}

// ringStats: the heartbeat path's figures for status, over the latest
// heartbeats (about 13 s of them on three nodes).
type ringStats struct {
	suspicions atomic.Uint64
	mu         sync.Mutex
	delays     [256]time.Duration // arrival -> step, a ring buffer
	reads      [256]time.Duration // arrival -> read
	count      uint64
}

func (s *ringStats) add(d, read time.Duration) {
	s.mu.Lock()
	i := s.count % uint64(len(s.delays))
	s.delays[i], s.reads[i] = d, read
	s.count++
	s.mu.Unlock()
}

// snapshot reports the figures: percentiles over the latest heartbeats.
func (s *ringStats) snapshot() api.RingStats {
	s.mu.Lock()
	n := min(s.count, uint64(len(s.delays)))
	ds, rs := slices.Clone(s.delays[:n]), slices.Clone(s.reads[:n])
	st := api.RingStats{Suspicions: s.suspicions.Load(), Heartbeats: s.count}
	s.mu.Unlock()
	if n == 0 {
		return st
	}
	slices.Sort(ds)
	slices.Sort(rs)
	st.HeartbeatDelayP50 = ds[(len(ds)-1)/2]
	st.HeartbeatDelayP99 = ds[(len(ds)-1)*99/100]
	st.HeartbeatDelayMax = ds[len(ds)-1]
	st.ReadDelayP99 = rs[(len(rs)-1)*99/100]
	st.ReadDelayMax = rs[len(rs)-1]
	return st
}

// ringStats is the heartbeat path's figures, with the transport's.
func (n *Node) ringStats() api.RingStats {
	st := n.clock.stats.snapshot()
	if t, ok := n.ringNet.(*ring.UDPTransport); ok {
		st.KeepaliveRepeats = t.Repeats()
		st.RecvOverflow = t.Metrics().RecvOverflow.Load()
	}
	return st
}
