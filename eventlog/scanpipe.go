package eventlog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// A scan that checks payloads without decoding them (ScanChecked) reads,
// checks, hashes and checks the payloads of the segment files on a second
// goroutine while the caller's goroutine folds what has been checked: CRC,
// SHA-256 and the payload check overlap with the caller's fold (wal
// verify's log hash). Records travel in batches of pipeBatchLen, each
// within one segment, as slices of the segment's buffer; a buffer goes
// back to the reader once every record in it has been visited, and at most
// pipeSegBufs are in use (the tail segment's is kept for the torn-tail
// check), so a scan holds two segments, not the log. A scan that decodes
// every record (Scan, ScanChecked with decode) decodes on a third
// goroutine between the two (stage): decoding costs about as much as
// reading, checking and hashing, and the readers that decode everything
// (wal replay, stats, export) fold on a goroutine of their own too, so
// four stages share the cores. A goroutine for each costs a cache miss or
// two per record where one hands it to the next, and saves them waiting
// for each other.

const (
	pipeBatchLen = 512
	pipeBatches  = 8 // batches in flight
	pipeSegBufs  = 2
)

// scanPipe is what a pipelined scan does with every good record: prep, on
// the reading goroutine (or the stage's), decodes or checks its payload
// into ev (an error stops the scan there, as damage does); deliver, on the
// caller's, gets it with its kind and what prep made of it.
type scanPipe struct {
	prep    func(seq uint64, rec []byte, ev *Event) error
	deliver func(seq uint64, rec []byte, h Hash, k Kind, ev *Event) error
	// staged runs prep on a third goroutine, between the reader and the
	// caller (stage), not on the reader's.
	staged bool
}

// pipeBatch is a run of checked records of one segment.
type pipeBatch struct {
	first  uint64 // sequence number of recs[0]
	recs   [][]byte
	hashes []Hash
	kinds  []Kind  // of each record, read while the reader has it at hand
	evs    []Event // what prep made of each
	free   []byte  // a segment buffer whose records are all in this batch or earlier ones
	err    error   // staged: prep failed at the record after recs (the last batch)
}

// errPipeQuit stops the reading goroutine when the visitor gave up.
var errPipeQuit = errors.New("eventlog: scan stopped")

// walkPipelined checks segs in order as walkSequential does, on a second
// goroutine, and hands every good record to p, in order, on this one. An
// error from p.deliver stops both and is returned; damage found by the
// reader is returned after every record before it was delivered. The
// tail segment's contents stay readable until release is called.
func walkPipelined(segs []segFile, results []segResult, p *scanPipe) (tailData []byte, release func(), err error) {
	var (
		out   = make(chan *pipeBatch, pipeBatches)
		spare = make(chan *pipeBatch, pipeBatches+2)
		bufs  = segBuffers{free: make(chan []byte, pipeSegBufs)}
		quit  = make(chan struct{})
		tail  []byte
		werr  error
	)
	go func() {
		defer close(out)
		read := func(path string) ([]byte, error) { return bufs.read(path, quit) }
		var b *pipeBatch
		send := func() error {
			select {
			case <-quit: // the caller gave up: read no further
				return errPipeQuit
			default:
			}
			select {
			case out <- b:
				b = nil
				return nil
			case <-quit:
				return errPipeQuit
			}
		}
		add := func(seq uint64, rec []byte, h Hash) error {
			if b == nil {
				select {
				case b = <-spare:
				default:
					b = &pipeBatch{recs: make([][]byte, 0, pipeBatchLen), hashes: make([]Hash, 0, pipeBatchLen),
						kinds: make([]Kind, 0, pipeBatchLen), evs: make([]Event, 0, pipeBatchLen)}
				}
				b.first = seq
			}
			b.evs = append(b.evs, Event{})
			if p.staged {
				// prepped by the stage goroutine
			} else if err := p.prep(seq, rec, &b.evs[len(b.evs)-1]); err != nil {
				b.evs = b.evs[:len(b.evs)-1]
				return err
			}
			b.recs = append(b.recs, rec)
			b.hashes = append(b.hashes, h)
			b.kinds = append(b.kinds, recordKind(rec))
			if len(b.recs) == pipeBatchLen {
				return send()
			}
			return nil
		}
		segDone := func(data []byte, last bool) error {
			if b == nil && last {
				return nil
			}
			if b == nil {
				b = &pipeBatch{}
				select {
				case b = <-spare:
				default:
				}
			}
			if !last {
				b.free = data
			}
			return send()
		}
		tail, werr = walkSequential(segs, results, read, segDone, add)
		if b != nil && !errors.Is(werr, errPipeQuit) {
			send() // the records before damage are visited before it is reported
		}
	}()
	var delivered <-chan *pipeBatch = out
	if p.staged {
		delivered = stage(out, p)
	}
	var verr, prepErr error
	for b := range delivered {
		if verr == nil && prepErr == nil {
			for i, rec := range b.recs {
				if verr = p.deliver(b.first+uint64(i), rec, b.hashes[i], b.kinds[i], &b.evs[i]); verr != nil {
					close(quit) // and drain: the reader ends at its next send
					break
				}
			}
			if verr == nil && b.err != nil {
				prepErr = b.err // after every record before it
				close(quit)
			}
		}
		if b.free != nil {
			bufs.free <- b.free // never blocks: at most pipeSegBufs exist
		}
		clear(b.recs[:cap(b.recs)]) // do not pin a segment buffer or events from a spare batch
		clear(b.evs[:cap(b.evs)])
		*b = pipeBatch{recs: b.recs[:0], hashes: b.hashes[:0], kinds: b.kinds[:0], evs: b.evs[:0]}
		select {
		case spare <- b:
		default:
		}
	}
	// The reader has returned (out is closed): no record is read any more
	// but the tail's.
	if verr == nil && prepErr != nil {
		verr = prepErr // a record before any damage the reader found after it
	}
	if verr != nil {
		bufs.release()
		return nil, func() {}, verr
	}
	return tail, bufs.release, werr
}

