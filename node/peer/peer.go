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
// Sending never blocks the caller: each peer has an outbound queue bounded in
// frames (QueueLen) and bytes (QueueBytes), and when it is full or the peer
// is down the frame is dropped and counted. Received frames wait for the
// caller in a queue bounded in frames (QueueLen, all peers together) and in
// bytes per peer (QueueBytes); a frame that does not fit is dropped and
// counted too. The protocols above retransmit, so a drop costs latency,
// never safety, and a peer (or a slow caller) can pin at most QueueBytes of
// memory per peer in each direction. Every write to a socket runs under a
// fresh WriteTimeout deadline, so a peer that stops reading costs one
// connection, never a stuck writer.
package peer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncnet/syncnet/node/certs"
)

const (
	version   = 1
	nonceLen  = 32
	macLen    = sha256.Size
	headerLen = 1 + 4 // type, payload length
	// DefaultMaxFrame bounds a frame's payload: a replication batch is capped
	// well below it, so anything larger is garbage or an attack.
	DefaultMaxFrame = 8 << 20
	// DefaultQueue is the per-peer outbound queue length, and the inbound
	// queue length (all peers together).
	DefaultQueue = 4096
	// DefaultQueueBytes bounds the payload bytes queued per peer, outbound
	// and inbound each: at least one frame of DefaultMaxFrame, and many
	// replication batches (1 MiB each by default).
	DefaultQueueBytes = 64 << 20
	// DefaultWriteTimeout bounds each write to a peer's socket.
	DefaultWriteTimeout = 5 * time.Second
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
	// WriteTimeout bounds every write to a socket (default
	// DefaultWriteTimeout); a peer that reads nothing for that long loses
	// the connection and what was queued for it.
	WriteTimeout time.Duration
	QueueLen     int // frames; default DefaultQueue
	// QueueBytes bounds the payload bytes queued per peer in each direction
	// (default DefaultQueueBytes); it must be at least MaxFrame.
	QueueBytes int
	MaxFrame   int // default DefaultMaxFrame
	// PingInterval: how often each outbound connection measures its round
	// trip (ping.go; default DefaultPingInterval, negative: never).
	PingInterval time.Duration
	Logger       *slog.Logger
	// Streams serves stream requests (stream.go); nil refuses them.
	Streams StreamHandler
	// TLS, when set, runs every connection over mutual TLS 1.3 with these
	// credentials (tls.go): each end proves its node id with a certificate
	// of the cluster CA. nil: the HMAC hello and frames only, in the clear
	// (tests, and a cluster configured insecure).
	TLS *certs.Store
	// LinkKeys, when set with TLS, receives the ring key of every
	// connection once both ends are verified (LinkKey): from this node for
	// an outbound connection, to it for an inbound one. Called from the
	// transport's goroutines.
	LinkKeys func(LinkKey)
}

// Stats counts what the transport did; rejected input never panics and is
// only counted and logged.
type Stats struct {
	// Sent: frames written to a connection. Received: authenticated frames
	// read, delivered to Recv or (DroppedInboundFull) not.
	Sent, Received uint64
	// DroppedQueueFull: frames Send refused because the peer's outbound
	// queue held QueueLen frames or QueueBytes bytes.
	DroppedQueueFull uint64
	// DroppedNoConn: frames Send refused because the peer was not connected.
	DroppedNoConn uint64
	// DroppedTooLarge: frames Send refused because they exceed MaxFrame (the
	// receiver would drop the connection).
	DroppedTooLarge uint64
	// DroppedInboundFull: received frames dropped because the inbound queue
	// held QueueLen frames, or the sender's QueueBytes, not yet taken from
	// Recv.
	DroppedInboundFull uint64
	// RejectedHandshake, RejectedFrame: inbound connections closed for a
	// bad hello or a bad (oversized or unauthenticated) frame.
	RejectedHandshake, RejectedFrame uint64
}

// Transport is the peer network of one node.
type Transport struct {
	cfg  Config
	key  []byte
	recv chan Frame
	// out: one outbound per peer, replaced whole by SetPeers
	// (members.go), read without a lock.
	out   atomic.Pointer[map[string]*outbound]
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	stats struct {
		sent, received, qfull, noconn, tooLarge, inFull, badHello, badFrame atomic.Uint64
	}
	rtt        atomic.Pointer[func(string, time.Duration)] // ObserveRTT's f (ping.go)
	rejectLog  logLimit                                    // rejected handshakes are logged at most once a second (frames.go)
	expiredLog logLimit                                    // this node's own certificate expired (tls.go)
	mu         sync.Mutex
	inbound    map[net.Conn]struct{}
	in         inQueue
}

type outbound struct {
	dialLog  logLimit // dials refused for certificates, logged once a second per peer
	id, addr string
	// ctx ends when the Transport closes or SetPeers drops this peer.
	ctx    context.Context
	cancel context.CancelFunc
	q      chan Frame
	bytes  atomic.Int64 // payload bytes in q (reserved by Send, released by the writer)
	up     atomic.Bool
}

// inQueue accounts the payload bytes each peer has in the recv channel, which
// the caller drains without telling us. Frames enter the channel only under
// mu and in the order of recs, and a channel is FIFO, so the frames still in
// it are the newest len(recv) of recs: the older ones were taken, and their
// bytes are free again.
type inQueue struct {
	mu    sync.Mutex
	recs  []inRec // ring buffer of the frames put into recv, oldest at head
	head  int
	n     int
	bytes map[string]int // per sender
}

