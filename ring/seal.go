package ring

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealer encrypts and authenticates ring datagrams with a key per ordered
// pair of members (XChaCha20-Poly1305, a random 24-byte nonce per
// datagram). The keys come from outside: a node takes them from its TLS
// peer links (node/peer LinkKey), so only the two members of a pair hold
// a pair's key, and a restart of either gives a new one. A sealed datagram
// carries the envelope the Codec made (HMAC, incarnation, sequence number)
// inside, so the Guard's replay window and incarnation rule still apply:
//
//	magic 0xC5 | from str8 | to str8 | nonce [24] | seal(envelope)
//
// with (magic, from, to) as associated data. The envelope's own sender and
// recipient must be the sealed ones: a member cannot wrap a datagram that
// claims to come from another.
//
// Until a pair's key is known (the link is not up yet), datagrams to that
// member are not sent and datagrams from it are dropped, and counted.
type Sealer struct {
	self string
	mu   sync.RWMutex
	send map[string]cipher.AEAD
	// recv: the newest key of each sender first, then the one before it,
	// for datagrams sealed while the sender had not yet switched.
	recv map[string][2]cipher.AEAD

	noKey, bad atomic.Uint64
}

const sealMagic = 0xC5

// ErrNoKey: no key yet for this member (its link is not up).
var ErrNoKey = errors.New("ring: no link key for this member yet")

// ErrBadSeal: a datagram that does not open with the sender's key.
var ErrBadSeal = errors.New("ring: sealed datagram fails authentication")

// NewSealer returns a Sealer for member self, without keys.
func NewSealer(self string) *Sealer {
	return &Sealer{self: self, send: map[string]cipher.AEAD{}, recv: map[string][2]cipher.AEAD{}}
}

// SetKey installs the key for datagrams from one member to another; one of
// them must be this member. A new key for a sender keeps the previous one
// for datagrams already on their way.
func (s *Sealer) SetKey(from, to string, key []byte) error {
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case from == s.self && to != s.self:
		s.send[to] = a
	case to == s.self && from != s.self:
		old := s.recv[from]
		s.recv[from] = [2]cipher.AEAD{a, old[0]}
	default:
		return fmt.Errorf("ring: a key from %q to %q is not for %q", from, to, s.self)
	}
	return nil
}

// HasKeys reports whether both keys with member id are known.
func (s *Sealer) HasKeys(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.send[id] != nil && s.recv[id][0] != nil
}

// SealStats counts datagrams not sent or dropped for want of a key, and
// datagrams that failed to open.
type SealStats struct{ NoKey, BadSeal uint64 }

// Stats returns the counters.
func (s *Sealer) Stats() SealStats { return SealStats{NoKey: s.noKey.Load(), BadSeal: s.bad.Load()} }

func sealHeader(from, to string) []byte {
	h := make([]byte, 0, 3+len(from)+len(to)+chacha20poly1305.NonceSizeX)
	h = append(h, sealMagic, byte(len(from)))
	h = append(h, from...)
	h = append(h, byte(len(to)))
	return append(h, to...)
}

// Seal wraps an envelope for member to.
func (s *Sealer) Seal(to string, envelope []byte) ([]byte, error) {
	s.mu.RLock()
	a := s.send[to]
	s.mu.RUnlock()
	if a == nil {
		s.noKey.Add(1)
		return nil, fmt.Errorf("%w: %s", ErrNoKey, to)
	}
	if len(s.self) > 255 || len(to) > 255 {
		return nil, errors.New("ring: member id too long to seal")
	}
	b := sealHeader(s.self, to)
	ad := len(b)
	b = b[:ad+chacha20poly1305.NonceSizeX]
	if _, err := rand.Read(b[ad:]); err != nil {
		return nil, err
	}
	return a.Seal(b, b[ad:], envelope, b[:ad]), nil
}

// Open unwraps a datagram for this member and returns its sender and the
// envelope inside, whose sender and recipient it has checked against the
// sealed ones.
func (s *Sealer) Open(b []byte) (string, []byte, error) {
	from, env, err := s.open(b)
	if err != nil {
		if errors.Is(err, ErrNoKey) {
			s.noKey.Add(1)
		} else {
			s.bad.Add(1)
		}
		return "", nil, err
	}
	return from, env, nil
}

func (s *Sealer) open(b []byte) (string, []byte, error) {
	if len(b) < 2 || b[0] != sealMagic {
		return "", nil, fmt.Errorf("%w: not a sealed datagram", ErrBadSeal)
	}
	i := 2 + int(b[1])
	if len(b) < i+1 {
		return "", nil, fmt.Errorf("%w: truncated", ErrBadSeal)
	}
	from := string(b[2:i])
	j := i + 1 + int(b[i])
	if len(b) < j+chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return "", nil, fmt.Errorf("%w: truncated", ErrBadSeal)
	}
	if to := string(b[i+1 : j]); to != s.self {
		return "", nil, fmt.Errorf("%w: sealed for %q", ErrBadSeal, to)
	}
	s.mu.RLock()
	keys := s.recv[from]
	s.mu.RUnlock()
	if keys[0] == nil {
		return "", nil, fmt.Errorf("%w: %s", ErrNoKey, from)
	}
	nonce, ct := b[j:j+chacha20poly1305.NonceSizeX], b[j+chacha20poly1305.NonceSizeX:]
	for _, a := range keys {
		if a == nil {
			break
		}
		env, err := a.Open(nil, nonce, ct, b[:j])
		if err != nil {
			continue
		}
		// The envelope's sender and recipient (after version and type);
		// the Guard checks the rest.
		r := reader{buf: env}
		r.u8()
		r.u8()
		ef, et := r.str(), r.str()
		if r.err != nil || ef != from || et != s.self {
			return "", nil, fmt.Errorf("%w: %s sealed a datagram from %q to %q", ErrBadSeal, from, ef, et)
		}
		return from, env, nil
	}
	return "", nil, fmt.Errorf("%w: from %s", ErrBadSeal, from)
}

// seal is the transport's hook on the way out: the envelope as it is
// without a Sealer, sealed for m.To with one.
func (t *UDPTransport) seal(to string, envelope []byte) ([]byte, error) {
	if t.cfg.Seal == nil {
		return envelope, nil
	}
	return t.cfg.Seal.Seal(to, envelope)
}

// accept is the transport's hook on the way in: the datagram opened (with
// a Sealer), then checked by the Guard.
func (t *UDPTransport) accept(b []byte) (Message, error) {
	if t.cfg.Seal != nil {
		_, env, err := t.cfg.Seal.Open(b)
		if err != nil {
			return Message{}, err
		}
		b = env
	}
	return t.guard.Accept(b)
}
