package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// Snapshots of the whole State.
//
// Capture, on the apply goroutine, takes an Image: a copy of everything
// applied so far that later Applies do not change. It copies the small
// parts (identity, moderation, presence, rooms and members, counters, the
// exactly-once window) and shares the message indexes, whose full chunks
// are immutable and whose open chunks are only appended to: O(rooms + users
// + memberships + once window), not O(messages). Encode then runs on any
// goroutine while Apply goes on. Restore rebuilds a State that answers
// every read as the captured one did and decides every later entry alike;
// the cache of recent messages starts empty and fills as rooms are posted
// to and read.
//
// Format (version 5; versions 1 to 4 are read too: 1 has no field 14,
// neither has chunk fields 4 to 6, none has request field 8, and only 5
// has fields 20, 21 and 30 to 34):
//
//	magic "SYNCSTAT" | version u8 | body | CRC32C (Castagnoli) of all before it, u32 little endian
//
// The body is a sequence of protobuf wire-format fields (protowire; v:
// varint, f: fixed64, m: a length-delimited message of such fields, s/b:
// string/bytes). Each top-level field number has one meaning; a reader of
// version 1 refuses any field it does not know (a newer format changes the
// version byte).
//
//	1 v once window (ns)            7 m identity {1 s name, 2 s key fingerprint}
//	2 f newest entry time (int64)    8 m ban      (moderation)
//	3 v refused count                9 m mute     (moderation; a user's in order)
//	4 v message count                10 m presence {1 s user, 2 s node, 3 s status}
//	5 v last Lamport time            11 m room    {1 s name, 2 s topic, 3 v messages, 4 v last index,
//	6 v messages per full chunk                     5 m chunk {1 v first index, 2 v messages, 3 b gaps |
//	                                                          4 v offset, 5 v size, 6 v last index} ...}
//	12 m member  {1 s room, 2 s user}
//	13 m request {1 b key (16), 4 v index, 5 f time, 6 f FNV-1a digest | 8 f digest,
//	              7 m refusal {1 s action, 2 s user, 3 s room, 4 s by, 5 s reason, 6 f until, 7 f at}}
//	14 m read    {1 s user, 2 s conversation, 3 v index}
//	15 v epoch of the index chunk file the stored chunks are in (ChunkFile)
//	20 m changed message {1 v index, 2 s conversation, 3 v edits, 4 m version ...,
//	                      5 m deletion, 6 m reaction ...}
//	21 m thread {1 v parent index, 2 b reply gaps}    (snapshot_edits.go)
//	30 m private room {1 s room, 2 s owner}     31 m let in {1 s room, 2 s user}
//	32 m key {1 s name, 2 s fingerprint, 3 s label}
//	33 m notify {1 s user, 2 s conversation, 3 s level}
//	34 m pref {1 s user, 2 s name, 3 s value}   (snapshot_access.go)
//	moderation = {1 s target, 2 s by, 3 s room, 4 s reason, 5 f until}
//
// Fields 1 to 6 appear once each, first; maps are written in key order, so
// equal States encode to equal bytes. Requests (13) are the exactly-once
// window in apply order: the requests still remembered (by key: the first
// 128 bits of SHA-256 over author and id, see requestKey) and the
// refusals, each with the time it ages out from; a refused entry that
// named no request has no key. A request's digest (once.go) is field 8,
// or field 6 for an FNV-1a digest: every digest of formats 1 to 3, kept
// as such by a State restored from one (format 4 is the first with field
// 8; its digests are computed a word at a time).

const (
	imageMagic   = "SYNCSTAT"
	imageVersion = 5
)

// ErrImage is wrapped by every error Restore returns for data that is not
// a whole snapshot of this format.
var ErrImage = errors.New("state: bad snapshot")

// Image is a snapshot of a State, taken by Capture. It does not change
// after Capture returns; Encode may run on any goroutine, several times.
type Image struct {
	window, maxTime int64
	refused         uint64
	once            onceImage

	owners   map[string]string
	bans     map[string]eventlog.Moderation
	mutes    map[string][]eventlog.Moderation
	presence map[string]map[string]string

	rooms              map[string]roomImage
	members            map[string][]string
	messages, lastLamp uint64
	reads              map[string]map[string]uint64
	chunks             *ChunkFile  // holds the stored chunks the rooms refer to
	epoch              uint64      // chunks' epoch at Capture
	access             accessImage // fields 30 to 34 (snapshot_access.go)
	edits              editsImage  // fields 20 and 21 (snapshot_edits.go)
}

