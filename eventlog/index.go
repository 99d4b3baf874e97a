package eventlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
)

// The sparse offset index lets a reader find any record with one or two
// preads instead of loading a segment file: for every segment it remembers
// the byte offset of every indexStride-th record (counted from the
// segment's first record). A read starts at the nearest indexed record at
// or before the one wanted and skips forward by the entries' length
// prefixes, all inside one readWindow of the file for ~200-byte records.
//
// indexStride is 32: one uint32 per 32 records is 0.125 bytes per record
// (1.25 MB for 10 million records; plus ~150 bytes per segment file, ~100
// of them for 10M records of 214 bytes in 20 MiB segments). Skipping at
// most 31 records of ~214 bytes is at most ~6.7 KB, inside one 16 KiB pread
// together with the record wanted and the next one (whose prev field checks
// its hash), so a smaller stride would not save a system call, and a larger
// one would make typical reads span two windows.
const (
	indexStride = 32
	readWindow  = 16 << 10
	// maxSegmentBytes is the largest segment file the index can address.
	// Options.SegmentSize is capped at 1 GiB, so our segments stay far
	// below it (a segment exceeds SegmentSize by at most one record).
	maxSegmentBytes = 1<<32 - 1
)

// segIndex is the sparse index of every segment file. The writer extends it
// after each group commit's fsync and before the new records are published
// as durable (Log.last), so a reader that saw seq ≤ LastSeq finds seq here.
type segIndex struct {
	mu     sync.RWMutex
	segs   []*seg // in index order
	closed atomic.Bool
}

// seg is one segment file in the index.
type seg struct {
	first uint64
	path  string

	// Guarded by segIndex.mu.
	count uint64   // records known in it (durable ones for the tail)
	end   int64    // byte offset just after them
	offs  []uint32 // offs[i]: offset of record first+i*indexStride
	built bool     // offs is complete; false for segments a trusted Open did not read

	build sync.Mutex // one lazy build at a time

	fmu sync.Mutex // guards f
	f   *os.File   // read-only handle, opened on first read, closed by Close
}

// segView is what a reader needs of one segment, copied under the lock.
type segView struct {
	s     *seg
	first uint64
	count uint64
	end   int64
	// start of the read: record seq at byte off, the nearest indexed record
	// at or before the one looked up
	seq uint64
	off int64
}

func segmentPath(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d", first))
}

// newIndex builds the index from what Open verified: segments from
// st.start on are complete; earlier ones (not read by a trusted Open) are
// indexed on first touch. An empty directory gets the first segment file,
// named for record 1 (openTail creates it, as tidwall/wal's Open would).
func newIndex(dir string, st dirState) *segIndex {
	x := &segIndex{}
	if len(st.segs) == 0 {
		x.segs = []*seg{{first: 1, path: segmentPath(dir, 1), built: true}}
		return x
	}
	for i, sf := range st.segs {
		s := &seg{first: sf.first, path: sf.path}
		if i >= st.start {
			r := st.results[i]
			s.count, s.end, s.offs, s.built = r.count, int64(r.goodEnd), r.offs, true
		} else {
			s.count = st.segs[i+1].first - sf.first
		}
		x.segs = append(x.segs, s)
	}
	return x
}

// ixEvent is one change of the index by a group commit, applied once it is
// durable.
type ixEvent struct {
	seq  uint64 // mark: the record; roll: first record of the new segment
	off  int64  // mark: the record's offset; roll: size of the segment sealed
	roll bool
}

// apply records a durable group commit: evs in order, then the tail holds
// records up to last and ends at tailEnd.
func (x *segIndex) apply(dir string, evs []ixEvent, last uint64, tailEnd int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.segs[len(x.segs)-1]
	for _, ev := range evs {
		if ev.roll {
			t.count, t.end = ev.seq-t.first, ev.off
			t = &seg{first: ev.seq, path: segmentPath(dir, ev.seq), built: true}
			x.segs = append(x.segs, t)
			continue
		}
		t.offs = append(t.offs, uint32(ev.off))
	}
	t.count, t.end = last+1-t.first, tailEnd
}

