package search

import "encoding/binary"

// The memory segment keeps every term's postings in one arena: chains of
// chunks carved from a few large byte slabs. A slice per term cost the
// writers a growslice (allocation and copy) each time a list doubled, and
// every GC cycle marked each term's slices (tens of thousands of objects
// per memory segment) while the posting goroutines paid assists for it;
// slabs hold no pointers, so the GC marks a handful of objects, and a
// growing stream is never copied. Chunks are addressed by a uint32,
// slab<<slabBits | offset.

const (
	slabBits = 20 // the largest slab: 1 MiB
	slabMask = 1<<slabBits - 1
	// A stream's chunks double from chunkMin to chunkMax bytes; the last
	// four bytes of each are the address of the next.
	chunkMin     = 16
	chunkMaxLog  = 12 // 4 KiB
	chunkMinLog  = 4
	firstSlabLog = 16 // slabs double from 64 KiB (an idle node's memory segment stays small)
)

type arena struct {
	slabs [][]byte
	used  int // bytes given out of the last slab
}

// alloc returns the address of n fresh bytes (n ≤ 1<<chunkMaxLog).
func (a *arena) alloc(n int) uint32 {
	if len(a.slabs) == 0 || a.used+n > len(a.slabs[len(a.slabs)-1]) {
		size := 1 << min(firstSlabLog+len(a.slabs), slabBits)
		a.slabs = append(a.slabs, make([]byte, size))
		a.used = 0
	}
	addr := uint32(len(a.slabs)-1)<<slabBits | uint32(a.used)
	a.used += n
	return addr
}

// bytes returns the n bytes at addr.
func (a *arena) bytes(addr uint32, n uint32) []byte {
	off := addr & slabMask
	return a.slabs[addr>>slabBits][off : off+n : off+n]
}

// size is the arena's footprint.
func (a *arena) size() int {
	n := 0
	for _, s := range a.slabs {
		n += len(s)
	}
	return n
}

// stream is one term's postings in an arena: a chain of chunks.
type stream struct {
	head   uint32 // the first chunk
	cur    uint32 // where the next byte goes
	end    uint32 // where the current chunk's data ends (its link follows)
	size   uint32 // bytes written
	chunks uint8  // chunks in the chain
}

func chunkSize(k uint8) uint32 { return 1 << min(chunkMinLog+uint32(k), chunkMaxLog) }

// write appends p to s.
func (a *arena) write(s *stream, p []byte) {
	for len(p) > 0 {
		if s.cur == s.end { // no chunk yet, or the current one is full
			n := chunkSize(s.chunks)
			addr := a.alloc(int(n))
			if s.chunks == 0 {
				s.head = addr
			} else {
				binary.LittleEndian.PutUint32(a.bytes(s.end, 4), addr)
			}
			s.chunks++
			s.cur, s.end = addr, addr+n-4
		}
		k := uint32(copy(a.bytes(s.cur, s.end-s.cur), p))
		s.cur += k
		s.size += k
		p = p[k:]
	}
}

// appendTo appends s's bytes to dst.
func (a *arena) appendTo(dst []byte, s *stream) []byte {
	left := s.size
	addr := s.head
	for k := uint8(0); left > 0; k++ {
		n := chunkSize(k) - 4
		c := a.bytes(addr, n+4)
		take := min(n, left)
		dst = append(dst, c[:take]...)
		left -= take
		if left > 0 {
			addr = binary.LittleEndian.Uint32(c[n:])
		}
	}
	return dst
}
