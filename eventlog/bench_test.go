package eventlog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
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
// 256 goroutines; one op is one event. The shared disk's fsync latency drifts
// a lot, so the run is split into rounds, and each round of ours is followed
// by a round of raw tidwall WriteBatch (one fsync per batch) writing as many
// records at the batch size our group commit reached in that round. Both
// totals are reported: events/s (ours), raw-events/s, and their ratio.
func BenchmarkAppend(b *testing.B) {
	for _, p := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("appenders=%d", p), func(b *testing.B) {
			l := openT(b, b.TempDir(), Options{Logf: b.Logf})
			w, err := wal.Open(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			rec, _ := AppendRecord(nil, Hash{}, chatEvent(0))
			b.SetBytes(int64(len(rec)))
			const rounds = 6
			var oursTime, rawTime time.Duration
			var oursN, rawN int
			rawIdx := uint64(1)
			for round := range rounds {
				n := b.N / rounds
				if round == rounds-1 {
					n = b.N - oursN
				}
				before := l.Stats()
				d := appendRound(b, l, p, n)
				st := l.Stats()
				oursTime += d
				oursN += int(st.Records - before.Records)
				batch := max(1, int(float64(st.Records-before.Records)/float64(st.Batches-before.Batches)+0.5))
				b.StopTimer()
				d, rawIdx = rawWriteBatch(b, w, rawIdx, n, batch, rec)
				b.StartTimer()
				rawTime += d
				rawN += n
			}
			st := l.Stats()
			ours := float64(oursN) / oursTime.Seconds()
			raw := float64(rawN) / rawTime.Seconds()
			b.ReportMetric(ours, "events/s")
			b.ReportMetric(float64(st.Records)/float64(st.Batches), "records/batch")
			b.ReportMetric(raw, "raw-events/s")
			b.ReportMetric(ours/raw, "ours/raw")
		})
	}
}

