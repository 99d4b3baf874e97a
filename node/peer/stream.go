package peer

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/syncnet/syncnet/node/certs"
)

// A stream is a connection that carries one long exchange in both
// directions instead of one-way frames for the driver: a node with an empty
// log asks a peer for a copy of its log (the node's bulk catch-up). It
// shares the peer port and the hello: the dialer authenticates as usual and
// sends TypeStream as its first frame, whose payload is the request. The
// listener hands the connection to Config.Streams and answers on it.
//
// Every frame is authenticated in both directions. The dialer's frames use
// the connection's framer (listener's nonce, counter); the listener's
// answers use a key of their own and a nonce bound to the request, which
// carries a fresh random nonce of the dialer: an answer recorded from
// another exchange, or the dialer's own frames reflected back, fail
// authentication at the first frame.

// TypeStream marks the first frame of a stream. Replication frame types
// are small numbers; this one is reserved by the transport.
const TypeStream uint8 = 0xF0

// StreamHandler serves one stream: from is the authenticated dialer,
// request the payload of its TypeStream frame. The connection closes when
// it returns.
type StreamHandler func(from string, request []byte, s *Stream) error

// Stream is one end of a stream. It is not safe for concurrent use.
type Stream struct {
	conn     net.Conn
	r        *bufio.Reader
	w        *bufio.Writer
	in, out  *framer
	maxFrame int
	timeout  time.Duration
	peer     string
	shared   []byte // RecvShared's buffer
}

// Peer is the id of the node at the other end.
func (s *Stream) Peer() string { return s.peer }

// Send writes one frame (buffered: Flush, or the next Recv, sends it).
func (s *Stream) Send(typ uint8, payload []byte) error {
	if len(payload) > s.maxFrame {
		return fmt.Errorf("stream frame of %d bytes exceeds limit %d", len(payload), s.maxFrame)
	}
	var hdr [headerLen]byte
	var mac [macLen]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	s.w.Write(hdr[:])
	s.w.Write(payload)
	_, err := s.w.Write(s.out.sum(typ, payload, mac[:0]))
	return err
}

// Flush sends what Send buffered.
func (s *Stream) Flush() error { return s.w.Flush() }

// Recv reads the next frame, waiting at most the stream's timeout for it.
func (s *Stream) Recv() (uint8, []byte, error) {
	if err := s.w.Flush(); err != nil {
		return 0, nil, err
	}
	s.conn.SetReadDeadline(time.Now().Add(s.timeout))
	return readFrame(s.r, s.in, s.maxFrame, s.peer)
}

// RecvShared is Recv into a buffer the stream keeps: the payload is valid
// only until the next RecvShared. A bulk transfer's receiver takes it so
// that it does not allocate (and the runtime clear) a frame's size for
// every frame.
func (s *Stream) RecvShared() (uint8, []byte, error) {
	if err := s.w.Flush(); err != nil {
		return 0, nil, err
	}
	s.conn.SetReadDeadline(time.Now().Add(s.timeout))
	return readFrameInto(s.r, s.in, s.maxFrame, s.peer, &s.shared)
}

// SetTimeout sets how long Recv waits for a frame (default 30s).
func (s *Stream) SetTimeout(d time.Duration) { s.timeout = d }

// SetReadLowWater has the kernel wake this end's reader only once n bytes
// wait on the socket (or the other end closed it) rather than as each TLS
// record of 16 KiB arrives: a bulk receiver then parks and wakes once per n
// bytes, not per record, and each wakeup of a goroutine locked to its
// thread (node/lowprio) is two thread switches. A read still returns what
// is there, so only a stream whose sender keeps sending, or closes, may
// set it: its last bytes are delivered when the connection closes. Where
// the system has no such option it does nothing.
func (s *Stream) SetReadLowWater(n int) error {
	c := s.conn
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setReadLowWater(fd, n) }); err != nil {
		return err
	}
	return serr
}

// Close closes the connection.
func (s *Stream) Close() error { return s.conn.Close() }

// readFrame reads and authenticates one frame.
func readFrame(r *bufio.Reader, fr *framer, maxFrame int, from string) (uint8, []byte, error) {
	return readFrameInto(r, fr, maxFrame, from, nil)
}