type inRec struct {
	from string
	size int
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
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.QueueLen < 0 || cfg.MaxFrame < 0 || cfg.WriteTimeout < 0 || cfg.QueueBytes < cfg.MaxFrame {
		return nil, fmt.Errorf("peer: QueueLen %d, MaxFrame %d, WriteTimeout %v must not be negative, and QueueBytes %d must be at least MaxFrame",
			cfg.QueueLen, cfg.MaxFrame, cfg.WriteTimeout, cfg.QueueBytes)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	t := &Transport{
		cfg: cfg, key: deriveKey(cfg.Secret), recv: make(chan Frame, cfg.QueueLen),
		ctx: ctx, stop: stop, inbound: map[net.Conn]struct{}{},
		in: inQueue{recs: make([]inRec, cfg.QueueLen), bytes: map[string]int{}},
	}
	t.out.Store(&map[string]*outbound{})
	t.SetPeers(cfg.Peers)
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
// frame was dropped (unknown peer, larger than MaxFrame, queue full in
// frames or bytes, or no connection). The payload must not be modified
// afterwards.
func (t *Transport) Send(to string, typ uint8, payload []byte) bool {
	o := (*t.out.Load())[to]
	if o == nil {
		return false
	}
	if len(payload) > t.cfg.MaxFrame {
		t.stats.tooLarge.Add(1)
		return false
	}
	if !o.up.Load() {
		t.stats.noconn.Add(1)
		return false
	}
	n := int64(len(payload))
	if o.bytes.Add(n) > int64(t.cfg.QueueBytes) {
		o.bytes.Add(-n)
		t.stats.qfull.Add(1)
		return false
	}
	select {
	case o.q <- Frame{From: t.cfg.ID, Type: typ, Payload: payload}:
		return true
	default:
		o.bytes.Add(-n)
		t.stats.qfull.Add(1)
		return false
	}
}

// deliver hands a received frame to Recv, or drops it (false) when the
// inbound queue is full in frames or in the sender's bytes.
func (t *Transport) deliver(f Frame) bool {
	q := &t.in
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n > len(t.recv) { // taken by the caller since the last delivery
		r := q.recs[q.head]
		q.recs[q.head] = inRec{}
		q.head = (q.head + 1) % len(q.recs)
		q.n--
		if q.bytes[r.from] -= r.size; q.bytes[r.from] == 0 {
			delete(q.bytes, r.from)
		}
	}
	size := len(f.Payload)
	if q.n == len(q.recs) || q.bytes[f.From]+size > t.cfg.QueueBytes {
		return false
	}
	select {
	case t.recv <- f:
	default:
		return false
	}
	q.recs[(q.head+q.n)%len(q.recs)] = inRec{from: f.From, size: size}
	q.n++
	q.bytes[f.From] += size
	return true
}

// Connected reports whether the outbound connection to a peer is up.
func (t *Transport) Connected(to string) bool {
	o := (*t.out.Load())[to]
	return o != nil && o.up.Load()
}

// Stats returns the counters.
func (t *Transport) Stats() Stats {
	return Stats{
		Sent: t.stats.sent.Load(), Received: t.stats.received.Load(),
		DroppedQueueFull: t.stats.qfull.Load(), DroppedNoConn: t.stats.noconn.Load(),
		DroppedTooLarge: t.stats.tooLarge.Load(), DroppedInboundFull: t.stats.inFull.Load(),
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
	for o.ctx.Err() == nil {
		conn, nonce, err := t.dial(o)
		if err != nil {
			if msg, refused := certRefusal(err); t.cfg.TLS != nil && refused {
				// A listener that fails our check (an impostor, another
				// cluster, an expired certificate), or that refuses
				// ours, is worth a warning; at most one a second.
				if ok, skipped := o.dialLog.allow(time.Now()); ok {
					t.cfg.Logger.Warn(msg, "peer", o.id, "addr", o.addr, "err", err, "not_logged_since_last", skipped)
				}
			} else {
				t.cfg.Logger.Debug("peer dial failed", "peer", o.id, "err", err)
			}
			select {
			case <-o.ctx.Done():
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
		if o.ctx.Err() == nil {
			t.cfg.Logger.Info("peer connection lost", "peer", o.id, "err", err)
		}
		// Frames queued for a dead connection are stale: the protocols
		// retransmit from their own state once the peer is back.
		o.drain()
	}
}

func (o *outbound) drain() {
	for {
		select {
		case f := <-o.q:
			o.bytes.Add(-int64(len(f.Payload)))
		default:
			return
		}
	}
}

// dial connects and answers the listener's challenge.
func (t *Transport) dial(o *outbound) (net.Conn, [nonceLen]byte, error) {
	var nonce [nonceLen]byte
	d := net.Dialer{Timeout: t.cfg.ConnectTimeout}
	conn, err := d.DialContext(o.ctx, "tcp", o.addr)
	if err != nil {
		return nil, nonce, err
	}
	if t.cfg.TLS != nil {
		tc, err := dialTLS(o.ctx, conn, t.cfg.TLS, t.ownCert, o.id, t.cfg.ConnectTimeout)
		if err != nil {
			conn.Close()
			return nil, nonce, err
		}
		conn = tc
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
	if tc, ok := conn.(*tls.Conn); ok && t.cfg.LinkKeys != nil {
		k, err := linkKey(tc, t.cfg.ID, o.id)
		if err != nil {
			conn.Close()
			return nil, nonce, err
		}
		t.cfg.LinkKeys(k)
	}
	return conn, nonce, nil
}
