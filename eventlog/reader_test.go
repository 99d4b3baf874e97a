package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

// scanReaderT runs ScanReader on dir, collecting every event, and closes
// the Reader at cleanup.
func scanReaderT(t *testing.T, dir string) (ScanReport, *Reader, []Event) {
	t.Helper()
	var evs []Event
	rep, r, err := ScanReader(dir, func(seq uint64, ev Event, _ Hash) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanReader: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return rep, r, evs
}

// TestReader: a Reader made by ScanReader returns exactly the records the
// scan saw, for every kind of range (within and across segment files and
// indexed positions), concurrently, and takes no lock and writes nothing.
func TestReader(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: 8 << 10})
	appendN(t, l, 0, 500, 7)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "LOCK"))
	before := dirFiles(t, dir)

	rep, r, evs := scanReaderT(t, dir)
	if rep.FirstSeq != 1 || rep.LastSeq != 500 || len(evs) != 500 || r.FirstSeq() != 1 || r.LastSeq() != 500 {
		t.Fatalf("report %+v, %d events, reader %d..%d", rep, len(evs), r.FirstSeq(), r.LastSeq())
	}
	check := func(from, to uint64) error {
		next := from
		return r.ReadRange(from, to, func(seq uint64, ev Event) error {
			if seq != next || !reflect.DeepEqual(ev, evs[seq-1]) {
				t.Errorf("ReadRange(%d, %d): record %d (want %d) differs from the scan's", from, to, seq, next)
			}
			next++
			return nil
		})
	}
	for _, rg := range [][2]uint64{{1, 1}, {1, 500}, {31, 33}, {32, 32}, {33, 97}, {499, 500}, {500, 500}, {17, 260}} {
		if err := check(rg[0], rg[1]); err != nil {
			t.Errorf("ReadRange(%d, %d): %v", rg[0], rg[1], err)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := uint64(1); i <= 500; i += uint64(g + 3) {
				if err := check(i, min(500, i+uint64(g))); err != nil {
					t.Errorf("concurrent ReadRange: %v", err)
				}
			}
		})
	}
	wg.Wait()
	for _, rg := range [][2]uint64{{0, 1}, {1, 501}, {7, 6}} {
		if err := r.ReadRange(rg[0], rg[1], func(uint64, Event) error { return nil }); !errors.Is(err, ErrNotFound) {
			t.Errorf("ReadRange(%d, %d): %v, want ErrNotFound", rg[0], rg[1], err)
		}
	}
	if after := dirFiles(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("the reader changed the directory:\n%v\n%v", before, after)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadRange(1, 1, func(uint64, Event) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadRange after Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// dirFiles lists dir's files with their sizes and modification times.
func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, de := range ents {
		fi, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[de.Name()] = fmt.Sprint(fi.ModTime(), fi.Mode(), fi.Size())
	}
	return out
}

// TestReaderTornTail: the Reader reads the good records before a torn tail
// and nothing of it; the file is left as it is.
func TestReaderTornTail(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: 8 << 10})
	appendN(t, l, 0, 100, 10)
	l.Close()
	segs := segPaths(t, dir)
	tail := segs[len(segs)-1]
	data, _ := os.ReadFile(tail)
	torn := data[:len(data)-5]
	os.WriteFile(tail, torn, 0o640)

	rep, r, evs := scanReaderT(t, dir)
	if rep.Torn == nil || rep.LastSeq != 99 || len(evs) != 99 {
		t.Fatalf("report %+v, %d events", rep, len(evs))
	}
	n := 0
	if err := r.ReadRange(90, 99, func(seq uint64, ev Event) error {
		n++
		if !reflect.DeepEqual(ev, evs[seq-1]) {
			t.Errorf("record %d differs", seq)
		}
		return nil
	}); err != nil || n != 10 {
		t.Fatalf("ReadRange(90, 99): %d records, %v", n, err)
	}
	if err := r.ReadRange(99, 100, func(uint64, Event) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadRange into the torn tail: %v", err)
	}
	if got, _ := os.ReadFile(tail); len(got) != len(torn) {
		t.Errorf("the reader changed the torn file: %d bytes, was %d", len(got), len(torn))
	}
}

// TestReaderChecksDisk: a record changed after the scan is a *CorruptError
// when the Reader reads it (or the record before it, through the link).
func TestReaderChecksDisk(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: 8 << 10})
	appendN(t, l, 0, 300, 10)
	l.Close()
	_, r, _ := scanReaderT(t, dir)
	segs := segPaths(t, dir)
	path := segs[2]
	first := segFirst(t, path)
	data, _ := os.ReadFile(path)
	offs := entryOffsets(data)
	orig := append([]byte(nil), data...)
	read := func(from, to uint64) error {
		return r.ReadRange(from, to, func(uint64, Event) error { return nil })
	}

	data[offs[5]+60] ^= 0x10 // a flipped payload byte: CRC
	os.WriteFile(path, data, 0o640)
	var ce *CorruptError
	if err := read(first, first+10); !errors.As(err, &ce) || ce.Index != first+5 || ce.File != path {
		t.Fatalf("ReadRange over a flipped record %d: %v", first+5, err)
	}
	if err := read(first+3, first+3); err != nil {
		t.Fatalf("ReadRange(%d) away from it: %v", first+3, err)
	}

	copy(data, orig) // a sound record that is not in the chain
	_, n := binary.Uvarint(data[offs[5]:])
	seal(data[offs[5]+n:offs[6]], KindMessagePosted, Hash{1})
	os.WriteFile(path, data, 0o640)
	if err := read(first+4, first+4); !errors.As(err, &ce) || ce.Index != first+5 {
		t.Fatalf("ReadRange(%d) before a foreign record: %v", first+4, err)
	}

	// The scan also fails now: a Reader is made only of a sound log.
	if _, r2, err := ScanReader(dir, nil); !errors.As(err, &ce) || r2 != nil {
		t.Fatalf("ScanReader of a damaged log: %v, reader %v", err, r2)
	}
	os.WriteFile(path, orig, 0o640)
	if err := read(first, first+20); err != nil {
		t.Fatal(err)
	}
}

// TestReaderEmpty: an empty wal directory gives a Reader with nothing in it.
func TestReaderEmpty(t *testing.T) {
	dir := t.TempDir()
	rep, r, err := ScanReader(dir, nil)
	if err != nil || rep.LastSeq != 0 {
		t.Fatalf("ScanReader(empty): %+v %v", rep, err)
	}
	defer r.Close()
	if err := r.ReadRange(1, 1, func(uint64, Event) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadRange of an empty log: %v", err)
	}
}
