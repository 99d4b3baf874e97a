package ring

import (
	"errors"
	"fmt"
	"net"
	"os"
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

// readPoll is how long a read of a ring socket waits before it looks again.
const readPoll = 5 * time.Millisecond

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("ring: transport closed")

// UDPConfig configures a UDPTransport.
type UDPConfig struct {
	ID          string
	Incarnation uint64 // must grow across restarts, whatever the clock does (NextIncarnation)
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
	// Keepalive, when positive, repeats to each member the latest
	// heartbeat the core sent it whenever the core has sent none for this
	// long (the heartbeat interval), from the transport's own goroutine:
	// a driver that is behind its queue (client load) still tells its
	// peers it is alive, with what it last said. Only while the driver
	// shows progress (Progress) within MaxStall: a driver that is stuck
	// stops being vouched for, and its peers suspect it.
	Keepalive time.Duration
	// MaxStall bounds how long after the driver's last Progress the
	// keepalive goes on (default 10×Keepalive).
	MaxStall time.Duration
	// Metrics receives the counters; nil allocates one (see Metrics()).
	Metrics *Metrics
	// Seal, when set, encrypts every datagram with per-member keys
	// (seal.go); nil sends the HMAC envelope in the clear.
	Seal *Sealer
}

type sentHeartbeat struct {
	m  Message
	at time.Time
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
	// peers: addresses and heartbeat counters of the members, replaced as
	// a whole by SetPeers (transport_members.go), read without a lock.
	peers  atomic.Pointer[peerTable]
	seq    atomic.Uint64
	ackIDs atomic.Uint64
	recv   chan Message

	// keepalive state: the latest heartbeat per member and when it left
	// (under mu), and the driver's last sign of progress (unix ns).
	lastHB       map[string]*sentHeartbeat
	progress     atomic.Int64
	repeats      atomic.Uint64
	readDelayMax atomic.Int64 // ns

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
		pending: map[uint64]*pendingSend{}, done: make(chan struct{})}
	t.guard = NewGuard(codec, cfg.ID, []string{cfg.ID}, cfg.Metrics)
	t.guard.AcceptStrangers() // the core answers them (membership.go)
	if err := t.SetPeers(cfg.HeartbeatAddrs, cfg.ElectionAddrs); err != nil {
		return nil, err
	}
	t.seq.Store(0)
	t.lastHB = map[string]*sentHeartbeat{}
	t.Progress()
	t.wg.Add(3)
	go t.readLoop(cfg.HeartbeatConn, false)
	go t.readLoop(cfg.ElectionConn, true)
	go t.retransmitLoop()
	if cfg.Keepalive > 0 {
		if t.cfg.MaxStall <= 0 {
			t.cfg.MaxStall = 10 * cfg.Keepalive
		}
		t.wg.Add(1)
		go t.keepaliveLoop()
	}
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
	if c := t.peers.Load().heard[id]; c != nil {
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
		if t.cfg.Keepalive > 0 {
			t.mu.Lock()
			t.lastHB[to] = &sentHeartbeat{m: m, at: time.Now()}
			t.mu.Unlock()
		}
		return t.write(t.cfg.HeartbeatConn, t.peers.Load().heartbeatAddr(to), m)
	}
	el := t.peers.Load().el[to]
	if el == nil {
		t.metrics.SendErrors.Add(1)
		return fmt.Errorf("ring: no election address for %q", to)
	}
	m.AckID = t.ackIDs.Add(1)
	t.mu.Lock()
	t.pending[m.AckID] = &pendingSend{to: to, m: m, tries: 1, next: time.Now().Add(t.cfg.Retransmit)}
	t.mu.Unlock()
	return t.write(t.cfg.ElectionConn, el, m)
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
		b, err = t.seal(m.To, b)
	}
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
	stamped := enableRxTimestamps(conn)
	oob := make([]byte, 128)
	for {
		// A read wakes on its deadline at the latest (readPoll): a timer
		// puts this goroutine first in line, where a datagram's readiness
		// alone leaves it queued behind every busy goroutine of a loaded
		// process (measured: up to 0.5 s, enough to suspect a live peer).
		_ = conn.SetReadDeadline(time.Now().Add(readPoll))
		n, oobn, _, from, err := conn.ReadMsgUDP(buf, oob)
		if err != nil {
			select {
			case <-t.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			t.metrics.ReadErrors.Add(1)
			continue
		}
		at := time.Now()
		var waited time.Duration
		if kt, ok := rxTimestamp(oob[:oobn]); stamped && ok && kt.Before(at) {
			waited = at.Sub(kt)
			t.noteReadDelay(waited)
			at = kt
		}
		m, err := t.accept(buf[:n]) // opened (seal.go) and checked by the Guard
		if err != nil {
			continue
		}
		m.Received, m.ReadDelay = at, waited
		if election {
			t.handleElection(conn, from, m)
		} else if m.Type == MsgHeartbeat {
			pt := t.peers.Load()
			if pt.heard[m.From] == nil {
				pt.noteStranger(m.From, from) // not a member: its address, to answer it
			}
			if t.deliver(m) {
				if c := pt.heard[m.From]; c != nil {
					c.Add(1)
				}
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

// Progress tells the keepalive that the driver is making progress (it
// calls this at least once per pass of its loop).
func (t *UDPTransport) Progress() { t.progress.Store(time.Now().UnixNano()) }

// ReadDelayMax is the longest a datagram waited in the socket between
// its arrival (the kernel's stamp) and this transport's read of it.
func (t *UDPTransport) ReadDelayMax() time.Duration { return time.Duration(t.readDelayMax.Load()) }

func (t *UDPTransport) noteReadDelay(d time.Duration) {
	for {
		cur := t.readDelayMax.Load()
		if int64(d) <= cur || t.readDelayMax.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// Repeats is how many heartbeats the keepalive sent for a driver that was
// behind.
func (t *UDPTransport) Repeats() uint64 { return t.repeats.Load() }

// keepaliveLoop repeats each member's latest heartbeat when the driver has
// sent none for Keepalive, while the driver shows progress within
// MaxStall. The content is what the core last said (its term, leader and
// echo), at most one driver pass old: like a heartbeat delayed on the
// wire, which the protocol already tolerates; every change the core makes
// (a new leader, a resignation) goes out with the driver's own Ready.
func (t *UDPTransport) keepaliveLoop() {
	defer t.wg.Done()
	tk := time.NewTicker(t.cfg.Keepalive / 4)
	defer tk.Stop()
	for {
		select {
		case <-t.done:
			return
		case now := <-tk.C:
			if now.Sub(time.Unix(0, t.progress.Load())) > t.cfg.MaxStall {
				continue // the driver is stuck: stop vouching for it
			}
			var due []Message
			t.mu.Lock()
			for _, h := range t.lastHB {
				if now.Sub(h.at) >= t.cfg.Keepalive {
					h.at = now
					due = append(due, h.m)
				}
			}
			t.mu.Unlock()
			for _, m := range due {
				if t.write(t.cfg.HeartbeatConn, t.peers.Load().heartbeatAddr(m.To), m) == nil {
					t.repeats.Add(1)
				}
			}
		}
	}
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
				_ = t.write(t.cfg.ElectionConn, t.peers.Load().el[p.to], p.m)
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