type roomImage struct {
	topic string
	idx   msgIndex // frozen: shares the live index's bytes
}

// onceImage is the exactly-once table as Capture found it: the fifo's
// chunks, shared with the live table (onceChunk), the live items [head, n)
// of them, and the refusals.
type onceImage struct {
	chunks   []*onceChunk
	head, n  int
	refusals map[uint64]*api.Refusal
}

// requests yields what a snapshot keeps of the table: every item not
// expired at Capture that remembers a request or a refusal, in fifo order.
// It runs on the snapshot writer's goroutine, reading items the live table
// no longer changes.
func (im *Image) requests() iter.Seq[imageRequest] {
	return func(yield func(imageRequest) bool) {
		o := &im.once
		for i := o.head; i < o.n; i++ {
			it := &o.chunks[i/onceChunkLen].items[i%onceChunkLen]
			if expiredAt(im.maxTime, im.window, it.time) {
				continue
			}
			r := imageRequest{index: it.index, time: it.time}
			if it.keyed {
				r.keyed, r.key, r.digest, r.fnv = true, it.key, it.digest, it.fnv
			}
			if it.refused {
				r.refusal = o.refusals[it.index]
			}
			if (r.keyed || r.refusal != nil) && !yield(r) {
				return
			}
		}
	}
}

type imageRequest struct {
	key     requestKey
	index   uint64
	time    int64
	digest  uint64
	refusal *api.Refusal
	keyed   bool
	fnv     bool // an FNV-1a digest (field 6)
}

// Capture takes a snapshot of everything applied so far. Call it on the
// apply goroutine, between Applies.
func (s *State) Capture() *Image {
	im := &Image{}

	t := s.once
	t.mu.Lock()
	im.window, im.maxTime, im.refused = t.window, t.maxTime, t.refused
	im.once = onceImage{chunks: slices.Clone(t.chunks), head: t.head, n: t.n, refusals: make(map[uint64]*api.Refusal)}
	for _, c := range t.chunks {
		c.shared = true
	}
	for i, r := range t.refusals {
		im.once.refusals[i] = r.r
	}
	t.mu.Unlock()

	s.Identity.mu.RLock()
	im.owners = maps.Clone(s.Identity.owner)
	s.Identity.mu.RUnlock()

	m := s.Moderation
	m.mu.RLock()
	im.bans = maps.Clone(m.bans)
	im.mutes = make(map[string][]eventlog.Moderation, len(m.mutes))
	for u, l := range m.mutes {
		im.mutes[u] = slices.Clone(l)
	}
	m.mu.RUnlock()

	p := s.Presence
	p.mu.RLock()
	im.presence = make(map[string]map[string]string, len(p.state))
	for u, per := range p.state {
		if len(per) > 0 {
			im.presence[u] = maps.Clone(per)
		}
	}
	p.mu.RUnlock()

	c := s.Chat
	c.mu.RLock()
	im.messages, im.lastLamp, im.chunks = c.messages, c.lastLamp, c.chunks
	if c.chunks != nil {
		im.epoch = c.chunks.Epoch()
	}
	im.rooms = make(map[string]roomImage, len(c.rooms))
	for name, r := range c.rooms {
		im.rooms[name] = roomImage{topic: r.topic, idx: r.idx.frozen()}
	}
	im.members = make(map[string][]string, len(c.members))
	for room, set := range c.members {
		if len(set) > 0 {
			im.members[room] = slices.Collect(maps.Keys(set))
		}
	}
	c.mu.RUnlock()

	rd := s.Reads
	rd.mu.RLock()
	im.reads = make(map[string]map[string]uint64, len(rd.marks))
	for u, m := range rd.marks {
		im.reads[u] = maps.Clone(m)
	}
	rd.mu.RUnlock()
	im.access = s.captureAccess()
	im.edits = s.captureEdits()
	return im
}

