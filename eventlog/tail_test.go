package eventlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/wal"
)

// garbageLens are tail lengths around every boundary of the entry framing:
// the length prefix, the 43-byte record overhead, one- and two-byte varints.
var garbageLens = []int{1, 2, 3, 4, 5, 7, 16, 38, 39, 42, 43, 44, 100, 127, 128, 129, 255, 1000, 4096, 16385, 70000}

// garbage returns n random bytes shaped by variant: plain random; a first
// byte that reads as a big version number; one entry that fits exactly,
// with version byte 204; the same with a matching length field as well, so
// that only the CRC is wrong; a version-1 record with only the CRC wrong.
func garbage(rng *rand.Rand, n int, variant string) []byte {
	g := make([]byte, n)
	for i := range g {
		g[i] = byte(rng.Uint32())
	}
	// entry makes g one entry of exactly n bytes with version byte v and,
	// if matchLen, a length field that fits it.
	entry := func(v byte, matchLen bool) {
		for k := 1; k <= 3 && k < n; k++ {
			p := binary.AppendUvarint(nil, uint64(n-k))
			if len(p) != k {
				continue
			}
			copy(g, p)
			g[k] = v
			if rec := g[k:]; matchLen && len(rec) >= recordOverhead {
				binary.BigEndian.PutUint32(rec[offLen:], uint32(len(rec)-recordOverhead))
			}
			return
		}
	}
	switch variant {
	case "random":
	case "big version first":
		g[0] = 204
	case "fitting entry, version 204":
		entry(204, false)
	case "version 204, only the CRC wrong":
		entry(204, true)
	case "version 1, only the CRC wrong":
		entry(1, true)
	default:
		panic(variant)
	}
	return g
}

var garbageVariants = []string{"random", "big version first", "fitting entry, version 204",
	"version 204, only the CRC wrong", "version 1, only the CRC wrong"}

// TestGarbageTail: random bytes after the last record of the tail segment —
// what a crash can leave — are a torn tail whatever they look like, however
// long, whatever their first byte: Open cuts them with one log line and the
// log is whole. Before the fix about half of these failed Open with "record
// format version N ... written by a newer syncnet?" and most of the rest as a
// foreign file.
func TestGarbageTail(t *testing.T) {
	for _, segSize := range []int{0, 2048} { // one segment; several
		t.Run(fmt.Sprintf("segment size %d", segSize), func(t *testing.T) {
			dir := t.TempDir()
			const n = 40
			buildLog(t, dir, n, Options{SegmentSize: segSize})
			segs := segPaths(t, dir)
			seg := segs[len(segs)-1]
			clean, _ := os.ReadFile(seg)
			for _, variant := range garbageVariants {
				for _, size := range garbageLens {
					for seed := range uint64(6) {
						rng := rand.New(rand.NewPCG(seed, uint64(size)))
						g := garbage(rng, size, variant)
						os.WriteFile(seg, append(append([]byte(nil), clean...), g...), 0o640)
						var lines logLines
						l, err := Open(dir, Options{NoSync: true, Logf: lines.logf})
						if err != nil {
							t.Fatalf("%s, %d bytes, seed %d (first bytes % x): Open: %v", variant, size, seed, g[:min(4, len(g))], err)
						}
						last := l.LastSeq()
						l.Close()
						if last != n {
							t.Fatalf("%s, %d bytes, seed %d: LastSeq %d, want %d", variant, size, seed, last, n)
						}
						if got := lines.String(); strings.Count(got, "\n") != 0 || !strings.Contains(got, "repaired torn tail") ||
							!strings.Contains(got, filepath.Base(seg)) || !strings.Contains(got, fmt.Sprintf("at index %d", n+1)) {
							t.Fatalf("%s, %d bytes, seed %d: want one repair line naming file and index, got %q", variant, size, seed, got)
						}
						if after, _ := os.ReadFile(seg); !bytes.Equal(after, clean) {
							t.Fatalf("%s, %d bytes, seed %d: file is %d bytes after repair, want %d", variant, size, seed, len(after), len(clean))
						}
					}
				}
			}
			checkAll(t, dir, n, t.Logf)
		})
	}
}

// TestZeroTails: zeros of any length after whole records, or after a cut
// record, are a torn tail.
func TestZeroTails(t *testing.T) {
	dir := t.TempDir()
	buildLog(t, dir, 5, Options{})
	seg := segPaths(t, dir)[0]
	clean, _ := os.ReadFile(seg)
	for _, chop := range []int{0, 1, 60} {
		for _, size := range garbageLens {
			data := append(append([]byte(nil), clean[:len(clean)-chop]...), make([]byte, size)...)
			os.WriteFile(seg, data, 0o640)
			want := 5
			if chop > 0 {
				want = 4
			}
			var lines logLines
			checkAll(t, dir, want, lines.logf)
			if !strings.Contains(lines.String(), "repaired torn tail") {
				t.Fatalf("chop %d, %d zeros: no repair line: %q", chop, size, lines.String())
			}
			if chop > 0 {
				os.WriteFile(seg, clean, 0o640) // put record 5 back
			}
		}
	}
}

