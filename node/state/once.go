package state

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/bits"
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
	fnv    bool // digest is an FNV-1a one (restored from a snapshot of format 1 to 3)
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
	if o.fnv {
		var d fnvDigester
		return d.sum(ev) == o.digest
	}
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
// it. Every remembered request and every refusal is an item of the fifo, in
// apply order, kept in chunks of onceChunkLen; index finds a request's item
// by its key, by sequence number (the first item of chunks[0] is number
// base; see onceIndex). Each new entry time drops items from the front
// while they are expired: O(1) amortized per entry, a chunk at a time. Entry times are not
// monotonic across leaders, so an expired item may wait behind a younger
// one; every read therefore checks expiry itself (expired), and the fifo
// only bounds memory.
type once struct {
	mu       sync.RWMutex
	index    onceIndex               // request -> sequence number of its item
	refusals map[uint64]refusalEntry // refused entries by index, keyed or not
	refused  uint64                  // every refusal ever, also those forgotten

	window  int64 // nanoseconds, > 0
	maxTime int64 // newest entry time applied; math.MinInt64 before any
	chunks  []*onceChunk
	n       int    // items in chunks, counted from the first of chunks[0]
	head    int    // items [head, n) are live
	base    uint64 // sequence number of the first item of chunks[0]
}

// onceChunkLen is the number of items in a chunk (48 KiB).
const onceChunkLen = 1024

// onceChunk is a run of consecutive fifo items. Capture shares the chunks
// with the snapshot image instead of copying them: with a busy window that
// is millions of items, and the copy stalled the apply goroutine for a
// quarter of a second per million. An item of a chunk an image holds is
// changed only in a copy of the chunk (mut); items appended after the
// capture land past the ones the image reads.
type onceChunk struct {
	items  [onceChunkLen]onceItem
	shared bool // an image holds this chunk; set on the apply goroutine
}

// onceItem is one request or refusal the table remembers, in apply order.
type onceItem struct {
	key     requestKey
	index   uint64 // of the entry
	time    int64  // its Header.Time
	digest  uint64 // of what it asked for (keyed)
	fnv     bool   // digest is an FNV-1a one (restored from a format 1 to 3 snapshot)
	keyed   bool   // index refers to this item for key (a renewed request clears it)
	refused bool   // the entry was refused: refusals holds it
}

type refusalEntry struct {
	r    *api.Refusal
	time int64
}

func newOnce(window time.Duration) *once {
	return &once{index: newOnceIndex(), refusals: map[uint64]refusalEntry{},
		window: int64(window), maxTime: math.MinInt64}
}

// expired reports whether an entry at time at is forgotten: the newest
// entry time is more than the window past it. Holds mu.
func (t *once) expired(at int64) bool { return expiredAt(t.maxTime, t.window, at) }

func expiredAt(maxTime, window, at int64) bool {
	limit := maxTime - window
	if limit > maxTime {
		return false // maxTime - window underflows: nothing is that old
	}
	return at < limit
}

// at is the item with sequence number seq, to read. Holds mu.
func (t *once) at(seq uint64) *onceItem {
	i := seq - t.base
	return &t.chunks[i/onceChunkLen].items[i%onceChunkLen]
}

// mut is the item with sequence number seq, to change: its chunk is first
// copied if an image holds it. Holds mu for writing.
func (t *once) mut(seq uint64) *onceItem {
	i := seq - t.base
	c := t.chunks[i/onceChunkLen]
	if c.shared {
		nc := &onceChunk{items: c.items}
		t.chunks[i/onceChunkLen], c = nc, nc
	}
	return &c.items[i%onceChunkLen]
}

// push appends it to the fifo and returns its sequence number. An image
// never reads the slot it fills. Holds mu for writing.
func (t *once) push(it onceItem) uint64 {
	if t.n == len(t.chunks)*onceChunkLen {
		t.chunks = append(t.chunks, new(onceChunk))
	}
	t.chunks[t.n/onceChunkLen].items[t.n%onceChunkLen] = it
	t.n++
	return t.base + uint64(t.n-1)
}

// item returns the item of a request, or nil. Holds mu.
func (t *once) item(k requestKey) *onceItem {
	_, seq, ok := t.index.find(k, t.index.hash(k), t.lo(), t.keyAt)
	if !ok {
		return nil
	}
	return t.at(seq)
}

// lo is the sequence number of the oldest live item. Holds mu.
func (t *once) lo() uint64 { return t.base + uint64(t.head) }

// keyAt is the key of the item with sequence number seq. Holds mu.
func (t *once) keyAt(seq uint64) *requestKey { return &t.at(seq).key }

// remember makes the item with sequence number seq the one of request k,
// in place of an earlier one (which is no longer k's). Holds mu.
func (t *once) remember(k requestKey, seq uint64) {
	h := t.index.hash(k)
	pos, old, ok := t.index.find(k, h, t.lo(), t.keyAt)
	if ok {
		t.mut(old).keyed = false
		t.index.slots[pos] = slotOf(h, seq)
		return
	}
	t.index.put(pos, slotOf(h, seq))
}

// admitLocked moves the window to an entry at time at, then reports
// whether the request k (when keyed) was already seen within it. Holds mu.
func (t *once) admitLocked(k requestKey, keyed bool, at int64) (seen bool) {
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
	for t.head < t.n {
		it := t.at(t.lo())
		if !t.expired(it.time) {
			break
		}
		if it.keyed {
			h := t.index.hash(it.key)
			t.index.remove(h, slotOf(h, t.lo()))
		}
		if it.refused {
			delete(t.refusals, it.index)
		}
		t.head++
		if t.head == onceChunkLen { // the first chunk is all dropped
			t.chunks[0] = nil
			t.chunks = t.chunks[1:]
			t.base, t.head, t.n = t.base+onceChunkLen, 0, t.n-onceChunkLen
		}
	}
}