// Encode writes the image in the format above. It never fails today; the
// error is for what a later format may refuse.
func (im *Image) Encode() ([]byte, error) {
	if im.chunks != nil {
		// The snapshot may refer to any chunk stored so far: they must be
		// durable before it is.
		if err := im.chunks.sync(); err != nil {
			return nil, err
		}
	}
	size := 4096 + 64*(im.once.n-im.once.head) + 48*(len(im.owners)+len(im.bans)+len(im.presence)+len(im.members))
	for _, r := range im.rooms {
		size += 64 + len(r.topic) + 24*r.idx.chunks() + r.idx.count()*2
	}
	b := make([]byte, 0, size)
	b = append(b, imageMagic...)
	b = append(b, imageVersion)
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(im.window))
	b = protowire.AppendTag(b, 2, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(im.maxTime))
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, im.refused)
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	b = protowire.AppendVarint(b, im.messages)
	b = protowire.AppendTag(b, 5, protowire.VarintType)
	b = protowire.AppendVarint(b, im.lastLamp)
	b = protowire.AppendTag(b, 6, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(chunkLen))

	var e encoder
	for _, name := range slices.Sorted(maps.Keys(im.owners)) {
		b = e.msg(b, 7, func(m []byte) []byte {
			return appendStrings(m, name, im.owners[name])
		})
	}
	for _, u := range slices.Sorted(maps.Keys(im.bans)) {
		b = e.msg(b, 8, func(m []byte) []byte { return appendModeration(m, im.bans[u]) })
	}
	for _, u := range slices.Sorted(maps.Keys(im.mutes)) {
		for _, mu := range im.mutes[u] {
			b = e.msg(b, 9, func(m []byte) []byte { return appendModeration(m, mu) })
		}
	}
	for _, u := range slices.Sorted(maps.Keys(im.presence)) {
		per := im.presence[u]
		for _, n := range slices.Sorted(maps.Keys(per)) {
			b = e.msg(b, 10, func(m []byte) []byte { return appendStrings(m, u, n, per[n]) })
		}
	}
	var ce encoder
	for _, name := range slices.Sorted(maps.Keys(im.rooms)) {
		r := im.rooms[name]
		b = e.msg(b, 11, func(m []byte) []byte {
			m = appendStrings(m, name, r.topic)
			m = appendVarint(m, 3, uint64(r.idx.count()))
			m = appendVarint(m, 4, r.idx.last)
			for i := range r.idx.chunks() {
				c := r.idx.chunk(i)
				m = ce.msg(m, 5, func(cm []byte) []byte {
					cm = appendVarint(cm, 1, c.first)
					cm = appendVarint(cm, 2, uint64(c.n))
					if c.stored {
						cm = appendVarint(cm, 4, uint64(c.off))
						cm = appendVarint(cm, 5, uint64(c.size))
						return appendVarint(cm, 6, c.last)
					}
					if len(c.data) > 0 {
						cm = protowire.AppendTag(cm, 3, protowire.BytesType)
						cm = protowire.AppendBytes(cm, c.data)
					}
					return cm
				})
			}
			return m
		})
	}
	for _, room := range slices.Sorted(maps.Keys(im.members)) {
		for _, u := range slices.Sorted(slices.Values(im.members[room])) {
			b = e.msg(b, 12, func(m []byte) []byte { return appendStrings(m, room, u) })
		}
	}
	var re encoder
	for r := range im.requests() {
		b = e.msg(b, 13, func(m []byte) []byte {
			if r.keyed {
				m = protowire.AppendTag(m, 1, protowire.BytesType)
				m = protowire.AppendBytes(m, r.key[:])
			}
			m = appendVarint(m, 4, r.index)
			m = appendFixed(m, 5, uint64(r.time))
			if r.fnv {
				m = appendFixed(m, 6, r.digest)
			} else {
				m = appendFixed(m, 8, r.digest)
			}
			if f := r.refusal; f != nil {
				m = re.msg(m, 7, func(rm []byte) []byte {
					rm = appendStrings(rm, f.Action, f.User, f.Room, f.By, f.Reason)
					if !f.Until.IsZero() {
						rm = appendFixed(rm, 6, uint64(f.Until.UnixNano()))
					}
					return appendFixed(rm, 7, uint64(f.At.UnixNano()))
				})
			}
			return m
		})
	}
	for _, u := range slices.Sorted(maps.Keys(im.reads)) {
		marks := im.reads[u]
		for _, conv := range slices.Sorted(maps.Keys(marks)) {
			b = e.msg(b, 14, func(m []byte) []byte {
				return appendVarint(appendStrings(m, u, conv), 3, marks[conv])
			})
		}
	}
	if im.chunks != nil {
		b = protowire.AppendTag(b, 15, protowire.VarintType)
		b = protowire.AppendVarint(b, im.epoch)
	}
	b = im.edits.encode(b, &e)
	b = im.access.encode(b, &e)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encoder builds nested messages in a buffer of its own, reused.
