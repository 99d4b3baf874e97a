package state

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"sync"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// Exactly once (I5).
//
// Every mutation is a request with an id, named in its entry's header
// (Header.Author, Header.RequestID). A request may reach the log more than
// once: its reply was lost and the proposer forwarded it again, or a leader
// change made it propose again. The State keeps one table, for every kind,
// of (author, request id) → the first entry that carried it. Applying an
// entry whose pair is in the table changes nothing and says nothing, so a
// request is one fact in history on every node alike; the table is itself
// replicated state (a fold of the log, carried in snapshots), so it
// survives restarts and leader changes. It remembers a request for the
// once window only, counted in entry time (see the package doc): a retry
// later than that is applied as a new request. Entries without a request id (no-ops, records older than the
// header fields) are applied as they come, except the older posts and
// direct messages, whose ClientMsgID (with From as author) was their
// request id and still counts as one.
//
// The table remembers of the first entry its index, whether it was refused
// (see Authorize) and a digest of what it asked for. So a retry learns what
// became of its request, and a request that reuses an id for something
// else (another text, another room) can be told apart: it changes nothing,
// and Outcome.Matches says the id was taken.

// requestKey names a request: the first 128 bits of SHA-256 over (author,
// request id). The table keeps no strings: a remembered request costs
// about half as much, and the snapshot is smaller. Ids are chosen by
// clients (post --id), so the hash must resist collisions: two requests
// with one key would make the second a "retry" of the first. With SHA-256
// finding any pair takes about 2^64 work, matching a given request 2^128.
type requestKey [16]byte

func keyOf(author, id string) requestKey {
	var buf [128]byte
	b := binary.AppendUvarint(buf[:0], uint64(len(author)))
	b = append(append(b, author...), id...)
	sum := sha256.Sum256(b)
	return requestKey(sum[:16])
}

// firstEntry is what the table is told of an entry it records.
type firstEntry struct {
	index  uint64
	digest uint64
	time   int64 // Header.Time of the entry: the window counts from it
}

// Outcome is what became of a request: the first entry that carried its
// (author, request id), and whether that entry was refused.
type Outcome struct {
	// Index is the cluster index of the first entry with this request.
	Index uint64
	// Refusal is non-nil when that entry was refused at apply time (a ban
	// or a mute held at its time); it is in the log and changed nothing.
	Refusal *api.Refusal

	digest uint64
}

// Err is the refusal as an error, or nil if the entry was applied.
func (o Outcome) Err() error {
	if o.Refusal == nil {
		return nil
	}
	return o.Refusal
}

// Matches reports whether ev asks for what the first entry of its request
// asked for: the same kind and the same body, save the Lamport time the
// author had seen (MessagePosted.ReplyLamport, which a retry may raise). A
// retry that does not match was not applied either: its id was already
// used.
func (o Outcome) Matches(ev eventlog.Event) bool {
	var d digester
	return d.sum(ev) == o.digest
}

// RequestKey returns the (author, request id) of an entry: the header's,
// or for a post or direct message written before the header had them, its
// From and ClientMsgID. An empty id means the entry names no request and is
// never deduplicated. A header id without an author takes the body's
// author, as the older entries do.
func RequestKey(ev eventlog.Event) (author, id string) {
	author, id = ev.Author, ev.RequestID
	if id != "" && author != "" {
		return author, id
	}
	switch b := ev.Body.(type) {
	case *eventlog.MessagePosted:
		if id == "" {
			id = b.ClientMsgID
		}
		return b.From, id
	case *eventlog.DirectMessage:
		if id == "" {
			id = b.ClientMsgID
		}
		return b.From, id
	}
	return author, id
}

// once is the exactly-once table. The apply goroutine is its only writer;
// Lookup may come from any goroutine.
//
// It is a window (see the package doc): a request is remembered until the
// newest entry time applied (maxTime, a fold of the log: the same on every
// node) is more than window past the time of the entry that first carried
// it. Every remembered request and every refusal is an item of fifo, in
// apply order; first maps a request's key to its item, by sequence number
// (fifo[0] is number base). Each new entry time drops items from the front
// while they are expired: O(1) amortized per entry. Entry times are not
// monotonic across leaders, so an expired item may wait behind a younger
// one; every read therefore checks expiry itself (expired), and the fifo
// only bounds memory.
type once struct {
	mu       sync.RWMutex
	first    map[requestKey]uint64   // request -> sequence number of its item
	refusals map[uint64]refusalEntry // refused entries by index, keyed or not
	refused  uint64                  // every refusal ever, also those forgotten

	window  int64 // nanoseconds, > 0
	maxTime int64 // newest entry time applied; math.MinInt64 before any
	fifo    []onceItem
	head    int    // fifo[head:] are live
	base    uint64 // sequence number of fifo[0]
}

