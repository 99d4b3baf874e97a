package ring

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Wire format, version 1 (all integers big-endian):
//
//	version u8 | type u8 | from str | to str | incarnation u64 | seq u64 | body | mac [32]
//
// str is u8 length + bytes. mac is HMAC-SHA256 over every preceding byte,
// keyed with a key derived from the cluster secret (I8). Bodies:
//
//	heartbeat: term u64 | leader str | resigned u8 | status [| ext]
//	token:     term u64 | origin str | best (id str, lastTerm u64, lastIndex u64) | n u8 | n × str | ackID u64 [| confIndex u64 | confTerm u64 | n u8 | n × str (best's voters)]
//	elected:   term u64 | leader str | origin str | ackID u64
//	ack:       ackID u64
//	status:    bootID u64 | commit u64 | lastTerm u64 | lastIndex u64 | uptimeMs u64 | clients u32 | messages u64 | hash [32]
//	ext:       proto u16 | maxKind u16 | n u8 | n × str (hears) | learner u8 (proto >= 3 only) [| fields of later revisions]
//
// # Compatibility (rolling upgrades)
//
// The version byte stays 1 for good: every build rejects any other value, so
// changing it would split a cluster in the middle of an upgrade. A build
// tells which revision of this format it speaks in its heartbeats instead
// (StatusInfo.Proto = ProtoVersion), and heartbeats grow only at their end:
//
//   - A heartbeat field is only ever appended to ext, never removed,
//     reordered or resized, and each addition bumps ProtoVersion. A field
//     added in revision k is present exactly when the ext's proto is >= k
//     (learner: k = 3), so a decoder of revision >= k that reads proto >= k
//     requires it and one that reads an older proto does not look for it.
//   - A decoder reads the ext fields it knows and ignores every byte after
//     them, so an older node accepts a newer node's heartbeat and reads the
//     fields it knows. A heartbeat from an older node simply ends earlier:
//     the fields it lacks read as zero (one that ends after status, from a
//     build before ext, reads as Proto 0, MaxKind 0 and no Hears).
//   - ext is written if and only if Status.Proto != 0, and an ext whose
//     proto is 0 is malformed, so every datagram parses one way and the
//     fields this build knows re-encode to the same bytes.
//   - Builds before ext (Proto 0) reject any byte after status. The Node
//     therefore sends a peer whose last heartbeat showed Proto 0 heartbeats
//     without ext, until that peer's heartbeats show a newer revision; other
//     peers, including those not heard yet, get ext.
//   - Token, elected and ack bodies are strict: a trailing byte is garbage.
//     A field there changes what the election does, so a future build may
//     send one only once every member's heartbeats announce a Proto that
//     reads it (MemberStatus.Status.Proto).
//   - The token's best candidacy carries its membership (Candidate.Conf
//     and Message.BestVoters, at least one) only when that is not the
//     configured one (non-zero): a log holds a
//     membership entry only once every member announced that it applies
//     that event kind (the caller's check, Status.Supports), and such
//     builds read it. A token without it reads as the zero ConfID.
const (
	WireVersion = 1
	macLen      = sha256.Size
	minWire     = 2 + 1 + 1 + 8 + 8 + macLen
)

// ProtoVersion is the revision of the wire format this build speaks, sent
// in every heartbeat (StatusInfo.Proto). 1 was the format before
// heartbeats carried ext (its heartbeats read as Proto 0); 2 added ext with
// proto, maxKind and hears (the echo the ring view needs, see detector.go);
// 3 added learner (StatusInfo.Learner: the sender does not vote, issue 12).
const ProtoVersion uint16 = 3

// protoLearner is the first revision whose ext carries the learner flag.
const protoLearner uint16 = 3

// ErrNeedsProto: a heartbeat sets ext fields (MaxKind, Hears) with Proto 0,
// or Learner with a Proto below 3, which would drop them silently.
var ErrNeedsProto = errors.New("ring: heartbeat extension fields need Status.Proto")

// Decode errors; each is one metrics reason.
var (
	ErrTruncated  = errors.New("ring: truncated message")
	ErrOversized  = errors.New("ring: oversized message")
	ErrBadVersion = errors.New("ring: unknown wire version")
	ErrBadMAC     = errors.New("ring: bad MAC")
	ErrGarbage    = errors.New("ring: malformed message body")
)

// Codec encodes and authenticates ring messages with the cluster secret.
// It is safe for concurrent use.
type Codec struct {
	key []byte
}

