package fill

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkFill fills a three-node cluster of FILLBENCH_MESSAGES messages
// (default 100,000) per iteration and reports messages per second.
//
//	go test -run '^$' -bench Fill -benchtime 3x ./tools/fill/
func BenchmarkFill(b *testing.B) {
	n := benchMessages(b, 100_000)
	o := testOptions()
	o.Messages, o.Rooms, o.Users = n, DefaultRooms, DefaultUsers
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cfg := testConfig(b, filepath.Join(b.TempDir(), "data"), 3, nil)
		b.StartTimer()
		res, err := Fill(context.Background(), cfg, o)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(float64(n)/res.Elapsed.Seconds(), "msgs/s")
		b.ReportMetric(float64(res.Bytes)/3/float64(n), "B/msg")
		os.RemoveAll(cfg.DataDir())
		b.StartTimer()
	}
}
