package eventlog

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkFsyncBesideBulk is what a copy into a new log (Bulk: a node
// seeding, a restore) does to a log appending beside it on the same disk:
// the latency of one-event appends, each fsynced, one every 2 ms (a
// cluster's posts), while a Bulk writes 256 MiB with direct I/O
// (bulkDirect) in chunks of 1 MiB and of 256 KiB, through the page cache
// with writeback every 1 MiB (bulkWriteback) and without, in ABCDDCBA
// rounds (BULKBENCH_MODES=a,b,... picks some; direct-NKiB for other chunks), and for reference while
// nothing else writes (as long as the last copy took). Reported per mode:
// the appends' p50 and p99, and the copy's MB/s.
func BenchmarkFsyncBesideBulk(b *testing.B) {
	const copyBytes = 256 << 20
	lat := map[string][]time.Duration{}
	rate := map[string][]float64{}
	defer func(d, w bool, c int, p float64) {
		bulkDirect, bulkWriteback, bulkChunk, bulkPace = d, w, c, p
	}(bulkDirect, bulkWriteback, bulkChunk, bulkPace)
	type mode struct {
		direct, writeback bool
		chunk             int
		pace              float64
	}
	modes := map[string]mode{"alone": {}, "direct-1MiB": {true, false, 1 << 20, 0}, "direct-256KiB": {true, false, 256 << 10, 0},
		"writeback-1MiB": {false, true, 1 << 20, 0}, "nowriteback": {false, false, 1 << 20, 0}}
	order := []string{"alone", "direct-1MiB", "direct-256KiB", "writeback-1MiB", "nowriteback"}
	if m := os.Getenv("BULKBENCH_MODES"); m != "" {
		order = append([]string{"alone"}, strings.Split(m, ",")...)
	}
	last := 3 * time.Second
	for range b.N {
		back := slices.Clone(order[1:])
		slices.Reverse(back)
		for _, name := range append(slices.Clone(order), back...) {
			m, ok := modes[name]
			base, opts, _ := strings.Cut(name, "+")
			if kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(base, "direct-"), "KiB")); !ok && err == nil && kib > 0 && kib%4 == 0 {
				m, ok = mode{true, false, kib << 10, 0}, true
				for _, o := range strings.Split(opts, "+") {
					if strings.HasPrefix(o, "pace") {
						m.pace, _ = strconv.ParseFloat(o[4:], 64)
					}
				}
			}
			if !ok {
				b.Fatalf("unknown mode %q", name)
			}
			bulkDirect, bulkWriteback, bulkChunk, bulkPace = m.direct, m.writeback, m.chunk, m.pace
			mode := name
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
	for _, mode := range order {
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
