package eventlog

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
)

// TornTail describes a torn tail: what Open's repair cuts (or, from Scan, what
// it would cut).
type TornTail struct {
	File   string // segment file
	Index  uint64 // sequence number of the first record dropped
	Offset int64  // file is cut to this size
	Bytes  int64  // bytes dropped
	Reason string // what was wrong with the first dropped entry
}

func (t *TornTail) String() string {
	return fmt.Sprintf("torn tail in %s at index %d: cut to %d bytes, dropping %d bytes (%s)",
		t.File, t.Index, t.Offset, t.Bytes, t.Reason)
}

// dirState is the verified state of a wal directory.
type dirState struct {
	segs        []segFile
	results     []segResult // per segment; zero for those before start
	start       int         // index of the first segment verified
	first, last uint64      // sequence numbers of the good records; 0, 0 if none
	head        Hash        // hash of record last
	torn        *TornTail
	want        Hash // hash of record want (verifyDir's argument), if found
	foundWant   bool
}

// verifyDir checks every record of the wal directory dir: framing, CRC, known
// kind and hash chain, within and across segments. It changes nothing. With
// p == nil segments are checked in parallel; otherwise in order, on a
// second goroutine (walkPipelined), handing every good record to p in
// order.
func verifyDir(dir string, p *scanPipe) (dirState, error) {
	segs, err := listSegments(dir)
	if err != nil || len(segs) == 0 {
		return dirState{segs: segs}, err
	}
	return verifySegs(segs, 0, 0, p)
}

// verifySegs verifies segs[start:] as verifyDir does; the first record of
// segs[start] is not linked to the segment before it, which is not read. It
// notes the hash of record want.
func verifySegs(segs []segFile, start int, want uint64, p *scanPipe) (dirState, error) {
	results := make([]segResult, len(segs))
	var (
		tailData []byte
		err      error
	)
	if p == nil {
		tailData, err = walkParallel(segs[start:], results[start:], want)
	} else {
		var release func()
		tailData, release, err = walkPipelined(segs, results, p)
		defer release() // after combine, which reads tailData
	}
	if err != nil {
		return dirState{}, err
	}
	return combine(segs, results, start, tailData)
}

func walkParallel(segs []segFile, results []segResult, want uint64) ([]byte, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		tailData []byte
		next     = make(chan int)
	)
	workers := min(runtime.GOMAXPROCS(0), len(segs))
	for range workers {
		wg.Go(func() {
			var buf []byte // reused: segments are up to SegmentSize bytes each
			for i := range next {
				tail := i == len(segs)-1
				if tail {
					buf = nil // kept for tornTail
				}
				data, err := readSegment(buf, segs[i].path)
				if err == nil {
					buf = data
					results[i], err = walkSegment(data, segs[i].first, want, nil)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if tail {
					tailData = data
				}
				mu.Unlock()
			}
		})
	}
	for i := range segs {
		next <- i
	}
	close(next)
	wg.Wait()
	return tailData, firstErr
}

// readSegment reads a segment file for verification: readFileInto, refusing
// files too big to be ours (the sparse index holds 32-bit offsets).
func readSegment(buf []byte, path string) ([]byte, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxSegmentBytes {
		return nil, &CorruptError{File: path, Reason: fmt.Sprintf("segment file of %d bytes, more than the %d a segment can hold", fi.Size(), int64(maxSegmentBytes))}
	}
	return readFileInto(buf, path)
}

// readFileInto reads the whole file at path into buf (grown if needed).
func readFileInto(buf []byte, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := int(fi.Size())
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	n, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF {
		err = nil // shrank while reading: a live log (Scan); use what was read
	}
	return buf[:n], err
}

// walkSequential walks segs in order, checking each as walkSegment does
// and each segment's first record against the last of the one before, and
// gives every good record to visit. It reads each segment with read and
// calls segDone once it has given visit every record of a segment (last:
// the segment whose contents it returns, for tornTail; no other segment's
// contents are used after its segDone). It stops at the first segment with
// a bad record.
func walkSequential(segs []segFile, results []segResult, read func(path string) ([]byte, error),
	segDone func(data []byte, last bool) error, visit visitFunc) ([]byte, error) {
	var data []byte
	for i, s := range segs {
		last := i == len(segs)-1
		var err error
		if data, err = read(s.path); err != nil {
			return nil, err
		}
		if i > 0 && s.first != segs[i-1].first+results[i-1].count {
			return nil, segmentGap(segs, results, i)
		}
		var prevLast Hash
		if i > 0 {
			prevLast = results[i-1].lastHash
		}
		wrapped := func(seq uint64, rec []byte, h Hash) error {
			if seq == s.first && (i > 0 || s.first == 1) && Hash(rec[offPrev:offPrev+32]) != prevLast {
				return &CorruptError{File: s.path, Index: seq, Reason: errChainBreak.Error()}
			}
			return visit(seq, rec, h)
		}
		if results[i], err = walkSegment(data, s.first, 0, wrapped); err != nil {
			return nil, err
		}
		stop := results[i].bad != nil && !last // combine reports it
		if err := segDone(data, last || stop); err != nil {
			return nil, err
		}
		if stop {
			break
		}
	}
	return data, nil
}

