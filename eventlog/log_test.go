package eventlog

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestAppendReadIterReopen(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 4096}) // many segments
	appendN(t, l, 0, 300, 7)
	if l.FirstSeq() != 1 || l.LastSeq() != 300 {
		t.Fatalf("bounds %d..%d", l.FirstSeq(), l.LastSeq())
	}
	for _, seq := range []uint64{1, 150, 300} {
		ev, err := l.Read(seq)
		if err != nil {
			t.Fatalf("Read(%d): %v", seq, err)
		}
		if want := chatEvent(int(seq - 1)); !reflect.DeepEqual(ev, want) {
			t.Fatalf("Read(%d) = %v, want %v", seq, ev.Describe(), want.Describe())
		}
	}
	if _, err := l.Read(301); !errors.Is(err, ErrNotFound) {
		t.Errorf("Read(301) err = %v", err)
	}
	n := 0
	if err := l.Iter(42, func(seq uint64, ev Event) error {
		if seq != uint64(42+n) || ev.Index != seq {
			t.Fatalf("Iter gave seq %d index %d at step %d", seq, ev.Index, n)
		}
		n++
		return nil
	}); err != nil || n != 259 {
		t.Fatalf("Iter: n=%d err=%v", n, err)
	}
	seq, head := l.Head()
	if h, err := l.HashAt(299); err != nil || h.IsZero() {
		t.Fatalf("HashAt(299) = %v, %v", h, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openT(t, dir, Options{SegmentSize: 4096})
	seq2, head2 := l2.Head()
	if seq2 != seq || head2 != head {
		t.Fatalf("head after reopen %d %s, want %d %s", seq2, head2.Short(), seq, head.Short())
	}
	appendN(t, l2, 300, 10, 1)
	if ev, err := l2.Read(305); err != nil || ev.Index != 305 {
		t.Fatalf("Read(305) after reopen = %v, %v", ev.Describe(), err)
	}
	rep, err := Scan(dir, nil)
	if err != nil || rep.LastSeq != 310 || rep.Torn != nil || rep.Segments < 10 {
		t.Fatalf("Scan = %+v, %v", rep, err)
	}
}

func TestLockedDir(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir, Options{NoSync: true})
	_, err := Open(dir, Options{NoSync: true})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "is another node running with this data_dir?") {
		t.Fatalf("second Open: %v", err)
	}
}

func TestLockReleasedOnClose(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true})
	l.Close()
	openT(t, dir, Options{NoSync: true})
}

func TestAppendRejects(t *testing.T) {
	l := openT(t, t.TempDir(), Options{NoSync: true})
	ctx := context.Background()
	if _, _, err := l.Append(ctx); err == nil {
		t.Error("empty Append accepted")
	}
	if _, _, err := l.Append(ctx, Event{}); err == nil {
		t.Error("event without body accepted")
	}
	big := Event{Body: &MessagePosted{Text: strings.Repeat("x", MaxRecordSize)}}
	if _, _, err := l.Append(ctx, chatEvent(0), big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge event: %v", err)
	}
	if l.LastSeq() != 0 {
		t.Errorf("rejected Append wrote records: last = %d", l.LastSeq())
	}
	l.Close()
	if _, _, err := l.Append(ctx, chatEvent(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
}

func TestPoisoned(t *testing.T) {
	dir := t.TempDir()
	fail := errors.New("no space left on device (simulated)")
	var failing bool
	opts := Options{InjectFault: func(stage FaultStage) error {
		if failing && stage == FaultBeforeWrite {
			return fail
		}
		return nil
	}}
	l := openT(t, dir, opts)
	appendN(t, l, 0, 5, 1)
	failing = true // only the writer goroutine reads it, after the Append below is queued
	if _, _, err := l.Append(context.Background(), chatEvent(5)); !errors.Is(err, fail) || !errors.Is(err, ErrPoisoned) {
		t.Fatalf("failing Append: %v", err)
	}
	failing = false
	if _, _, err := l.Append(context.Background(), chatEvent(5)); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("Append after failure: %v, want sticky ErrPoisoned", err)
	}
	if l.LastSeq() != 5 {
		t.Fatalf("LastSeq = %d after failed write", l.LastSeq())
	}
	if _, err := l.Read(5); err != nil {
		t.Fatalf("Read of durable record after poison: %v", err)
	}
	l.Close()
	l2 := openT(t, dir, Options{})
	appendN(t, l2, 5, 1, 1)
	if l2.LastSeq() != 6 {
		t.Fatalf("after reopen LastSeq = %d", l2.LastSeq())
	}
}

// TestIterChecksDiskAfterOpen: a record damaged on disk after Open is caught
// by a long (pipelined, file-reading) Iter, and an error from fn stops it.
func TestIterChecksDiskAfterOpen(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: 256 << 10})
	appendN(t, l, 0, 6000, 100)
	stop := errors.New("stop")
	n := 0
	if err := l.Iter(1, func(seq uint64, ev Event) error {
		if n++; seq == 4500 {
			return stop
		}
		return nil
	}); err != stop || n != 4500 {
		t.Fatalf("Iter stopped with %v after %d", err, n)
	}
	segs := segPaths(t, dir)
	data, _ := os.ReadFile(segs[1])
	offs := entryOffsets(data)
	data[offs[10]+60] ^= 0x10
	os.WriteFile(segs[1], data, 0o640)
	want := segFirst(t, segs[1]) + 10
	var ce *CorruptError
	if err := l.Iter(1, func(uint64, Event) error { return nil }); !errors.As(err, &ce) || ce.Index != want {
		t.Fatalf("Iter over damaged record %d: %v", want, err)
	}
}

func TestAppendLargerThanBatchAndCanceled(t *testing.T) {
	l := openT(t, t.TempDir(), Options{NoSync: true, MaxBatchCount: 4, MaxBatchBytes: 1024})
	evs := make([]Event, 50)
	for i := range evs {
		evs[i] = chatEvent(i)
	}
	first, last, err := l.Append(context.Background(), evs...)
	if err != nil || first != 1 || last != 50 {
		t.Fatalf("Append of 50 with MaxBatchCount 4: %d..%d %v", first, last, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A canceled context may or may not win against the free writer; either
	// way the result must be consistent with the log.
	_, last2, err := l.Append(ctx, chatEvent(50))
	if err == nil && last2 != 51 || err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with canceled ctx: %d %v", last2, err)
	}
}

// TestHashAtMatchesScan: the chain hash the live Log reports for each seq is
// the one the offline Scan computes, and the head is the last of them.
func TestHashAtMatchesScan(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: 4096})
	appendN(t, l, 0, 100, 9)
	var prev Hash
	_, err := Scan(dir, func(seq uint64, ev Event, h Hash) error {
		got, err := l.HashAt(seq)
		if err != nil || got != h {
			t.Fatalf("HashAt(%d) = %s, %v; Scan says %s", seq, got.Short(), err, h.Short())
		}
		prev = h
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seq, head := l.Head(); seq != 100 || head != prev {
		t.Fatalf("Head = %d %s, want 100 %s", seq, head.Short(), prev.Short())
	}
	if h, _ := l.HashAt(0); !h.IsZero() {
		t.Error("HashAt(0) is not the zero hash")
	}
}
