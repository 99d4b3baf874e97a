package eventlog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// bulkEvents are 500 chat events of about 200 bytes and, among them, a few
// of 20-30 KiB: larger than the chunk the tests write in (bulkT), so a
// record spans chunks and segments end in the middle of one.
func bulkEvents() []Event {
	var evs []Event
	for i := 1; i <= 500; i++ {
		ev := chatEvent(i)
		if i%97 == 0 {
			ev.Body.(*MessagePosted).Text = strings.Repeat("x", 20_000+i*20)
		}
		evs = append(evs, ev)
	}
	return evs
}

// bulkT sets the Bulk's write mode and a chunk of 8 KiB for one test.
func bulkT(t *testing.T, direct bool, chunk int) {
	d, w, c := bulkDirect, bulkWriteback, bulkChunk
	t.Cleanup(func() { bulkDirect, bulkWriteback, bulkChunk = d, w, c })
	bulkDirect, bulkChunk = direct, chunk
}

// A log written by Bulk holds exactly the bytes Append would have written
// (segments cut at the same records, byte for byte), opens and verifies
// like any other, and takes Appends after it: with direct I/O (bulkDirect,
// where the file system takes it; the tests' temporary directories are
// on one that does, or the test says it checked only buffered writes),
// through the page cache, and after a direct write the file system
// refused (an unaligned chunk: the kernel's EINVAL), which goes on
// buffered. With and without fsyncs (NoSync turns the writeback off).
func TestBulkWritesWhatAppendWrites(t *testing.T) {
	evs := bulkEvents()
	for _, noSync := range []bool{true, false} {
		opts := Options{NoSync: noSync, SegmentSize: 20 << 10}
		ref := openT(t, t.TempDir(), opts)
		for i := 0; i < len(evs); i += 50 {
			if _, _, err := ref.Append(context.Background(), evs[i:i+50]...); err != nil {
				t.Fatal(err)
			}
		}
		refSegs, _ := listSegments(ref.Dir())
		if len(refSegs) < 10 {
			t.Fatalf("Append made %d segments", len(refSegs))
		}
		for _, c := range []struct {
			name   string
			direct bool
			chunk  int
		}{
			{"direct", true, 8 << 10},
			{"buffered", false, 8 << 10},
			{"direct-refused", true, 5000},
		} {
			t.Run(fmt.Sprintf("%s/nosync=%v", c.name, noSync), func(t *testing.T) {
				bulkT(t, c.direct, c.chunk)
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
				direct := b.Direct()
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				switch {
				case c.name == "direct" && !direct && directWorks(t):
					t.Fatal("the bulk wrote through the page cache where the file system takes O_DIRECT")
				case c.name == "direct" && !direct:
					t.Log("this file system refuses O_DIRECT: only buffered writes were checked")
				case c.name != "direct" && direct:
					t.Fatalf("%s: the bulk still wrote direct", c.name)
				}
				if _, err := CreateBulk(dir, opts); err == nil {
					t.Fatal("a second bulk write into a log was accepted")
				}
				segs, _ := listSegments(dir)
				if len(segs) != len(refSegs) {
					t.Fatalf("%d segments, Append made %d", len(segs), len(refSegs))
				}
				for i := range segs {
					if segs[i].first != refSegs[i].first {
						t.Fatalf("segment %d starts at %d, Append's at %d", i, segs[i].first, refSegs[i].first)
					}
					got, err := os.ReadFile(segs[i].path)
					if err != nil {
						t.Fatal(err)
					}
					want, err := os.ReadFile(refSegs[i].path)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("segment %d: %d bytes differ from Append's %d", i, len(got), len(want))
					}
				}
				l, err := Open(dir, Options{NoSync: noSync, SegmentSize: opts.SegmentSize, Logf: t.Logf})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				if l.LastSeq() != 500 || last != 500 {
					t.Fatalf("bulk log holds %d records (head %d)", l.LastSeq(), last)
				}
				if _, h := l.Head(); h != head {
					t.Fatal("bulk head hash differs from the opened log's")
				}
				if _, h := ref.Head(); h != head {
					t.Fatal("bulk chain differs from Append's")
				}
				if _, err := l.VerifyChain(context.Background(), 0); err != nil {
					t.Fatal(err)
				}
				if _, _, err := l.Append(context.Background(), chatEvent(501)); err != nil {
					t.Fatal(err)
				}
				if ev, err := l.Read(501); err != nil || ev.Body.(*MessagePosted).Text != chatEvent(501).Body.(*MessagePosted).Text {
					t.Fatalf("append after a bulk write: %v", err)
				}
			})
		}
	}
}

// directWorks says whether the file system of the tests' temporary
// directories takes O_DIRECT (createSegment's own probe).
func directWorks(t *testing.T) bool {
	f, direct, err := createSegment(t.TempDir()+"/probe", true)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return direct
}