// TestTornFirstRecord: a log whose only record was torn, or is zeros, opens
// empty; random bytes in a lone first segment are refused (nothing in the
// directory shows it is ours).
func TestTornFirstRecord(t *testing.T) {
	rec, err := AppendRecord(nil, Hash{}, chatEvent(0))
	if err != nil {
		t.Fatal(err)
	}
	entry := append(binary.AppendUvarint(nil, uint64(len(rec))), rec...)
	for name, data := range map[string][]byte{
		"cut record":   entry[:len(entry)-7],
		"cut prefix":   entry[:1],
		"zeros":        make([]byte, 300),
		"bad last CRC": append(entry[:len(entry)-1:len(entry)-1], entry[len(entry)-1]^1),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "00000000000000000001")
			os.WriteFile(path, data, 0o640)
			l := openT(t, dir, Options{NoSync: true})
			if l.LastSeq() != 0 {
				t.Fatalf("LastSeq = %d", l.LastSeq())
			}
			appendN(t, l, 0, 3, 1)
			l.Close()
			checkAll(t, dir, 3, t.Logf)
		})
	}
	t.Run("random", func(t *testing.T) {
		refused := 0
		for seed := range uint64(50) {
			dir := t.TempDir()
			g := garbage(rand.New(rand.NewPCG(seed, 7)), 100, "random")
			os.WriteFile(filepath.Join(dir, "00000000000000000001"), g, 0o640)
			l, err := Open(dir, Options{NoSync: true, Logf: t.Logf})
			var ce *CorruptError
			switch {
			case errors.As(err, &ce):
				refused++
			case err != nil:
				t.Fatalf("seed %d: %v, want *CorruptError or a repair", seed, err)
			default: // starts like one of our entries: cut as torn
				if l.LastSeq() != 0 {
					t.Fatalf("seed %d: LastSeq %d", seed, l.LastSeq())
				}
				l.Close()
			}
		}
		if refused < 40 {
			t.Fatalf("only %d of 50 random first segments refused", refused)
		}
	})
}

// newerRecord returns a well-formed record of format version v chained to
// prev: the frame and CRC of this build, another version byte.
func newerRecord(t *testing.T, prev Hash, v uint8, i int) []byte {
	t.Helper()
	rec, err := AppendRecord(nil, prev, chatEvent(i))
	if err != nil {
		t.Fatal(err)
	}
	return sealVersion(rec, v)
}

func appendEntry(data, rec []byte) []byte {
	return append(binary.AppendUvarint(data, uint64(len(rec))), rec...)
}

// TestNewerVersionRecord: a well-formed record of a newer format is not
// damage. Wherever it is, whatever follows it, Open fails with a
// *VersionError that says so and names file and index, and nothing is cut.
func TestNewerVersionRecord(t *testing.T) {
	src := t.TempDir()
	buildLog(t, src, 5, Options{})
	rep, err := Scan(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	seg := filepath.Base(segPaths(t, src)[0])
	clean, _ := os.ReadFile(filepath.Join(src, seg))
	offs := entryOffsets(clean)
	// A newer format may allow larger records than MaxRecordSize.
	huge := make([]byte, recordHeaderSize+MaxRecordSize+recordTrailerSize)
	copy(huge, newerRecord(t, rep.Head, 2, 5)[:recordHeaderSize])
	binary.BigEndian.PutUint32(huge[offLen:], MaxRecordSize)
	huge = sealVersion(huge, 2)
	for _, tc := range []struct {
		name    string
		data    []byte
		version uint8
		index   uint64
	}{
		{"version 2 at the tail", appendEntry(clean, newerRecord(t, rep.Head, 2, 5)), 2, 6},
		{"version 204 at the tail", appendEntry(clean, newerRecord(t, rep.Head, 204, 5)), 204, 6},
		{"larger than this build's limit", appendEntry(clean, huge), 2, 6},
		{"followed by garbage", append(appendEntry(clean, newerRecord(t, rep.Head, 3, 5)), garbage(rand.New(rand.NewPCG(1, 2)), 100, "random")...), 3, 6},
		{"followed by more newer records", appendEntry(appendEntry(clean, newerRecord(t, rep.Head, 2, 5)), newerRecord(t, Hash{}, 2, 6)), 2, 6},
		{"followed by version-1 records", append(appendEntry(append([]byte(nil), clean[:offs[3]]...), newerRecord(t, Hash{}, 2, 3)), clean[offs[3]:]...), 2, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, seg)
			os.WriteFile(path, tc.data, 0o640)
			_, err := Open(dir, Options{NoSync: true, Logf: t.Logf})
			var ve *VersionError
			if !errors.As(err, &ve) || ve.Version != tc.version || !strings.Contains(err.Error(), "newer syncnet") ||
				!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprintf("index %d", tc.index)) {
				t.Fatalf("err = %v, want *VersionError for version %d naming %s index %d", err, tc.version, path, tc.index)
			}
			if _, err := Scan(dir, nil); !errors.As(err, &ve) {
				t.Fatalf("Scan: %v, want *VersionError", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, tc.data) {
				t.Fatal("the file was changed")
			}
		})
	}
}

