package eventlog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
)

// iterAll returns every event of l in order, read with Iter.
func iterAll(t *testing.T, l *Log) []Event {
	t.Helper()
	var evs []Event
	if err := l.Iter(1, func(seq uint64, ev Event) error {
		if seq != uint64(len(evs)+1) {
			return fmt.Errorf("Iter gave seq %d after %d", seq, len(evs))
		}
		evs = append(evs, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestReadRange: every range of a multi-segment log, including ones that
// cross segment boundaries and indexed positions, returns exactly the
// records Iter returns, after Open and for records appended since.
func TestReadRange(t *testing.T) {
	dir := t.TempDir()
	opts := Options{NoSync: true, SegmentSize: 8 << 10}
	l := openT(t, dir, opts)
	appendN(t, l, 0, 500, 7)
	check := func(l *Log) {
		t.Helper()
		all := iterAll(t, l)
		last := uint64(len(all))
		rng := rand.New(rand.NewPCG(1, 2))
		ranges := [][2]uint64{{1, 1}, {1, last}, {last, last}, {31, 33}, {32, 64}, {last - 40, last}}
		for range 300 {
			from := 1 + rng.Uint64N(last)
			ranges = append(ranges, [2]uint64{from, min(last, from+rng.Uint64N(80))})
		}
		for _, r := range ranges {
			seq := r[0]
			err := l.ReadRange(r[0], r[1], func(s uint64, ev Event) error {
				if s != seq || !reflect.DeepEqual(ev, all[s-1]) {
					return fmt.Errorf("got seq %d (%s), want %d", s, ev.Describe(), seq)
				}
				seq++
				return nil
			})
			if err != nil || seq != r[1]+1 {
				t.Fatalf("ReadRange(%d, %d): %v, stopped before %d", r[0], r[1], err, seq)
			}
			ev, err := l.Read(r[0])
			if err != nil || !reflect.DeepEqual(ev, all[r[0]-1]) {
				t.Fatalf("Read(%d): %v", r[0], err)
			}
		}
		for _, r := range [][2]uint64{{0, 1}, {1, last + 1}, {last + 1, last + 1}, {5, 4}} {
			if err := l.ReadRange(r[0], r[1], func(uint64, Event) error { return nil }); !errors.Is(err, ErrNotFound) {
				t.Errorf("ReadRange(%d, %d) = %v, want ErrNotFound", r[0], r[1], err)
			}
		}
		stop := errors.New("stop")
		n := 0
		if err := l.ReadRange(1, last, func(uint64, Event) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		}); err != stop || n != 3 {
			t.Fatalf("fn's error: %v after %d", err, n)
		}
	}
	check(l)
	if segs := segPaths(t, dir); len(segs) < 5 {
		t.Fatalf("only %d segments", len(segs))
	}
	appendN(t, l, 500, 300, 11) // indexed by the writer
	check(l)
	l.Close()
	l2 := openT(t, dir, opts) // indexed by Open's verification
	check(l2)
}

// TestReadRangeSegmentRolls: the writer's mirror of tidwall's segment rolls
// puts every record where it is, whatever the batch sizes (a batch that
// ends exactly at a roll leaves an empty new segment; one record can be
// bigger than the segment size).
func TestReadRangeSegmentRolls(t *testing.T) {
	for _, batch := range []int{1, 2, 5, 33, 64} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, Options{NoSync: true, SegmentSize: 1000, MaxBatchCount: batch})
			for i := range 200 {
				evs := []Event{chatEvent(i)}
				if i%17 == 0 {
					evs[0].Body.(*MessagePosted).Text = string(make([]byte, 1500))
				}
				if _, _, err := l.Append(context.Background(), evs...); err != nil {
					t.Fatal(err)
				}
			}
			appendN(t, l, 200, 300, batch)
			// Reopened with a smaller segment size, the tail is already
			// over it: tidwall rolls before the next batch.
			l.Close()
			l = openT(t, dir, Options{NoSync: true, SegmentSize: 300, MaxBatchCount: batch})
			appendN(t, l, 500, 100, batch)
			all := iterAll(t, l)
			for seq := uint64(1); seq <= uint64(len(all)); seq++ {
				ev, err := l.Read(seq)
				if err != nil || !reflect.DeepEqual(ev, all[seq-1]) {
					t.Fatalf("Read(%d): %v", seq, err)
				}
			}
		})
	}
}