// recordLocked enters an entry: as the first of request k (if keyed; an
// expired item of k is no longer k's) and as refused (if r is not nil).
// Holds mu.
func (t *once) recordLocked(k requestKey, keyed bool, e firstEntry, r *api.Refusal) {
	if keyed {
		t.remember(k, t.base+uint64(t.n))
	}
	if r != nil {
		t.refusals[e.index] = refusalEntry{r, e.time}
		t.refused++
	}
	t.push(onceItem{key: k, index: e.index, time: e.time, digest: e.digest, keyed: keyed, refused: r != nil})
}

func (t *once) lookup(author, id string) (Outcome, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	it := t.item(keyOf(author, id))
	if it == nil || t.expired(it.time) {
		return Outcome{}, false
	}
	o := Outcome{Index: it.index, digest: it.digest, fnv: it.fnv}
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

// The digest of what a request asked for: a 64-bit hash of an entry's kind
// and body fields, save MessagePosted.ReplyLamport (a retry may have seen
// more). Zero fields are left out, as the codec leaves them out, so a
// record that lacks a field digests like one that holds its zero. It is
// not a MAC: two different requests under one id share a digest by chance
// with a probability of 2^-64, and only a request's author, who chose its
// id, could look for such a pair.
//
// Two functions have made it. Snapshot formats 1 to 3 store FNV-1a digests
// (fnvDigester), one byte at a time: 4 cycles a byte, 0.4 µs a post of 150
// bytes, on the apply goroutine of every node and a fifth of a whole
// replay's apply. Entries applied by this build are digested a 64-bit word
// at a time (digester); a request restored from an older snapshot keeps
// its FNV digest, marked as such, and Matches digests a retry of it the
// old way. Digests are never compared across nodes: each node answers its
// own proposers.

// digestSkip is the field Matches leaves out of a kind's digest, or 0.
func digestSkip(ev eventlog.Event) int {
	if _, ok := ev.Body.(*eventlog.MessagePosted); ok {
		return 5 // ReplyLamport: a retry may have seen more
	}
	return 0
}

// digester implements eventlog.Wire as the digest (above): each value is
// mixed in as one 64-bit word, a string as its length and its bytes eight
// at a time (the last word zero-padded: the length tells them apart), by
// the round of xxHash64 (multiply, rotate, multiply), and the sum ends
// with its avalanche.
type digester struct {
	h    uint64
	skip int // a field number to leave out
}

const (
	digPrime1 = 0x9E3779B185EBCA87
	digPrime2 = 0xC2B2AE3D27D4EB4F
	digPrime3 = 0x165667B19E3779F9
)

func (d *digester) sum(ev eventlog.Event) uint64 {
	d.h, d.skip = digPrime3, digestSkip(ev)
	d.word(uint64(ev.Kind()))
	if ev.Body != nil {
		ev.Body.Wire(d)
	}
	h := d.h
	h ^= h >> 33
	h *= digPrime2
	h ^= h >> 29
	h *= digPrime3
	h ^= h >> 32
	return h
}

// round mixes the word w into h.
func round(h, w uint64) uint64 { return bits.RotateLeft64(h^(w*digPrime2), 31) * digPrime1 }

func (d *digester) word(w uint64) { d.h = round(d.h, w) }

func (d *digester) String(num int, p *string) {
	s := *p
	if num == d.skip || s == "" {
		return
	}
	h := round(round(d.h, uint64(num)), uint64(len(s))) // in a register through the loop
	for ; len(s) >= 8; s = s[8:] {
		h = round(h, uint64(s[0])|uint64(s[1])<<8|uint64(s[2])<<16|uint64(s[3])<<24|
			uint64(s[4])<<32|uint64(s[5])<<40|uint64(s[6])<<48|uint64(s[7])<<56)
	}
	if len(s) > 0 {
		var w uint64
		for i := len(s) - 1; i >= 0; i-- {
			w = w<<8 | uint64(s[i])
		}
		h = round(h, w)
	}
	d.h = h
}

func (d *digester) Uint(num int, p *uint64) {
	if num == d.skip || *p == 0 {
		return
	}
	d.word(uint64(num))
	d.word(*p)
}

func (d *digester) Int(num int, p *int64) {
	if num == d.skip || *p == 0 {
		return
	}
	d.word(uint64(num))
	d.word(uint64(*p))
}

// fnvDigester is the digest of snapshot formats 1 to 3: FNV-1a over the
// same fields, one byte at a time (numbers as 8 little-endian bytes, a
// string as its field number, its length and its bytes). Only Matches uses
// it, for requests restored from such a snapshot.
type fnvDigester struct {
	h    uint64
	skip int // a field number to leave out
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func (d *fnvDigester) sum(ev eventlog.Event) uint64 {
	d.h, d.skip = fnvOffset, digestSkip(ev)
	d.mix(uint64(ev.Kind()))
	if ev.Body == nil {
		return d.h
	}
	ev.Body.Wire(d)
	return d.h
}

func (d *fnvDigester) mix(v uint64) {
	for i := 0; i < 8; i++ {
		d.h ^= v & 0xff
		d.h *= fnvPrime
		v >>= 8
	}
}

func (d *fnvDigester) String(num int, p *string) {
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

func (d *fnvDigester) Uint(num int, p *uint64) {
	if num == d.skip || *p == 0 {
		return
	}
	d.mix(uint64(num))
	d.mix(*p)
}

func (d *fnvDigester) Int(num int, p *int64) {
	if num == d.skip || *p == 0 {
		return
	}
	d.mix(uint64(num))
	d.mix(uint64(*p))
}