// MinSecretLen is the shortest cluster secret accepted.
const MinSecretLen = 16

// NewCodec derives the MAC key from the cluster secret.
func NewCodec(secret []byte) (*Codec, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("ring: cluster secret must be at least %d bytes", MinSecretLen)
	}
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("syncnet ring wire v1"))
	return &Codec{key: h.Sum(nil)}, nil
}

// Encode returns the authenticated datagram for m, using m.Incarnation and m.Seq.
func (c *Codec) Encode(m Message) ([]byte, error) {
	w := writer{buf: make([]byte, 0, 256)}
	w.u8(WireVersion)
	w.u8(uint8(m.Type))
	w.str(m.From)
	w.str(m.To)
	w.u64(m.Incarnation)
	w.u64(m.Seq)
	if err := encodeBody(&w, m); err != nil {
		return nil, err
	}
	if w.err != nil {
		return nil, w.err
	}
	mac := hmac.New(sha256.New, c.key)
	mac.Write(w.buf)
	out := mac.Sum(w.buf)
	if len(out) > MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes", ErrOversized, len(out))
	}
	return out, nil
}

func encodeBody(w *writer, m Message) error {
	switch m.Type {
	case MsgHeartbeat:
		w.u64(m.Term)
		w.str(m.Leader)
		w.bool(m.Resigned)
		w.status(m.Status)
		if m.Status.Learner && m.Status.Proto < protoLearner {
			return ErrNeedsProto
		}
		if m.Status.Proto == 0 {
			if m.Status.MaxKind != 0 || m.Hears != nil {
				return ErrNeedsProto
			}
			break
		}
		if len(m.Hears) > MaxMembers {
			return fmt.Errorf("%w: %d hears", ErrOversized, len(m.Hears))
		}
		w.u16(m.Status.Proto)
		w.u16(m.Status.MaxKind)
		w.u8(uint8(len(m.Hears)))
		for _, id := range m.Hears {
			w.str(id)
		}
		if m.Status.Proto >= protoLearner {
			w.bool(m.Status.Learner)
		}
	case MsgToken:
		if len(m.Passed) > MaxMembers {
			return fmt.Errorf("%w: %d passed", ErrOversized, len(m.Passed))
		}
		w.u64(m.Term)
		w.str(m.Origin)
		w.str(m.Best.ID)
		w.u64(m.Best.LastTerm)
		w.u64(m.Best.LastIndex)
		w.u8(uint8(len(m.Passed)))
		for _, id := range m.Passed {
			w.str(id)
		}
		w.u64(m.AckID)
		if (m.Best.Conf == ConfID{}) != (len(m.BestVoters) == 0) || len(m.BestVoters) > MaxMembers {
			return fmt.Errorf("%w: best's membership %v with %d voters", ErrBadMessage, m.Best.Conf, len(m.BestVoters))
		}
		if m.Best.Conf != (ConfID{}) {
			w.u64(m.Best.Conf.Index)
			w.u64(m.Best.Conf.Term)
			w.u8(uint8(len(m.BestVoters)))
			for _, id := range m.BestVoters {
				w.str(id)
			}
		}
	case MsgElected:
		w.u64(m.Term)
		w.str(m.Leader)
		w.str(m.Origin)
		w.u64(m.AckID)
	case MsgAck:
		w.u64(m.AckID)
	default:
		return fmt.Errorf("ring: encode unknown type %d", m.Type)
	}
	return nil
}

// Decode checks size, version and MAC, then parses. It never panics.
func (c *Codec) Decode(b []byte) (Message, error) {
	if len(b) > MaxMessage {
		return Message{}, ErrOversized
	}
	if len(b) < minWire {
		return Message{}, ErrTruncated
	}
	if b[0] != WireVersion {
		return Message{}, ErrBadVersion
	}
	body, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	mac := hmac.New(sha256.New, c.key)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), sum) {
		return Message{}, ErrBadMAC
	}
	return decodeUnauthenticated(body)
}

// decodeUnauthenticated parses a datagram without its MAC. Exposed to the
// fuzzer so it reaches the parser without forging MACs.
func decodeUnauthenticated(b []byte) (Message, error) {
	r := reader{buf: b}
	var m Message
	if r.u8() != WireVersion {
		return Message{}, ErrBadVersion
	}
	m.Type = MsgType(r.u8())
	m.From = r.str()
	m.To = r.str()
	m.Incarnation = r.u64()
	m.Seq = r.u64()
	decodeBody(&r, &m)
	if r.err != nil || len(r.buf) != 0 {
		return Message{}, ErrGarbage
	}
	return m, nil
}

