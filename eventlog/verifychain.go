package eventlog

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// verifyChunk is how much VerifyChain reads between pauses (a variable for
// tests).
var verifyChunk = 4 << 20

// VerifyResult is what VerifyChain checked.
type VerifyResult struct {
	From, To uint64 // first and last record checked (0, 0 for an empty log)
	Records  uint64 // records checked: To-From+1
	Head     Hash   // chain hash of record To, which matched the Log's
}

// VerifyChain re-verifies the whole chain as a full Open does — every
// record's frame, CRC and kind, every link, the first record's link to
// nothing (when it is record 1), that sealed segment files hold exactly
// their records, and that the last record's hash is the head — from the
// first record to the last one durable when it was called. It reads the
// segment files sequentially in chunks of 4 MiB, sleeping pause between
// chunks so that it runs at low priority beside a serving node, and stops
// with ctx.Err() when ctx is done. Appends may go on meanwhile; they do not
// disturb it. Damage is a *CorruptError naming file and index.
//
// It is the background complement of a trusted Open (Options.Trust): as a
// side effect it indexes the segments that Open did not read, so later
// reads of them need no first-touch scan.
func (l *Log) VerifyChain(ctx context.Context, pause time.Duration) (VerifyResult, error) {
	first, last, head, err := l.bounds()
	if err != nil || last == 0 {
		return VerifyResult{}, err
	}
	l.ix.mu.RLock()
	segs := append([]*seg(nil), l.ix.segs...)
	l.ix.mu.RUnlock()
	v := chainVerifier{l: l, ctx: ctx, pause: pause, buf: make([]byte, max(verifyChunk, 64)), first: first}
	for i, s := range segs {
		if s.first > last {
			break
		}
		upTo, sealed := last, false
		if i+1 < len(segs) && segs[i+1].first-1 <= last {
			upTo, sealed = segs[i+1].first-1, true
		}
		if err := v.segment(s, upTo, sealed); err != nil {
			return VerifyResult{}, err
		}
	}
	if v.seq != last+1 {
		return VerifyResult{}, l.corrupt(v.seq, "records missing from the segment files")
	}
	if v.prev != head {
		return VerifyResult{}, l.corrupt(last, "record hash does not match the head of the chain")
	}
	return VerifyResult{From: first, To: last, Records: last - first + 1, Head: v.prev}, nil
}

type chainVerifier struct {
	l     *Log
	ctx   context.Context
	pause time.Duration
	buf   []byte
	first uint64 // the log's first record
	seq   uint64 // next record expected
	prev  Hash   // hash of record seq-1
	reads int
}

// segment checks records s.first..upTo of segment s; if sealed, upTo is its
// last record and nothing may follow it in the file.
func (v *chainVerifier) segment(s *seg, upTo uint64, sealed bool) error {
	if v.seq == 0 {
		v.seq = s.first
	}
	if s.first != v.seq {
		return &CorruptError{File: s.path, Index: v.seq, Reason: fmt.Sprintf("segment starts at index %d, expected %d", s.first, v.seq)}
	}
	f, err := v.l.segFile(s)
	if err != nil {
		return err
	}
	v.l.ix.mu.RLock()
	index := !s.built
	v.l.ix.mu.RUnlock()
	var (
		offs     []uint32
		fileOff  int64 // file offset of buf[0]
		have     int   // bytes in buf
		p        int   // parse position in buf
		eof      bool
		segCount uint64
		need     int // bytes of the incomplete entry at p, when known
	)
	for v.seq <= upTo {
		// Parse what is buffered.
		for v.seq <= upTo {
			size, n := binary.Uvarint(v.buf[p:have])
			if n == 0 && have-p < binary.MaxVarintLen64 {
				break // incomplete prefix: read more
			}
			if n <= 0 || size == 0 || size > MaxRecordSize {
				return &CorruptError{File: s.path, Index: v.seq, Reason: "bad entry length prefix"}
			}
			if size > uint64(have-p-n) {
				need = n + int(size)
				break // incomplete record: read more
			}
			rec := v.buf[p+n : p+n+int(size)]
			if err := v.check(s, rec); err != nil {
				return err
			}
			if index && segCount%indexStride == 0 {
				offs = append(offs, uint32(fileOff+int64(p)))
			}
			segCount++
			p += n + int(size)
		}
		if v.seq > upTo {
			break
		}
		if eof {
			return &CorruptError{File: s.path, Index: v.seq, Reason: "records missing from the segment file"}
		}
		// Keep the incomplete entry, read the next chunk after it.
		copy(v.buf, v.buf[p:have])
		fileOff += int64(p)
		have -= p
		p = 0
		if need > len(v.buf) { // a record bigger than a chunk
			v.buf = append(v.buf[:have], make([]byte, need-have)...)
		}
		need = 0
		if err := v.wait(); err != nil {
			return err
		}
		n, err := f.ReadAt(v.buf[have:], fileOff+int64(have))
		have += n
		if err == io.EOF {
			eof = true
		} else if err != nil {
			return v.l.readErr(s, err)
		}
	}
	end := fileOff + int64(p)
	if sealed {
		fi, err := f.Stat()
		if err != nil {
			return v.l.readErr(s, err)
		}
		if fi.Size() != end {
			return &CorruptError{File: s.path, Index: upTo + 1, Reason: fmt.Sprintf("%d bytes after the last record of a sealed segment", fi.Size()-end)}
		}
		if index {
			v.l.ix.mu.Lock()
			if !s.built {
				s.offs, s.end, s.built = offs, end, true
			}
			v.l.ix.mu.Unlock()
		}
	}
	return nil
}

// check verifies one record and advances the chain.
func (v *chainVerifier) check(s *seg, rec []byte) error {
	k, p, _, err := checkFrame(rec)
	if err != nil {
		return &CorruptError{File: s.path, Index: v.seq, Reason: err.Error()}
	}
	if (v.seq > v.first || v.seq == 1) && p != v.prev {
		return &CorruptError{File: s.path, Index: v.seq, Reason: errChainBreak.Error()}
	}
	if !k.Known() {
		return fmt.Errorf("eventlog: %s index %d: %w", s.path, v.seq, &UnknownKindError{Kind: k, Version: rec[0]})
	}
	v.prev = HashRecord(rec)
	v.seq++
	return nil
}

// wait pauses between chunks (not before the first) and checks ctx.
func (v *chainVerifier) wait() error {
	v.reads++
	if v.reads > 1 && v.pause > 0 {
		t := time.NewTimer(v.pause)
		defer t.Stop()
		select {
		case <-t.C:
		case <-v.ctx.Done():
		}
	}
	return v.ctx.Err()
}
