package state

import "hash/maphash"

// onceIndex finds the item of a remembered request in the once table's
// fifo by its key: an open-addressing hash table with linear probing, one
// 8-byte slot per request, at most half full.
//
// Why not a Go map: the table sees, for every request, a lookup that
// misses (a new request), an insert, and later a delete (the window
// forgets one request as it remembers another). Go's map leaves deleted
// slots of full groups as tombstones and keeps itself up to 7/8 full, so a
// lookup of a key it does not hold walks past them: in a replay of 10M
// requests its lookups and deletes took 3.5 s of the apply goroutine.
// Linear probing with backward-shift deletion leaves no tombstones, and
// half full, a lookup that misses reads one or two slots of one cache
// line. The keys stay in the fifo items; a slot holds a tag of the key's
// hash and the item's sequence number.
//
// A slot is 0 (empty) or (h>>32 | 1)<<32 | uint32(seq), where h is the
// key's hash and seq the item's sequence number: the home of a slot is
// h>>33 (its high bits), so growing or deleting never reads a key, and a
// tag that matches is confirmed against the item's key. Only the low 32
// bits of seq are kept: the items an index refers to are live ones, whose
// sequence numbers lie within 2^32 of the oldest live one (lo), so the
// number is lo plus the difference of the low bits. The hash is seeded at
// random per table (maphash): request ids are chosen by clients, and with
// a known hash they could be picked to pile up in one run of slots.
type onceIndex struct {
	seed  maphash.Seed
	slots []uint64 // len is a power of two, at least minIndexSlots
	n     int      // slots in use
}

const minIndexSlots = 64

func newOnceIndex() onceIndex {
	return onceIndex{seed: maphash.MakeSeed(), slots: make([]uint64, minIndexSlots)}
}

func (x *onceIndex) hash(k requestKey) uint64 { return maphash.Comparable(x.seed, k) }

// slotOf is the slot of an item with hash h and sequence number seq.
func slotOf(h, seq uint64) uint64 { return (h>>32|1)<<32 | uint64(uint32(seq)) }

// home is where a slot's probe sequence starts.
func (x *onceIndex) home(s uint64) int { return int(s>>33) & (len(x.slots) - 1) }

// seqOf returns the sequence number a slot refers to, given lo, the
// sequence number of the oldest live item.
func seqOf(s, lo uint64) uint64 { return lo + uint64(uint32(s)-uint32(lo)) }

// find looks for the item of key k (hash h) and returns its slot position
// and sequence number, or, when there is none, the empty slot where it
// would go. key returns the key of the item with a sequence number; lo is
// the oldest live one.
func (x *onceIndex) find(k requestKey, h, lo uint64, key func(seq uint64) *requestKey) (pos int, seq uint64, ok bool) {
	tag, mask := h>>32|1, len(x.slots)-1
	for i := int(h>>33) & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return i, 0, false
		}
		if s>>32 == tag {
			if seq := seqOf(s, lo); *key(seq) == k {
				return i, seq, true
			}
		}
	}
}

// put fills the empty slot pos (from find) with s, growing the table when
// it is more than half full.
func (x *onceIndex) put(pos int, s uint64) {
	x.slots[pos] = s
	x.n++
	if 2*x.n > len(x.slots) {
		x.resize(2 * len(x.slots))
	}
}

// remove empties the slot holding exactly s, which must be there (hash h),
// and moves the slots after it back to keep every probe sequence whole.
func (x *onceIndex) remove(h, s uint64) {
	mask := len(x.slots) - 1
	i := int(h>>33) & mask
	for x.slots[i] != s {
		i = (i + 1) & mask
	}
	// Backward shift: a slot after the hole may move into it unless its
	// home lies (cyclically) after the hole and at or before it.
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		h := x.home(x.slots[j])
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
	if 8*x.n < len(x.slots) && len(x.slots) > minIndexSlots {
		x.resize(len(x.slots) / 2)
	}
}

// resize moves every slot into a table of size slots.
func (x *onceIndex) resize(size int) {
	old := x.slots
	x.slots = make([]uint64, size)
	mask := size - 1
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := x.home(s)
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = s
	}
}
