package state

import (
	"encoding/binary"
	"fmt"
	"sort"
	"unsafe"
)

// The message index of a room: where its messages are in the log.
//
// A room keeps the cluster indexes of its messages, ascending, in chunks of
// chunkLen messages. A chunk holds the index of its first message and the
// differences to each next one as uvarints, so a message costs one to three
// bytes (the gap to the room's previous message: about two bytes for a
// room among a thousand busy ones). Full chunks are never written again:
// a snapshot (Capture) shares them instead of copying, and the open chunk
// is only ever appended to, so a snapshot shares its bytes so far too.
//
// Every full chunk holds exactly chunkLen messages, so position p is in
// chunk p/chunkLen; a search by index is a binary search over the chunks'
// first indexes and a scan of at most one chunk.

// chunkLen is how many messages a full chunk holds. It is a variable only
// so that tests can fill chunks with short logs.
var chunkLen = 128

type chunk struct {
	first uint64 // index of the first message
	n     int    // messages in it: chunkLen for a full chunk, 1..chunkLen-1 (or 0 when empty) for the open one
	data  []byte // uvarint gaps from each message to the next: n-1 of them (nil when stored)
	// A full chunk of a Chat with a ChunkFile is stored there: its gaps
	// are size bytes at off, and last is its last index (for snapshots,
	// without reading it back).
	stored bool
	size   uint32
	off    int64
	last   uint64
}

// gaps returns c's gaps, read from s when c is stored.
func (c *chunk) gaps(s *ChunkFile) ([]byte, error) {
	if !c.stored {
		return c.data, nil
	}
	if s == nil {
		return nil, fmt.Errorf("index chunk from index %d is on disk and no chunk file is open", c.first)
	}
	return s.get(c.off, int(c.size))
}

// msgIndex is a room's message positions. The apply goroutine writes it
// under Chat.mu; readers hold Chat.mu's read lock.
type msgIndex struct {
	full []chunk // full chunks; never changed once appended
	open chunk   // the chunk being filled; its data is only appended to
	last uint64  // index of the newest message (0 while none)
}

func (ix *msgIndex) count() int { return len(ix.full)*chunkLen + ix.open.n }

// add appends a message's index, which must be above every earlier one.
// A chunk that fills up goes to s, if there is one (and stays in memory if
// s cannot take it: it costs memory, never a message).
func (ix *msgIndex) add(index uint64, s *ChunkFile) {
	if ix.count() > 0 && index <= ix.last {
		panic(fmt.Sprintf("state: message at index %d after one at index %d: entries must be applied in index order", index, ix.last))
	}
	if ix.open.n == 0 {
		ix.open = chunk{first: index, n: 1}
	} else {
		ix.open.data = binary.AppendUvarint(ix.open.data, index-ix.last)
		ix.open.n++
	}
	ix.last = index
	if ix.open.n == chunkLen {
		// A snapshot may hold the open chunk's bytes: they are never
		// written again, and the next chunk gets a buffer of its own. The
		// full chunk gets a copy of exactly its size.
		c := chunk{first: ix.open.first, n: chunkLen, last: index}
		if off, err := s.put(ix.open.data); err == nil {
			c.stored, c.off, c.size = true, off, uint32(len(ix.open.data))
		} else {
			c.data = append([]byte(nil), ix.open.data...)
		}
		ix.full = append(ix.full, c)
		ix.open = chunk{}
	}
}

// chunks counts the chunks, the open one included when it holds any.
func (ix *msgIndex) chunks() int {
	if ix.open.n > 0 {
		return len(ix.full) + 1
	}
	return len(ix.full)
}

func (ix *msgIndex) chunk(i int) *chunk {
	if i < len(ix.full) {
		return &ix.full[i]
	}
	return &ix.open
}

// searchGE returns the position of the first message whose index is at
// least x, or count() if there is none; s holds the stored chunks.
func (ix *msgIndex) searchGE(x uint64, s *ChunkFile) (int, error) {
	nc := ix.chunks()
	j := sort.Search(nc, func(i int) bool { return ix.chunk(i).first >= x })
	if j == 0 {
		return 0, nil
	}
	c := ix.chunk(j - 1)
	pos := (j - 1) * chunkLen
	if c.stored && x > c.last {
		return pos + c.n, nil // past this chunk: no need to read it
	}
	data, err := c.gaps(s)
	if err != nil {
		return 0, err
	}
	v := c.first
	for k := 0; k < c.n; k++ {
		if k > 0 {
			d, w := binary.Uvarint(data)
			data = data[w:]
			v += d
		}
		if v >= x {
			return pos + k, nil
		}
	}
	return pos + c.n, nil
}

// searchGT returns the position of the first message whose index is above
// x, or count() if there is none.
func (ix *msgIndex) searchGT(x uint64, s *ChunkFile) (int, error) {
	if x == ^uint64(0) {
		return ix.count(), nil
	}
	return ix.searchGE(x+1, s)
}

// indexes appends to dst the indexes of the messages at positions [from, to).
func (ix *msgIndex) indexes(dst []uint64, from, to int, s *ChunkFile) ([]uint64, error) {
	for from < to {
		ci := from / chunkLen
		c := ix.chunk(ci)
		skip := from - ci*chunkLen
		data, err := c.gaps(s)
		if err != nil {
			return dst, err
		}
		v := c.first
		for k := 0; k < c.n && from < to; k++ {
			if k > 0 {
				d, w := binary.Uvarint(data)
				data = data[w:]
				v += d
			}
			if k >= skip {
				dst = append(dst, v)
				from++
			}
		}
	}
	return dst, nil
}

// frozen returns a copy of ix that shares its bytes with ix and that no
// later add changes: the full chunks as they are (add only appends beyond
// them), the open chunk's bytes so far (add only appends after them).
func (ix *msgIndex) frozen() msgIndex {
	f := msgIndex{full: ix.full[:len(ix.full):len(ix.full)], open: ix.open, last: ix.last}
	f.open.data = ix.open.data[:len(ix.open.data):len(ix.open.data)]
	return f
}

// bytes is the memory the index holds: chunk headers and their bytes.
func (ix *msgIndex) bytes() int {
	n := cap(ix.full)*int(unsafe.Sizeof(chunk{})) + cap(ix.open.data)
	for i := range ix.full {
		n += cap(ix.full[i].data)
	}
	return n
}

// checkChunk verifies a chunk read from a snapshot: 1..most messages, gaps
// of at least one that use up its bytes exactly. It returns its last index.
func checkChunk(c chunk, most int) (uint64, error) {
	if c.n < 1 || c.n > most {
		return 0, fmt.Errorf("chunk of %d messages", c.n)
	}
	v, data := c.first, c.data
	for k := 1; k < c.n; k++ {
		d, w := binary.Uvarint(data)
		if w <= 0 {
			return 0, fmt.Errorf("chunk from index %d: gap %d of %d unreadable", c.first, k, c.n-1)
		}
		data = data[w:]
		if d == 0 || v+d < v {
			return 0, fmt.Errorf("chunk from index %d: gap %d is %d", c.first, k, d)
		}
		v += d
	}
	if len(data) != 0 {
		return 0, fmt.Errorf("chunk from index %d: %d bytes left over", c.first, len(data))
	}
	return v, nil
}
