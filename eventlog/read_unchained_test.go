package eventlog

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// ReadRecordsUnchained hands over exactly the records ReadRecords does,
// across segments, and leaves the CRC to the caller: a flipped payload
// byte reaches fn (ToEntryForm then refuses it), while a broken frame or a
// cut file is still an error naming the record.
func TestReadRecordsUnchained(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: 8 << 10})
	appendN(t, l, 0, 300, 10)
	last := l.LastSeq()
	collect := func(read func(from, to uint64, fn func(uint64, []byte) error) error, from, to uint64) ([][]byte, error) {
		var out [][]byte
		err := read(from, to, func(seq uint64, rec []byte) error {
			if seq != from+uint64(len(out)) {
				t.Fatalf("record %d after %d records from %d", seq, len(out), from)
			}
			out = append(out, append([]byte(nil), rec...))
			return nil
		})
		return out, err
	}
	for _, r := range [][2]uint64{{1, last}, {1, 1}, {last, last}, {31, 97}, {200, last}} {
		want, err := collect(l.ReadRecords, r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := collect(l.ReadRecordsUnchained, r[0], r[1])
		if err != nil || len(got) != len(want) {
			t.Fatalf("ReadRecordsUnchained(%d, %d): %d records, %v; want %d", r[0], r[1], len(got), err, len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("record %d differs", r[0]+uint64(i))
			}
		}
	}
	for _, r := range [][2]uint64{{0, 1}, {1, last + 1}, {5, 4}} {
		if _, err := collect(l.ReadRecordsUnchained, r[0], r[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("ReadRecordsUnchained(%d, %d) = %v, want ErrNotFound", r[0], r[1], err)
		}
	}

	segs := segPaths(t, dir)
	path := segs[2]
	first := segFirst(t, path)
	data, _ := os.ReadFile(path)
	offs := entryOffsets(data)
	orig := append([]byte(nil), data...)

	// A flipped payload byte is delivered as stored; ToEntryForm, which
	// the unchained reader's callers use, refuses it.
	data[offs[5]+60] ^= 0x10
	os.WriteFile(path, data, 0o640)
	got, err := collect(l.ReadRecordsUnchained, first+5, first+5)
	if err != nil || len(got) != 1 {
		t.Fatalf("unchained read of a flipped record: %v", err)
	}
	if _, _, _, _, err := ToEntryForm(nil, got[0]); !errors.Is(err, ErrChecksum) {
		t.Fatalf("ToEntryForm of a flipped record: %v", err)
	}

	// A record whose length field no longer fits its frame: an error
	// naming it.
	copy(data, orig)
	data[offs[5]+1+offLen+3] ^= 0x01
	os.WriteFile(path, data, 0o640)
	var ce *CorruptError
	if _, err := collect(l.ReadRecordsUnchained, first, first+10); !errors.As(err, &ce) || ce.Index != first+5 || ce.File != path {
		t.Fatalf("unchained read over a broken frame: %v", err)
	}

	// A file cut short.
	os.WriteFile(path, orig[:offs[7]], 0o640)
	if _, err := collect(l.ReadRecordsUnchained, first+8, first+8); !errors.As(err, &ce) {
		t.Fatalf("unchained read past a cut: %v", err)
	}
}
