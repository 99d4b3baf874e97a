package eventlog

import (
	"encoding/binary"
	"fmt"
)

func (l *Log) corrupt(seq uint64, reason string) error {
	return &CorruptError{File: l.dir, Index: seq, Reason: reason}
}

// ReadRange calls fn with every record from..to in order (both inclusive,
// FirstSeq ≤ from ≤ to ≤ LastSeq, durable records only; otherwise an error
// wrapping ErrNotFound). It reads only the bytes it needs with pread from the
// segment files, through the sparse offset index. Every record's frame, CRC
// and kind are checked and every record is checked against the next one's
// prev field, including record to against record to+1 (or the head when to
// is the last record), before fn sees it: a record changed on disk since
// Open is a *CorruptError (I8). An error from fn stops the read and is
// returned. Many goroutines may call ReadRange while others Append.
func (l *Log) ReadRange(from, to uint64, fn func(seq uint64, ev Event) error) error {
	d := decoderPool.Get().(*decoder)
	defer decoderPool.Put(d)
	return l.readRange(from, to, func(seq uint64, rec []byte, _ Hash) error {
		return l.deliver(d, seq, rec, fn)
	})
}

// ReadRecords is ReadRange without the decoding: fn gets each record as
// stored (checked like ReadRange checks it), valid only during the call.
// ToEntryForm turns a replicated entry's record into what a leader sends.
func (l *Log) ReadRecords(from, to uint64, fn func(seq uint64, rec []byte) error) error {
	return l.readRange(from, to, func(seq uint64, rec []byte, _ Hash) error { return fn(seq, rec) })
}

// ReadRecordsUnchained is ReadRecords for a bulk reader whose records are
// proven another way: each record's frame (version, length) and kind are
// checked, but neither its CRC nor its chain link, so a record is not
// hashed or copied, and one changed on disk since Open with a valid CRC
// is not noticed. The caller must check what it needs: ToEntryForm checks
// the CRC; a seed transfer's receiver checks the entries up to the
// sender's snapshot against that snapshot's applied-log hash (node's
// seed_serve.go reads only those this way). fn gets each record as
// stored, valid only during the call.
func (l *Log) ReadRecordsUnchained(from, to uint64, fn func(seq uint64, rec []byte) error) error {
	if _, _, err := l.rangeBounds(from, to); err != nil {
		return err
	}
	c := l.newCursor()
	defer c.release()
	for seq := from; seq <= to; seq++ {
		rec, err := c.record(seq)
		if err != nil {
			return err
		}
		k, _, err := checkFrameChained(rec)
		if err != nil {
			return c.corrupt(seq, err.Error())
		}
		if !k.Known() {
			return fmt.Errorf("eventlog: %s index %d: %w", l.dir, seq, &UnknownKindError{Kind: k, Version: rec[0]})
		}
		if err := fn(seq, rec); err != nil {
			return err
		}
	}
	return nil
}

// rangeBounds returns the log's last record and head hash, or an error
// wrapping ErrNotFound unless every record of from..to is in the log.
func (l *Log) rangeBounds(from, to uint64) (last uint64, head Hash, err error) {
	first, last, head, err := l.bounds()
	if err != nil {
		return 0, Hash{}, err
	}
	if from == 0 || from < first || to > last || from > to {
		return 0, Hash{}, fmt.Errorf("%w: %d..%d (log holds %d..%d)", ErrNotFound, from, to, first, last)
	}
	return last, head, nil
}

// readRange is ReadRange of the stored records with their chain hashes.
func (l *Log) readRange(from, to uint64, fn func(seq uint64, rec []byte, h Hash) error) error {
	last, head, err := l.rangeBounds(from, to)
	if err != nil {
		return err
	}
	c := l.newCursor()
	defer c.release()
	var (
		pend    []byte // record seq-1, delivered once seq's prev field vouches for it
		pendBuf []byte
		prev    Hash
	)
	end := to
	if to < last {
		end = to + 1
	}
	for seq := from; seq <= end; seq++ {
		rec, err := c.record(seq)
		if err != nil {
			return err
		}
		k, p, _, err := checkFrame(rec)
		if err != nil {
			return c.corrupt(seq, err.Error())
		}
		if seq > from && p != prev {
			return c.corrupt(seq, errChainBreak.Error())
		}
		if seq > to {
			break
		}
		if !k.Known() {
			return fmt.Errorf("eventlog: %s index %d: %w", l.dir, seq, &UnknownKindError{Kind: k, Version: rec[0]})
		}
		if pend != nil {
			if err := fn(seq-1, pend, prev); err != nil {
				return err
			}
		}
		prev = HashRecord(rec)
		pendBuf = append(pendBuf[:0], rec...)
		pend = pendBuf
	}
	if to == last && prev != head {
		return c.corrupt(to, "record hash does not match the head of the chain")
	}
	return fn(to, pend, prev)
}

