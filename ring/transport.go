package ring

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Transport moves ring messages between members. Implementations set
// m.From themselves; they authenticate everything they deliver (I8).
type Transport interface {
	// Send queues m for member to. It does not block on the network.
	Send(to string, m Message) error
	// Recv delivers authenticated messages addressed to this member. It is
	// never closed: readers select on their own stop signal. A transport
	// that acknowledges tokens and elected announcements should also
	// deliver, when its receiver acknowledges one, a MsgAck from that
	// receiver with Acked, Term, Origin and Leader copied from the message
	// acknowledged: the core then stops watching it (Config.AckTicks). A
	// transport that does not is served by heartbeats alone, a little later.
	Recv() <-chan Message
	// Close stops the transport and closes its sockets.
	Close() error
}

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("ring: transport closed")

// UDPConfig configures a UDPTransport.
type UDPConfig struct {
	ID          string
	Incarnation uint64 // boot id; must grow across restarts (e.g. start time in ns)
	Secret      []byte // cluster secret, >= MinSecretLen bytes
	// HeartbeatConn carries heartbeats; ElectionConn carries tokens, elected
	// announcements and their acks. Both already bound (tests bind
	// 127.0.0.1:0); the transport owns and closes them.
	HeartbeatConn, ElectionConn *net.UDPConn
	// HeartbeatAddrs and ElectionAddrs map every other member id to host:port.
	HeartbeatAddrs, ElectionAddrs map[string]string
	// Retransmit: an unacknowledged token/elected is resent this often
	// (default 20ms), at most MaxRetransmits times (default 25).
	Retransmit     time.Duration
	MaxRetransmits int
	// RecvBuffer is the capacity of the Recv channel (default 256).
	RecvBuffer int
	// Metrics receives the counters; nil allocates one (see Metrics()).
	Metrics *Metrics
}

type pendingSend struct {
	to    string
	m     Message
	tries int
	next  time.Time
}

// UDPTransport sends heartbeats as plain datagrams (a lost one is replaced
// by the next) and election messages with acknowledgement and
// retransmission, so a token is never dropped silently: the receiver
// acknowledges a token or elected only once it is queued for its core, and
// the sender tells its core of every acknowledgement (a MsgAck with Acked).
type UDPTransport struct {
	cfg     UDPConfig
	codec   *Codec
	guard   *Guard
	metrics *Metrics
	hbAddr  map[string]*net.UDPAddr
	elAddr  map[string]*net.UDPAddr
	seq     atomic.Uint64
	ackIDs  atomic.Uint64
	recv    chan Message
	// heard counts, per member, the authenticated heartbeats queued for the
	// core (HeartbeatsFrom). Fixed at construction: read without a lock.
	heard map[string]*atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]*pendingSend
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup
}

// NewUDPTransport starts reading from both sockets.
func NewUDPTransport(cfg UDPConfig) (*UDPTransport, error) {
	codec, err := NewCodec(cfg.Secret)
	if err != nil {
		return nil, err
	}
	if cfg.HeartbeatConn == nil || cfg.ElectionConn == nil {
		return nil, fmt.Errorf("ring: udp transport %s: both sockets are required", cfg.ID)
	}
	if cfg.Retransmit <= 0 {
		cfg.Retransmit = 20 * time.Millisecond
	}
	if cfg.MaxRetransmits <= 0 {
		cfg.MaxRetransmits = 25
	}
	if cfg.RecvBuffer <= 0 {
		cfg.RecvBuffer = 256
	}
	if cfg.Metrics == nil {
		cfg.Metrics = &Metrics{}
	}
	t := &UDPTransport{cfg: cfg, codec: codec, metrics: cfg.Metrics, recv: make(chan Message, cfg.RecvBuffer),
		pending: map[uint64]*pendingSend{}, done: make(chan struct{}),
		hbAddr: map[string]*net.UDPAddr{}, elAddr: map[string]*net.UDPAddr{}, heard: map[string]*atomic.Uint64{}}
	ids := []string{cfg.ID}
	for id, a := range cfg.HeartbeatAddrs {
		t.heard[id] = &atomic.Uint64{}
		if t.hbAddr[id], err = net.ResolveUDPAddr("udp", a); err != nil {
			return nil, fmt.Errorf("ring: heartbeat address of %s: %w", id, err)
		}
		ids = append(ids, id)
	}
	for id, a := range cfg.ElectionAddrs {
		if t.elAddr[id], err = net.ResolveUDPAddr("udp", a); err != nil {
			return nil, fmt.Errorf("ring: election address of %s: %w", id, err)
		}
	}
	t.guard = NewGuard(codec, cfg.ID, ids, cfg.Metrics)
	t.seq.Store(0)
	t.wg.Add(3)
	go t.readLoop(cfg.HeartbeatConn, false)
	go t.readLoop(cfg.ElectionConn, true)
	go t.retransmitLoop()
	return t, nil
}

// Metrics returns the transport's counters.
func (t *UDPTransport) Metrics() *Metrics { return t.metrics }

// Recv implements Transport.
func (t *UDPTransport) Recv() <-chan Message { return t.recv }

// HeartbeatsFrom is how many authenticated heartbeats from member id this
// transport has queued for the core so far. The reading goroutine counts
// them as they arrive, so a driver that is behind its queue can still tell
// the core who was heard since its last tick (Node.Arrived).
func (t *UDPTransport) HeartbeatsFrom(id string) uint64 {
	if c := t.heard[id]; c != nil {
		return c.Load()
	}
	return 0
}

