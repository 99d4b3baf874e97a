package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/syncnet/syncnet/node/replica"
)

// Frame types on the peer transport. Only ever appended.
const (
	frameReplica  uint8 = 1 // a replica.Message
	frameForward  uint8 = 2 // a follower forwards a proposal to the leader
	frameForwardR uint8 = 3 // the leader's answer to a forward
)

// wireVersion is the first byte of every payload; a node that sees a newer
// version drops the frame and counts it instead of misreading it.
const wireVersion = 1

var errShort = errors.New("truncated")

type enc struct{ b []byte }

func (e *enc) u(v uint64)    { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) s(v string)    { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) bs(v []byte)   { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) bool(v bool)   { e.u(map[bool]uint64{false: 0, true: 1}[v]) }
func (e *enc) byte(v uint8)  { e.b = append(e.b, v) }
func (e *enc) bytes() []byte { return e.b }

type dec struct {
	b   []byte
	err error
}

func (d *dec) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) bs() []byte {
	n := d.u()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	if n == 0 {
		return nil // empty and absent are one value on the wire
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) s() string { return string(d.bs()) }
func (d *dec) bool() bool {
	return d.u() != 0
}
func (d *dec) byte() uint8 {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errShort
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) done(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("decode %s: %w", what, d.err)
	}
	return nil
}

// maxEntriesPerMessage bounds what a decoder allocates for a hostile count.
const maxEntriesPerMessage = 1 << 16

func encodeReplica(m replica.Message) []byte {
	e := &enc{b: make([]byte, 0, m.Size())}
	e.byte(wireVersion)
	e.byte(uint8(m.Type))
	e.s(m.From)
	e.s(m.To)
	e.u(m.Term)
	e.u(m.PrevIndex)
	e.u(m.PrevTerm)
	e.u(m.Commit)
	e.u(m.Index)
	e.bool(m.Reject)
	e.u(m.HintIndex)
	e.u(m.HintTerm)
	e.u(uint64(len(m.Entries)))
	for _, en := range m.Entries {
		e.u(en.Index)
		e.u(en.Term)
		e.byte(uint8(en.Type))
		e.bs(en.Data)
	}
	e.bool(m.Snapshot != nil)
	if m.Snapshot != nil {
		e.u(m.Snapshot.Index)
		e.u(m.Snapshot.Term)
		e.bs(m.Snapshot.Data)
	}
	// Learner, only when set, after everything else: every other message
	// reads as before, and a build that predates learners refuses a
	// learner's answers (trailing bytes), which is the safe way round: it
	// cannot count them towards a commit.
	if m.Learner {
		e.bool(true)
	}
	return e.bytes()
}

func decodeReplica(b []byte) (replica.Message, error) {
	d := &dec{b: b}
	var m replica.Message
	if v := d.byte(); d.err == nil && v != wireVersion {
		return m, fmt.Errorf("decode replica message: version %d, this node speaks %d", v, wireVersion)
	}
	m.Type = replica.MsgType(d.byte())
	m.From, m.To = d.s(), d.s()
	m.Term, m.PrevIndex, m.PrevTerm, m.Commit, m.Index = d.u(), d.u(), d.u(), d.u(), d.u()
	m.Reject = d.bool()
	m.HintIndex, m.HintTerm = d.u(), d.u()
	n := d.u()
	if n > maxEntriesPerMessage || n > uint64(len(d.b)) {
		return m, fmt.Errorf("decode replica message: %d entries is implausible", n)
	}
	if n > 0 {
		m.Entries = make([]replica.Entry, n)
		for i := range m.Entries {
			m.Entries[i] = replica.Entry{Index: d.u(), Term: d.u(), Type: replica.EntryType(d.byte()), Data: d.bs()}
		}
	}
	if d.bool() {
		m.Snapshot = &replica.Snapshot{Index: d.u(), Term: d.u(), Data: d.bs()}
	}
	if d.err == nil && len(d.b) > 0 {
		m.Learner = d.bool()
	}
	return m, d.done("replica message")
}

// forward is a proposal a follower hands to the leader. The leader proposes
// it unless (author, client id) is already in its log, and answers with a
// forwardReply; a lost answer is harmless because the follower retries with
// the same id (I5).
type forward struct {
	Boot  uint64 // the follower's incarnation: a reply to an earlier one is stale
	ReqID uint64
	Data  []byte // an encoded event (eventlog.Marshal)
	User  string // author, for the dedup check
	MsgID string // client message id, "" for events without one
}

type forwardReply struct {
	Boot  uint64 // echoed from the forward
	ReqID uint64
	Index uint64 // proposed (not yet committed) index; 0 with Err
	Term  uint64
	Err   string
	// Final: Err will not change on a retry (the entry is too large), so
	// the follower answers its caller now. Encoded only when set, after the
	// other fields, so a reply without it reads as before.
	Final bool
}

func encodeForward(f forward) []byte {
	e := &enc{}
	e.byte(wireVersion)
	e.u(f.Boot)
	e.u(f.ReqID)
	e.bs(f.Data)
	e.s(f.User)
	e.s(f.MsgID)
	return e.bytes()
}

func decodeForward(b []byte) (forward, error) {
	d := &dec{b: b}
	var f forward
	if v := d.byte(); d.err == nil && v != wireVersion {
		return f, fmt.Errorf("decode forward: version %d", v)
	}
	f.Boot, f.ReqID, f.Data, f.User, f.MsgID = d.u(), d.u(), d.bs(), d.s(), d.s()
	return f, d.done("forward")
}

func encodeForwardReply(r forwardReply) []byte {
	e := &enc{}
	e.byte(wireVersion)
	e.u(r.Boot)
	e.u(r.ReqID)
	e.u(r.Index)
	e.u(r.Term)
	e.s(r.Err)
	if r.Final {
		e.bool(true)
	}
	return e.bytes()
}

func decodeForwardReply(b []byte) (forwardReply, error) {
	d := &dec{b: b}
	var r forwardReply
	if v := d.byte(); d.err == nil && v != wireVersion {
		return r, fmt.Errorf("decode forward reply: version %d", v)
	}
	r.Boot, r.ReqID, r.Index, r.Term, r.Err = d.u(), d.u(), d.u(), d.u(), d.s()
	if d.err == nil && len(d.b) > 0 {
		r.Final = d.bool()
	}
	return r, d.done("forward reply")
}
