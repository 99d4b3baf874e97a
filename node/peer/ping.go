package peer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Round-trip time. The dialer of each peer connection writes a ping frame
// (TypePing, an 8-byte token) every PingInterval, in the frame stream like
// any frame; the listener answers at once on the same connection, in the
// direction that otherwise carries nothing: the token and, outside TLS, an
// HMAC of it bound to the connection's nonce (inside TLS the record layer
// authenticates it). The dialer takes the time from writing the ping to
// reading the answer: the network both ways, plus what the ping waited
// behind frames already written on that link (a busy link shows its
// queueing). One ping is out at a time; the next goes only once it is
// answered, so a listener of an older build, which answers none (its node
// refuses the unknown frame type with one log line), costs one ping a
// connection.

// TypePing is a round-trip probe frame. Reserved by the transport, like
// TypeStream.
const TypePing uint8 = 0xF1

// DefaultPingInterval is how often each link measures its round trip.
const DefaultPingInterval = time.Second

const pongLen = 8 // the token; its MAC follows outside TLS

// ObserveRTT has f called with every round trip measured to a peer, from
// the transport's goroutines (f must be quick); nil stops it. The node
// feeds its metrics with it.
func (t *Transport) ObserveRTT(f func(peer string, rtt time.Duration)) {
	if f == nil {
		t.rtt.Store(nil)
		return
	}
	t.rtt.Store(&f)
}

// pinger is one outbound connection's ping in flight.
type pinger struct {
	mu      sync.Mutex
	seq     uint64
	pending bool
	sentAt  time.Time
}

// next is the token of a new ping sent now, or false while one is out.
func (p *pinger) next(now time.Time) (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending {
		return 0, false
	}
	p.seq++
	p.pending, p.sentAt = true, now
	return p.seq, true
}

// answer is the round trip of the ping out if token is its, else false.
func (p *pinger) answer(token uint64, now time.Time) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.pending || token != p.seq {
		return 0, false
	}
	p.pending = false
	return now.Sub(p.sentAt), true
}

// writePing puts a ping frame for p into w (the writer flushes it). It
// writes nothing while the last ping is unanswered.
func (t *Transport) writePing(w io.Writer, fr *framer, p *pinger) error {
	tok, ok := p.next(time.Now())
	if !ok {
		return nil
	}
	var buf [headerLen + pongLen]byte
	var mac [macLen]byte
	buf[0] = TypePing
	binary.BigEndian.PutUint32(buf[1:], pongLen)
	binary.BigEndian.PutUint64(buf[headerLen:], tok)
	if _, err := w.Write(buf[:]); err != nil {
		return err
	}
	_, err := w.Write(fr.sum(TypePing, buf[headerLen:], mac[:0]))
	return err
}

func pongKey(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("pong"))
	return m.Sum(nil)
}

func pongMAC(key []byte, nonce [nonceLen]byte, token []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(nonce[:])
	m.Write(token)
	return m.Sum(nil)
}

// pong answers a ping frame on an inbound connection (the listener's side).
func (t *Transport) pong(conn net.Conn, nonce [nonceLen]byte, tlsOnly bool, from string, payload []byte) error {
	if len(payload) != pongLen {
		return fmt.Errorf("%w: ping from %s of %d bytes", errBadFrame, from, len(payload))
	}
	b := make([]byte, 0, pongLen+macLen)
	b = append(b, payload...)
	if !tlsOnly {
		b = append(b, pongMAC(pongKey(t.key), nonce, payload)...)
	}
	conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
	_, err := conn.Write(b)
	return err
}

// readPongs reads the answers to o's pings on an outbound connection until
// it fails (the connection closed), and reports each round trip. Anything
// that is not an answer of this connection's listener stops the
// measurements; the rest is read and dropped, as before pings.
func (t *Transport) readPongs(conn net.Conn, nonce [nonceLen]byte, tlsOnly bool, o *outbound, p *pinger) error {
	n := pongLen
	if !tlsOnly {
		n += macLen
	}
	key := pongKey(t.key)
	buf := make([]byte, n)
	for {
		if _, err := io.ReadFull(conn, buf); err != nil {
			return err
		}
		if !tlsOnly && !hmac.Equal(buf[pongLen:], pongMAC(key, nonce, buf[:pongLen])) {
			t.cfg.Logger.Debug("peer: an answer to a ping fails authentication; no more round trips on this connection", "peer", o.id)
			_, err := io.Copy(io.Discard, conn)
			return errors.Join(errors.New("bad pong"), err)
		}
		rtt, ok := p.answer(binary.BigEndian.Uint64(buf), time.Now())
		if !ok {
			continue // not the ping out (none is: a duplicate)
		}
		if f := t.rtt.Load(); f != nil {
			(*f)(o.id, rtt)
		}
	}
}