type encoder struct{ buf []byte }

// msg appends field num holding the message fill writes.
func (e *encoder) msg(b []byte, num protowire.Number, fill func([]byte) []byte) []byte {
	e.buf = fill(e.buf[:0])
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, e.buf)
}

// appendStrings appends the non-empty ones of ss as fields 1, 2, ...
func appendStrings(b []byte, ss ...string) []byte {
	for i, s := range ss {
		if s != "" {
			b = protowire.AppendTag(b, protowire.Number(i+1), protowire.BytesType)
			b = protowire.AppendString(b, s)
		}
	}
	return b
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendFixed(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

func appendModeration(b []byte, m eventlog.Moderation) []byte {
	b = appendStrings(b, m.Target, m.By, m.Room, m.Reason)
	if m.Until != 0 {
		b = appendFixed(b, 5, uint64(m.Until))
	}
	return b
}

// Restore rebuilds the State an Image was captured from, from Encode's
// bytes, configured by opts (its clock, its message source, its cache).
// The snapshot's once window must be opts' (the default when zero): it is
// part of what every node decides. data is not kept.
func Restore(data []byte, opts Options) (*State, error) {
	o, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	if len(data) < len(imageMagic)+1+4 || string(data[:len(imageMagic)]) != imageMagic {
		return nil, fmt.Errorf("%w: not a state snapshot (%d bytes)", ErrImage, len(data))
	}
	v := data[len(imageMagic)]
	if v < 1 || v > imageVersion {
		return nil, fmt.Errorf("%w: format version %d; this build reads versions 1 to %d", ErrImage, v, imageVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (truncated or damaged)", ErrImage)
	}
	d := restorer{chat: newChat(o.Messages, o.RecentPerRoom, o.RecentTotal), once: newOnce(o.OnceWindow), chunks: o.Chunks,
		ident: NewIdentity(), mod: NewModeration(o.Now), pres: NewPresence(), reads: NewReads(), rooms: map[string]bool{},
		prefs: NewPrefs(), edits: NewEdits(), version: v}
	d.acc = NewAccess(d.chat)
	if err := fields(body[len(imageMagic)+1:], d.top); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	if err := d.finish(o); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrImage, err)
	}
	if d.chunkEnd > 0 && (!d.hasEpoch || d.epoch != o.Chunks.Epoch()) {
		return nil, fmt.Errorf("%w: the snapshot refers to index chunk file epoch %x, and %s is of epoch %x (rebuilt since)",
			ErrImage, d.epoch, o.Chunks.path, o.Chunks.Epoch())
	}
	if o.Chunks != nil {
		// Chunks stored after the snapshot are not referred to by it; the
		// tail of the WAL it is replayed with stores them again.
		if err := o.Chunks.truncate(max(d.chunkEnd, int64(chunkHeaderSize))); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrImage, err)
		}
		d.chat.chunks = o.Chunks
	}
	return newState(o, d.chat, d.once, d.ident, d.mod, d.pres, d.reads, d.acc, d.prefs, d.edits), nil
}

// restorer folds a snapshot's fields into fresh plugins.
type restorer struct {
	chat  *Chat
	once  *once
	ident *Identity
	mod   *Moderation
	pres  *Presence
	reads *Reads
	acc   *Access
	prefs *Prefs
	edits *Edits

	version  byte       // of the format
	chunks   *ChunkFile // Options.Chunks: where stored chunks are
	chunkEnd int64      // the end of the last stored chunk referred to
	epoch    uint64     // of the chunk file the snapshot refers to
	hasEpoch bool

	header   int // how many of fields 1..6 were read
	window   int64
	chunkLen uint64
	rooms    map[string]bool
}

// field is one decoded protowire field: v for varint and fixed64 fields,
// b for length-delimited ones.
type field struct {
	num protowire.Number
	typ protowire.Type
	v   uint64
	b   []byte
}