// stage runs p.prep on every record of the batches from in, in order, on
// a goroutine of its own, and passes them on. A record prep refuses ends
// its batch, which carries the error; the batches after it are passed on
// empty (their segment buffers must still go back) until the reader, which
// the caller stops, closes in.
func stage(in <-chan *pipeBatch, p *scanPipe) <-chan *pipeBatch {
	out := make(chan *pipeBatch, pipeBatches)
	go func() {
		defer close(out)
		failed := false
		for b := range in {
			if failed {
				b.recs, b.hashes, b.kinds, b.evs = b.recs[:0], b.hashes[:0], b.kinds[:0], b.evs[:0]
			}
			for i, rec := range b.recs {
				if err := p.prep(b.first+uint64(i), rec, &b.evs[i]); err != nil {
					b.recs, b.hashes, b.kinds, b.evs, b.err = b.recs[:i], b.hashes[:i], b.kinds[:i], b.evs[:i], err
					failed = true
					break
				}
			}
			out <- b
		}
	}()
	return out
}

// segBuffers are the segment buffers of one scan, at most
// pipeSegBufs of them. They are mapped outside the Go heap (anonymous
// mmap) and unmapped when the scan is over: two segments of 20 MiB in the
// heap would let the GC grow it by twice that again before it collects, a
// third of an audit tool's memory. Nothing may keep a record of a scan
// after the call it was handed to (the scan's contract).
type segBuffers struct {
	free chan []byte // handed back by the visiting goroutine
	all  [][]byte    // every mapping made and not unmapped
}

// read reads the segment file at path into a buffer: one handed back, or
// a new one while fewer than pipeSegBufs exist, or else the next one
// handed back. Like readSegment it refuses files too big to be ours, and a
// file that shrinks while read (a live log) gives what was read.
func (sb *segBuffers) read(path string, quit <-chan struct{}) ([]byte, error) {
	var buf []byte
	select {
	case buf = <-sb.free:
	default:
		if len(sb.all) >= pipeSegBufs {
			select {
			case buf = <-sb.free:
			case <-quit:
				return nil, errPipeQuit
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		sb.putBack(buf)
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		sb.putBack(buf)
		return nil, err
	}
	if fi.Size() > maxSegmentBytes {
		sb.putBack(buf)
		return nil, &CorruptError{File: path, Reason: fmt.Sprintf("segment file of %d bytes, more than the %d a segment can hold", fi.Size(), int64(maxSegmentBytes))}
	}
	size := int(fi.Size())
	if buf == nil || cap(buf) < size {
		if buf != nil {
			sb.unmap(buf)
		}
		if buf, err = sb.mmap(size); err != nil {
			return nil, err
		}
	}
	n, err := io.ReadFull(f, buf[:size])
	if err == io.ErrUnexpectedEOF {
		err = nil // shrank while reading: a live log (Scan); use what was read
	}
	if err != nil {
		sb.putBack(buf)
		return nil, err
	}
	return buf[:n], nil
}

// putBack keeps an unused buffer for the next read.
func (sb *segBuffers) putBack(buf []byte) {
	if buf != nil {
		sb.free <- buf
	}
}

func (sb *segBuffers) mmap(size int) ([]byte, error) {
	b, err := syscall.Mmap(-1, 0, max(size, 1), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("eventlog: a %d-byte buffer for a segment: %w", size, err)
	}
	sb.all = append(sb.all, b)
	return b, nil
}

func (sb *segBuffers) unmap(buf []byte) {
	for i, b := range sb.all {
		if &b[:1][0] == &buf[:1][0] {
			syscall.Munmap(b)
			sb.all = append(sb.all[:i], sb.all[i+1:]...)
			return
		}
	}
}

// release unmaps every buffer; call it once nothing reads them any more.
func (sb *segBuffers) release() {
	for _, b := range sb.all {
		syscall.Munmap(b)
	}
	sb.all = nil
}
