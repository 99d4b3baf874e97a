package eventlog

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkFsyncBesideBulk is what a copy into a new log (Bulk: a node
// seeding, a restore) does to a log appending beside it on the same disk:
// the latency of one-event appends, each fsynced, one every 2 ms (a
// cluster's posts), while a Bulk writes 256 MiB with writeback (bulk.go)
// every 256 KiB, every 1 MiB and never, in ABCCBA rounds, and for reference while nothing else writes
// (as long as the last copy took). Reported per mode: the appends' p50 and
// p99, and the copy's MB/s.
func BenchmarkFsyncBesideBulk(b *testing.B) {
	const copyBytes = 256 << 20
	lat := map[string][]time.Duration{}
	rate := map[string][]float64{}
	defer func(n int) { bytesPerSync = n }(bytesPerSync)
	per := map[string]int{"writeback-256KiB": 256 << 10, "writeback-1MiB": 1 << 20, "nowriteback": 0}
	last := 3 * time.Second
	for range b.N {
		for _, mode := range []string{"alone", "writeback-256KiB", "writeback-1MiB", "nowriteback", "nowriteback", "writeback-1MiB", "writeback-256KiB"} {
			bytesPerSync = per[mode]
			l := openT(b, b.TempDir(), Options{})
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var ds []time.Duration
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
					t0 := time.Now()
					if _, _, err := l.Append(context.Background(), chatEvent(i)); err != nil {
						b.Error(err)
						return
					}
					ds = append(ds, time.Since(t0))
				}
			}()
			if mode == "alone" {
				time.Sleep(last)
			} else {
				t0 := time.Now()
				n := bulkCopy(b, b.TempDir(), copyBytes)
				last = time.Since(t0)
				rate[mode] = append(rate[mode], float64(n)/last.Seconds()/1e6)
			}
			close(stop)
			wg.Wait()
			lat[mode] = append(lat[mode], ds...)
		}
	}
	for _, mode := range []string{"alone", "writeback-256KiB", "writeback-1MiB", "nowriteback"} {
		ds := lat[mode]
		slices.Sort(ds)
		if len(ds) > 0 {
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, mode+"-p50-ms")
			b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, mode+"-p99-ms")
		}
		if r := rate[mode]; len(r) > 0 {
			slices.Sort(r)
			b.ReportMetric(r[len(r)/2], mode+"-MB/s")
		}
		b.Logf("%s: %d appends, copy MB/s %v", mode, len(ds), rate[mode])
	}
}

// bulkCopy writes at least size bytes of chat events with a Bulk into dir
// and returns how many it wrote.
func bulkCopy(b *testing.B, dir string, size int) int {
	bk, err := CreateBulk(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]Event, 256)
	for i := 0; int(bk.seq-1)*200 < size; i++ { // a chatEvent record is about 200 bytes
		for j := range batch {
			batch[j] = chatEvent(i*len(batch) + j)
		}
		if _, _, err := bk.Append(batch...); err != nil {
			b.Fatal(err)
		}
	}
	if err := bk.Close(); err != nil {
		b.Fatal(err)
	}
	segs, _ := listSegments(dir)
	n := 0
	for _, sg := range segs {
		if fi, err := os.Stat(sg.path); err == nil {
			n += int(fi.Size())
		}
	}
	return n
}
