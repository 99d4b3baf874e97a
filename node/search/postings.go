package search

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// Terms are known to the index by a 64-bit hash of their text: words and
// character pairs by the token, the conversation and the author of a
// message by a tag no token can hold (a NUL byte) and the name. A
// collision can only add a candidate, which the check of the current text
// removes.
func termHash(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return finishHash(h)
}

// FNV-1a's constants: termHash is FNV-1a, then finishHash.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// finishHash is splitmix64's finalizer: FNV's low bits are weak for short
// strings.
func finishHash(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

func convTerm(conv string) uint64 { return termHash("\x00c" + conv) }

// pairTerm is the term of token b right after token a (hashes), filed at
// a's place: a phrase of pair words is a few short lists, not the long
// lists of its words.
func pairTerm(a, b uint64) uint64 {
	h := a*0x9e3779b97f4a7c15 ^ (b<<23 | b>>41) ^ 0x5041495200000000
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
func fromTerm(user string) uint64 { return termHash("\x00f" + user) }

// blockSize is how many postings share one entry of a term's skip table.
const blockSize = 128

// A term's postings are a stream of, per document (its ordinal in the
// segment, ascending):
//
//	uvarint(ord - previous ord)   (the first: ord - 0)
//	uvarint(number of positions)
//	uvarint(position - previous position) for each (the first: position - 0)
//
// cut into blocks of blockSize postings. The skip table holds, per block,
// its last ordinal and the offset where it ends; a block decodes from the
// previous block's last ordinal. So a reader jumps to any ordinal after a
// binary search and one block, and a merge appends another segment's
// stream by rewriting only its first delta.

// postingList is one term's postings in one segment: its skip table (two
// uint32 per block: last ordinal, end offset) and a way to read its bytes.
type postingList struct {
	count uint32
	skips []uint32
	data  func(from, to uint32) ([]byte, error) // bytes [from, to) of the stream

	// iteration (descending)
	blk   int      // decoded block, -1 none
	ords  []uint32 // its ordinals
	offs  []uint32 // where each posting's positions start in raw
	cnts  []uint32 // how many positions each posting has
	raw   []byte
	i     int // current posting in the block
	pos   []int32
	valid bool
}

func (p *postingList) blocks() int { return len(p.skips) / 2 }

// load decodes block k.
func (p *postingList) load(k int) error {
	if p.blk == k {
		return nil
	}
	var from, prev uint32
	if k > 0 {
		prev, from = p.skips[2*k-2], p.skips[2*k-1]
	}
	raw, err := p.data(from, p.skips[2*k+1])
	if err != nil {
		return err
	}
	p.ords, p.offs, p.cnts = p.ords[:0], p.offs[:0], p.cnts[:0]
	for i := 0; i < len(raw); {
		d, n := binary.Uvarint(raw[i:])
		if n <= 0 {
			return fmt.Errorf("posting block %d: bad ordinal at byte %d", k, i)
		}
		i += n
		prev += uint32(d)
		np, n := binary.Uvarint(raw[i:])
		if n <= 0 {
			return fmt.Errorf("posting block %d: bad position count at byte %d", k, i)
		}
		i += n
		p.ords = append(p.ords, prev)
		p.offs = append(p.offs, uint32(i))
		p.cnts = append(p.cnts, uint32(np))
		for ; np > 0; np-- {
			_, n := binary.Uvarint(raw[i:])
			if n <= 0 {
				return fmt.Errorf("posting block %d: bad position at byte %d", k, i)
			}
			i += n
		}
	}
	if len(p.ords) == 0 || p.ords[len(p.ords)-1] != p.skips[2*k] {
		return fmt.Errorf("posting block %d does not end at ordinal %d", k, p.skips[2*k])
	}
	p.raw, p.blk = raw, k
	return nil
}

// seekLE moves to the largest ordinal <= x and returns it, or -1.
func (p *postingList) seekLE(x int64) (int64, error) {
	p.valid = false
	if x < 0 || p.blocks() == 0 {
		return -1, nil
	}
	// Fast path: the answer is in the decoded block (searches move down,
	// so it usually is, a few postings below where we stand).
	if n := len(p.ords); p.blk >= 0 && n > 0 && int64(p.ords[0]) <= x &&
		(x <= int64(p.ords[n-1]) || p.blk == p.blocks()-1) {
		j := min(p.i, n-1)
		if int64(p.ords[j]) < x {
			j = n - 1
		}
		if j >= 8 && int64(p.ords[j-8]) > x {
			j = sort.Search(j, func(k int) bool { return int64(p.ords[k]) > x }) - 1
		} else {
			for int64(p.ords[j]) > x {
				j--
			}
		}
		p.i, p.valid = j, true
		return int64(p.ords[j]), nil
	}
	nb := p.blocks()
	// the first block whose last ordinal is >= x
	k := sort.Search(nb, func(k int) bool { return int64(p.skips[2*k]) >= x })
	if k == nb {
		k = nb - 1
	}
	for ; k >= 0; k-- {
		if err := p.load(k); err != nil {
			return -1, err
		}
		j := sort.Search(len(p.ords), func(j int) bool { return int64(p.ords[j]) > x }) - 1
		if j >= 0 {
			p.i, p.valid = j, true
			return int64(p.ords[j]), nil
		}
	}
	return -1, nil
}

// positions returns the positions of the current posting (valid until
// the next call).
func (p *postingList) positions() []int32 {
	p.pos = p.pos[:0]
	if !p.valid {
		return p.pos
	}
	raw := p.raw[p.offs[p.i]:]
	var prev int32
	for np := p.cnts[p.i]; np > 0; np-- {
		d, n := binary.Uvarint(raw)
		raw = raw[n:]
		prev += int32(d)
		p.pos = append(p.pos, prev)
	}
	return p.pos
}
