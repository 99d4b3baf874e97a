package eventlog

import (
	"encoding/binary"
	"errors"
	"testing"
)

// TestWalkSegmentDamageAnywhere: walkSegment skips the CRC of a record the
// next record's prev hash proves (provenByNext), so damage must still be
// found where it is, with the error it always had: a flipped bit in any
// byte of any record of a segment — header, payload, the CRC itself, or
// the prev field that would have proven the record before it — stops the
// walk at that record with ErrChecksum, after exactly the records before
// it.
func TestWalkSegmentDamageAnywhere(t *testing.T) {
	const n = 5
	var data []byte
	var starts, ends []int // where each record's bytes start and end in data
	var prev Hash
	for i := 0; i < n; i++ {
		rec, err := AppendRecord(nil, prev, chatEvent(i+1))
		if err != nil {
			t.Fatal(err)
		}
		prev = HashRecord(rec)
		data = binary.AppendUvarint(data, uint64(len(rec)))
		starts = append(starts, len(data))
		data = append(data, rec...)
		ends = append(ends, len(data))
	}
	clean, err := walkSegment(data, 1, 0, nil)
	if err != nil || clean.bad != nil || clean.count != n || clean.lastHash != prev {
		t.Fatalf("clean segment: %+v, %v", clean, err)
	}
	for i := 0; i < n; i++ {
		for off := starts[i]; off < ends[i]; off++ {
			bad := append([]byte(nil), data...)
			bad[off] ^= 0x10
			visited := 0
			r, err := walkSegment(bad, 1, 0, func(uint64, []byte, Hash) error { visited++; return nil })
			if err != nil {
				t.Fatal(err)
			}
			want := ErrChecksum
			if at := off - starts[i]; at >= offLen && at < offLen+4 {
				want = ErrMalformed // the length field no longer fits the entry
			}
			if !errors.Is(r.bad, want) {
				t.Fatalf("record %d, byte %d flipped: bad = %v, want %v", i+1, off-starts[i], r.bad, want)
			}
			if r.badSeq != uint64(i+1) || r.count != uint64(i) || visited != i {
				t.Fatalf("record %d, byte %d flipped: stopped at %d after %d good (%d visited), want at %d after %d",
					i+1, off-starts[i], r.badSeq, r.count, visited, i+1, i)
			}
		}
	}
}
