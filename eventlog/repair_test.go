package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// buildLog writes n chat events into dir and closes the log.
func buildLog(t testing.TB, dir string, n int, opts Options) {
	t.Helper()
	opts.NoSync = true
	l := openT(t, dir, opts)
	appendN(t, l, 0, n, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// segPaths returns the segment files of dir in order.
func segPaths(t testing.TB, dir string) []string {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range segs {
		out = append(out, s.path)
	}
	return out
}

// entryOffsets returns the start offset of each entry in a segment's bytes.
func entryOffsets(data []byte) []int {
	var offs []int
	for off := 0; off < len(data); {
		l, n := binary.Uvarint(data[off:])
		offs = append(offs, off)
		off += n + int(l)
	}
	return offs
}

// copyDir copies the regular files of src into a new temp dir.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// logLines collects what a Log writes with Logf.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (c *logLines) logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, fmt.Sprintf(format, args...))
}

func (c *logLines) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

// checkAll opens dir and checks that it holds exactly records 1..n of
// chatEvent and that the chain verifies.
func checkAll(t *testing.T, dir string, n int, logf func(string, ...any)) {
	t.Helper()
	l, err := Open(dir, Options{NoSync: true, Logf: logf})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l.Close()
	if got := l.LastSeq(); got != uint64(n) {
		t.Fatalf("LastSeq = %d, want %d", got, n)
	}
	i := 0
	err = l.Iter(1, func(seq uint64, ev Event) error {
		if want := chatEvent(i); !reflect.DeepEqual(ev, want) {
			return fmt.Errorf("seq %d: %s, want %s", seq, ev.Describe(), want.Describe())
		}
		i++
		return nil
	})
	if err != nil || i != n {
		t.Fatalf("Iter: %d records, err %v", i, err)
	}
}

func TestTornTailEveryOffset(t *testing.T) {
	src := t.TempDir()
	const n = 6
	buildLog(t, src, n, Options{})
	seg := segPaths(t, src)[0]
	data, _ := os.ReadFile(seg)
	offs := entryOffsets(data)
	lastStart := offs[len(offs)-1]
	for cut := lastStart; cut < len(data); cut++ {
		dir := copyDir(t, src)
		if err := os.Truncate(filepath.Join(dir, filepath.Base(seg)), int64(cut)); err != nil {
			t.Fatal(err)
		}
		var lines logLines
		checkAll(t, dir, n-1, lines.logf)
		if cut > lastStart && !strings.Contains(lines.String(), fmt.Sprintf("at index %d", n)) {
			t.Fatalf("cut %d: repair line missing or without index: %q", cut, lines.String())
		}
		fi, _ := os.Stat(filepath.Join(dir, filepath.Base(seg)))
		if fi.Size() != int64(lastStart) {
			t.Fatalf("cut %d: file is %d bytes after repair, want %d", cut, fi.Size(), lastStart)
		}
	}
}

func TestZeroFilledTail(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chop  int // bytes removed from the last record first
		zeros int
	}{{"zeros after whole records", 0, 4096}, {"partial record then zeros", 17, 4096}, {"one zero", 0, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			buildLog(t, dir, 5, Options{})
			seg := segPaths(t, dir)[0]
			data, _ := os.ReadFile(seg)
			data = append(data[:len(data)-tc.chop], make([]byte, tc.zeros)...)
			os.WriteFile(seg, data, 0o640)
			want := 5
			if tc.chop > 0 {
				want = 4
			}
			var lines logLines
			checkAll(t, dir, want, lines.logf)
			if !strings.Contains(lines.String(), filepath.Base(seg)) {
				t.Errorf("repair line does not name the file: %q", lines.String())
			}
		})
	}
}

func TestBadLastRecordIsTorn(t *testing.T) {
	dir := t.TempDir()
	buildLog(t, dir, 5, Options{})
	seg := segPaths(t, dir)[0]
	data, _ := os.ReadFile(seg)
	data[len(data)-10] ^= 0x40 // inside the last record's payload
	os.WriteFile(seg, data, 0o640)
	checkAll(t, dir, 4, t.Logf)
}

func TestFlipBeforeTailIsCorruption(t *testing.T) {
	src := t.TempDir()
	const n = 5
	buildLog(t, src, n, Options{})
	seg := segPaths(t, src)[0]
	data, _ := os.ReadFile(seg)
	offs := entryOffsets(data)
	rec := 0
	for off := 0; off < offs[len(offs)-1]; off++ {
		for rec+1 < len(offs) && offs[rec+1] <= off {
			rec++
		}
		bad := append([]byte(nil), data...)
		bad[off] ^= 0x01
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, filepath.Base(seg)), bad, 0o640)
		_, err := Open(dir, Options{NoSync: true, Logf: t.Logf})
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Index != uint64(rec+1) || ce.File != filepath.Join(dir, filepath.Base(seg)) {
			t.Fatalf("flip at byte %d (record %d): err = %v", off, rec+1, err)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, filepath.Base(seg))); len(after) != len(bad) {
			t.Fatalf("flip at byte %d: file was changed (%d -> %d bytes)", off, len(bad), len(after))
		}
	}
}

func TestFlipInOlderSegment(t *testing.T) {
	src := t.TempDir()
	buildLog(t, src, 60, Options{SegmentSize: 2048})
	segs := segPaths(t, src)
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	data, _ := os.ReadFile(segs[1])
	offs := entryOffsets(data)
	first := segFirst(t, segs[1])
	for _, pick := range []int{0, len(offs) / 2, len(offs) - 1} {
		dir := copyDir(t, src)
		path := filepath.Join(dir, filepath.Base(segs[1]))
		bad := append([]byte(nil), data...)
		bad[offs[pick]+5] ^= 0x80
		os.WriteFile(path, bad, 0o640)
		_, err := Open(dir, Options{NoSync: true, Logf: t.Logf})
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.File != path || ce.Index != first+uint64(pick) {
			t.Fatalf("record %d of older segment: err = %v", pick, err)
		}
	}
}

