package walcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// benchEvents is the size of the benchmark log: 1,000,000 records, or
// WALBENCH_RECORDS (e.g. 10000000 to write the 10M log of BENCHMARKS.txt).
var benchEvents = func() int {
	if n, err := strconv.Atoi(os.Getenv("WALBENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}()

var (
	benchOnce sync.Once
	benchDir  string
	benchTmp  string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchTmp != "" {
		os.RemoveAll(benchTmp)
	}
	os.Exit(code)
}

// bigLog returns a wal directory of benchEvents records, written once per
// test binary with NoSync: chat traffic in three rooms from 50 users, a
// CommittedUpTo every 1,000 entries and a term change every 100,000. Set
// WALBENCH_DIR to keep it (e.g. to time bin/syncnet on it); it is reused if
// it already holds a log.
func bigLog(b *testing.B) string {
	benchOnce.Do(func() {
		dir := os.Getenv("WALBENCH_DIR")
		if dir == "" {
			tmp, err := os.MkdirTemp("", "walbench")
			if err != nil {
				b.Fatal(err)
			}
			benchTmp, dir = tmp, filepath.Join(tmp, "wal")
		} else if m, _ := filepath.Glob(filepath.Join(dir, "0*")); len(m) > 0 {
			benchDir = dir
			return
		}
		writeBigLog(b, dir)
		benchDir = dir
	})
	if benchDir == "" {
		b.Fatal("no benchmark log")
	}
	return benchDir
}

func writeBigLog(b *testing.B, dir string) {
	w := newBuilder(b, dir, 0)
	w.batchMax = 1024
	rooms := []string{"general", "ops", "random"}
	w.newTerm(1, "node1")
	n := 4 // the records of newTerm
	for n < benchEvents-1 {
		switch {
		case n%100_000 == 0:
			w.newTerm(w.term+1, fmt.Sprintf("node%d", w.term%3+1))
			n += 4
		case n%1000 == 0:
			w.commit()
			n++
		default:
			w.msg(rooms[n%3], fmt.Sprintf("user%02d", n%50), fmt.Sprintf("message number %d, about the deploy", n), fmt.Sprint(n))
			n++
		}
	}
	w.commit()
	w.close()
}

func benchCommand(b *testing.B, args ...string) {
	dir := bigLog(b)
	args = append(args, dir)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := run(context.Background(), args, io.Discard, io.Discard, false, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkVerify1M is `wal verify` of a 1,000,000-record log.
func BenchmarkVerify1M(b *testing.B) { benchCommand(b, "verify") }

// BenchmarkReplay1M is `wal replay` of a 1,000,000-record log.
func BenchmarkReplay1M(b *testing.B) { benchCommand(b, "replay") }
