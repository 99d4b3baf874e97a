package fill

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/syncnet/syncnet/node"
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
	n := 200_000
	if s := os.Getenv("FILLBENCH_MESSAGES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	var socks []*sockets
	var ports [][4]int
	for j := 0; j < 3; j++ {
		s, p := bindNode(b)
		socks, ports = append(socks, s), append(ports, p)
	}
	cfg := testConfig(b, filepath.Join(b.TempDir(), "data"), 3, ports)
	o := testOptions()
	o.Messages, o.Rooms, o.Users = n, DefaultRooms, DefaultUsers
	if _, err := Fill(context.Background(), cfg, o); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	nodes := map[string]*node.Node{}
	for j, id := range []string{"n1", "n2", "n3"} {
		s := socks[j]
		s.ssh.Close()
		logger := slog.New(slog.NewTextHandler(&testLogWriter{t: b}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", id)
		nd, err := node.New(node.Options{Config: cfg, ID: id, Logger: logger, Listeners: &node.Listeners{Peer: s.peer, Heartbeat: s.hb, Election: s.el}})
		if err != nil {
			b.Fatalf("start %s: %v", id, err)
		}
		nodes[id] = nd
		wg.Add(1)
		go func() { defer wg.Done(); nd.Serve(ctx) }()
	}
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
	cancel()
}
