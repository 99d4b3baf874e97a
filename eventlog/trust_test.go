package eventlog

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// trustLog builds a log of n records in small segments and returns its
// directory and the checkpoint of record seq.
func trustLog(t *testing.T, n int, seq uint64) (string, Checkpoint) {
	t.Helper()
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: 8 << 10})
	appendN(t, l, 0, n, 7)
	h, err := l.HashAt(seq)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	return dir, Checkpoint{Seq: seq, Hash: h}
}

func openTrusted(t *testing.T, dir string, cp Checkpoint, logf func(string, ...any)) (*Log, error) {
	t.Helper()
	if logf == nil {
		logf = t.Logf
	}
	l, err := Open(dir, Options{NoSync: true, SegmentSize: 8 << 10, Trust: &cp, Logf: logf})
	if err == nil {
		t.Cleanup(func() { l.Close() })
	}
	return l, err
}

// segOf returns the index in segs of the segment file holding seq.
func segOf(t *testing.T, segs []string, seq uint64) int {
	t.Helper()
	i := len(segs) - 1
	for i > 0 && segFirst(t, segs[i]) > seq {
		i--
	}
	return i
}

// TestTrustedOpenSkipsEarlySegments: with a checkpoint near the end, damage
// in early segments (a flipped byte, a file cut to nothing) does not stop
// Open, because it never reads them; a full Open refuses the same
// directory. Reads of the damaged records still fail, the others work.
func TestTrustedOpenSkipsEarlySegments(t *testing.T) {
	const n = 2000
	dir, cp := trustLog(t, n, n-100)
	segs := segPaths(t, dir)
	if len(segs) < 10 {
		t.Fatalf("only %d segments", len(segs))
	}
	verifiedFrom := segFirst(t, segs[segOf(t, segs, cp.Seq)])
	var want []Event
	{
		l := openT(t, dir, Options{NoSync: true})
		want = iterAll(t, l)
		l.Close()
	}

	// Damage segment 1: one flipped byte in a middle record.
	data, _ := os.ReadFile(segs[1])
	offs := entryOffsets(data)
	data[offs[len(offs)/2]+50] ^= 0x20
	os.WriteFile(segs[1], data, 0o640)
	flipped := segFirst(t, segs[1]) + uint64(len(offs)/2)
	// Cut segment 3 to nothing.
	os.WriteFile(segs[3], nil, 0o640)

	var ce *CorruptError
	if _, err := Open(dir, Options{NoSync: true}); !errors.As(err, &ce) {
		t.Fatalf("full Open of a damaged log: %v, want *CorruptError", err)
	}
	l, err := openTrusted(t, dir, cp, nil)
	if err != nil {
		t.Fatalf("trusted Open: %v", err)
	}
	if l.VerifiedFrom() != verifiedFrom || l.FirstSeq() != 1 || l.LastSeq() != n {
		t.Fatalf("VerifiedFrom %d FirstSeq %d LastSeq %d, want %d 1 %d", l.VerifiedFrom(), l.FirstSeq(), l.LastSeq(), verifiedFrom, n)
	}
	// The verified part and the intact early segments read fine (the
	// early ones through an index built on first touch).
	for _, seq := range []uint64{1, 2, segFirst(t, segs[2]), segFirst(t, segs[4]) + 3, verifiedFrom - 1, verifiedFrom, cp.Seq, n} {
		ev, err := l.Read(seq)
		if err != nil || !reflect.DeepEqual(ev, want[seq-1]) {
			t.Fatalf("Read(%d): %v", seq, err)
		}
	}
	if _, err := l.Read(flipped); !errors.As(err, &ce) || ce.Index != flipped {
		t.Fatalf("Read of the flipped record %d: %v", flipped, err)
	}
	if _, err := l.Read(segFirst(t, segs[3]) + 1); !errors.As(err, &ce) || ce.File != segs[3] {
		t.Fatalf("Read from the emptied segment: %v", err)
	}
	if err := l.Iter(1, func(uint64, Event) error { return nil }); !errors.As(err, &ce) {
		t.Fatalf("Iter over the damage: %v", err)
	}
	if _, err := l.VerifyChain(t.Context(), 0); !errors.As(err, &ce) || ce.Index != flipped {
		t.Fatalf("VerifyChain: %v, want damage at %d", err, flipped)
	}
}

