package eventlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"runtime"
	"slices"
	"sync"
	"time"
)

// request is one Append waiting for the writer. Its records are encoded by
// the caller (in parallel with other callers); the writer only seals them
// (prev hash, CRC) and hashes them, which must happen in log order.
type request struct {
	buf   []byte // records back to back, each with header and CRC space
	ends  []int  // end offset of each record in buf
	kinds []Kind
	first uint64
	last  uint64
	err   error
	done  chan struct{}
	// cb, for AppendAsync: called instead of signalling done.
	cb func(first, last uint64, err error)
}

var requestPool = sync.Pool{New: func() any { return &request{done: make(chan struct{}, 1)} }}

// Append writes evs as consecutive records and returns their sequence
// numbers once they are durable (fsynced; I4). Concurrent Appends are group
// committed: one write and one fsync for all waiting callers. ctx bounds only
// the wait to enter the queue: once a request is queued, Append waits for
// its fsync, so a returned sequence number is always durable and an error
// means nothing of this call was acknowledged (though after a crash a prefix
// of an unacknowledged call may be found in the log).
func (l *Log) Append(ctx context.Context, evs ...Event) (firstSeq, lastSeq uint64, err error) {
	if len(evs) == 0 {
		return 0, 0, errors.New("eventlog: Append of no events")
	}
	r := requestPool.Get().(*request)
	if err := r.encode(evs); err != nil {
		r.release()
		return 0, 0, err
	}
	if err := l.Err(); err != nil {
		r.release()
		return 0, 0, err
	}
	select {
	case l.reqs <- r:
	case <-l.closing:
		r.release()
		return 0, 0, ErrClosed
	case <-ctx.Done():
		r.release()
		return 0, 0, ctx.Err()
	}
	<-r.done
	firstSeq, lastSeq, err = r.first, r.last, r.err
	r.release()
	if err != nil {
		return 0, 0, err // the numbers the batch would have had are not the caller's
	}
	return firstSeq, lastSeq, nil
}

// AppendAsync queues evs to be written like Append's and returns at once,
// without waiting for the disk: the caller goes on while the group commit
// is written and fsynced. done runs on the writer goroutine when they are
// durable (err nil, with their sequence numbers) or failed, for each call in
// the order of the calls; it must be quick (the next commit waits for it).
// Requests of concurrent Appends may be written between two AppendAsync
// requests, never inside one. An error returned here means nothing was
// queued and done will not run.
func (l *Log) AppendAsync(evs []Event, done func(first, last uint64, err error)) error {
	if len(evs) == 0 {
		return errors.New("eventlog: Append of no events")
	}
	r := requestPool.Get().(*request)
	if err := r.encode(evs); err != nil {
		r.release()
		return err
	}
	if err := l.Err(); err != nil {
		r.release()
		return err
	}
	r.cb = done
	l.amu.Lock()
	if l.aclosed {
		l.amu.Unlock()
		r.release()
		return ErrClosed
	}
	l.async = append(l.async, r)
	l.amu.Unlock()
	select {
	case l.asyncWake <- struct{}{}:
	default: // the writer has been woken already
	}
	return nil
}

// popAsync takes the oldest AppendAsync request, if any.
func (l *Log) popAsync() *request {
	l.amu.Lock()
	defer l.amu.Unlock()
	if len(l.async) == 0 {
		return nil
	}
	r := l.async[0]
	l.async[0] = nil
	l.async = l.async[1:]
	if len(l.async) == 0 {
		l.async = l.async[:0:0] // let the backing array go
	}
	return r
}

// takeAsync empties the AppendAsync queue (Close, after the writer stopped).
func (l *Log) takeAsync() []*request {
	l.amu.Lock()
	defer l.amu.Unlock()
	rs := l.async
	l.async = nil
	return rs
}

// answer tells r's caller the outcome of its commit: its AppendAsync
// callback, or the Append waiting on done.
func (r *request) answer(err error) {
	if r.cb == nil {
		r.err = err
		r.done <- struct{}{}
		return
	}
	cb, first, last := r.cb, r.first, r.last
	if err != nil {
		first, last = 0, 0
	}
	r.release()
	cb(first, last, err)
}

func (r *request) release() {
	r.buf, r.ends, r.kinds = r.buf[:0], r.ends[:0], r.kinds[:0]
	r.err, r.cb = nil, nil
	if cap(r.buf) > 1<<20 {
		r.buf = nil // do not let one huge append pin memory in the pool
	}
	requestPool.Put(r)
}

