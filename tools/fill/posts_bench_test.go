package fill

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node"
)

// BenchmarkPostsOverHistory compares committed posts/s (256 posters, fsync
// on) and one poster's commit latency on a cluster with an empty log and
// on one over a filled history (FILLBENCH_MESSAGES, default 200,000), in
// one run: issue 12 asks that history cost neither.
//
//	FILLBENCH_MESSAGES=1000000 go test -run '^$' -bench PostsOverHistory -benchtime 1x -count 3 ./tools/fill/
func BenchmarkPostsOverHistory(b *testing.B) {
	n := 200_000
	if s := os.Getenv("FILLBENCH_MESSAGES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	for _, history := range []int{0, n} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				postsOverHistory(b, history)
			}
		})
	}
}

func postsOverHistory(b *testing.B, history int) {
	b.StopTimer()
	var socks []*sockets
	var ports [][4]int
	for j := 0; j < 3; j++ {
		s, p := bindNode(b)
		socks, ports = append(socks, s), append(ports, p)
	}
	cfg := testConfig(b, filepath.Join(b.TempDir(), "data"), 3, ports)
	if history > 0 {
		o := testOptions()
		o.Messages, o.Rooms, o.Users = history, DefaultRooms, DefaultUsers
		if _, err := Fill(context.Background(), cfg, o); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var nodes []*node.Node
	for j, id := range []string{"n1", "n2", "n3"} {
		s := socks[j]
		s.ssh.Close()
		logger := slog.New(slog.NewTextHandler(&testLogWriter{t: b}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", id)
		nd, err := node.New(node.Options{Config: cfg, ID: id, Logger: logger, PostRate: -1, NoSeed: true,
			Listeners: &node.Listeners{Peer: s.peer, Heartbeat: s.hb, Election: s.el}})
		if err != nil {
			b.Fatalf("start %s: %v", id, err)
		}
		nodes = append(nodes, nd)
		wg.Add(1)
		go func() { defer wg.Done(); nd.Serve(ctx) }()
	}
	var lead *node.Node
	for deadline := time.Now().Add(60 * time.Second); lead == nil; time.Sleep(10 * time.Millisecond) {
		for _, nd := range nodes {
			if st := nd.Status(); st.Leader != "" && st.Leader == st.Node {
				lead = nd
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("no leader")
		}
	}
	postEvery(b, lead, time.Millisecond, 0, nil, 20) // warm up
	one := postEvery(b, lead, time.Millisecond, 0, nil, 300)
	const posters, each = 256, 40
	var done atomic.Int64
	var pw sync.WaitGroup
	b.StartTimer()
	t0 := time.Now()
	for p := 0; p < posters; p++ {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for k := 0; k < each; k++ {
				c, cancelPost := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := lead.Post(c, fmt.Sprintf("p%d", p), "general", "load", "", 0, false)
				cancelPost()
				if err != nil {
					b.Errorf("post: %v", err)
					return
				}
				done.Add(1)
			}
		}()
	}
	pw.Wait()
	el := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(done.Load())/el.Seconds(), "posts/s")
	b.ReportMetric(float64(quantile(one, 0.5).Microseconds())/1000, "one-poster-p50-ms")
	b.ReportMetric(float64(quantile(one, 0.99).Microseconds())/1000, "one-poster-p99-ms")
}