// fields calls fn for each field of a message.
func fields(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("bad field tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			return fmt.Errorf("field %d has wire type %d, which this format never uses", num, typ)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (f field) want(t protowire.Type) error {
	if f.typ != t {
		return fmt.Errorf("field %d has wire type %d, want %d", f.num, f.typ, t)
	}
	return nil
}

// strs reads a message of string fields 1..len(out) into out; fixed and
// varint fields go to extra, which may refuse them.
func strs(b []byte, out []*string, extra func(f field) error) error {
	return fields(b, func(f field) error {
		if int(f.num) >= 1 && int(f.num) <= len(out) {
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			*out[f.num-1] = string(f.b)
			return nil
		}
		if extra == nil {
			return fmt.Errorf("unknown field %d", f.num)
		}
		return extra(f)
	})
}

func (d *restorer) top(f field) error {
	if f.num >= 1 && f.num <= 6 {
		if d.header != int(f.num)-1 {
			return fmt.Errorf("header field %d out of place", f.num)
		}
		d.header++
		want := protowire.VarintType
		if f.num == 2 {
			want = protowire.Fixed64Type
		}
		if err := f.want(want); err != nil {
			return err
		}
		switch f.num {
		case 1:
			d.window = int64(f.v)
		case 2:
			d.once.maxTime = int64(f.v)
		case 3:
			d.once.refused = f.v
		case 4:
			d.chat.messages = f.v
		case 5:
			d.chat.lastLamp = f.v
		case 6:
			if f.v < 1 || f.v > 1<<20 {
				return fmt.Errorf("%d messages per chunk", f.v)
			}
			d.chunkLen = f.v
		}
		return nil
	}
	if d.header != 6 {
		return fmt.Errorf("field %d before the header is complete", f.num)
	}
	if f.num == 15 {
		if err := f.want(protowire.VarintType); err != nil {
			return err
		}
		d.epoch, d.hasEpoch = f.v, true
		return nil
	}
	if err := f.want(protowire.BytesType); err != nil {
		return err
	}
	switch f.num {
	case 7:
		var name, fp string
		if err := strs(f.b, []*string{&name, &fp}, nil); err != nil {
			return fmt.Errorf("identity: %v", err)
		}
		if _, dup := d.ident.owner[name]; dup {
			return fmt.Errorf("identity: name %q twice", name)
		}
		d.ident.owner[name] = fp
	case 8, 9:
		m, err := readModeration(f.b)
		if err != nil {
			return fmt.Errorf("moderation: %v", err)
		}
		if f.num == 8 {
			if _, dup := d.mod.bans[m.Target]; dup {
				return fmt.Errorf("two bans on %q", m.Target)
			}
			d.mod.bans[m.Target] = m
		} else {
			d.mod.mutes[m.Target] = append(d.mod.mutes[m.Target], m)
		}
	case 10:
		var u, n, st string
		if err := strs(f.b, []*string{&u, &n, &st}, nil); err != nil {
			return fmt.Errorf("presence: %v", err)
		}
		if d.pres.state[u] == nil {
			d.pres.state[u] = map[string]string{}
		}
		if _, dup := d.pres.state[u][n]; dup {
			return fmt.Errorf("presence of %q on %q twice", u, n)
		}
		d.pres.state[u][n] = st
	case 11:
		return d.room(f.b)
	case 12:
		var room, u string
		if err := strs(f.b, []*string{&room, &u}, nil); err != nil {
			return fmt.Errorf("member: %v", err)
		}
		if d.chat.members[room][u] {
			return fmt.Errorf("member %q of %q twice", u, room)
		}
		setAdd(d.chat.members, room, u)
		setAdd(d.chat.userRoom, u, room)
	case 13:
		return d.request(f.b)
	case 14:
		var u, conv string
		var index uint64
		if err := strs(f.b, []*string{&u, &conv}, func(g field) error {
			if g.num != 3 {
				return fmt.Errorf("unknown field %d", g.num)
			}
			if err := g.want(protowire.VarintType); err != nil {
				return err
			}
			index = g.v
			return nil
		}); err != nil {
			return fmt.Errorf("read mark: %v", err)
		}
		m := d.reads.marks[u]
		if m == nil {
			m = map[string]uint64{}
			d.reads.marks[u] = m
		}
		if _, dup := m[conv]; dup || index == 0 {
			return fmt.Errorf("read mark of %q in %q twice or zero", u, conv)
		}
		m[conv] = index
	case 20, 21:
		return d.editsField(f)
	case 30, 31, 32, 33, 34:
		return d.accessField(f)
	default:
		return fmt.Errorf("unknown field %d", f.num)
	}
	return nil
}

// storedChunk checks a chunk the snapshot says is in the chunk file: a
// full one, within what the file holds.
func (d *restorer) storedChunk(c chunk) error {
	switch {
	case d.chunks == nil:
		return fmt.Errorf("chunk from index %d is in an index chunk file, and none is open", c.first)
	case uint64(c.n) != d.chunkLen || c.size == 0 || c.last <= c.first || c.off < 0:
		return fmt.Errorf("stored chunk from index %d: %d messages, %d bytes, last index %d", c.first, c.n, c.size, c.last)
	}
	end := c.off + int64(c.size) + 4
	if size := d.chunks.Size(); end > size {
		return fmt.Errorf("stored chunk from index %d ends at byte %d of the index chunk file, which holds %d", c.first, end, size)
	}
	d.chunkEnd = max(d.chunkEnd, end)
	return nil
}

func readModeration(b []byte) (eventlog.Moderation, error) {
	var m eventlog.Moderation
	err := strs(b, []*string{&m.Target, &m.By, &m.Room, &m.Reason}, func(f field) error {
		if f.num != 5 {
			return fmt.Errorf("unknown field %d", f.num)
		}
		if err := f.want(protowire.Fixed64Type); err != nil {
			return err
		}
		m.Until = int64(f.v)
		return nil
	})
	return m, err
}

func (d *restorer) room(b []byte) error {
	var name, topic string
	var count, last uint64
	var chunks []chunk
	err := strs(b, []*string{&name, &topic}, func(f field) error {
		switch f.num {
		case 3, 4:
			if err := f.want(protowire.VarintType); err != nil {
				return err
			}
			if f.num == 3 {
				count = f.v
			} else {
				last = f.v
			}
		case 5:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			var c chunk
			var n uint64
			err := fields(f.b, func(g field) error {
				switch g.num {
				case 1, 2:
					if err := g.want(protowire.VarintType); err != nil {
						return err
					}
					if g.num == 1 {
						c.first = g.v
					} else {
						n = g.v
					}
				case 3:
					if err := g.want(protowire.BytesType); err != nil {
						return err
					}
					c.data = append([]byte(nil), g.b...)
				case 4, 5, 6:
					if err := g.want(protowire.VarintType); err != nil {
						return err
					}
					c.stored = true
					switch g.num {
					case 4:
						c.off = int64(g.v)
					case 5:
						c.size = uint32(g.v)
					case 6:
						c.last = g.v
					}
				default:
					return fmt.Errorf("unknown field %d", g.num)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("chunk: %v", err)
			}
			if n < 1 || n > d.chunkLen {
				return fmt.Errorf("chunk of %d messages; at most %d", n, d.chunkLen)
			}
			c.n = int(n)
			if c.stored {
				if err := d.storedChunk(c); err != nil {
					return err
				}
			}
			chunks = append(chunks, c)
		default:
			return fmt.Errorf("unknown field %d", f.num)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("room %q: %v", name, err)
	}
	if d.rooms[name] {
		return fmt.Errorf("room %q twice", name)
	}
	d.rooms[name] = true
	r := d.chat.room(name)
	r.topic = topic
	// Check the chunks: each full but the last, each ascending, each above
	// the one before, adding up to count and ending at last.
	var total, prev uint64
	for i, c := range chunks {
		if i < len(chunks)-1 && uint64(c.n) != d.chunkLen {
			return fmt.Errorf("room %q: chunk %d holds %d messages, not %d", name, i, c.n, d.chunkLen)
		}
		if i > 0 && c.first <= prev {
			return fmt.Errorf("room %q: chunk %d starts at index %d, not above %d", name, i, c.first, prev)
		}
		l := c.last // a stored chunk is checked when it is read (CRC)
		if !c.stored {
			var err error
			if l, err = checkChunk(c, int(d.chunkLen)); err != nil {
				return fmt.Errorf("room %q: %v", name, err)
			}
		}
		prev = l
		total += uint64(c.n)
	}
	if total != count || prev != last {
		return fmt.Errorf("room %q: chunks hold %d messages up to index %d; the room says %d up to %d", name, total, prev, count, last)
	}
	if d.chunkLen == uint64(chunkLen) {
		for _, c := range chunks {
			if c.n == chunkLen {
				r.idx.full = append(r.idx.full, c)
			} else {
				r.idx.open = c
			}
		}
		r.idx.last = last
	} else {
		// Written by a build with other chunks: index the messages again.
		for _, c := range chunks {
			var tmp msgIndex
			tmp.open = c
			xs, err := tmp.indexes(nil, 0, c.n, d.chunks)
			if err != nil {
				return fmt.Errorf("room %q: %v", name, err)
			}
			for _, x := range xs {
				r.idx.add(x, nil)
			}
		}
	}
	r.recentFrom = r.idx.count()
	return nil
}

func (d *restorer) request(b []byte) error {
	var r imageRequest
	err := fields(b, func(f field) error {
		switch f.num {
		case 1:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			if len(f.b) != len(r.key) {
				return fmt.Errorf("request key of %d bytes", len(f.b))
			}
			r.keyed = true
			copy(r.key[:], f.b)
		case 4:
			if err := f.want(protowire.VarintType); err != nil {
				return err
			}
			r.index = f.v
		case 5, 6, 8:
			if f.num == 8 && d.version < 4 {
				return fmt.Errorf("unknown field %d", f.num)
			}
			if err := f.want(protowire.Fixed64Type); err != nil {
				return err
			}
			switch f.num {
			case 5:
				r.time = int64(f.v)
			case 6: // formats 1 to 3 have FNV-1a digests only
				r.digest, r.fnv = f.v, true
			default:
				r.digest, r.fnv = f.v, false
			}
		case 7:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			ref := &api.Refusal{}
			err := strs(f.b, []*string{&ref.Action, &ref.User, &ref.Room, &ref.By, &ref.Reason}, func(g field) error {
				if g.num != 6 && g.num != 7 {
					return fmt.Errorf("unknown field %d", g.num)
				}
				if err := g.want(protowire.Fixed64Type); err != nil {
					return err
				}
				if g.num == 6 {
					ref.Until = time.Unix(0, int64(g.v)).UTC()
				} else {
					ref.At = time.Unix(0, int64(g.v)).UTC()
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("refusal: %v", err)
			}
			r.refusal = ref
		default:
			return fmt.Errorf("unknown field %d", f.num)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("request: %v", err)
	}
	if !r.keyed && r.refusal == nil {
		return fmt.Errorf("request at index %d: neither key nor refusal", r.index)
	}
	t := d.once
	if r.keyed {
		if t.item(r.key) != nil {
			return fmt.Errorf("request key %x twice", r.key)
		}
	}
	if r.refusal != nil {
		if _, dup := t.refusals[r.index]; dup {
			return fmt.Errorf("two refusals at index %d", r.index)
		}
		t.refusals[r.index] = refusalEntry{r: r.refusal, time: r.time}
	}
	seq := t.push(onceItem{key: r.key, index: r.index, time: r.time, digest: r.digest, fnv: r.fnv, keyed: r.keyed, refused: r.refusal != nil})
	if r.keyed {
		t.remember(r.key, seq) // after the push: the index reads the key from the item
	}
	return nil
}

func (d *restorer) finish(o Options) error {
	if d.header != 6 {
		return fmt.Errorf("header incomplete: %d of 6 fields", d.header)
	}
	if d.window != int64(o.OnceWindow) {
		return fmt.Errorf("taken with a once window of %v; this node's is %v (every node must use the same)",
			time.Duration(d.window), o.OnceWindow)
	}
	var total uint64
	for name, r := range d.chat.rooms {
		total += uint64(r.idx.count())
		if a, b, ok := strings.Cut(strings.TrimPrefix(name, "@"), ","); ok && strings.HasPrefix(name, "@") && r.idx.count() > 0 {
			setAdd(d.chat.dms, a, name)
			setAdd(d.chat.dms, b, name)
		}
	}
	if total != d.chat.messages {
		return fmt.Errorf("rooms hold %d messages; the count says %d", total, d.chat.messages)
	}
	return d.finishAccess()
}
