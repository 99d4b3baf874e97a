package eventlog

// Reader reads the records of a wal directory by sequence number, read-only:
// it takes no lock, repairs nothing and writes nothing, so (like Scan) it is
// for offline tools and may be used on a live node's directory. It is made
// by ScanReader, from what the scan verified: it reads only the records the
// scan found good (up to a torn tail, never past it), through the same
// sparse offset index and preads as Log.ReadRange, and checks every record
// it returns the same way (frame, CRC, kind, the chain links inside what it
// reads and to the record after it, or the scan's head for the last one):
// a file changed since the scan is a *CorruptError, never returned data.
//
// Memory: the sparse index (one uint32 per 32 records, 0.125 bytes a record)
// and a file handle per segment read; a read holds a 16 KiB window (up to 1
// MiB while it reads sequentially). Its methods are safe for concurrent use.
type Reader struct {
	l *Log // read side only: no tidwall/wal, no writer, no lock
}

// ScanReader is Scan, and returns, when the scan succeeds, a Reader over the
// good records it verified (nil otherwise). Building the Reader costs no
// extra read: the scan notes the offsets as it goes. Close the Reader when
// done with it.
func ScanReader(dir string, fn func(seq uint64, ev Event, h Hash) error) (ScanReport, *Reader, error) {
	st, rep, err := scanDir(dir, fn)
	if err != nil {
		return ScanReport{}, nil, err
	}
	return rep, newReader(dir, st), nil
}

// newReader is a Reader over the good records of a scan.
func newReader(dir string, st dirState) *Reader {
	l := &Log{dir: dir, first: st.first, last: st.last, head: st.head}
	l.ix = newIndex(dir, st)
	return &Reader{l: l}
}

// FirstSeq and LastSeq are the sequence numbers of the first and last
// records the Reader can read (0, 0 for an empty log).
func (r *Reader) FirstSeq() uint64 { return r.l.FirstSeq() }

// LastSeq: see FirstSeq.
func (r *Reader) LastSeq() uint64 { return r.l.LastSeq() }

// ReadRange calls fn with every record from..to in order, as
// Log.ReadRange does (FirstSeq ≤ from ≤ to ≤ LastSeq, else an error
// wrapping ErrNotFound). An error from fn stops the read and is returned.
func (r *Reader) ReadRange(from, to uint64, fn func(seq uint64, ev Event) error) error {
	return r.l.ReadRange(from, to, fn)
}

// Close closes the segment files; later reads fail with ErrClosed. It is
// safe to call more than once.
func (r *Reader) Close() error {
	r.l.mu.Lock()
	r.l.closed = true
	r.l.mu.Unlock()
	return r.l.ix.closeFiles()
}