// TestGarbageBeforeValidRecords: damage followed by valid records — of this
// format or a newer one — is corruption, never a torn tail: *CorruptError
// naming file, index and reason, and the file is left alone. That includes
// garbage whose first bytes look like a newer record.
func TestGarbageBeforeValidRecords(t *testing.T) {
	dir := t.TempDir()
	buildLog(t, dir, 8, Options{})
	rep, err := Scan(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := segPaths(t, dir)[0]
	clean, _ := os.ReadFile(path)
	offs := entryOffsets(clean)
	check := func(what string, data []byte, index uint64) {
		t.Helper()
		os.WriteFile(path, data, 0o640)
		_, err := Open(dir, Options{NoSync: true, Logf: t.Logf})
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.File != path || ce.Index != index || !strings.Contains(ce.Reason, "valid record follows") {
			t.Fatalf("%s: err = %v, want *CorruptError at index %d with a valid record following", what, err, index)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
			t.Fatalf("%s: the file was changed", what)
		}
	}
	for _, variant := range garbageVariants {
		for _, size := range []int{1, 3, 43, 44, 100, 300} {
			for seed := range uint64(4) {
				g := garbage(rand.New(rand.NewPCG(seed, uint64(size))), size, variant)
				what := fmt.Sprintf("%s, %d bytes, seed %d", variant, size, seed)
				// Inserted between records 5 and 6.
				ins := append(append(append([]byte(nil), clean[:offs[5]]...), g...), clean[offs[5]:]...)
				check(what+", inserted", ins, 6)
				// Over record 4 (entry and all), records 5.. intact.
				if size <= offs[4]-offs[3] {
					over := append([]byte(nil), clean...)
					copy(over[offs[3]:], g)
					check(what+", overwriting", over, 4)
				}
			}
		}
	}
	// Garbage followed by a well-formed record of a newer format.
	newer := appendEntry(append(append([]byte(nil), clean...), garbage(rand.New(rand.NewPCG(9, 9)), 50, "random")...), newerRecord(t, rep.Head, 2, 8))
	check("garbage then a newer record", newer, 9)
	// Garbage after the last record of an older segment.
	t.Run("older segment", func(t *testing.T) {
		dir := t.TempDir()
		buildLog(t, dir, 40, Options{SegmentSize: 2048})
		segs := segPaths(t, dir)
		data, _ := os.ReadFile(segs[0])
		os.WriteFile(segs[0], append(data, garbage(rand.New(rand.NewPCG(3, 3)), 100, "random")...), 0o640)
		_, err := Open(dir, Options{NoSync: true, Logf: t.Logf})
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.File != segs[0] || ce.Index != segFirst(t, segs[1]) {
			t.Fatalf("err = %v, want *CorruptError in %s at index %d", err, segs[0], segFirst(t, segs[1]))
		}
	})
}

// TestTidwallSeesRepairedTail: tidwall/wal parses only its own framing
// (uvarint length, bytes), so garbage after the last entry either fails its
// Open with ErrCorrupt or, worse, parses as phantom entries. Our Open cuts
// the tail before tidwall/wal reads the directory, so tidwall/wal agrees
// with the verified records and appends go on after them.
func TestTidwallSeesRepairedTail(t *testing.T) {
	src := t.TempDir()
	buildLog(t, src, 5, Options{})
	seg := filepath.Base(segPaths(t, src)[0])
	clean, _ := os.ReadFile(filepath.Join(src, seg))
	for name, tail := range map[string][]byte{
		"phantom entries": {3, 0xcc, 0xcd, 0xce, 2, 0xff, 0xfe, 0}, // two entries and an empty one to tidwall
		"cut entry":       {0x7f, 0xcc, 0x01},
		"zeros":           make([]byte, 16),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, seg)
			os.WriteFile(path, append(append([]byte(nil), clean...), tail...), 0o640)
			raw, err := wal.Open(dir, &wal.Options{NoSync: true})
			if err == nil {
				last, _ := raw.LastIndex()
				raw.Close()
				t.Logf("tidwall/wal alone opens it with LastIndex %d (5 are real)", last)
			} else {
				t.Logf("tidwall/wal alone: %v", err)
			}
			l := openT(t, dir, Options{NoSync: true})
			if l.LastSeq() != 5 {
				t.Fatalf("LastSeq = %d", l.LastSeq())
			}
			appendN(t, l, 5, 3, 1)
			l.Close()
			checkAll(t, dir, 8, t.Logf)
			raw, err = wal.Open(dir, &wal.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if last, _ := raw.LastIndex(); last != 8 {
				t.Fatalf("tidwall/wal LastIndex = %d after repair and 3 appends", last)
			}
		})
	}
}