// locate returns the view of the segment holding seq, positioned at the
// nearest indexed record at or before it, building the segment's index
// first if needed. seq must be durable.
func (l *Log) locate(seq uint64) (segView, error) {
	x := l.ix
	for {
		x.mu.RLock()
		i := sort.Search(len(x.segs), func(i int) bool { return x.segs[i].first > seq }) - 1
		if i < 0 {
			x.mu.RUnlock()
			return segView{}, l.corrupt(seq, "no segment file holds this index")
		}
		s := x.segs[i]
		if s.built {
			v := segView{s: s, first: s.first, count: s.count, end: s.end}
			k := (seq - s.first) / indexStride
			if seq-s.first >= s.count || k >= uint64(len(s.offs)) {
				x.mu.RUnlock()
				return segView{}, &CorruptError{File: s.path, Index: seq, Reason: "index does not reach this record"}
			}
			v.seq, v.off = s.first+k*indexStride, int64(s.offs[k])
			x.mu.RUnlock()
			return v, nil
		}
		x.mu.RUnlock()
		if err := l.buildIndex(s); err != nil {
			return segView{}, err
		}
	}
}

// buildIndex indexes a sealed segment that Open did not read, with one
// sequential read of the file. It checks the framing only (length prefixes,
// the record count the next segment's name implies, nothing after the last
// record); the records' CRC and chain are checked by whoever reads them.
func (l *Log) buildIndex(s *seg) error {
	s.build.Lock()
	defer s.build.Unlock()
	l.ix.mu.RLock()
	built, want := s.built, s.count
	l.ix.mu.RUnlock()
	if built {
		return nil
	}
	f, err := l.segFile(s)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return l.readErr(s, err)
	}
	if fi.Size() > maxSegmentBytes {
		return &CorruptError{File: s.path, Reason: fmt.Sprintf("segment file of %d bytes, more than the %d a segment can hold", fi.Size(), int64(maxSegmentBytes))}
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, fi.Size()), 256<<10)
	var (
		offs []uint32
		off  int64
		n    uint64
	)
	for off < fi.Size() {
		size, err := binary.ReadUvarint(br)
		if err != nil || size == 0 || size > MaxRecordSize || int64(size) > fi.Size()-off {
			return &CorruptError{File: s.path, Index: s.first + n, Reason: "bad entry length prefix in a segment not verified at open"}
		}
		if n%indexStride == 0 {
			offs = append(offs, uint32(off))
		}
		if _, err := br.Discard(int(size)); err != nil {
			return l.readErr(s, err)
		}
		off += int64(uvarintLen(int(size))) + int64(size)
		n++
	}
	if n != want {
		return &CorruptError{File: s.path, Index: s.first, Reason: fmt.Sprintf(
			"segment holds %d records, but the next segment's name says %d (missing, extra or reordered file)", n, want)}
	}
	l.ix.mu.Lock()
	s.offs, s.end, s.built = offs, off, true
	l.ix.mu.Unlock()
	return nil
}

// segFile returns the segment's read-only handle, opening it on first use.
func (l *Log) segFile(s *seg) (*os.File, error) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if l.ix.closed.Load() {
		return nil, ErrClosed
	}
	if s.f == nil {
		f, err := os.Open(s.path)
		if err != nil {
			return nil, fmt.Errorf("eventlog: open segment: %w", err)
		}
		s.f = f
	}
	return s.f, nil
}

// closeFiles closes every segment handle; later reads get ErrClosed.
func (x *segIndex) closeFiles() error {
	x.closed.Store(true)
	x.mu.RLock()
	segs := x.segs
	x.mu.RUnlock()
	var errs []error
	for _, s := range segs {
		s.fmu.Lock()
		if s.f != nil {
			errs = append(errs, s.f.Close())
			s.f = nil
		}
		s.fmu.Unlock()
	}
	return errors.Join(errs...)
}

