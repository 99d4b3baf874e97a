package peer

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"time"
)

func helloMAC(key []byte, nonce [nonceLen]byte, from, to string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("hello"))
	m.Write(nonce[:])
	m.Write([]byte{byte(len(from))})
	m.Write([]byte(from))
	m.Write([]byte{byte(len(to))})
	m.Write([]byte(to))
	return m.Sum(nil)
}

// framer computes the MAC of consecutive frames on one connection. The
// counter is implicit: both ends count, so a replayed, dropped or reordered
// frame fails authentication.
//
// Inside TLS (tlsOnly) frames carry no MAC: the TLS record layer already
// authenticates every byte with keys of this connection, in order, and the
// certificates name both ends; a second MAC would only double the cost of
// every byte replicated.
type framer struct {
	mac     hash.Hash
	nonce   [nonceLen]byte
	n       uint64
	buf     [8 + headerLen]byte
	tlsOnly bool
}

// macLen is the size of the MAC that follows each frame on this
// connection: 0 inside TLS.
func (f *framer) macLen() int {
	if f.tlsOnly {
		return 0
	}
	return macLen
}

func newFramer(key []byte, nonce [nonceLen]byte) *framer {
	return &framer{mac: hmac.New(sha256.New, key), nonce: nonce}
}

func (f *framer) sum(typ uint8, payload []byte, dst []byte) []byte {
	if f.tlsOnly {
		f.n++
		return dst
	}
	f.mac.Reset()
	f.mac.Write(f.nonce[:])
	binary.BigEndian.PutUint64(f.buf[:8], f.n)
	f.buf[8] = typ
	binary.BigEndian.PutUint32(f.buf[9:], uint32(len(payload)))
	f.mac.Write(f.buf[:])
	f.mac.Write(payload)
	f.n++
	return f.mac.Sum(dst)
}

// deadlineWriter sets a fresh write deadline before every write to the
// socket. bufio writes through to it whenever its buffer fills, not only on
// Flush (a frame larger than the buffer goes out in the middle of Write), so
// a deadline set only before Flush would leave those writes with none, or
// with one that expired while the writer was idle.
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	if err := d.conn.SetWriteDeadline(time.Now().Add(d.timeout)); err != nil {
		return 0, err
	}
	return d.conn.Write(p)
}