// TestReadRangeChecksDisk: a record changed on disk after Open is a
// *CorruptError naming it, whether its CRC fails or it is a well-formed
// record that does not belong to the chain.
func TestReadRangeChecksDisk(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: 8 << 10})
	appendN(t, l, 0, 300, 10)
	segs := segPaths(t, dir)
	path := segs[2]
	first := segFirst(t, path)
	data, _ := os.ReadFile(path)
	offs := entryOffsets(data)
	orig := append([]byte(nil), data...)

	// A flipped payload byte: CRC.
	data[offs[5]+60] ^= 0x10
	os.WriteFile(path, data, 0o640)
	var ce *CorruptError
	if _, err := l.Read(first + 5); !errors.As(err, &ce) || ce.Index != first+5 || ce.File != path {
		t.Fatalf("Read of flipped record %d: %v", first+5, err)
	}
	if err := l.ReadRange(first, first+10, func(uint64, Event) error { return nil }); !errors.As(err, &ce) || ce.Index != first+5 {
		t.Fatalf("ReadRange over flipped record: %v", err)
	}
	if _, err := l.HashAt(first + 5); !errors.As(err, &ce) {
		t.Fatalf("HashAt of flipped record: %v", err)
	}
	// The record before it is read against its prev field: still fine.
	if _, err := l.Read(first + 3); err != nil {
		t.Fatalf("Read(%d): %v", first+3, err)
	}

	// A valid record of the same size that is not in the chain (its prev
	// field is another record's): caught by the link to the next record.
	copy(data, orig)
	rec := data[offs[5]+1 : offs[6]]
	seal(rec, KindMessagePosted, Hash{1})
	os.WriteFile(path, data, 0o640)
	if _, err := l.Read(first + 4); !errors.As(err, &ce) || ce.Index != first+5 {
		t.Fatalf("Read(%d) before a foreign record: %v", first+4, err)
	}
	if _, err := l.Read(first + 5); !errors.As(err, &ce) {
		// its own hash no longer matches the next record's prev field
		t.Fatalf("Read of foreign record: %v", err)
	}

	// A file cut short.
	os.WriteFile(path, orig[:offs[7]], 0o640)
	if _, err := l.Read(first + 8); !errors.As(err, &ce) {
		t.Fatalf("Read past a cut: %v", err)
	}
	os.WriteFile(path, orig, 0o640)
	if _, err := l.Read(first + 8); err != nil {
		t.Fatal(err)
	}
}

// TestReadRangeConcurrent: readers call ReadRange, Read and HashAt while
// appenders append; every record a reader gets was durable (≤ LastSeq
// before the call) and holds what was appended at that seq (run with -race).
func TestReadRangeConcurrent(t *testing.T) {
	l := openT(t, t.TempDir(), Options{NoSync: true, SegmentSize: 16 << 10, MaxBatchCount: 8})
	appendN(t, l, 0, 10, 1)
	var (
		done atomic.Bool
		wg   sync.WaitGroup
		rwg  sync.WaitGroup
	)
	for r := range 4 {
		rwg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for !done.Load() {
				last := l.LastSeq()
				from := 1 + rng.Uint64N(last)
				to := min(last, from+rng.Uint64N(40))
				err := l.ReadRange(from, to, func(seq uint64, ev Event) error {
					if seq > last {
						return fmt.Errorf("seq %d beyond LastSeq %d", seq, last)
					}
					if want := fmt.Sprintf("message %08d ", seq-1); ev.Body.(*MessagePosted).Text[:len(want)] != want {
						return fmt.Errorf("seq %d holds %q", seq, ev.Body.(*MessagePosted).Text)
					}
					return nil
				})
				if err == nil {
					_, err = l.HashAt(to)
				}
				if err != nil {
					t.Errorf("ReadRange(%d, %d): %v", from, to, err)
					return
				}
			}
		})
	}
	wg.Go(func() { // in order, so that seq i holds chatEvent(i-1); batches of 1..8
		for i := 10; i < 2000; {
			n := 1 + i%8
			evs := make([]Event, n)
			for j := range evs {
				evs[j] = chatEvent(i + j)
			}
			if _, _, err := l.Append(context.Background(), evs...); err != nil {
				t.Error(err)
				return
			}
			i += n
		}
	})
	wg.Wait()
	done.Store(true)
	rwg.Wait()
}

func TestReadAfterClose(t *testing.T) {
	l := openT(t, t.TempDir(), Options{NoSync: true})
	appendN(t, l, 0, 10, 10)
	l.Close()
	if _, err := l.Read(3); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := l.ReadRange(1, 3, func(uint64, Event) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadRange after Close: %v", err)
	}
}
