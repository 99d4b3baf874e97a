package fill

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node"
)

// BenchmarkCatchUp fills FILLBENCH_MESSAGES messages (default 200,000)
// into a three-node cluster, wipes n3's data directory, starts all three
// in this process and times n3 from its start until it has applied the
// whole filled log: the bulk catch-up of an empty node, with the leader
// reading its WAL back. It reports entries/s. One iteration is one
// catch-up; run it with -benchtime 1x (a CPU profile with -cpuprofile
// covers the fill too; FILLBENCH_CPUPROFILE=FILE profiles the catch-up
// alone).
//
//	FILLBENCH_MESSAGES=1000000 go test -run '^$' -bench CatchUp -benchtime 1x ./tools/fill/
func BenchmarkCatchUp(b *testing.B) {
	n := 200_000
	if s := os.Getenv("FILLBENCH_MESSAGES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var socks []*sockets
		var ports [][4]int
		for j := 0; j < 3; j++ {
			s, p := bindNode(b)
			socks, ports = append(socks, s), append(ports, p)
		}
		cfg := testConfig(b, filepath.Join(b.TempDir(), "data"), 3, ports)
		o := testOptions()
		o.Messages, o.Rooms, o.Users = n, DefaultRooms, DefaultUsers
		res, err := Fill(context.Background(), cfg, o)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.RemoveAll(cfg.NodeDir("n3")); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		nodes := map[string]*node.Node{}
		start := func(j int, id string) {
			s := socks[j]
			s.ssh.Close()
			logger := slog.New(slog.NewTextHandler(&testLogWriter{t: b}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", id)
			// PostRate -1: one user posts 50 times a second here, above
			// the cluster's allowance per user; this measures latency.
			nd, err := node.New(node.Options{Config: cfg, ID: id, Logger: logger, PostRate: -1,
				Listeners: &node.Listeners{Peer: s.peer, Heartbeat: s.hb, Election: s.el}})
			if err != nil {
				b.Fatalf("start %s: %v", id, err)
			}
			nodes[id] = nd
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := nd.Serve(ctx); err != nil {
					b.Errorf("node %s: %v", id, err)
				}
			}()
		}
		start(0, "n1")
		start(1, "n2")
		<-nodes["n1"].CaughtUp()
		<-nodes["n2"].CaughtUp()
		// Posts through n1 every 20 ms, idle (once a leader is elected)
		// and then during the catch-up.
		postEvery(b, nodes["n1"], time.Millisecond, 0, nil, 1)
		idle := postEvery(b, nodes["n1"], 20*time.Millisecond, 2*time.Second, nil, 0)
		during := make(chan []time.Duration, 1)
		caughtUp := make(chan struct{})
		go func() { during <- postEvery(b, nodes["n1"], 20*time.Millisecond, 0, caughtUp, 0) }()
		stopProfile := startProfile(b, os.Getenv("FILLBENCH_CPUPROFILE"))
		b.StartTimer()
		t0 := time.Now()
		start(2, "n3")
		for nodes["n3"].Applied() < res.LastIndex {
			time.Sleep(5 * time.Millisecond)
		}
		el := time.Since(t0)
		b.StopTimer()
		stopProfile()
		close(caughtUp)
		busy := <-during
		b.ReportMetric(float64(res.LastIndex)/el.Seconds(), "entries/s")
		b.ReportMetric(quantile(idle, 0.99).Seconds()*1000, "idle-post-p99-ms")
		b.ReportMetric(quantile(busy, 0.50).Seconds()*1000, "catchup-post-p50-ms")
		b.ReportMetric(quantile(busy, 0.99).Seconds()*1000, "catchup-post-p99-ms")
		cancel()
		wg.Wait()
	}
}

// postEvery posts through n every period, for d or until stop is closed,
// or count posts, and returns each post's latency.
func postEvery(b *testing.B, n *node.Node, period, d time.Duration, stop <-chan struct{}, count int) []time.Duration {
	var lat []time.Duration
	end := time.Now().Add(d)
	t := time.NewTicker(period)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return lat
		case <-t.C:
		}
		if (d > 0 && time.Now().After(end)) || (count > 0 && i == count) {
			return lat
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t0 := time.Now()
		_, err := n.Post(ctx, "benchuser", "general", fmt.Sprintf("during catch-up %d", i), "", 0, false)
		cancel()
		if err != nil {
			b.Errorf("post: %v", err)
			return lat
		}
		lat = append(lat, time.Since(t0))
	}
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// startProfile writes a CPU profile of what runs until the returned stop
// is called, when path is set.
func startProfile(b *testing.B, path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}