// readFrameInto is readFrame into *buf (grown as needed) if buf is not
// nil, else into a new slice.
func readFrameInto(r *bufio.Reader, fr *framer, maxFrame int, from string, buf *[]byte) (uint8, []byte, error) {
	var hdr [headerLen]byte
	var got, want [macLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if int64(n) > int64(maxFrame) {
		return 0, nil, fmt.Errorf("%w: frame from %s of %d bytes exceeds limit %d", errBadFrame, from, n, maxFrame)
	}
	var payload []byte
	switch {
	case buf == nil:
		payload = make([]byte, n)
	case cap(*buf) >= int(n):
		payload = (*buf)[:n]
	default:
		*buf = make([]byte, n)
		payload = *buf
	}
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if _, err := io.ReadFull(r, got[:fr.macLen()]); err != nil {
		return 0, nil, err
	}
	if !hmac.Equal(got[:fr.macLen()], fr.sum(hdr[0], payload, want[:0])) {
		return 0, nil, fmt.Errorf("%w: frame %d from %s fails authentication", errBadFrame, fr.n-1, from)
	}
	return hdr[0], payload, nil
}

func replyKey(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("stream reply"))
	return m.Sum(nil)
}

func replyNonce(nonce [nonceLen]byte, request []byte) [nonceLen]byte {
	h := sha256.New()
	h.Write(nonce[:])
	h.Write(request)
	var out [nonceLen]byte
	h.Sum(out[:0])
	return out
}

// streamTimeout bounds each wait for a frame of a stream.
const streamTimeout = 30 * time.Second

// serveStream hands an authenticated stream to the handler.
func (t *Transport) serveStream(conn net.Conn, r *bufio.Reader, in *framer, nonce [nonceLen]byte, from string, request []byte) error {
	s := &Stream{
		conn: conn, r: r, w: bufio.NewWriterSize(deadlineWriter{conn, t.cfg.WriteTimeout}, 256<<10),
		in: in, out: newFramer(replyKey(t.key), replyNonce(nonce, request)),
		maxFrame: t.cfg.MaxFrame, timeout: streamTimeout, peer: from,
	}
	s.out.tlsOnly = in.tlsOnly
	err := t.cfg.Streams(from, request, s)
	if ferr := s.w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// StreamDial says how to reach a peer for a stream without a Transport:
// a node opens one before its own network is up.
type StreamDial struct {
	ID     string // this node
	Secret []byte
	Peer   string // the listener's id
	Addr   string // its peer address
	// Timeout bounds the connect and the hello, and each later wait for a
	// frame (default 1s and 30s).
	Timeout  time.Duration
	MaxFrame int // default DefaultMaxFrame
	// TLS, when set, runs the stream over mutual TLS with these
	// credentials, as the peer links do (tls.go): the listener must
	// present the certificate of Peer. It must be set exactly when the
	// listener's transport has Config.TLS.
	TLS *certs.Store
}

// RequestNonceLen is the size of the random nonce DialStream puts at the
// start of every request.
const RequestNonceLen = 16

// DialStream connects to a peer, authenticates, and sends request (after a
// fresh random nonce of RequestNonceLen bytes, which binds the answers to
// this exchange) as the first frame of a stream.
func DialStream(ctx context.Context, d StreamDial, request []byte) (*Stream, error) {
	if d.Timeout == 0 {
		d.Timeout = time.Second
	}
	if d.MaxFrame == 0 {
		d.MaxFrame = DefaultMaxFrame
	}
	key := deriveKey(d.Secret)
	dialer := net.Dialer{Timeout: d.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", d.Addr)
	if err != nil {
		return nil, err
	}
	if d.TLS != nil {
		tc, err := dialTLS(ctx, conn, d.TLS, storeCert(d.TLS), d.Peer, d.Timeout)
		if err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	var nonce [nonceLen]byte
	conn.SetDeadline(time.Now().Add(d.Timeout))
	if _, err := io.ReadFull(conn, nonce[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("read challenge: %w", err)
	}
	hello := append([]byte{version, byte(len(d.ID))}, d.ID...)
	hello = append(hello, helloMAC(key, nonce, d.ID, d.Peer)...)
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send hello: %w", err)
	}
	conn.SetDeadline(time.Time{})
	req := make([]byte, RequestNonceLen, RequestNonceLen+len(request))
	if _, err := rand.Read(req); err != nil {
		conn.Close()
		return nil, err
	}
	req = append(req, request...)
	s := &Stream{
		conn: conn, r: bufio.NewReaderSize(conn, 256<<10),
		w:  bufio.NewWriterSize(deadlineWriter{conn, d.Timeout}, 64<<10),
		in: newFramer(replyKey(key), replyNonce(nonce, req)), out: newFramer(key, nonce),
		maxFrame: d.MaxFrame, timeout: streamTimeout, peer: d.Peer,
	}
	s.in.tlsOnly, s.out.tlsOnly = d.TLS != nil, d.TLS != nil
	if err := s.Send(TypeStream, req); err != nil {
		conn.Close()
		return nil, err
	}
	if err := s.Flush(); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// errBadFrame marks a frame that is too large or fails authentication (as
// opposed to a connection that failed).
var errBadFrame = errors.New("bad frame")

// errNoStreams answers a stream request on a transport that serves none.
var errNoStreams = errors.New("stream requested but this node serves none")
