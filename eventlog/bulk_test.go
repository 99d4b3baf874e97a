package eventlog

import (
	"bytes"
	"context"
	"testing"
)

// A log written by Bulk holds exactly the bytes Append would have written
// (segments cut at the same records), opens and verifies like any other,
// and takes Appends after it.
func TestBulkWritesWhatAppendWrites(t *testing.T) {
	opts := Options{NoSync: true, SegmentSize: 4 << 10}
	var evs []Event
	for i := 1; i <= 500; i++ {
		evs = append(evs, chatEvent(i))
	}
	ref := openT(t, t.TempDir(), opts)
	for i := 0; i < len(evs); i += 50 {
		if _, _, err := ref.Append(context.Background(), evs[i:i+50]...); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	b, err := CreateBulk(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(evs); i += 7 {
		if _, _, err := b.Append(evs[i:min(len(evs), i+7)]...); err != nil {
			t.Fatal(err)
		}
	}
	last, head := b.Head()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateBulk(dir, opts); err == nil {
		t.Fatal("a second bulk write into a log was accepted")
	}
	l := openT(t, dir, opts)
	if l.LastSeq() != 500 || last != 500 {
		t.Fatalf("bulk log holds %d records (head %d)", l.LastSeq(), last)
	}
	if _, h := l.Head(); h != head {
		t.Fatal("bulk head hash differs from the opened log's")
	}
	if _, h := ref.Head(); h != head {
		t.Fatal("bulk chain differs from Append's")
	}
	refSegs, _ := listSegments(ref.Dir())
	segs, _ := listSegments(dir)
	if len(segs) < 10 || len(segs) != len(refSegs) {
		t.Fatalf("%d segments, Append made %d", len(segs), len(refSegs))
	}
	for i := range segs {
		if segs[i].first != refSegs[i].first {
			t.Fatalf("segment %d starts at %d, Append's at %d", i, segs[i].first, refSegs[i].first)
		}
	}
	var a, c [][]byte
	ref.ReadRecords(1, 500, func(_ uint64, rec []byte) error { a = append(a, bytes.Clone(rec)); return nil })
	l.ReadRecords(1, 500, func(_ uint64, rec []byte) error { c = append(c, bytes.Clone(rec)); return nil })
	for i := range a {
		if !bytes.Equal(a[i], c[i]) {
			t.Fatalf("record %d differs", i+1)
		}
	}
	if _, _, err := l.Append(context.Background(), chatEvent(501)); err != nil {
		t.Fatal(err)
	}
	if ev, err := l.Read(501); err != nil || ev.Body.(*MessagePosted).Text != chatEvent(501).Body.(*MessagePosted).Text {
		t.Fatalf("append after a bulk write: %v", err)
	}
}