func segmentGap(segs []segFile, results []segResult, i int) error {
	return &CorruptError{File: segs[i].path, Reason: fmt.Sprintf(
		"segment starts at index %d but %s ends at index %d (missing, extra or reordered file)",
		segs[i].first, segs[i-1].path, segs[i-1].first+results[i-1].count-1)}
}

// combine checks segs[start:] against each other and classifies any bad
// record: in the tail segment with nothing valid after it, a torn tail;
// anywhere else, corruption.
func combine(segs []segFile, results []segResult, start int, tailData []byte) (dirState, error) {
	st := dirState{segs: segs, results: results, start: start, first: segs[0].first}
	last := len(segs) - 1
	for i := start; i < len(segs); i++ {
		s, r := segs[i], results[i]
		if i > start && s.first != segs[i-1].first+results[i-1].count {
			return dirState{}, segmentGap(segs, results, i)
		}
		if r.fatal != nil {
			return dirState{}, fmt.Errorf("eventlog: wal file %s index %d: %w", s.path, r.badSeq, r.fatal)
		}
		if r.count > 0 && (i > start || s.first == 1) && r.firstPrev != st.head {
			return dirState{}, &CorruptError{File: s.path, Index: s.first, Reason: errChainBreak.Error() + " (first record of segment)"}
		}
		if r.count > 0 {
			st.head = r.lastHash
		}
		if r.foundWant {
			st.want, st.foundWant = r.wantHash, true
		}
		if r.bad != nil {
			if i < last {
				return dirState{}, &CorruptError{File: s.path, Index: r.badSeq, Reason: r.bad.Error()}
			}
			torn, reason := tornTail(tailData, r.goodEnd, r.bad, i == 0 && r.count == 0)
			if !torn {
				return dirState{}, &CorruptError{File: s.path, Index: r.badSeq, Reason: reason}
			}
			st.torn = &TornTail{File: s.path, Index: r.badSeq, Offset: int64(r.goodEnd),
				Bytes: int64(r.size - r.goodEnd), Reason: reason}
		} else if r.count == 0 && i < last {
			return dirState{}, &CorruptError{File: s.path, Reason: "empty segment before the last one"}
		}
	}
	st.last = segs[last].first + results[last].count - 1
	if st.last < st.first { // empty log
		st.first, st.last = 0, 0
	}
	return st, nil
}

// ScanReport is what Scan found in a wal directory.
type ScanReport struct {
	Segments int       // segment files
	FirstSeq uint64    // first good record (0 if none)
	LastSeq  uint64    // last good record (0 if none)
	Head     Hash      // hash of LastSeq's record
	Torn     *TornTail // what Open's repair would cut; nil if the tail is clean
}

// Scan reads the wal directory dir read-only: it takes no lock, repairs
// nothing and writes nothing, so it may run against a live node's directory
// (whose tail may then look torn because a write is in flight). It verifies
// every record (CRC, kind, hash chain) and, if fn is not nil, decodes each in
// order and calls fn with its sequence number and chain hash; an error from
// fn stops the scan and is returned. Corruption is a *CorruptError.
func Scan(dir string, fn func(seq uint64, ev Event, h Hash) error) (ScanReport, error) {
	_, rep, err := scanDir(dir, fn)
	return rep, err
}

// scanDir is Scan, also returning what it verified (for ScanReader).
func scanDir(dir string, fn func(seq uint64, ev Event, h Hash) error) (dirState, ScanReport, error) {
	if fn == nil {
		return scanVisit(dir, nil)
	}
	return scanChecked(dir, true, func(r *CheckedRecord) error { return fn(r.Seq, r.ev, r.Hash) })
}

// scanVisit verifies dir as Scan does, handing every good record to p (if
// not nil) in order.
func scanVisit(dir string, p *scanPipe) (dirState, ScanReport, error) {
	st, err := verifyDir(dir, p)
	if err != nil {
		return st, ScanReport{}, err
	}
	return st, ScanReport{Segments: len(st.segs), FirstSeq: st.first, LastSeq: st.last, Head: st.head, Torn: st.torn}, nil
}