// corrupt reports damage at seq in the cursor's current segment file.
func (c *cursor) corrupt(seq uint64, reason string) error {
	file := c.l.dir
	if c.v.s != nil {
		file = c.v.s.path
	}
	return &CorruptError{File: file, Index: seq, Reason: reason}
}

// Read returns the event at sequence number seq: ReadRange(seq, seq). The
// record's CRC is checked, and its hash against the prev field of the record
// after it (or the head), so a record changed on disk since Open is reported
// as a *CorruptError (I8).
func (l *Log) Read(seq uint64) (Event, error) {
	var ev Event
	err := l.ReadRange(seq, seq, func(_ uint64, e Event) error {
		ev = e
		return nil
	})
	return ev, err
}

// HashAt returns the chain hash of the record at seq (the zero hash for 0):
// the SHA-256 of the record itself, read and checked as ReadRange does (its
// CRC, and its hash against the next record's prev field); for the last
// record, the head.
func (l *Log) HashAt(seq uint64) (Hash, error) {
	if seq == 0 {
		return Hash{}, nil
	}
	if last, head := l.Head(); seq == last {
		if _, _, _, err := l.bounds(); err != nil {
			return Hash{}, err
		}
		return head, nil
	}
	var h Hash
	err := l.readRange(seq, seq, func(_ uint64, _ []byte, hh Hash) error {
		h = hh
		return nil
	})
	return h, err
}

// Iter calls fn for every record from sequence number from (clamped to the
// first) up to the last record durable when Iter was called, in order. Each
// record's CRC and its link to the one before are checked; the last one's
// hash is checked against the head. An error from fn stops the iteration and
// is returned.
func (l *Log) Iter(from uint64, fn func(seq uint64, ev Event) error) error {
	return l.iter(from, 0, fn)
}

// iter is Iter bounded by to (0 = the current last record).
func (l *Log) iter(from, to uint64, fn func(seq uint64, ev Event) error) error {
	first, last, head, err := l.bounds()
	if err != nil {
		return err
	}
	if to != 0 && to < last {
		last = to
		if head, err = l.HashAt(to); err != nil {
			return err
		}
	}
	if from < first {
		from = first
	}
	if last == 0 || from > last {
		return nil
	}
	var prev Hash
	if from > first {
		if prev, err = l.HashAt(from - 1); err != nil {
			return err
		}
	}
	c := chainCheck{l: l, prev: prev, havePrev: from > first}
	d := new(decoder)
	if last-from < pipelineMin {
		// readRange checks CRC, kind and the links inside from..last;
		// this adds the link to the record before from.
		err := l.readRange(from, last, func(seq uint64, rec []byte, h Hash) error {
			if seq == from && c.havePrev && Hash(rec[offPrev:offPrev+32]) != c.prev {
				return l.corrupt(seq, errChainBreak.Error())
			}
			c.prev = h
			return l.deliver(d, seq, rec, fn)
		})
		if err != nil {
			return err
		}
	} else if err := l.iterPipelined(&c, d, from, last, fn); err != nil {
		return err
	}
	if c.prev != head {
		return l.corrupt(last, "record hash does not match the head of the chain")
	}
	return nil
}

// pipelineMin is the length from which Iter reads and hashes in a second
// goroutine while the caller's goroutine decodes and runs fn.
const pipelineMin = 4096

// chainCheck reads records in order and checks CRC, kind and hash links.
type chainCheck struct {
	l        *Log
	prev     Hash
	havePrev bool
}

func (c *chainCheck) check(seq uint64, rec []byte) error {
	k, p, _, err := checkFrame(rec)
	if err != nil {
		return c.l.corrupt(seq, err.Error())
	}
	if c.havePrev && p != c.prev {
		return c.l.corrupt(seq, errChainBreak.Error())
	}
	if !k.Known() {
		return fmt.Errorf("eventlog: %s index %d: %w", c.l.dir, seq, &UnknownKindError{Kind: k, Version: rec[0]})
	}
	c.prev, c.havePrev = HashRecord(rec), true
	return nil
}