func (t *Transport) writeLoop(conn net.Conn, nonce [nonceLen]byte, o *outbound) error {
	fr := newFramer(t.key, nonce)
	fr.tlsOnly = t.cfg.TLS != nil
	w := bufio.NewWriterSize(deadlineWriter{conn, t.cfg.WriteTimeout}, 64<<10)
	var hdr [headerLen]byte
	var mac [macLen]byte
	// Reads carry the answers to our pings (ping.go) and detect that the
	// listener closed the connection.
	pings := &pinger{}
	closed := make(chan struct{})
	go func() { t.readPongs(conn, nonce, fr.tlsOnly, o, pings); close(closed) }()
	var tick <-chan time.Time
	if t.cfg.PingInterval > 0 {
		tk := time.NewTicker(t.cfg.PingInterval)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		var f Frame
		select {
		case <-o.ctx.Done():
			return o.ctx.Err()
		case <-closed:
			return errors.New("closed by peer")
		case <-tick:
			if err := t.writePing(w, fr, pings); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			continue
		case f = <-o.q:
		}
		for {
			o.bytes.Add(-int64(len(f.Payload)))
			hdr[0] = f.Type
			binary.BigEndian.PutUint32(hdr[1:], uint32(len(f.Payload)))
			w.Write(hdr[:])
			w.Write(f.Payload)
			if _, err := w.Write(fr.sum(f.Type, f.Payload, mac[:0])); err != nil {
				return err
			}
			t.stats.sent.Add(1)
			// Batch whatever else is queued into the same write.
			select {
			case f = <-o.q:
				continue
			default:
			}
			break
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.cfg.Listener.Accept()
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			t.cfg.Logger.Warn("peer accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t.mu.Lock()
		t.inbound[conn] = struct{}{}
		t.mu.Unlock()
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			err := t.readLoop(conn)
			if err != nil && t.ctx.Err() == nil && !errors.Is(err, io.EOF) {
				t.cfg.Logger.Debug("peer inbound closed", "remote", conn.RemoteAddr(), "err", err)
			}
			conn.Close()
			t.mu.Lock()
			delete(t.inbound, conn)
			t.mu.Unlock()
		}()
	}
}

// readLoop authenticates the dialer, then delivers its frames.
func (t *Transport) readLoop(conn net.Conn) error {
	var tc *tls.Conn
	certID := ""
	var err error
	if t.cfg.TLS != nil {
		if tc, certID, err = acceptTLS(conn, t.cfg.TLS, t.ownCert, t.cfg.ConnectTimeout); err == nil {
			conn = tc
		}
	}
	var from string
	var nonce [nonceLen]byte
	if err == nil {
		from, nonce, err = t.challenge(conn)
	}
	if err == nil && tc != nil && from != certID {
		err = fmt.Errorf("hello claims to be %s but the certificate is %s's: a node cannot speak for another", from, certID)
	}
	if err == nil && tc != nil && t.cfg.LinkKeys != nil {
		var k LinkKey
		if k, err = linkKey(tc, from, t.cfg.ID); err == nil {
			t.cfg.LinkKeys(k)
		}
	}
	if err != nil {
		t.stats.badHello.Add(1)
		// One line a second at most: anyone who can reach the port can
		// open connections (the count is in Stats, and in metrics).
		if ok, skipped := t.rejectLog.allow(time.Now()); ok {
			t.cfg.Logger.Warn("peer handshake rejected", "remote", conn.RemoteAddr(), "err", err,
				"not_logged_since_last", skipped, "rejected_total", t.stats.badHello.Load())
		}
		return err
	}
	fr := newFramer(t.key, nonce)
	fr.tlsOnly = tc != nil
	r := bufio.NewReaderSize(conn, 64<<10)
	for first := true; ; first = false {
		typ, payload, err := readFrame(r, fr, t.cfg.MaxFrame, from)
		if err != nil {
			if errors.Is(err, errBadFrame) {
				t.stats.badFrame.Add(1)
			}
			return err
		}
		if typ == TypePing {
			if err := t.pong(conn, nonce, fr.tlsOnly, from, payload); err != nil {
				if errors.Is(err, errBadFrame) {
					t.stats.badFrame.Add(1)
				}
				return err
			}
			continue
		}
		if typ == TypeStream {
			if !first || t.cfg.Streams == nil {
				t.stats.badFrame.Add(1)
				if !first {
					return fmt.Errorf("stream request from %s after other frames", from)
				}
				return errNoStreams
			}
			return t.serveStream(conn, r, fr, nonce, from, payload)
		}
		if !t.deliver(Frame{From: from, Type: typ, Payload: payload}) {
			t.stats.inFull.Add(1)
		}
		t.stats.received.Add(1) // after inFull: Received covers the drops
		if t.ctx.Err() != nil {
			return nil
		}
	}
}

func (t *Transport) challenge(conn net.Conn) (string, [nonceLen]byte, error) {
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", nonce, err
	}
	conn.SetDeadline(time.Now().Add(t.cfg.ConnectTimeout))
	defer conn.SetDeadline(time.Time{})
	if _, err := conn.Write(nonce[:]); err != nil {
		return "", nonce, err
	}
	var head [2]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return "", nonce, fmt.Errorf("read hello: %w", err)
	}
	if head[0] != version {
		return "", nonce, fmt.Errorf("peer protocol version %d, want %d", head[0], version)
	}
	rest := make([]byte, int(head[1])+macLen)
	if _, err := io.ReadFull(conn, rest); err != nil {
		return "", nonce, fmt.Errorf("read hello: %w", err)
	}
	from := string(rest[:head[1]])
	// Any node that proves itself (the hello's MAC; with TLS, a certificate
	// naming it) may connect, also one this node's membership does not
	// hold yet: a follower's membership may lag its leader's
	// (docs/ARCHITECTURE.md, "Membership through the log").
	if from == "" || from == t.cfg.ID {
		return "", nonce, fmt.Errorf("bad peer id %q", from)
	}
	if !hmac.Equal(rest[head[1]:], helloMAC(t.key, nonce, from, t.cfg.ID)) {
		return "", nonce, fmt.Errorf("hello from %q fails authentication (wrong cluster secret?)", from)
	}
	return from, nonce, nil
}
