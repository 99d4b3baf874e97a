package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Bulk writes a new log in one pass: a node copying a peer's whole log
// before it starts, or a restore. Append goes through the writer
// goroutine, a group commit and an fsync at a time; Bulk writes the
// segment files directly, in the same layout and cuts (per record: uvarint
// length, bytes; files named by their first sequence number, a new one
// once a file reaches SegmentSize, as tidwall/wal would cut them), with
// large sequential writes and one fsync per segment. The records are the ones Append would
// write: encoded, sealed and chained the same way (TestBulkWritesWhatAppendWrites).
//
// Nothing is durable before Close returns nil; a Bulk that fails leaves a
// directory for the caller to remove (it writes into a directory that
// holds no log, typically a staging one). Not safe for concurrent use.
type Bulk struct {
	dir       string
	opts      Options
	lock      *os.File
	f         *os.File
	direct    bool   // f was opened with O_DIRECT
	noDirect  bool   // the file system refused O_DIRECT: the next files are buffered
	buf       []byte // what is not written yet of f, aligned (alignedBuffer)
	chunk     int    // bulkChunk when buf was made
	off       int64  // where buf goes in f: bytes of f written
	wasDirect bool   // some segment file was written with O_DIRECT
	segBytes  int
	seq       uint64 // the next record's sequence number
	prev      Hash   // hash of record seq-1
	scratch   request
	err       error // sticky
}

// CreateBulk starts a new log in dir, which must not hold one.
func CreateBulk(dir string, opts Options) (*Bulk, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("eventlog: create %s: %w", dir, err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	if len(segs) > 0 {
		return nil, fmt.Errorf("eventlog: bulk write into %s, which already holds a log", dir)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	return &Bulk{dir: dir, opts: opts, lock: lock, seq: 1}, nil
}

// Append encodes evs as the next records and buffers them; it writes a
// segment file out (and fsyncs it) whenever one fills.
func (b *Bulk) Append(evs ...Event) (first, last uint64, err error) {
	if b.err != nil {
		return 0, 0, b.err
	}
	r := &b.scratch
	r.buf, r.ends, r.kinds = r.buf[:0], r.ends[:0], r.kinds[:0]
	if err := r.encode(evs); err != nil {
		return 0, 0, err
	}
	first = b.seq
	start := 0
	for i, end := range r.ends {
		rec := r.buf[start:end]
		seal(rec, r.kinds[i], b.prev)
		b.prev = HashRecord(rec)
		if err := b.write(rec); err != nil {
			b.err = err
			return 0, 0, err
		}
		b.seq++
		start = end
	}
	return first, b.seq - 1, nil
}

// Direct says whether the segment files written so far went around the
// page cache (bulkDirect): all of them, or none where the file system
// refuses O_DIRECT.
func (b *Bulk) Direct() bool { return b.wasDirect && !b.noDirect }

// Head is the last record written and its chain hash.
func (b *Bulk) Head() (uint64, Hash) { return b.seq - 1, b.prev }

func (b *Bulk) write(rec []byte) error {
	if b.f == nil {
		if err := b.create(); err != nil {
			return err
		}
	}
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(rec)))
	if err := b.put(hdr[:n]); err != nil {
		return err
	}
	if err := b.put(rec); err != nil {
		return err
	}
	if b.segBytes += n + len(rec); b.segBytes >= b.opts.SegmentSize {
		return b.seal() // tidwall/wal starts a new segment here too
	}
	return nil
}

// bulkChunk is the unit of a Bulk's writes: it writes a segment file in
// aligned pieces of this size (a multiple of directAlign), each as soon as
// it is full, and the rest when it seals the segment. An fsync of a node
// beside the copy on one disk queues behind at most a chunk or two, so
// the chunk bounds what the copy adds to the others' commit tail: with
// the copy paced (storage.copy_rate, 80 MiB/s), 256 KiB chunks left the
// commit-path node's commit p99 at 1.55-1.90x of the copy stopped
// against 2.14-2.42x with 1 MiB, at the same 250k entries/s
// (docs/BENCHMARKS.md, "The copy's pace").
var bulkChunk = 256 << 10

// bulkDirect makes a Bulk write its segment files with O_DIRECT where the
// file system takes it (bulk_direct_linux.go), around the page cache.
// The idea: through the page cache (ext4, data=ordered), every fsync of
// the file system (each post's commit of the nodes beside a copy) commits
// the journal, and that commit might wait for the copy's data written so
// far; direct writes leave no dirty pages to wait for. Measured, it did
// not help: in 10M catch-ups alternated with the buffered build, node1's
// fsync and commit latency rose as much while the copy ran (fsync mean
// 2.5x either way), and BenchmarkFsyncBesideBulk was as often worse as
// better (docs/BENCHMARKS.md "History at scale", "Direct I/O for the
// copy"): what the others wait for on this machine is the virtual disk,
// not the journal. So it is off; the tests write both ways (byte for
// byte what Append writes) and the benchmark compares them.
var bulkDirect = false

