package eventlog

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentAppendersAndReaders: many appenders get distinct, contiguous
// sequence numbers whose records hold what they appended, while readers read
// and iterate concurrently (tidwall reads are serialised inside Log).
func TestConcurrentAppendersAndReaders(t *testing.T) {
	l := openT(t, t.TempDir(), Options{SegmentSize: 32 << 10, MaxBatchCount: 16})
	const appenders, perAppender = 16, 60
	var (
		mu   sync.Mutex
		got  = map[uint64]string{}
		done atomic.Bool
		wg   sync.WaitGroup
		rwg  sync.WaitGroup
	)
	for r := range 4 {
		rwg.Go(func() {
			for i := 0; !done.Load(); i++ {
				last := l.LastSeq()
				if last == 0 {
					continue
				}
				seq := 1 + uint64(i*7919+r)%last
				if _, err := l.Read(seq); err != nil {
					t.Errorf("Read(%d): %v", seq, err)
					return
				}
				if i%50 == 0 {
					if err := l.Iter(seq, func(uint64, Event) error { return nil }); err != nil {
						t.Errorf("Iter(%d): %v", seq, err)
						return
					}
				}
			}
		})
	}
	for a := range appenders {
		wg.Go(func() {
			for i := range perAppender {
				ev := chatEvent(i)
				id := fmt.Sprintf("a%d-%d", a, i)
				ev.Body.(*MessagePosted).ClientMsgID = id
				first, last, err := l.Append(context.Background(), ev)
				if err != nil || first != last {
					t.Errorf("Append: %d..%d %v", first, last, err)
					return
				}
				mu.Lock()
				if old, dup := got[first]; dup {
					t.Errorf("seq %d given to %s and %s", first, old, id)
				}
				got[first] = id
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	done.Store(true)
	rwg.Wait()
	if n := uint64(appenders * perAppender); l.LastSeq() != n || len(got) != int(n) {
		t.Fatalf("LastSeq %d, %d distinct seqs, want %d", l.LastSeq(), len(got), n)
	}
	err := l.Iter(1, func(seq uint64, ev Event) error {
		if id := ev.Body.(*MessagePosted).ClientMsgID; id != got[seq] {
			return fmt.Errorf("seq %d holds %s, Append returned it for %s", seq, id, got[seq])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