// TestTrustedOpenRejects: a checkpoint whose record is not in the log or
// has another hash is ErrCheckpoint, and Open changes nothing (not even a
// torn tail); a full Open then works.
func TestTrustedOpenRejects(t *testing.T) {
	const n = 500
	dir, cp := trustLog(t, n, 300)
	segs := segPaths(t, dir)
	tail := segs[len(segs)-1]
	f, _ := os.OpenFile(tail, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0x80, 0x02, RecordVersion, 0, 2}) // a torn record
	f.Close()
	fi, _ := os.Stat(tail)
	bad := []struct {
		name string
		cp   Checkpoint
		why  string
	}{
		{"wrong hash", Checkpoint{Seq: cp.Seq, Hash: Hash{1, 2, 3}}, "chain hash"},
		{"hash of another record", Checkpoint{Seq: cp.Seq + 1, Hash: cp.Hash}, "chain hash"},
		{"beyond the log", Checkpoint{Seq: n + 1, Hash: cp.Hash}, "not in the log"},
		{"far beyond", Checkpoint{Seq: 1 << 40, Hash: cp.Hash}, "not in the log"},
		{"zero", Checkpoint{}, "not in the log"},
	}
	for _, b := range bad {
		_, err := openTrusted(t, dir, b.cp, nil)
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), b.why) {
			t.Errorf("%s: %v, want ErrCheckpoint (%s)", b.name, err, b.why)
		}
		if fi2, _ := os.Stat(tail); fi2.Size() != fi.Size() {
			t.Fatalf("%s: failed trusted Open changed the tail", b.name)
		}
	}
	if _, err := openTrusted(t, t.TempDir(), cp, nil); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("trusted Open of an empty directory: %v", err)
	}
	l := openT(t, dir, Options{NoSync: true})
	if l.LastSeq() != n || l.VerifiedFrom() != 1 {
		t.Fatalf("full Open after ErrCheckpoint: LastSeq %d VerifiedFrom %d", l.LastSeq(), l.VerifiedFrom())
	}
}

// TestTrustedOpenRepairsTornTail: the torn tail is cut exactly as by a full
// Open, and the log appends and verifies afterwards.
func TestTrustedOpenRepairsTornTail(t *testing.T) {
	const n = 500
	dir, cp := trustLog(t, n, 450)
	segs := segPaths(t, dir)
	tail := segs[len(segs)-1]
	good, _ := os.Stat(tail)
	f, _ := os.OpenFile(tail, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0x80, 0x02, RecordVersion, 0, 2, 9, 9, 9})
	f.Close()
	var lines logLines
	l, err := openTrusted(t, dir, cp, lines.logf)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(tail); fi.Size() != good.Size() || l.LastSeq() != n {
		t.Fatalf("after trusted Open: tail %d bytes (want %d), LastSeq %d", fi.Size(), good.Size(), l.LastSeq())
	}
	if !strings.Contains(lines.String(), "torn tail") {
		t.Fatalf("repair not logged: %q", lines.String())
	}
	appendN(t, l, n, 100, 9)
	l.Close()
	checkAll(t, dir, n+100, t.Logf)
}

// TestTrustedOpenBoundaries: checkpoints at the last record, and at the
// first and last records of a segment file.
func TestTrustedOpenBoundaries(t *testing.T) {
	const n = 1000
	dir, _ := trustLog(t, n, 1)
	segs := segPaths(t, dir)
	s := len(segs) / 2
	firstOfSeg := segFirst(t, segs[s])
	lastOfSeg := segFirst(t, segs[s+1]) - 1
	full := openT(t, dir, Options{NoSync: true})
	cps := map[string]uint64{"last record": n, "first of a segment": firstOfSeg,
		"last of a segment": lastOfSeg, "first record": 1, "first of the last segment": segFirst(t, segs[len(segs)-1])}
	hashes := map[uint64]Hash{}
	for _, seq := range cps {
		h, err := full.HashAt(seq)
		if err != nil {
			t.Fatal(err)
		}
		hashes[seq] = h
	}
	full.Close()
	for name, seq := range cps {
		dir := copyDir(t, dir)
		l, err := openTrusted(t, dir, Checkpoint{Seq: seq, Hash: hashes[seq]}, nil)
		if err != nil {
			t.Fatalf("%s (%d): %v", name, seq, err)
		}
		want := segFirst(t, segs[segOf(t, segs, seq)])
		if l.VerifiedFrom() != want || l.LastSeq() != n {
			t.Fatalf("%s (%d): VerifiedFrom %d, want %d; LastSeq %d", name, seq, l.VerifiedFrom(), want, l.LastSeq())
		}
		if h, err := l.HashAt(seq); err != nil || h != hashes[seq] {
			t.Fatalf("%s: HashAt(%d): %v", name, seq, err)
		}
		appendN(t, l, n, 1, 1) // the writer continues the chain from the verified head
		if err := l.Iter(1, func(uint64, Event) error { return nil }); err != nil {
			t.Fatalf("%s: Iter: %v", name, err)
		}
		l.Close()
		checkAll(t, dir, n+1, t.Logf)
	}
}
