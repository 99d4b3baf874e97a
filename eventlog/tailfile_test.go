package eventlog

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidwall/wal"
)

// TestAppendWritesWhatTidwallWrites: the Log writes its segment files
// itself (tailFile); they must be byte for byte what tidwall/wal's
// WriteBatch makes of the same records in the same commits — same file
// names, same cuts (commits crossing one and several segment boundaries,
// a reopen in the middle with a smaller SegmentSize, so the reopened tail
// is already over it), same bytes — so tidwall/wal and every tool
// reading its layout read our logs. The test fails if a cut moves by one
// record or a length prefix differs.
func TestAppendWritesWhatTidwallWrites(t *testing.T) {
	sizes := [2]int{4 << 10, 1 << 10} // SegmentSize of each round
	opts := Options{NoSync: true, SegmentSize: sizes[0]}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 11))
	var groups []int // records per Append, in order
	l := openT(t, dir, opts)
	next := 1
	for round := 0; round < 2; round++ {
		for range 60 {
			n := 1 + rng.IntN(12)
			if rng.IntN(10) == 0 {
				n = 40 + rng.IntN(120) // several segments in one commit
			}
			evs := make([]Event, n)
			for i := range evs {
				evs[i] = chatEvent(next + i)
			}
			if _, _, err := l.Append(context.Background(), evs...); err != nil {
				t.Fatal(err)
			}
			next += n
			groups = append(groups, n)
		}
		for round == 0 && l.tailBytes < 2<<10 { // reopen over the next round's SegmentSize
			if _, _, err := l.Append(context.Background(), chatEvent(next)); err != nil {
				t.Fatal(err)
			}
			next++
			groups = append(groups, 1)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		opts.SegmentSize = sizes[1]
		l = openT(t, dir, opts)    // the second round appends to a reopened tail
		groups = append(groups, 0) // reopen mark
	}
	defer l.Close()
	last := l.LastSeq()
	recs := make([][]byte, 0, last)
	if err := l.ReadRecords(1, last, func(_ uint64, rec []byte) error { recs = append(recs, bytes.Clone(rec)); return nil }); err != nil {
		t.Fatal(err)
	}

	ref := t.TempDir()
	w, err := wal.Open(ref, &wal.Options{NoSync: true, SegmentSize: sizes[0], SegmentCacheSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(1)
	for _, n := range groups {
		if n == 0 {
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w, err = wal.Open(ref, &wal.Options{NoSync: true, SegmentSize: sizes[1], SegmentCacheSize: 1}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var b wal.Batch
		for range n {
			b.Write(seq, recs[seq-1])
			seq++
		}
		if err := w.WriteBatch(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	ours, theirs := segFileNames(t, dir), segFileNames(t, ref)
	if len(ours) < 20 || len(ours) != len(theirs) {
		t.Fatalf("%d segment files, tidwall/wal made %d", len(ours), len(theirs))
	}
	for i := range ours {
		if ours[i] != theirs[i] {
			t.Fatalf("segment file %d is %s, tidwall/wal's is %s", i, ours[i], theirs[i])
		}
		a, _ := os.ReadFile(filepath.Join(dir, ours[i]))
		b, _ := os.ReadFile(filepath.Join(ref, theirs[i]))
		if !bytes.Equal(a, b) {
			t.Fatalf("segment file %s differs from tidwall/wal's (%d against %d bytes)", ours[i], len(a), len(b))
		}
	}
}

// TestTidwallOpensWhatAppendWrote opens a Log's directory with tidwall/wal
// itself and reads every record back.
func TestTidwallOpensWhatAppendWrote(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: 8 << 10})
	appendN(t, l, 1, 700, 9)
	var recs [][]byte
	l.ReadRecords(1, l.LastSeq(), func(_ uint64, rec []byte) error { recs = append(recs, bytes.Clone(rec)); return nil })
	l.Close()
	os.Remove(filepath.Join(dir, "LOCK"))
	w, err := wal.Open(dir, &wal.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	first, _ := w.FirstIndex()
	lastIx, _ := w.LastIndex()
	if first != 1 || lastIx != 700 {
		t.Fatalf("tidwall/wal sees %d..%d, want 1..700", first, lastIx)
	}
	for i := uint64(1); i <= lastIx; i++ {
		b, err := w.Read(i)
		if err != nil || !bytes.Equal(b, recs[i-1]) {
			t.Fatalf("tidwall/wal record %d: %v (equal %v)", i, err, bytes.Equal(b, recs[i-1]))
		}
	}
}

func segFileNames(t *testing.T, dir string) []string {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range segs {
		names = append(names, filepath.Base(s.path))
	}
	return names
}