// encode lays out each event as [header space][payload][CRC space].
func (r *request) encode(evs []Event) error {
	need := 0
	for i := range evs {
		need += recordOverhead + 24 + len(evs[i].entry)
	}
	r.buf = slices.Grow(r.buf, need)
	for i := range evs {
		ev := &evs[i]
		if ev.Body == nil {
			return errors.New("eventlog: Append: event has no body")
		}
		k := ev.Body.Kind()
		if !k.Known() {
			return fmt.Errorf("eventlog: Append: %w", &UnknownKindError{Kind: k, Version: RecordVersion})
		}
		start := len(r.buf)
		r.buf = append(r.buf, make([]byte, recordHeaderSize)...)
		if ev.entry != nil {
			var err error
			if r.buf, err = appendStamped(r.buf, ev.entry, k, ev.Index, ev.Term); err != nil {
				if _, standIn := ev.Body.(kindOnly); standIn {
					// EntryEvent checked this record: it cannot happen, and
					// encoding the stand-in would write an empty body.
					return fmt.Errorf("eventlog: Append: entry %d: %w", ev.Index, err)
				}
				r.buf = appendPayload(r.buf[:start+recordHeaderSize], ev)
			}
		} else {
			r.buf = appendPayload(r.buf, ev)
		}
		r.buf = append(r.buf, 0, 0, 0, 0)
		if size := len(r.buf) - start; size > MaxRecordSize {
			return fmt.Errorf("eventlog: Append: %s event: %w (%d bytes, max %d)", k, ErrTooLarge, size, MaxRecordSize)
		}
		r.ends = append(r.ends, len(r.buf))
		r.kinds = append(r.kinds, k)
	}
	return nil
}

// seal fills in the header and CRC of a record laid out by encode.
func seal(rec []byte, k Kind, prev Hash) {
	rec[0] = RecordVersion
	binary.BigEndian.PutUint16(rec[offKind:], uint16(k))
	copy(rec[offPrev:], prev[:])
	n := len(rec) - recordOverhead
	binary.BigEndian.PutUint32(rec[offLen:], uint32(n))
	binary.BigEndian.PutUint32(rec[len(rec)-4:], crc32.Checksum(rec[:len(rec)-4], castagnoli))
}

// run is the writer goroutine: the only writer of the segment files. It
// takes one request, drains every other waiting request up to the batch
// bounds, writes them with one write per segment file (one fsync), then
// wakes them.
func (l *Log) run() {
	defer close(l.stopped)
	var carry *request
	batch := make([]*request, 0, 64)
	prev := [2]int{}            // requests in the last two commits
	var writeTime time.Duration // moving average of one commit's write+fsync
	for {
		first := carry
		carry = nil
		if first == nil {
			first = l.popAsync()
		}
		if first == nil {
			select {
			case first = <-l.reqs:
			case <-l.asyncWake:
				continue
			case <-l.closing:
				return
			}
		}
		batch = append(batch[:0], first)
		count, size := len(first.kinds), len(first.buf)
		// Drain what is waiting. Callers woken by the last commit are on
		// their way back; if fewer are here than took part in the last two
		// commits, yield to let them in rather than settling into two
		// half-size batches alternating around each fsync. The wait is
		// bounded by half the recent write+fsync time, so with many callers
		// the stragglers' turnaround overlaps the next fsync instead of
		// delaying it, and it stops as soon as a yield brings no one new
		// (a lone appender never waits).
		target, start := prev[0]+prev[1], time.Now()
		for spins := 0; ; spins++ {
			before := len(batch)
			carry = l.drain(&batch, &count, &size)
			full := count >= l.opts.MaxBatchCount || size >= l.opts.MaxBatchBytes
			if carry != nil || full || len(batch) >= target || (spins > 1 && len(batch) == before) ||
				time.Since(start) > writeTime/2 {
				break
			}
			runtime.Gosched()
		}
		prev[0], prev[1] = prev[1], len(batch)
		t0 := time.Now()
		l.commit(batch)
		writeTime = (3*writeTime + time.Since(t0)) / 4 // moving average
		clear(batch)
	}
}