// onceItem is one request or refusal the table remembers, in apply order.
type onceItem struct {
	key     requestKey
	index   uint64 // of the entry
	time    int64  // its Header.Time
	digest  uint64 // of what it asked for (keyed)
	keyed   bool   // first[key] is this item (a renewed request clears it)
	refused bool   // the entry was refused: refusals holds it
}

type refusalEntry struct {
	r    *api.Refusal
	time int64
}

func newOnce(window time.Duration) *once {
	return &once{first: map[requestKey]uint64{}, refusals: map[uint64]refusalEntry{},
		window: int64(window), maxTime: math.MinInt64}
}

// expired reports whether an entry at time at is forgotten: the newest
// entry time is more than the window past it. Holds mu.
func (t *once) expired(at int64) bool {
	limit := t.maxTime - t.window
	if limit > t.maxTime {
		return false // maxTime - window underflows: nothing is that old
	}
	return at < limit
}

// item returns the item of a request, or nil. Holds mu.
func (t *once) item(k requestKey) *onceItem {
	seq, ok := t.first[k]
	if !ok {
		return nil
	}
	return &t.fifo[seq-t.base]
}

// admit moves the window to an entry at time at, then reports whether the
// request k (when keyed) was already seen within it.
func (t *once) admit(k requestKey, keyed bool, at int64) (seen bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at > t.maxTime {
		t.maxTime = at
		t.prune()
	}
	if !keyed {
		return false
	}
	it := t.item(k)
	return it != nil && !t.expired(it.time)
}

// prune drops expired items from the front of the fifo, with what they
// remember. Holds mu.
func (t *once) prune() {
	for t.head < len(t.fifo) && t.expired(t.fifo[t.head].time) {
		it := &t.fifo[t.head]
		if it.keyed {
			delete(t.first, it.key)
		}
		if it.refused {
			delete(t.refusals, it.index)
		}
		*it = onceItem{}
		t.head++
	}
	if t.head > 64 && t.head > len(t.fifo)/2 {
		n := copy(t.fifo, t.fifo[t.head:])
		clear(t.fifo[n:])
		t.fifo, t.base, t.head = t.fifo[:n], t.base+uint64(t.head), 0
	}
}

// record enters an entry: as the first of request k (if keyed; an expired
// item of k is no longer k's) and as refused (if r is not nil).
func (t *once) record(k requestKey, keyed bool, e firstEntry, r *api.Refusal) {
	t.mu.Lock()
	if keyed {
		if old := t.item(k); old != nil {
			old.keyed = false
		}
		t.first[k] = t.base + uint64(len(t.fifo))
	}
	if r != nil {
		t.refusals[e.index] = refusalEntry{r, e.time}
		t.refused++
	}
	t.fifo = append(t.fifo, onceItem{key: k, index: e.index, time: e.time, digest: e.digest, keyed: keyed, refused: r != nil})
	t.mu.Unlock()
}

func (t *once) lookup(author, id string) (Outcome, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	it := t.item(keyOf(author, id))
	if it == nil || t.expired(it.time) {
		return Outcome{}, false
	}
	o := Outcome{Index: it.index, digest: it.digest}
	if it.refused {
		o.Refusal = t.refusals[it.index].r
	}
	return o, true
}

func (t *once) refusalAt(index uint64) (*api.Refusal, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	r, ok := t.refusals[index]
	if !ok || t.expired(r.time) {
		return nil, false
	}
	return r.r, true
}

// digester implements eventlog.Wire as a 64-bit FNV-1a hash of an entry's
// kind and body fields. Zero fields are left out, as the codec leaves them
// out, so a record that lacks a field digests like one that holds its zero.
type digester struct {
	h    uint64
	skip int // a field number to leave out
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func (d *digester) sum(ev eventlog.Event) uint64 {
	d.h, d.skip = fnvOffset, 0
	d.mix(uint64(ev.Kind()))
	if ev.Body == nil {
		return d.h
	}
	if _, ok := ev.Body.(*eventlog.MessagePosted); ok {
		d.skip = 5 // ReplyLamport: a retry may have seen more
	}
	ev.Body.Wire(d)
	return d.h
}

func (d *digester) mix(v uint64) {
	for i := 0; i < 8; i++ {
		d.h ^= v & 0xff
		d.h *= fnvPrime
		v >>= 8
	}
}

func (d *digester) String(num int, p *string) {
	if num == d.skip || *p == "" {
		return
	}
	d.mix(uint64(num))
	d.mix(uint64(len(*p)))
	s := *p
	for i := 0; i < len(s); i++ {
		d.h ^= uint64(s[i])
		d.h *= fnvPrime
	}
}

func (d *digester) Uint(num int, p *uint64) {
	if num == d.skip || *p == 0 {
		return
	}
	d.mix(uint64(num))
	d.mix(*p)
}

func (d *digester) Int(num int, p *int64) {
	if num == d.skip || *p == 0 {
		return
	}
	d.mix(uint64(num))
	d.mix(uint64(*p))
}