// deliver decodes a checked record and hands it to fn.
func (l *Log) deliver(d *decoder, seq uint64, rec []byte, fn func(uint64, Event) error) error {
	k := Kind(uint16(rec[offKind])<<8 | uint16(rec[offKind+1]))
	ev, err := d.decodePayload(k, rec[recordHeaderSize:len(rec)-recordTrailerSize])
	if err != nil {
		return l.corrupt(seq, err.Error())
	}
	return fn(seq, ev)
}

type rawBatch struct {
	first uint64
	recs  [][]byte
	err   error
	free  []byte // a segment buffer no longer referenced once this batch is delivered
}

// iterPipelined reads, checks and hashes from..last in a goroutine, 256
// records at a time, straight from the segment files (cheaper than a locked
// tidwall Read per record), and decodes and delivers them in this one, so
// reading, CRC and SHA-256 overlap with decoding and folding.
func (l *Log) iterPipelined(c *chainCheck, d *decoder, from, last uint64, fn func(uint64, Event) error) error {
	out := make(chan rawBatch, 8)
	quit := make(chan struct{})
	bufs := make(chan []byte, 2) // segment buffers handed back for reuse
	go func() {
		defer close(out)
		b := rawBatch{first: from}
		send := func() bool {
			select {
			case out <- b:
				b = rawBatch{first: b.first + uint64(len(b.recs))}
				return true
			case <-quit:
				return false
			}
		}
		segDone := func(buf []byte) { b.free = buf } // rides on the next batch sent
		err := l.readFiles(from, last, bufs, segDone, func(seq uint64, rec []byte) bool {
			if err := c.check(seq, rec); err != nil {
				b.err = err
				return false
			}
			b.recs = append(b.recs, rec)
			return len(b.recs) < 256 || send()
		})
		if b.err == nil {
			b.err = err
		}
		if len(b.recs) > 0 || b.err != nil {
			send()
		}
	}()
	defer func() {
		close(quit)
		for range out { // let the reader finish before c.prev is read
		}
	}()
	for b := range out {
		for i, rec := range b.recs {
			if err := l.deliver(d, b.first+uint64(i), rec, fn); err != nil {
				return err
			}
		}
		if b.err != nil {
			return b.err
		}
		if b.free != nil {
			select {
			case bufs <- b.free:
			default:
			}
		}
	}
	return nil
}

// readFiles calls fn with each stored record from..last, read from the
// segment files. Records up to last are durable and complete; bytes after
// them may be a write in flight and are not looked at. fn returns false to
// stop. Segment buffers are taken from bufs when one is there, and passed to
// segDone once every record in them has been given to fn; the records of a
// buffer must not be used after it is sent back on bufs.
func (l *Log) readFiles(from, last uint64, bufs <-chan []byte, segDone func([]byte), fn func(seq uint64, rec []byte) bool) error {
	segs, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	i := len(segs) - 1
	for i > 0 && segs[i].first > from {
		i--
	}
	if len(segs) == 0 || segs[i].first > from {
		return l.corrupt(from, "no segment file holds this index")
	}
	seq := segs[i].first
	for ; i < len(segs) && seq <= last; i++ {
		if segs[i].first != seq {
			return &CorruptError{File: segs[i].path, Index: seq, Reason: "segment does not start where the previous one ends"}
		}
		var buf []byte
		select {
		case buf = <-bufs:
		default:
		}
		data, err := readFileInto(buf, segs[i].path)
		if err != nil {
			return err
		}
		for off := 0; off < len(data) && seq <= last; seq++ {
			n, size := binary.Uvarint(data[off:])
			if size <= 0 || n > uint64(len(data)-off-size) {
				return &CorruptError{File: segs[i].path, Index: seq, Reason: "entry length runs past the end of the file"}
			}
			rec := data[off+size : off+size+int(n)]
			off += size + int(n)
			if seq >= from && !fn(seq, rec) {
				return nil
			}
		}
		segDone(data)
	}
	if seq <= last {
		return l.corrupt(seq, "records missing from the segment files")
	}
	return nil
}
