// Package peer carries authenticated frames between the nodes of a cluster
// over TCP: replication traffic and forwarded client requests.
//
// Each node dials every peer once for its outbound traffic; inbound
// connections only receive. A connection opens with a challenge: the
// listener sends a fresh random nonce, the dialer answers with its id and an
// HMAC over (nonce, dialer, listener). Every later frame carries an
// HMAC-SHA256 over (nonce, frame counter, type, payload), so a frame cannot be
// forged, altered, replayed on another connection or reordered (I8).
//
// Sending never blocks the caller: each peer has a bounded queue, and when it
// is full or the peer is down the frame is dropped and counted. The protocols
// above retransmit, so a drop costs latency, never safety.
package peer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	version   = 1
	nonceLen  = 32
	macLen    = sha256.Size
	headerLen = 1 + 4 // type, payload length
	// DefaultMaxFrame bounds a frame's payload: a replication batch is capped
	// well below it, so anything larger is garbage or an attack.
	DefaultMaxFrame = 8 << 20
	// DefaultQueue is the per-peer outbound queue length.
	DefaultQueue = 4096
)

// Frame is one authenticated message from a peer.
type Frame struct {
	From    string
	Type    uint8
	Payload []byte
}

// Config configures a Transport.
type Config struct {
	ID     string
	Secret []byte
	// Peers maps every other node's id to its peer address (host:port).
	Peers map[string]string
	// Listener is already bound (tests pass 127.0.0.1:0; no find-then-bind).
	Listener       net.Listener
	ConnectTimeout time.Duration // default 1s
	QueueLen       int           // default DefaultQueue
	MaxFrame       int           // default DefaultMaxFrame
	Logger         *slog.Logger
}

// Stats counts what the transport did; rejected input never panics and is
// only counted and logged.
type Stats struct {
	Sent, Received, DroppedQueueFull, DroppedNoConn uint64
	RejectedHandshake, RejectedFrame                uint64
}

// Transport is the peer network of one node.
type Transport struct {
	cfg   Config
	key   []byte
	recv  chan Frame
	out   map[string]*outbound
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	stats struct {
		sent, received, qfull, noconn, badHello, badFrame atomic.Uint64
	}
	mu      sync.Mutex
	inbound map[net.Conn]struct{}
}

type outbound struct {
	id, addr string
	q        chan Frame
	up       atomic.Bool
}

// New starts accepting on cfg.Listener and dialing every peer.
func New(cfg Config) (*Transport, error) {
	if cfg.ID == "" || len(cfg.Secret) == 0 || cfg.Listener == nil {
		return nil, errors.New("peer: ID, Secret and Listener are required")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = time.Second
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = DefaultQueue
	}
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	t := &Transport{
		cfg: cfg, key: deriveKey(cfg.Secret), recv: make(chan Frame, cfg.QueueLen),
		out: map[string]*outbound{}, ctx: ctx, stop: stop, inbound: map[net.Conn]struct{}{},
	}
	for id, addr := range cfg.Peers {
		if id == cfg.ID {
			continue
		}
		o := &outbound{id: id, addr: addr, q: make(chan Frame, cfg.QueueLen)}
		t.out[id] = o
		t.wg.Add(1)
		go t.dialLoop(o)
	}
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

func deriveKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("syncnet peer v1"))
	return m.Sum(nil)
}

// Recv delivers authenticated frames from every peer.
func (t *Transport) Recv() <-chan Frame { return t.recv }

// Send queues a frame for a peer. It never blocks; it reports false when the
// frame was dropped (unknown peer, queue full, or no connection).
func (t *Transport) Send(to string, typ uint8, payload []byte) bool {
	o := t.out[to]
	if o == nil {
		return false
	}
	if !o.up.Load() {
		t.stats.noconn.Add(1)
		return false
	}
	select {
	case o.q <- Frame{From: t.cfg.ID, Type: typ, Payload: payload}:
		return true
	default:
		t.stats.qfull.Add(1)
		return false
	}
}

// Connected reports whether the outbound connection to a peer is up.
func (t *Transport) Connected(to string) bool {
	o := t.out[to]
	return o != nil && o.up.Load()
}

// Stats returns the counters.
func (t *Transport) Stats() Stats {
	return Stats{
		Sent: t.stats.sent.Load(), Received: t.stats.received.Load(),
		DroppedQueueFull: t.stats.qfull.Load(), DroppedNoConn: t.stats.noconn.Load(),
		RejectedHandshake: t.stats.badHello.Load(), RejectedFrame: t.stats.badFrame.Load(),
	}
}

// Close stops every connection and waits for the goroutines.
func (t *Transport) Close() error {
	t.stop()
	err := t.cfg.Listener.Close()
	t.mu.Lock()
	for c := range t.inbound {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	return err
}

func (t *Transport) dialLoop(o *outbound) {
	defer t.wg.Done()
	backoff := 50 * time.Millisecond
	for t.ctx.Err() == nil {
		conn, nonce, err := t.dial(o)
		if err != nil {
			t.cfg.Logger.Debug("peer dial failed", "peer", o.id, "err", err)
			select {
			case <-t.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		t.cfg.Logger.Info("peer connected", "peer", o.id, "addr", o.addr)
		o.up.Store(true)
		err = t.writeLoop(conn, nonce, o)
		o.up.Store(false)
		conn.Close()
		if t.ctx.Err() == nil {
			t.cfg.Logger.Info("peer connection lost", "peer", o.id, "err", err)
		}
		// Frames queued for a dead connection are stale: the protocols
		// retransmit from their own state once the peer is back.
		drain(o.q)
	}
}

func drain(q chan Frame) {
	for {
		select {
		case <-q:
		default:
			return
		}
	}
}

// dial connects and answers the listener's challenge.
func (t *Transport) dial(o *outbound) (net.Conn, [nonceLen]byte, error) {
	var nonce [nonceLen]byte
	d := net.Dialer{Timeout: t.cfg.ConnectTimeout}
	conn, err := d.DialContext(t.ctx, "tcp", o.addr)
	if err != nil {
		return nil, nonce, err
	}
	conn.SetDeadline(time.Now().Add(t.cfg.ConnectTimeout))
	if _, err := io.ReadFull(conn, nonce[:]); err != nil {
		conn.Close()
		return nil, nonce, fmt.Errorf("read challenge: %w", err)
	}
	hello := append([]byte{version, byte(len(t.cfg.ID))}, t.cfg.ID...)
	hello = append(hello, helloMAC(t.key, nonce, t.cfg.ID, o.id)...)
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, nonce, fmt.Errorf("send hello: %w", err)
	}
	conn.SetDeadline(time.Time{})
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return conn, nonce, nil
}
