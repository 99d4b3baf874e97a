package eventlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
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
	dir      string
	opts     Options
	lock     *os.File
	f        *os.File
	w        *bufio.Writer
	segBytes int
	kicked   int    // bytes of the segment file handed to writeback (writeback)
	seq      uint64 // the next record's sequence number
	prev     Hash   // hash of record seq-1
	scratch  request
	err      error // sticky
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

// Head is the last record written and its chain hash.
func (b *Bulk) Head() (uint64, Hash) { return b.seq - 1, b.prev }

func (b *Bulk) write(rec []byte) error {
	if b.f == nil {
		f, err := os.OpenFile(segmentPath(b.dir, b.seq), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
		if err != nil {
			return fmt.Errorf("eventlog: bulk: %w", err)
		}
		b.f, b.segBytes, b.kicked = f, 0, 0
		if b.w == nil {
			b.w = bufio.NewWriterSize(f, 1<<20)
		} else {
			b.w.Reset(f)
		}
	}
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(rec)))
	b.w.Write(hdr[:n])
	if _, err := b.w.Write(rec); err != nil {
		return fmt.Errorf("eventlog: bulk: %w", err)
	}
	if b.segBytes += n + len(rec); b.segBytes >= b.opts.SegmentSize {
		return b.seal() // tidwall/wal starts a new segment here too
	}
	if bytesPerSync > 0 && b.segBytes-b.kicked >= bytesPerSync && !b.opts.NoSync {
		return b.writeback()
	}
	return nil
}

// bytesPerSync is how much a Bulk writes before it hands the bytes to the
// kernel's writeback (writeback); 0 never does. BenchmarkFsyncBesideBulk
// compares: 1 MiB lowered the others' p99 in every run of one session, 4
// MiB not always; 256 KiB lowered it further in that benchmark (five runs,
// median 16 ms against 29 ms) but not in a real catch-up of 10M entries,
// where it slowed the copy (189k entries/s against 231k, the others'
// fsync and commit p99 the same; docs/BENCHMARKS.md "History at scale").
var bytesPerSync = 1 << 20

// writeback writes out what is buffered and starts the disk writing it,
// after waiting for the disk to finish the previous bytesPerSync. Without
// it a copy leaves a whole segment (20 MiB) dirty in the page cache until
// the segment's fsync, and every other fsync of the filesystem (the
// cluster's own WAL appends: each post's commit) queues behind that burst:
// on one disk a node catching up doubled the others' fsync and commit
// latency. Paced this way at most two steps are ever unwritten, the copy
// runs at the disk's speed, and the fsync that seals a segment finds
// little left to do. Writeback is a hint: durability still comes from
// that fsync.
func (b *Bulk) writeback() error {
	if err := b.w.Flush(); err != nil {
		return fmt.Errorf("eventlog: bulk: %w", err)
	}
	startWriteback(b.f, int64(b.kicked), int64(b.segBytes-b.kicked))
	b.kicked = b.segBytes
	return nil
}

// seal writes out and fsyncs the current segment file.
func (b *Bulk) seal() error {
	if b.f == nil {
		return nil
	}
	err := b.w.Flush()
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
