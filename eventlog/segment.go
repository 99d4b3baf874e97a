package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// tidwall/wal keeps a directory of segment files named by their first index
// as 20 decimal digits; each entry is uvarint(len) || record. There is no
// checksum at that level: all integrity comes from our records.

// CorruptError reports damage that is not a torn tail: a bad record before
// the last one, in an older segment, a broken hash chain, or files that do
// not belong together. It is never repaired automatically (I8).
type CorruptError struct {
	File   string // path of the segment file
	Index  uint64 // WAL sequence number of the first bad record (0 if not about one record)
	Reason string
}

func (e *CorruptError) Error() string {
	if e.Index == 0 {
		return fmt.Sprintf("eventlog: corrupt wal file %s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("eventlog: corrupt wal file %s at index %d: %s", e.File, e.Index, e.Reason)
}

// maxTornBytes bounds what torn-tail repair may cut: a torn write damages at
// most the last batch (MaxBatchBytes is capped below this). More non-zero
// bytes than this after the last good record is corruption, not a torn tail.
const maxTornBytes = 64 << 20

// segFile is one segment file of a wal directory.
type segFile struct {
	path  string
	first uint64 // index of its first entry, from the name
}

// listSegments returns the segment files of dir in index order. Files that
// tidwall/wal would ignore (short names, directories) are skipped; leftovers
// of an interrupted tidwall truncation are refused, since SyncNet never
// truncates and their presence means someone else touched the directory.
func listSegments(dir string) ([]segFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []segFile
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || len(name) < 20 {
			continue
		}
		idx, err := strconv.ParseUint(name[:20], 10, 64)
		if err != nil {
			continue
		}
		path := filepath.Join(dir, name)
		if len(name) != 20 || idx == 0 {
			return nil, &CorruptError{File: path, Reason: "unexpected file in wal directory (interrupted truncation or foreign file)"}
		}
		segs = append(segs, segFile{path: path, first: idx})
	}
	return segs, nil // os.ReadDir sorts by name; 20-digit names sort numerically
}

// segResult is what verifying one segment found.
type segResult struct {
	count     uint64 // good records
	firstPrev Hash   // prev field of the first record
	lastHash  Hash   // hash of the last good record
	goodEnd   int    // byte offset just after the last good record
	size      int
	bad       error    // why the record at goodEnd is bad, or nil
	badSeq    uint64   // its sequence number
	fatal     error    // a well-formed record this build cannot read (not damage)
	offs      []uint32 // byte offset of every indexStride-th good record (the sparse index)
	wantHash  Hash     // hash of record want (walkSegment's argument), if found
	foundWant bool
}

// visitFunc receives each good record; it may stop the walk with an error.
type visitFunc func(seq uint64, rec []byte, h Hash) error

// walkSegment checks every entry of data, the contents of a segment whose
// first entry has sequence number first, and the hash chain inside it. It
// notes the offset of every indexStride-th record, and the hash of record
// want if the segment holds it.
func walkSegment(data []byte, first, want uint64, visit visitFunc) (segResult, error) {
	r := segResult{size: len(data)}
	off := 0
	for off < len(data) {
		seq := first + r.count
		l, n := binary.Uvarint(data[off:])
		var rec []byte
		var h Hash
		var err error
		switch {
		case n <= 0:
			err = fmt.Errorf("%w: bad entry length prefix", ErrTruncated)
		case l == 0:
			err = fmt.Errorf("%w: empty entry (zero-filled?)", ErrMalformed)
		case l > uint64(len(data)-off-n):
			err = fmt.Errorf("%w: entry of %d bytes, %d left in file", ErrTruncated, l, len(data)-off-n)
		default:
			rec = data[off+n : off+n+int(l)]
			h = HashRecord(rec)
			err = r.check(rec, !provenByNext(data[off+n+int(l):], h))
		}
		if err != nil {
			// A well-formed record this build cannot read is not damage:
			// it must never be repaired away (checkFrame gives a
			// *VersionError only for a sound frame).
			var ve *VersionError
			var ke *UnknownKindError
			if errors.As(err, &ve) || errors.As(err, &ke) {
				r.fatal = err
			}
			r.bad, r.badSeq = err, seq
			return r, nil
		}
		if r.count%indexStride == 0 {
			r.offs = append(r.offs, uint32(off))
		}
		if seq == want {
			r.wantHash, r.foundWant = h, true
		}
		if visit != nil {
			if err := visit(seq, rec, h); err != nil {
				return r, err
			}
		}
		r.lastHash = h
		r.count++
		off += n + int(l)
		r.goodEnd = off
	}
	return r, nil
}

// check validates one record's frame, kind and link to the previous record,
// and its CRC if crc is set (provenByNext).
func (r *segResult) check(rec []byte, crc bool) error {
	var k Kind
	var prev Hash
	var err error
	if crc {
		k, prev, _, err = checkFrame(rec)
	} else {
		k, prev, err = checkFrameChained(rec)
	}
	if err != nil {
		return err
	}
	if !k.Known() {
		return &UnknownKindError{Kind: k, Version: rec[0]}
	}
	if r.count == 0 {
		r.firstPrev = prev
	} else if prev != r.lastHash {
		return errChainBreak
	}
	return nil
}

var errChainBreak = errors.New("hash chain broken: prev hash does not match the previous record")

// provenByNext reports whether the record after rec (rest starts with it;
// h is rec's hash) names h as its prev. Then rec's bytes are the bytes
// that were written — the next record's writer hashed them — so its CRC,
// a part of them, holds too and need not be computed. It looks only at
// the next entry's length prefix and prev field; that entry is checked in
// its turn. A torn or damaged next entry proves nothing (its prev would
// match by chance with a probability of 2^-256) and rec is checked with
// its CRC as before, as is a record of a foreign version
// (checkFrameChained): what walkSegment reports about damage does not
// change. This skips the CRC of all but a segment's last record, 6% of a
// replay's CPU (docs/BENCHMARKS.md "History at scale").
func provenByNext(rest []byte, h Hash) bool {
	l, n := binary.Uvarint(rest)
	if n <= 0 || l < recordHeaderSize || l > uint64(len(rest)-n) {
		return false
	}
	next := rest[n : n+int(l)]
	if next[0] != RecordVersion {
		return false
	}
	return string(next[offPrev:offPrev+len(h)]) == string(h[:])
}

// tornTail decides whether the bad entry at off in the tail segment data is a
// torn write, to be cut back; otherwise the reason says why it is corruption.
//
// The bad entry is not a well-formed record of any version (those are
// *VersionError or *UnknownKindError and never get here), so it is damage,
// and damage in the last segment is a torn tail exactly when nothing valid
// follows it: no whole, checksummed entry of any version starts anywhere
// after its first byte. What the damage looks like does not matter — a crash
// can leave a partial record, zeros, or stale bytes of other files (random to
// us) after the last fsynced record — with three exceptions: a whole record
// whose hash chain breaks is not a torn write; more than maxTornBytes of
// damage is more than a torn write can leave; and if not one record of the
// directory verifies (empty is true) there is no evidence the file is a
// SyncNet log at all, so unless the damage is zeros or starts like one of
// our entries it is refused as a foreign file rather than cut to nothing.
func tornTail(data []byte, off int, bad error, empty bool) (bool, string) {
	if errors.Is(bad, errChainBreak) {
		return false, bad.Error() // a whole, checksummed record: not a torn write
	}
	region := data[off:]
	end := len(region)
	for end > 0 && region[end-1] == 0 {
		end--
	}
	if end == 0 {
		return true, "zero-filled tail"
	}
	if p := findValidRecord(data, off+1); p >= 0 {
		return false, fmt.Sprintf("%v, and a valid record follows at byte %d", bad, p)
	}
	if end > maxTornBytes {
		return false, fmt.Sprintf("%v, followed by %d bytes: too many for a torn write", bad, end)
	}
	if empty && !startsLikeEntry(region) {
		return false, fmt.Sprintf("%v: no record in the directory verifies and the file does not start like a syncnet wal (foreign file?)", bad)
	}
	return true, bad.Error()
}

// startsLikeEntry reports whether b could be the start of an entry this
// build writes, cut short or damaged: a length prefix (possibly cut) for at
// most MaxRecordSize bytes, then our version byte or a zero.
func startsLikeEntry(b []byte) bool {
	l, n := binary.Uvarint(b)
	switch {
	case n < 0 || l > MaxRecordSize:
		return false
	case n == 0 || len(b) == n: // the prefix itself is cut
		return true
	}
	return b[n] == RecordVersion || b[n] == 0
}

// findValidRecord returns the offset of the first position ≥ from in data
// where a whole, checksummed entry of any format version starts, or -1. It
// is only used on the failure path; the length field filters out almost
// every position before a CRC is computed.
func findValidRecord(data []byte, from int) int {
	for p := from; p < len(data); p++ {
		l, n := binary.Uvarint(data[p:])
		if n <= 0 || l < recordOverhead || l > uint64(len(data)-p-n) {
			continue
		}
		rec := data[p+n : p+n+int(l)]
		if rec[0] == 0 || binary.BigEndian.Uint32(rec[offLen:]) != uint32(l-recordOverhead) {
			continue
		}
		if wellFormed(rec) {
			return p
		}
	}
	return -1
}