func decodeBody(r *reader, m *Message) {
	switch m.Type {
	case MsgHeartbeat:
		m.Term = r.u64()
		m.Leader = r.str()
		m.Resigned = r.bool()
		m.Status = r.status()
		if r.err == nil && len(r.buf) > 0 {
			decodeHeartbeatExt(r, m)
		}
	case MsgToken:
		m.Term = r.u64()
		m.Origin = r.str()
		m.Best = Candidate{ID: r.str(), LastTerm: r.u64(), LastIndex: r.u64()}
		n := int(r.u8())
		if n > MaxMembers {
			r.fail()
			return
		}
		for i := 0; i < n && r.err == nil; i++ {
			m.Passed = append(m.Passed, r.str())
		}
		m.AckID = r.u64()
		if r.err == nil && len(r.buf) > 0 {
			m.Best.Conf = ConfID{Index: r.u64(), Term: r.u64()}
			n := int(r.u8())
			if m.Best.Conf == (ConfID{}) || n == 0 || n > MaxMembers {
				r.fail() // written only when not zero, with its voters: one encoding per token
				return
			}
			for i := 0; i < n && r.err == nil; i++ {
				m.BestVoters = append(m.BestVoters, r.str())
			}
		}
	case MsgElected:
		m.Term = r.u64()
		m.Leader = r.str()
		m.Origin = r.str()
		m.AckID = r.u64()
	case MsgAck:
		m.AckID = r.u64()
	default:
		r.fail()
	}
}

// decodeHeartbeatExt reads the ext of a heartbeat (see Compatibility): the
// fields of ProtoVersion, then it skips whatever a newer sender appended.
func decodeHeartbeatExt(r *reader, m *Message) {
	m.Status.Proto = r.u16()
	if m.Status.Proto == 0 {
		r.fail() // ext is written only with a non-zero proto
		return
	}
	m.Status.MaxKind = r.u16()
	n := int(r.u8())
	if n > MaxMembers {
		r.fail()
		return
	}
	for i := 0; i < n && r.err == nil; i++ {
		m.Hears = append(m.Hears, r.str())
	}
	if m.Status.Proto >= protoLearner {
		m.Status.Learner = r.bool()
	}
	if r.err == nil {
		r.buf = nil // fields of later revisions: not ours to read
	}
}

type writer struct {
	buf []byte
	err error
}

func (w *writer) u8(v uint8)   { w.buf = append(w.buf, v) }
func (w *writer) u16(v uint16) { w.buf = binary.BigEndian.AppendUint16(w.buf, v) }
func (w *writer) u32(v uint32) { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }
func (w *writer) u64(v uint64) { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }

func (w *writer) bool(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}

func (w *writer) str(s string) {
	if len(s) > MaxIDLen {
		w.err = fmt.Errorf("%w: string of %d bytes", ErrOversized, len(s))
		return
	}
	w.u8(uint8(len(s)))
	w.buf = append(w.buf, s...)
}

func (w *writer) status(s StatusInfo) {
	w.u64(s.BootID)
	w.u64(s.CommitIndex)
	w.u64(s.LastLogTerm)
	w.u64(s.LastLogIndex)
	w.u64(s.UptimeMillis)
	w.u32(s.Clients)
	w.u64(s.Messages)
	w.u64(s.HashIndex)
	w.buf = append(w.buf, s.LogHash[:]...)
}

type reader struct {
	buf []byte
	err error
}

func (r *reader) fail() {
	r.err = ErrGarbage
	r.buf = nil
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n > len(r.buf) {
		r.fail()
		return make([]byte, n)
	}
	b := r.buf[:n]
	r.buf = r.buf[n:]
	return b
}

func (r *reader) u8() uint8   { return r.take(1)[0] }
func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(r.take(8)) }

func (r *reader) bool() bool {
	switch r.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail()
	return false
}

func (r *reader) str() string {
	n := int(r.u8())
	if n > MaxIDLen {
		r.fail()
		return ""
	}
	return string(r.take(n))
}

func (r *reader) status() StatusInfo {
	s := StatusInfo{BootID: r.u64(), CommitIndex: r.u64(), LastLogTerm: r.u64(), LastLogIndex: r.u64(),
		UptimeMillis: r.u64(), Clients: r.u32(), Messages: r.u64(), HashIndex: r.u64()}
	copy(s.LogHash[:], r.take(32))
	return s
}
