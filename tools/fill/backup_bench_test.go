package fill

import (
	"context"
	"io"
	"os"
	"testing"
)

// countWriter counts what a backup writes.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkBackup fills FILLBENCH_MESSAGES messages (default 200,000) into
// a three-node cluster, starts it in this process and times node.Backup
// of n2 into a counting writer: the backup's own cost, without SSH's. It
// reports MB/s. FILLBENCH_CPUPROFILE=FILE profiles the backup alone.
//
//	go test -run '^$' -bench Backup -benchtime 3x ./tools/fill/
func BenchmarkBackup(b *testing.B) {
	c := newBenchCluster(b, benchMessages(b, 200_000))
	defer c.close()
	for j := range 3 {
		c.start(j, nil)
	}
	nodes := c.nodes
	<-nodes["n2"].CaughtUp()
	stop := startProfile(b, os.Getenv("FILLBENCH_CPUPROFILE"))
	b.ResetTimer()
	var bytes int64
	for i := 0; i < b.N; i++ {
		w := &countWriter{}
		if _, err := nodes["n2"].Backup(context.Background(), io.Writer(w), nil); err != nil {
			b.Fatal(err)
		}
		bytes = w.n
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
}
