package eventlog

import "errors"

// A scan that visits records (Scan, ScanChecked) reads, checks and hashes
// the segment files on a second goroutine while the caller's goroutine
// decodes and visits what has been checked: CRC and SHA-256 (about a third
// of a scan's CPU) overlap with decoding and the caller's fold. Records
// travel in batches of pipeBatchLen, each within one segment, as slices of
// the segment's buffer; a buffer goes back to the reader once every record
// in it has been visited, and at most pipeSegBufs are in use besides the
// tail segment's (kept for the torn-tail check), so a scan holds two or
// three segments, not the log.

const (
	pipeBatchLen = 512
	pipeBatches  = 8 // batches in flight
	pipeSegBufs  = 2
)

// scanPipe is what a pipelined scan does with every good record: prep, on
// the reading goroutine, decodes or checks its payload into ev (an error
// stops the scan there, as damage does); deliver, on the caller's, gets it
// with what prep made of it.
type scanPipe struct {
	prep    func(seq uint64, rec []byte, ev *Event) error
	deliver func(seq uint64, rec []byte, h Hash, ev *Event) error
}

// pipeBatch is a run of checked records of one segment.
type pipeBatch struct {
	first  uint64 // sequence number of recs[0]
	recs   [][]byte
	hashes []Hash
	evs    []Event // what prep made of each
	free   []byte  // a segment buffer whose records are all in this batch or earlier ones
}

// errPipeQuit stops the reading goroutine when the visitor gave up.
var errPipeQuit = errors.New("eventlog: scan stopped")

// walkPipelined checks segs in order as walkSequential does, on a second
// goroutine, and calls visit for every good record, in order, on this one.
// An error from visit stops both and is returned; damage found by the
// reader is returned after every record before it was visited.
func walkPipelined(segs []segFile, results []segResult, p *scanPipe) ([]byte, error) {
	var (
		out   = make(chan *pipeBatch, pipeBatches)
		spare = make(chan *pipeBatch, pipeBatches+2)
		bufs  = make(chan []byte, pipeSegBufs)
		quit  = make(chan struct{})
		tail  []byte
		werr  error
	)
	go func() {
		defer close(out)
		made := 0
		newBuf := func() ([]byte, error) {
			select {
			case b := <-bufs:
				return b, nil
			default:
			}
			if made < pipeSegBufs {
				made++
				return nil, nil // readSegment allocates it
			}
			select {
			case b := <-bufs:
				return b, nil
			case <-quit:
				return nil, errPipeQuit
			}
		}
		var b *pipeBatch
		send := func() error {
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
						evs: make([]Event, 0, pipeBatchLen)}
				}
				b.first = seq
			}
			b.evs = append(b.evs, Event{})
			if err := p.prep(seq, rec, &b.evs[len(b.evs)-1]); err != nil {
				b.evs = b.evs[:len(b.evs)-1]
				return err
			}
			b.recs = append(b.recs, rec)
			b.hashes = append(b.hashes, h)
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
		tail, werr = walkSequential(segs, results, newBuf, segDone, add)
		if b != nil && !errors.Is(werr, errPipeQuit) {
			send() // the records before damage are visited before it is reported
		}
	}()
	var verr error
	for b := range out {
		if verr == nil {
			for i, rec := range b.recs {
				if verr = p.deliver(b.first+uint64(i), rec, b.hashes[i], &b.evs[i]); verr != nil {
					close(quit) // and drain: the reader ends at its next send
					break
				}
			}
		}
		if b.free != nil {
			select {
			case bufs <- b.free:
			default:
			}
		}
		clear(b.recs) // do not pin a segment buffer or events from a spare batch
		clear(b.evs)
		*b = pipeBatch{recs: b.recs[:0], hashes: b.hashes[:0], evs: b.evs[:0]}
		select {
		case spare <- b:
		default:
		}
	}
	if verr != nil {
		return nil, verr
	}
	return tail, werr
}