func (l *Log) readErr(s *seg, err error) error {
	if errors.Is(err, os.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("eventlog: read %s: %w", s.path, err)
}

// cursor reads records by position: one segment at a time, through a
// window of the file read with pread. It is not safe for concurrent use;
// every reader has its own.
type cursor struct {
	l      *Log
	v      segView
	f      *os.File
	seq    uint64 // the record starting at off
	off    int64
	buf    []byte
	bufOff int64
	bufN   int
	run    int // consecutive window reads that continued the previous one
}

var cursorPool = sync.Pool{New: func() any { return &cursor{buf: make([]byte, readWindow)} }}

func (l *Log) newCursor() *cursor {
	c := cursorPool.Get().(*cursor)
	c.l = l
	return c
}

func (c *cursor) release() {
	if cap(c.buf) > readWindow {
		c.buf = make([]byte, readWindow) // do not pin a big record's buffer
	}
	*c = cursor{buf: c.buf}
	cursorPool.Put(c)
}

// record returns the stored bytes of durable record seq. They stay valid
// until the next call.
func (c *cursor) record(seq uint64) ([]byte, error) {
	if c.v.s == nil || seq < c.seq || seq-c.seq >= indexStride || seq >= c.v.first+c.v.count {
		v, err := c.l.locate(seq)
		if err != nil {
			return nil, err
		}
		f, err := c.l.segFile(v.s)
		if err != nil {
			return nil, err
		}
		c.v, c.f, c.seq, c.off, c.bufN = v, f, v.seq, v.off, 0
	}
	for {
		size, n, err := c.entry()
		if err != nil {
			return nil, err
		}
		start := c.off + int64(n)
		c.seq, c.off = c.seq+1, start+int64(size)
		if c.seq-1 == seq {
			return c.bytes(start, size)
		}
	}
}

// entry reads the length prefix of the entry at c.off.
func (c *cursor) entry() (size, n int, err error) {
	hdr, err := c.bytes(c.off, int(min(binary.MaxVarintLen64, c.v.end-c.off)))
	if err != nil {
		return 0, 0, err
	}
	l, n := binary.Uvarint(hdr)
	if n <= 0 || l == 0 || l > MaxRecordSize || int64(l) > c.v.end-c.off-int64(n) {
		return 0, 0, &CorruptError{File: c.v.s.path, Index: c.seq, Reason: "bad entry length prefix"}
	}
	return int(l), n, nil
}

// bytes returns n bytes of the segment at off, reading a window with pread
// if they are not in the buffer. Nothing at or after the end of the
// segment's durable records is ever returned.
func (c *cursor) bytes(off int64, n int) ([]byte, error) {
	if n <= 0 || off+int64(n) > c.v.end {
		return nil, &CorruptError{File: c.v.s.path, Index: c.seq, Reason: "entry runs past the segment's records"}
	}
	if off >= c.bufOff && off+int64(n) <= c.bufOff+int64(c.bufN) {
		p := off - c.bufOff
		return c.buf[p : p+int64(n)], nil
	}
	// A read that continues the last window is a sequential scan: widen
	// the window, up to 1 MiB, to make fewer system calls.
	if c.bufN > 0 && off >= c.bufOff && off <= c.bufOff+int64(c.bufN) {
		c.run = min(c.run+1, 6)
	} else {
		c.run = 0
	}
	size := int(min(int64(max(n, readWindow<<c.run)), c.v.end-off))
	if cap(c.buf) < size {
		c.buf = make([]byte, size)
	}
	got, err := c.f.ReadAt(c.buf[:size], off)
	c.bufOff, c.bufN = off, got
	if got < n {
		c.bufN = 0
		if err == nil || err == io.EOF {
			return nil, &CorruptError{File: c.v.s.path, Index: c.seq, Reason: "segment file shorter than its records (changed since open?)"}
		}
		return nil, c.l.readErr(c.v.s, err)
	}
	return c.buf[:n], nil
}