// bulkWriteback hands every chunk a buffered Bulk writes (a file system
// without O_DIRECT) to the kernel's writeback at once, after waiting for
// the chunk before (startWriteback). Without it a copy leaves a whole
// segment (20 MiB) dirty in the page cache until the segment's fsync, and
// every other fsync of the file system queues behind that burst: on one
// disk a node catching up doubled the others' fsync and commit latency.
// Paced this way at most two chunks are ever unwritten, the copy runs at
// the disk's speed, and the fsync that seals a segment finds little left
// to do. Writeback is a hint: durability still comes from that fsync.
// Chunks of 256 KiB lowered the others' p99 further in
// BenchmarkFsyncBesideBulk but not in an unpaced catch-up of 10M entries
// on the machine of the time, where they slowed the copy (189k entries/s
// against 231k); paced, they do lower it (bulkChunk). It does nothing
// with NoSync.
var bulkWriteback = true

// bulkPace sleeps after each chunk's write this many times as long as
// the write took: a duty cycle for the benchmark to compare (0.5 kept the
// others' appends nearer their idle latency in BenchmarkFsyncBesideBulk,
// but a real 10M copy so paced ran at half its rate: not used).
var bulkPace = 0.0

// create opens the file of the segment that starts at record b.seq.
func (b *Bulk) create() error {
	f, direct, err := createSegment(segmentPath(b.dir, b.seq), bulkDirect && !b.noDirect)
	if err != nil {
		return fmt.Errorf("eventlog: bulk: %w", err)
	}
	if bulkDirect && !direct {
		b.noDirect = true // refused once (a tmpfs): not tried again
	}
	if b.buf == nil {
		b.chunk, b.buf = bulkChunk, alignedBuffer(bulkChunk)
	}
	b.f, b.direct, b.segBytes, b.off, b.buf = f, direct, 0, 0, b.buf[:0]
	b.wasDirect = b.wasDirect || direct
	return nil
}

// put appends p to the segment, writing out every chunk that fills.
func (b *Bulk) put(p []byte) error {
	for len(p) > 0 {
		k := copy(b.buf[len(b.buf):b.chunk], p)
		b.buf, p = b.buf[:len(b.buf)+k], p[k:]
		if len(b.buf) == b.chunk {
			if err := b.flush(false); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes what is buffered at the segment's current offset. Only the
// last write of a segment (last) may be short: with O_DIRECT it is padded
// to directAlign with zeros, and seal truncates the file to its length.
func (b *Bulk) flush(last bool) error {
	n := len(b.buf)
	if n == 0 {
		return nil
	}
	p := b.buf
	if b.direct && n%directAlign != 0 {
		p = b.buf[:(n+directAlign-1)/directAlign*directAlign]
		clear(p[n:])
	}
	t0 := time.Now()
	_, err := b.f.WriteAt(p, b.off)
	if bulkPace > 0 && err == nil && !last {
		time.Sleep(time.Duration(float64(time.Since(t0)) * bulkPace))
	}
	if err != nil && b.direct && errors.Is(err, syscall.EINVAL) {
		// The file system opened the file for direct I/O but refuses
		// this write (an alignment it wants larger): go on buffered.
		if derr := dropDirect(b.f); derr == nil {
			b.direct, b.noDirect = false, true
			p = b.buf
			_, err = b.f.WriteAt(p, b.off)
		}
	}
	if err != nil {
		return fmt.Errorf("eventlog: bulk: %w", err)
	}
	if !b.direct && !last && bulkWriteback && !b.opts.NoSync {
		startWriteback(b.f, b.off, int64(n))
	}
	b.off += int64(n)
	b.buf = b.buf[:0]
	return nil
}

// seal writes out and fsyncs the current segment file.
func (b *Bulk) seal() error {
	if b.f == nil {
		return nil
	}
	padded := b.direct && len(b.buf)%directAlign != 0
	err := b.flush(true)
	if err == nil && padded {
		err = b.f.Truncate(b.off)
	}
	if err == nil && !b.opts.NoSync {
		err = b.f.Sync()
	}
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	b.f = nil
	if err != nil {
		return fmt.Errorf("eventlog: bulk: %w", err)
	}
	return nil
}

// Close writes out what is buffered, fsyncs it and the directory, and
// releases the directory. Open then reads the log like any other.
func (b *Bulk) Close() error {
	err := b.err
	if err == nil {
		err = b.seal()
	}
	if err == nil && !b.opts.NoSync {
		err = syncDir(b.dir)
	}
	if b.f != nil {
		b.f.Close()
	}
	if uerr := unlockDir(b.lock); err == nil {
		err = uerr
	}
	b.lock = nil
	if err == nil && b.seq == 1 {
		err = errors.New("eventlog: bulk: no record written")
	}
	return err
}

// directAlign is the alignment of a direct write's buffer, offset and
// length: the page size, a multiple of any disk's logical block.
const directAlign = 4096

// alignedBuffer is an empty buffer for n bytes that starts at a multiple
// of directAlign, as O_DIRECT wants (Go's heap does not move it), and can
// be padded to one (its capacity is n rounded up).
func alignedBuffer(n int) []byte {
	n = (n + directAlign - 1) / directAlign * directAlign
	b := make([]byte, n+directAlign)
	skip := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % directAlign); r != 0 {
		skip = directAlign - r
	}
	return b[skip : skip : skip+n]
}