// Send implements Transport.
func (t *UDPTransport) Send(to string, m Message) error {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return ErrClosed
	}
	m.From, m.To = t.cfg.ID, to
	if m.Type == MsgHeartbeat {
		return t.write(t.cfg.HeartbeatConn, t.hbAddr[to], m)
	}
	if t.elAddr[to] == nil {
		t.metrics.SendErrors.Add(1)
		return fmt.Errorf("ring: no election address for %q", to)
	}
	m.AckID = t.ackIDs.Add(1)
	t.mu.Lock()
	t.pending[m.AckID] = &pendingSend{to: to, m: m, tries: 1, next: time.Now().Add(t.cfg.Retransmit)}
	t.mu.Unlock()
	return t.write(t.cfg.ElectionConn, t.elAddr[to], m)
}

// write stamps a fresh sequence number (a retransmission must not look
// like a replay) and sends one datagram.
func (t *UDPTransport) write(conn *net.UDPConn, addr *net.UDPAddr, m Message) error {
	if addr == nil {
		t.metrics.SendErrors.Add(1)
		return fmt.Errorf("ring: no address for %q", m.To)
	}
	m.Incarnation, m.Seq = t.cfg.Incarnation, t.seq.Add(1)
	b, err := t.codec.Encode(m)
	if err == nil {
		_, err = conn.WriteToUDP(b, addr)
	}
	if err != nil {
		t.metrics.SendErrors.Add(1)
		return fmt.Errorf("ring: send %s: %w", m.Describe(), err)
	}
	t.metrics.Sent.Add(1)
	return nil
}

func (t *UDPTransport) readLoop(conn *net.UDPConn, election bool) {
	defer t.wg.Done()
	buf := make([]byte, MaxMessage+1)
	for {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			select {
			case <-t.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.metrics.ReadErrors.Add(1)
			continue
		}
		at := time.Now()
		m, err := t.guard.Accept(buf[:n])
		if err != nil {
			continue
		}
		m.Received = at
		if election {
			t.handleElection(conn, from, m)
		} else if m.Type == MsgHeartbeat && t.deliver(m) {
			if c := t.heard[m.From]; c != nil {
				c.Add(1)
			}
		}
	}
}

// deliver queues m for the core without blocking; it reports whether there
// was room (a full queue drops and counts).
func (t *UDPTransport) deliver(m Message) bool {
	select {
	case t.recv <- m:
		return true
	default:
		t.metrics.RecvOverflow.Add(1)
		return false
	}
}

// handleElection delivers tokens and elected announcements and acknowledges
// each only if it was queued: one dropped for want of room is not
// acknowledged, so its sender retransmits it (and its core, failing that,
// moves it on) instead of believing it arrived. An ack of a pending send is
// passed to the core with what it acknowledges; if the core has no room
// for it either, the send stays pending and a retransmission earns a new one.
func (t *UDPTransport) handleElection(conn *net.UDPConn, from *net.UDPAddr, m Message) {
	switch m.Type {
	case MsgAck:
		t.mu.Lock()
		p, ok := t.pending[m.AckID]
		var sent Message
		if ok && p.to == m.From {
			sent = p.m
		} else {
			ok = false
		}
		t.mu.Unlock()
		if !ok {
			t.metrics.UnmatchedAcks.Add(1)
			return
		}
		if !t.deliver(Message{Type: MsgAck, From: m.From, To: t.cfg.ID, AckID: m.AckID, Incarnation: m.Incarnation,
			Seq: m.Seq, Acked: sent.Type, Term: sent.Term, Origin: sent.Origin, Leader: sent.Leader}) {
			return
		}
		t.mu.Lock()
		delete(t.pending, m.AckID)
		t.mu.Unlock()
		t.metrics.AcksReceived.Add(1)
	case MsgToken, MsgElected:
		if t.deliver(m) {
			_ = t.write(conn, from, Message{Type: MsgAck, From: t.cfg.ID, To: m.From, AckID: m.AckID})
		}
	}
	// heartbeats belong on the other socket
}

func (t *UDPTransport) retransmitLoop() {
	defer t.wg.Done()
	tk := time.NewTicker(t.cfg.Retransmit / 2)
	defer tk.Stop()
	for {
		select {
		case <-t.done:
			return
		case now := <-tk.C:
			for _, p := range t.due(now) {
				_ = t.write(t.cfg.ElectionConn, t.elAddr[p.to], p.m)
			}
		}
	}
}

func (t *UDPTransport) due(now time.Time) []pendingSend {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []pendingSend
	for id, p := range t.pending {
		if now.Before(p.next) {
			continue
		}
		if p.tries > t.cfg.MaxRetransmits {
			delete(t.pending, id)
			t.metrics.GaveUp.Add(1)
			continue
		}
		p.tries++
		p.next = now.Add(t.cfg.Retransmit)
		t.metrics.Retransmits.Add(1)
		out = append(out, *p)
	}
	return out
}

// Close implements Transport. It closes both sockets and waits for the
// transport's goroutines.
func (t *UDPTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.done)
	t.mu.Unlock()
	err1 := t.cfg.HeartbeatConn.Close()
	err2 := t.cfg.ElectionConn.Close()
	t.wg.Wait()
	return errors.Join(err1, err2)
}
