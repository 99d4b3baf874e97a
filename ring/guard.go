package ring

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Rejection errors of the Guard beyond those of the Codec.
var (
	ErrReplayed = errors.New("ring: replayed message")
	ErrStale    = errors.New("ring: stale message (old incarnation or sequence)")
)

// Metrics counts what a transport accepted and rejected, by reason. All
// fields are safe for concurrent use; read them with Snapshot.
type Metrics struct {
	Accepted      atomic.Uint64
	BadMAC        atomic.Uint64
	UnknownSender atomic.Uint64
	Misdirected   atomic.Uint64
	Truncated     atomic.Uint64
	Oversized     atomic.Uint64
	BadVersion    atomic.Uint64
	Garbage       atomic.Uint64
	Replayed      atomic.Uint64
	Stale         atomic.Uint64

	Sent          atomic.Uint64
	SendErrors    atomic.Uint64
	Retransmits   atomic.Uint64
	GaveUp        atomic.Uint64 // reliable sends never acknowledged
	RecvOverflow  atomic.Uint64 // accepted but dropped: receiver too slow
	AcksReceived  atomic.Uint64
	UnmatchedAcks atomic.Uint64
	ReadErrors    atomic.Uint64
}

// Snapshot returns the counters by name (only non-zero ones).
func (m *Metrics) Snapshot() map[string]uint64 {
	out := map[string]uint64{}
	for name, c := range map[string]*atomic.Uint64{
		"accepted": &m.Accepted, "bad_mac": &m.BadMAC, "unknown_sender": &m.UnknownSender,
		"misdirected": &m.Misdirected, "truncated": &m.Truncated, "oversized": &m.Oversized,
		"bad_version": &m.BadVersion, "garbage": &m.Garbage, "replayed": &m.Replayed, "stale": &m.Stale,
		"sent": &m.Sent, "send_errors": &m.SendErrors, "retransmits": &m.Retransmits, "gave_up": &m.GaveUp,
		"recv_overflow": &m.RecvOverflow, "acks": &m.AcksReceived, "unmatched_acks": &m.UnmatchedAcks,
		"read_errors": &m.ReadErrors,
	} {
		if v := c.Load(); v > 0 {
			out[name] = v
		}
	}
	return out
}

// Rejected returns the total of all rejection counters.
func (m *Metrics) Rejected() uint64 {
	return m.BadMAC.Load() + m.UnknownSender.Load() + m.Misdirected.Load() + m.Truncated.Load() +
		m.Oversized.Load() + m.BadVersion.Load() + m.Garbage.Load() + m.Replayed.Load() + m.Stale.Load()
}

// Guard authenticates incoming datagrams for one member: MAC, known
// sender, addressed to us, and not replayed or stale. Safe for concurrent use.
type Guard struct {
	codec   *Codec
	self    string
	metrics *Metrics

	mu        sync.Mutex
	members   map[string]bool
	windows   map[string]*replayWindow
	strangers bool // AcceptStrangers
}

// SetMembers replaces the members the Guard accepts (self among them).
// Replay windows of members that stay are kept.
func (g *Guard) SetMembers(members []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.members = map[string]bool{}
	for _, id := range members {
		g.members[id] = true
	}
}

// AcceptStrangers lets the Guard pass authenticated datagrams from senders
// outside the membership (a bounded number of them; each still gets a
// replay window), for a core whose membership may lag or lead a peer's
// (membership.go). The core decides what a stranger's message may do.
func (g *Guard) AcceptStrangers() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.strangers = true
}

// NewGuard returns a Guard for self among members, counting into metrics.
func NewGuard(codec *Codec, self string, members []string, metrics *Metrics) *Guard {
	g := &Guard{codec: codec, self: self, members: map[string]bool{}, metrics: metrics, windows: map[string]*replayWindow{}}
	for _, id := range members {
		g.members[id] = true
	}
	return g
}

// Accept decodes and checks one datagram. A rejected datagram is counted
// and returned as an error; it must be dropped, never stepped (I8).
func (g *Guard) Accept(b []byte) (Message, error) {
	m, err := g.codec.Decode(b)
	if err == nil {
		err = g.check(m)
	}
	g.count(err)
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

func (g *Guard) check(m Message) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case m.To != g.self:
		return fmt.Errorf("%w: to %q", ErrMisdirected, m.To)
	case m.From == g.self || m.From == "":
		return fmt.Errorf("%w: %q", ErrUnknownSender, m.From)
	case !g.members[m.From] && !(g.strangers && len(g.windows) < 2*MaxMembers):
		return fmt.Errorf("%w: %q", ErrUnknownSender, m.From)
	}
	w := g.windows[m.From]
	if w == nil {
		w = &replayWindow{}
		g.windows[m.From] = w
	}
	return w.accept(m.Incarnation, m.Seq)
}

func (g *Guard) count(err error) {
	c := &g.metrics.Accepted
	switch {
	case err == nil:
	case errors.Is(err, ErrBadMAC):
		c = &g.metrics.BadMAC
	case errors.Is(err, ErrUnknownSender):
		c = &g.metrics.UnknownSender
	case errors.Is(err, ErrMisdirected):
		c = &g.metrics.Misdirected
	case errors.Is(err, ErrTruncated):
		c = &g.metrics.Truncated
	case errors.Is(err, ErrOversized):
		c = &g.metrics.Oversized
	case errors.Is(err, ErrBadVersion):
		c = &g.metrics.BadVersion
	case errors.Is(err, ErrReplayed):
		c = &g.metrics.Replayed
	case errors.Is(err, ErrStale):
		c = &g.metrics.Stale
	default:
		c = &g.metrics.Garbage
	}
	c.Add(1)
}

// replayWindow accepts each (incarnation, seq) once: sequences may arrive
// out of order within the last 64, older ones and older incarnations are
// stale. A newer incarnation (the sender restarted) resets the window.
type replayWindow struct {
	inc  uint64
	max  uint64
	seen uint64 // bit i: max-i was accepted
}

const replayWindowSize = 64

func (w *replayWindow) accept(inc, seq uint64) error {
	switch {
	case seq == 0:
		return fmt.Errorf("%w: sequence 0", ErrStale)
	case inc < w.inc:
		return fmt.Errorf("%w: incarnation %d < %d", ErrStale, inc, w.inc)
	case inc > w.inc:
		*w = replayWindow{inc: inc, max: seq, seen: 1}
		return nil
	case seq > w.max:
		shift := seq - w.max
		if shift >= replayWindowSize {
			w.seen = 0
		} else {
			w.seen <<= shift
		}
		w.seen |= 1
		w.max = seq
		return nil
	}
	d := w.max - seq
	if d >= replayWindowSize {
		return fmt.Errorf("%w: sequence %d older than window (max %d)", ErrStale, seq, w.max)
	}
	if w.seen&(1<<d) != 0 {
		return fmt.Errorf("%w: sequence %d", ErrReplayed, seq)
	}
	w.seen |= 1 << d
	return nil
}
