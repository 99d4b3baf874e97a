package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/wal"
)

// Run with:
//   go test -run='^$' -bench=. -benchtime=... ./eventlog/
// The figures and the exact command are in BENCHMARKS.txt.

var benchRoot string // holds the shared 1M-event logs; removed by TestMain

func TestMain(m *testing.M) {
	code := m.Run()
	if benchRoot != "" {
		os.RemoveAll(benchRoot)
	}
	os.Exit(code)
}

// BenchmarkAppend appends ~200-byte chat records with fsync from 1, 16 and
// 256 goroutines; one op is one event.
func BenchmarkAppend(b *testing.B) {
	for _, p := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("appenders=%d", p), func(b *testing.B) {
			l := openT(b, b.TempDir(), Options{Logf: b.Logf})
			rec, _ := AppendRecord(nil, Hash{}, chatEvent(0))
			b.SetBytes(int64(len(rec)))
			var wg sync.WaitGroup
			per := (b.N + p - 1) / p
			b.ResetTimer()
			for g := range p {
				wg.Go(func() {
					for i := range per {
						if _, _, err := l.Append(context.Background(), chatEvent(g*per+i)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			st := l.Stats()
			ours := float64(st.Records) / b.Elapsed().Seconds()
			avg := float64(st.Records) / float64(st.Batches)
			b.ReportMetric(ours, "events/s")
			b.ReportMetric(avg, "records/batch")
			// Side by side: raw tidwall WriteBatch of as many records at the
			// batch size our group commit reached, run right after ours and
			// once more, averaged, to damp the shared disk's drift.
			batch := max(1, int(avg+0.5))
			raw := (rawWriteBatch(b, int(st.Records), batch) + rawWriteBatch(b, int(st.Records), batch)) / 2
			b.ReportMetric(raw, "raw-events/s")
			b.ReportMetric(ours/raw, "ours/raw")
		})
	}
}

// rawWriteBatch writes n ready-made chat records to a fresh tidwall/wal in
// WriteBatch calls of batch records (one fsync each) and returns records/s.
func rawWriteBatch(b *testing.B, n, batch int) float64 {
	w, err := wal.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	rec, _ := AppendRecord(nil, Hash{}, chatEvent(0))
	var wb wal.Batch
	idx := uint64(1)
	start := time.Now()
	for done := 0; done < n; {
		for j := 0; j < batch && done < n; j++ {
			wb.Write(idx, rec)
			idx++
			done++
		}
		if err := w.WriteBatch(&wb); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkRawWAL is the baseline: tidwall/wal WriteBatch (one fsync per
// batch) of ready-made records of the same size, at the batch sizes that
// BenchmarkAppend's group commit reaches.
func BenchmarkRawWAL(b *testing.B) {
	for _, n := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			w, err := wal.Open(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			rec, _ := AppendRecord(nil, Hash{}, chatEvent(0))
			b.SetBytes(int64(len(rec)))
			var batch wal.Batch
			idx := uint64(1)
			b.ResetTimer()
			for done := 0; done < b.N; {
				for j := 0; j < n && done < b.N; j++ {
					batch.Write(idx, rec)
					idx++
					done++
				}
				if err := w.WriteBatch(&batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// countFolder counts messages per room: a cheap, realistic fold.
type countFolder struct{ Rooms map[string]int }

func (*countFolder) Name() string  { return "count" }
func (*countFolder) Kinds() []Kind { return []Kind{KindMessagePosted} }
func (c *countFolder) Fold(_ uint64, ev Event) error {
	c.Rooms[ev.Body.(*MessagePosted).Room]++
	return nil
}
func (c *countFolder) Snapshot() ([]byte, error) { return json.Marshal(c.Rooms) }
func (c *countFolder) Restore(b []byte) error    { return json.Unmarshal(b, &c.Rooms) }

var (
	bigLogOnce sync.Once
	bigLogDir  string
)

const bigLogEvents = 1_000_000

// bigLog returns a directory holding a 1,000,000-event log, built once.
func bigLog(b *testing.B) string {
	bigLogOnce.Do(func() {
		var err error
		if benchRoot, err = os.MkdirTemp("", "eventlog-bench-"); err != nil {
			b.Fatal(err)
		}
		bigLogDir = filepath.Join(benchRoot, "wal")
		l, err := Open(bigLogDir, Options{NoSync: true, Logf: b.Logf})
		if err != nil {
			b.Fatal(err)
		}
		evs := make([]Event, 0, 1000)
		for i := 0; i < bigLogEvents; i += 1000 {
			evs = evs[:0]
			for j := i; j < i+1000; j++ {
				ev := chatEvent(j)
				ev.Body.(*MessagePosted).Room = fmt.Sprintf("room%d", j%50)
				evs = append(evs, ev)
			}
			if _, _, err := l.Append(context.Background(), evs...); err != nil {
				b.Fatal(err)
			}
		}
		l.Close()
	})
	if bigLogDir == "" {
		b.Fatal("big log not built")
	}
	return bigLogDir
}

func openAndFold(b *testing.B, dir string) (ReplayStats, *countFolder) {
	l, err := Open(dir, Options{NoSync: true, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	c := &countFolder{Rooms: map[string]int{}}
	r, _ := NewRegistry(c)
	st, err := Replay(l, r)
	if err != nil {
		b.Fatal(err)
	}
	return st, c
}

// BenchmarkOpenFold1M: Open (verifying every record) and fold a 1M-event log
// from the start. One op is one whole open+fold.
func BenchmarkOpenFold1M(b *testing.B) {
	dir := bigLog(b)
	os.RemoveAll(snapDir(dir))
	cpu := cpuTime()
	b.ResetTimer()
	for range b.N {
		if st, _ := openAndFold(b, dir); st.Folded != bigLogEvents {
			b.Fatalf("folded %d", st.Folded)
		}
	}
	b.ReportMetric(float64(bigLogEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric((cpuTime()-cpu).Seconds()*1000/float64(b.N), "cpu-ms/op")
}

// cpuTime is the CPU time (user+system) this process has used. The shared
// machine's load changes wall-clock figures a lot; CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRestartWithSnapshot1M: Open the same log with a snapshot 1,000
// records before its end: verify, restore, fold the tail.
func BenchmarkRestartWithSnapshot1M(b *testing.B) {
	dir := bigLog(b)
	os.RemoveAll(snapDir(dir))
	l, err := Open(dir, Options{NoSync: true, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	c := &countFolder{Rooms: map[string]int{}}
	r, _ := NewRegistry(c)
	l.iter(1, bigLogEvents-1000, func(seq uint64, ev Event) error { return r.Apply(seq, ev) })
	if _, err := l.Snapshot(r); err != nil {
		b.Fatal(err)
	}
	l.Close()
	cpu := cpuTime()
	b.ResetTimer()
	for range b.N {
		if st, _ := openAndFold(b, dir); st.SnapshotSeq != bigLogEvents-1000 || st.Folded != 1000 {
			b.Fatalf("stats %+v", st)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpuTime()-cpu).Seconds()*1000/float64(b.N), "cpu-ms/op")
	os.RemoveAll(snapDir(dir))
}

// BenchmarkDecodeRecord: check and decode one ~200-byte chat record.
func BenchmarkDecodeRecord(b *testing.B) {
	rec, _ := AppendRecord(nil, Hash{}, chatEvent(1))
	d := new(decoder)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decodeRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashRecord: the chain hash of one ~200-byte record.
func BenchmarkHashRecord(b *testing.B) {
	rec, _ := AppendRecord(nil, Hash{}, chatEvent(1))
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		HashRecord(rec)
	}
}