// drain adds waiting requests to batch within the batch bounds. It returns
// a request that did not fit, to start the next batch with.
func (l *Log) drain(batch *[]*request, count, size *int) (carry *request) {
	for *count < l.opts.MaxBatchCount && *size < l.opts.MaxBatchBytes {
		if r := l.popAsync(); r != nil {
			if *count+len(r.kinds) > l.opts.MaxBatchCount || *size+len(r.buf) > l.opts.MaxBatchBytes {
				return r
			}
			*batch = append(*batch, r)
			*count, *size = *count+len(r.kinds), *size+len(r.buf)
			continue
		}
		select {
		case r := <-l.reqs:
			if *count+len(r.kinds) > l.opts.MaxBatchCount || *size+len(r.buf) > l.opts.MaxBatchBytes {
				return r
			}
			*batch = append(*batch, r)
			*count, *size = *count+len(r.kinds), *size+len(r.buf)
		default:
			return nil
		}
	}
	return nil
}

// commit writes one group of requests and answers them.
func (l *Log) commit(batch []*request) {
	err := l.write(batch)
	for _, r := range batch {
		r.answer(err)
	}
}

func (l *Log) write(batch []*request) error {
	l.mu.Lock()
	seq, prev, err := l.last+1, l.head, l.poison
	l.mu.Unlock()
	if err != nil {
		return err
	}
	l.wbuf, l.cuts, l.ixEvents = l.wbuf[:0], l.cuts[:0], l.ixEvents[:0]
	rolled := false
	roll := func(next uint64) { // a new segment starts with record next, as tidwall/wal would cut
		l.ixEvents = append(l.ixEvents, ixEvent{seq: next, off: int64(l.tailBytes), roll: true})
		l.cuts = append(l.cuts, cut{at: len(l.wbuf), next: next})
		rolled, l.tailBytes, l.tailFirst = true, 0, next
	}
	if l.tailBytes > l.opts.SegmentSize { // tidwall/wal checks this before a batch
		roll(seq)
	}
	for _, r := range batch {
		r.first = seq
		start := 0
		for i, end := range r.ends {
			rec := r.buf[start:end]
			seal(rec, r.kinds[i], prev)
			prev = HashRecord(rec)
			if (seq-l.tailFirst)%indexStride == 0 {
				l.ixEvents = append(l.ixEvents, ixEvent{seq: seq, off: int64(l.tailBytes)})
			}
			n := len(l.wbuf)
			l.wbuf = binary.AppendUvarint(l.wbuf, uint64(len(rec)))
			l.wbuf = append(l.wbuf, rec...)
			l.tailBytes += len(l.wbuf) - n
			if l.tailBytes >= l.opts.SegmentSize { // and this after each record
				roll(seq + 1)
			}
			seq++
			start = end
		}
		r.last = seq - 1
	}
	if cap(l.wbuf) > 2*l.opts.MaxBatchBytes+MaxRecordSize {
		defer func() { l.wbuf = nil }() // one huge Append: do not keep its buffer
	}
	err = l.fault(FaultBeforeWrite)
	if err == nil {
		err = l.writeOut()
	}
	if err == nil {
		err = l.fault(FaultBeforeSync)
	}
	if err == nil && !l.opts.NoSync {
		// Every segment filled during the batch was fsynced when it was
		// sealed (tailFile.roll); this fsyncs the tail.
		began := time.Now()
		err = l.tail.sync()
		if f := l.onSync.Load(); f != nil && err == nil {
			(*f)(time.Since(began))
		}
		if err == nil && rolled {
			// A new segment file is durable only once its directory entry
			// is: without this a power loss could lose the new file and
			// with it acknowledged records.
			err = syncDir(l.dir)
		}
	}
	if err == nil {
		// Durable: index the new records before publishing them, so that a
		// reader that sees them in LastSeq finds them in the index.
		l.ix.apply(l.dir, l.ixEvents, seq-1, int64(l.tailBytes))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.poison = fmt.Errorf("%w: %w", ErrPoisoned, err)
		return l.poison
	}
	if l.first == 0 {
		l.first = batch[0].first
	}
	l.batches.Add(1)
	l.records.Add(seq - batch[0].first)
	l.last, l.head = seq-1, prev
	return nil
}

// cut is a segment boundary inside one group commit: the bytes from wbuf[at:]
// on go to the file of record next.
type cut struct {
	at   int
	next uint64
}

// writeOut writes the commit built in wbuf: up to each cut into the current
// file, which is then sealed, and the rest into the tail.
func (l *Log) writeOut() error {
	from := 0
	for _, c := range l.cuts {
		if err := l.tail.write(l.wbuf[from:c.at]); err != nil {
			return err
		}
		if err := l.tail.roll(c.next); err != nil {
			return err
		}
		from = c.at
	}
	return l.tail.write(l.wbuf[from:])
}

func uvarintLen(n int) int {
	size := 1
	for n >= 0x80 {
		n >>= 7
		size++
	}
	return size
}
