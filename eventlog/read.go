package eventlog

import (
	"encoding/binary"
	"fmt"
)

// readRaw returns the stored record at seq. tidwall reads are serialised
// (see Log.rmu); the returned slice is a private copy.
func (l *Log) readRaw(seq uint64) ([]byte, error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	rec, err := l.w.Read(seq)
	if err != nil {
		return nil, fmt.Errorf("eventlog: read %s index %d: %w", l.dir, seq, err)
	}
	return rec, nil
}

func (l *Log) corrupt(seq uint64, reason string) error {
	return &CorruptError{File: l.dir, Index: seq, Reason: reason}
}

// Read returns the event at sequence number seq. The record's CRC is checked,
// and its hash against the prev field of the record after it (or the head),
// so a record changed on disk since Open is reported as a *CorruptError (I8).
func (l *Log) Read(seq uint64) (Event, error) {
	first, last, head, err := l.bounds()
	if err != nil {
		return Event{}, err
	}
	if seq == 0 || seq < first || seq > last {
		return Event{}, fmt.Errorf("%w: %d (log holds %d..%d)", ErrNotFound, seq, first, last)
	}
	rec, err := l.readRaw(seq)
	if err != nil {
		return Event{}, err
	}
	want := head
	if seq < last {
		next, err := l.readRaw(seq + 1)
		if err != nil {
			return Event{}, err
		}
		if len(next) < recordHeaderSize {
			return Event{}, l.corrupt(seq+1, "record too short")
		}
		want = Hash(next[offPrev : offPrev+32])
	}
	d := decoderPool.Get().(*decoder)
	defer decoderPool.Put(d)
	r, err := d.decodeRecord(rec)
	if err != nil {
		return Event{}, l.corrupt(seq, err.Error())
	}
	if HashRecord(rec) != want {
		return Event{}, l.corrupt(seq, "record hash does not match the chain")
	}
	return r.Event, nil
}

// HashAt returns the chain hash of the record at seq (the zero hash for 0).
func (l *Log) HashAt(seq uint64) (Hash, error) {
	first, last, head, err := l.bounds()
	switch {
	case err != nil:
		return Hash{}, err
	case seq == 0:
		return Hash{}, nil
	case seq == last:
		return head, nil
	case seq < first || seq > last:
		return Hash{}, fmt.Errorf("%w: %d (log holds %d..%d)", ErrNotFound, seq, first, last)
	}
	next, err := l.readRaw(seq + 1)
	if err != nil {
		return Hash{}, err
	}
	if _, prev, _, err := checkFrame(next); err != nil {
		return Hash{}, l.corrupt(seq+1, err.Error())
	} else {
		return prev, nil
	}
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
		for seq := from; seq <= last; seq++ {
			rec, err := c.next(seq)
			if err != nil {
				return err
			}
			if err := l.deliver(d, seq, rec, fn); err != nil {
				return err
			}
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

func (c *chainCheck) next(seq uint64) ([]byte, error) {
	rec, err := c.l.readRaw(seq)
	if err != nil {
		return nil, err
	}
	return rec, c.check(seq, rec)
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