// appendRound appends n events from p goroutines and returns the time taken.
// Each goroutine appends its own ready-made event, so the figure is the log's
// cost, not the cost of formatting test messages.
func appendRound(b *testing.B, l *Log, p, n int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	for g := range p {
		ev := chatEvent(g)
		wg.Go(func() {
			for i := g; i < n; i += p {
				if _, _, err := l.Append(context.Background(), ev); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// rawWriteBatch appends n copies of rec to w from index idx in WriteBatch
// calls of batch records (one fsync each); it returns the time taken and the
// next index.
func rawWriteBatch(b *testing.B, w *wal.Log, idx uint64, n, batch int, rec []byte) (time.Duration, uint64) {
	var wb wal.Batch
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
	return time.Since(start), idx
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

// openAndFold opens dir (verifying every record) and folds every record
// into a per-room message count, as a node rebuilding its state would.
func openAndFold(b *testing.B, dir string) (folded int, rooms map[string]int) {
	l, err := Open(dir, Options{NoSync: true, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rooms = map[string]int{}
	err = l.Iter(1, func(_ uint64, ev Event) error {
		folded++
		if m, ok := ev.Body.(*MessagePosted); ok {
			rooms[m.Room]++
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return folded, rooms
}

// BenchmarkOpenFold1M: Open (verifying every record) and fold a 1M-event log
// from the start. One op is one whole open+fold.
func BenchmarkOpenFold1M(b *testing.B) {
	dir := bigLog(b)
	cpu := cpuTime()
	b.ResetTimer()
	for range b.N {
		if n, _ := openAndFold(b, dir); n != bigLogEvents {
			b.Fatalf("folded %d", n)
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

// BenchmarkDecodeRecord: check and decode one ~200-byte chat record.
func BenchmarkDecodeRecord(b *testing.B) {
	rec, _ := AppendRecord(nil, Hash{}, chatEvent(1))
	d := new(decoder)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if _, err := d.decodeRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkHashRecord: the chain hash of one ~200-byte record.
func BenchmarkHashRecord(b *testing.B) {
	rec, _ := AppendRecord(nil, Hash{}, chatEvent(1))
	b.SetBytes(int64(len(rec)))
	cpu := cpuTime()
	for b.Loop() {
		HashRecord(rec)
	}
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// bigLogCheckpoint returns the checkpoint of record bigLogEvents-1000 of
// the big log, as a node's newest snapshot would hold it.
func bigLogCheckpoint(b *testing.B, dir string) Checkpoint {
	l, err := Open(dir, Options{NoSync: true, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	seq := uint64(bigLogEvents - 1000)
	h, err := l.HashAt(seq)
	if err != nil {
		b.Fatal(err)
	}
	return Checkpoint{Seq: seq, Hash: h}
}

// BenchmarkOpen1M: Open of the 1M-record log (214 MB, 11 segments), full
// verification against a trusted Open with a checkpoint 1,000 records
// before the end. One op is Open+Close; page cache warm.
func BenchmarkOpen1M(b *testing.B) {
	dir := bigLog(b)
	cp := bigLogCheckpoint(b, dir)
	for _, trusted := range []bool{false, true} {
		name := "full"
		opts := Options{NoSync: true, Logf: b.Logf}
		if trusted {
			name, opts.Trust = "trusted", &cp
		}
		b.Run(name, func(b *testing.B) {
			cpu := cpuTime()
			var ixBytes int
			for b.Loop() {
				l, err := Open(dir, opts)
				if err != nil {
					b.Fatal(err)
				}
				ixBytes = l.indexBytes()
				l.Close()
			}
			b.ReportMetric((cpuTime()-cpu).Seconds()*1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(ixBytes), "index-bytes")
		})
	}
}

// indexBytes is the memory of the sparse index's offsets.
func (l *Log) indexBytes() int {
	l.ix.mu.RLock()
	defer l.ix.mu.RUnlock()
	n := 0
	for _, s := range l.ix.segs {
		n += 4 * cap(s.offs)
	}
	return n
}

// BenchmarkReadRange1M: reads of old records of the 1M-record log (opened
// with full verification, so every segment is indexed): one random record
// (Read = ReadRange(seq, seq)), and a page of 50 consecutive records from a
// random position (a history page). Each op is one call; p50/p99 of the
// calls' latency are reported too.
func BenchmarkReadRange1M(b *testing.B) {
	dir := bigLog(b)
	l, err := Open(dir, Options{NoSync: true, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for _, n := range []uint64{1, 50} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, n))
			lat := make([]time.Duration, 0, 1<<16)
			got := 0
			fn := func(uint64, Event) error { got++; return nil }
			for b.Loop() {
				from := 1 + rng.Uint64N(bigLogEvents-1000-n)
				t0 := time.Now()
				if err := l.ReadRange(from, from+n-1, fn); err != nil {
					b.Fatal(err)
				}
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(t0))
				}
			}
			if got != b.N*int(n) {
				b.Fatalf("read %d records", got)
			}
			reportPercentiles(b, lat)
		})
	}
}

// BenchmarkReadRangeParallel1M: 8 goroutines reading random old records
// at once (SSH sessions paging history). One op is one Read.
func BenchmarkReadRangeParallel1M(b *testing.B) {
	dir := bigLog(b)
	l, err := Open(dir, Options{NoSync: true, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetParallelism(4) // 4×GOMAXPROCS goroutines
	var seed atomic.Uint64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 3))
		for pb.Next() {
			if _, err := l.Read(1 + rng.Uint64N(bigLogEvents)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkScan1M: reading every record of the 1M-record log in order, with
// Iter (a reader goroutine reads whole segment files and hashes, pipelined
// with decoding) and with one ReadRange(1, LastSeq) (pread in 16 KiB
// windows, all in the caller's goroutine). One op is the whole scan.
func BenchmarkScan1M(b *testing.B) {
	dir := bigLog(b)
	l, err := Open(dir, Options{NoSync: true, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for _, name := range []string{"iter", "readrange"} {
		b.Run(name, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				n := 0
				fn := func(uint64, Event) error { n++; return nil }
				if name == "iter" {
					err = l.Iter(1, fn)
				} else {
					err = l.ReadRange(1, l.LastSeq(), fn)
				}
				if err != nil || n != bigLogEvents {
					b.Fatalf("%d records, %v", n, err)
				}
			}
			b.ReportMetric((cpuTime()-cpu).Seconds()*1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkVerifyChain1M: VerifyChain of the 1M-record log with no pause.
func BenchmarkVerifyChain1M(b *testing.B) {
	dir := bigLog(b)
	l, err := Open(dir, Options{NoSync: true, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	cpu := cpuTime()
	for b.Loop() {
		if res, err := l.VerifyChain(context.Background(), 0); err != nil || res.Records != bigLogEvents {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric((cpuTime()-cpu).Seconds()*1000/float64(b.N), "cpu-ms/op")
}