func segFirst(t *testing.T, path string) uint64 {
	var n uint64
	if _, err := fmt.Sscanf(filepath.Base(path), "%d", &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBadFiles(t *testing.T) {
	src := t.TempDir()
	buildLog(t, src, 60, Options{SegmentSize: 2048})
	other := t.TempDir() // same shape, different contents
	lo := openT(t, other, Options{SegmentSize: 2048, NoSync: true})
	appendN(t, lo, 1000, 60, 3)
	lo.Close()
	segs := segPaths(t, src)
	name := func(i int) string { return filepath.Base(segs[i]) }
	cases := map[string]func(dir string){
		"missing middle segment": func(dir string) { os.Remove(filepath.Join(dir, name(1))) },
		"swapped segments": func(dir string) {
			a, b := filepath.Join(dir, name(1)), filepath.Join(dir, name(2))
			da, _ := os.ReadFile(a)
			db, _ := os.ReadFile(b)
			os.WriteFile(a, db, 0o640)
			os.WriteFile(b, da, 0o640)
		},
		"segment from another log": func(dir string) {
			b, _ := os.ReadFile(filepath.Join(other, name(1)))
			os.WriteFile(filepath.Join(dir, name(1)), b, 0o640)
		},
		"interrupted truncation leftover": func(dir string) {
			os.WriteFile(filepath.Join(dir, name(0)+".START"), nil, 0o640)
		},
	}
	for what, damage := range cases {
		t.Run(what, func(t *testing.T) {
			dir := copyDir(t, src)
			damage(dir)
			_, err := Open(dir, Options{NoSync: true, Logf: t.Logf})
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *CorruptError", err)
			}
			t.Logf("%s: %v", what, err)
		})
	}
	// A tail segment that holds nothing valid, named where the log goes on,
	// is what a crash right after a segment roll can leave (stale blocks):
	// it is a torn tail, cut to nothing, and the log goes on in that file.
	t.Run("garbage tail segment", func(t *testing.T) {
		dir := copyDir(t, src)
		path := filepath.Join(dir, "00000000000000000061")
		os.WriteFile(path, []byte("{\"hello\": \"not a wal\"}\n"), 0o640)
		var lines logLines
		checkAll(t, dir, 60, lines.logf)
		if fi, err := os.Stat(path); err != nil || fi.Size() != 0 || !strings.Contains(lines.String(), "at index 61") {
			t.Fatalf("tail segment not cut to nothing (%v) or no repair line: %q", err, lines.String())
		}
		l := openT(t, dir, Options{NoSync: true, SegmentSize: 2048})
		appendN(t, l, 60, 1, 1)
		l.Close()
		checkAll(t, dir, 61, t.Logf)
	})
	t.Run("foreign only file", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "00000000000000000001"), []byte("hello, this is a text file\n"), 0o640)
		var ce *CorruptError
		if _, err := Open(dir, Options{NoSync: true, Logf: t.Logf}); !errors.As(err, &ce) {
			t.Fatalf("err = %v, want *CorruptError", err)
		}
	})
}

// TestUnknownKindOnDisk: a record of a future kind with a valid checksum is
// not damage and must not be repaired away: Open fails naming kind and index.
func TestUnknownKindOnDisk(t *testing.T) {
	dir := t.TempDir()
	buildLog(t, dir, 3, Options{})
	seg := segPaths(t, dir)[0]
	data, _ := os.ReadFile(seg)
	rep, err := Scan(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := AppendRecord(nil, rep.Head, chatEvent(3))
	rec[offKind], rec[offKind+1] = 0x03, 0xe7 // kind 999
	rec = sealCopy(rec)
	data = binary.AppendUvarint(data, uint64(len(rec)))
	data = append(data, rec...)
	os.WriteFile(seg, data, 0o640)
	_, err = Open(dir, Options{NoSync: true, Logf: t.Logf})
	var ke *UnknownKindError
	if !errors.As(err, &ke) || ke.Kind != 999 || !strings.Contains(err.Error(), "index 4") {
		t.Fatalf("err = %v, want UnknownKindError for kind 999 at index 4", err)
	}
	if after, _ := os.ReadFile(seg); len(after) != len(data) {
		t.Fatal("record of unknown kind was cut")
	}
}

func TestScanReadOnly(t *testing.T) {
	dir := t.TempDir()
	buildLog(t, dir, 5, Options{})
	seg := segPaths(t, dir)[0]
	data, _ := os.ReadFile(seg)
	os.WriteFile(seg, data[:len(data)-9], 0o640)
	var seqs []uint64
	rep, err := Scan(dir, func(seq uint64, ev Event, h Hash) error {
		seqs = append(seqs, seq)
		return nil
	})
	if err != nil || rep.Torn == nil || rep.Torn.Index != 5 || rep.LastSeq != 4 || len(seqs) != 4 {
		t.Fatalf("Scan = %+v (torn %v), seqs %v, err %v", rep, rep.Torn, seqs, err)
	}
	if after, _ := os.ReadFile(seg); len(after) != len(data)-9 {
		t.Fatal("Scan changed the file")
	}
	// Scan works while a live Log holds the lock.
	l := openT(t, dir, Options{NoSync: true})
	if rep, err := Scan(dir, nil); err != nil || rep.LastSeq != 4 || rep.Head != headOf(l) {
		t.Fatalf("Scan of live dir = %+v, %v", rep, err)
	}
}

func headOf(l *Log) Hash { _, h := l.Head(); return h }
