package fill

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
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
	n := benchMessages(b, 200_000)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := newBenchCluster(b, n)
		if err := os.RemoveAll(c.cfg.NodeDir("n3")); err != nil {
			b.Fatal(err)
		}
		nodes := c.nodes
		// PostRate -1: one user posts 50 times a second here, above the
		// cluster's allowance per user; this measures latency.
		tweak := func(o *node.Options) { o.PostRate = -1 }
		c.start(0, tweak)
		c.start(1, tweak)
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
		c.start(2, tweak)
		for nodes["n3"].Applied() < c.last {
			time.Sleep(5 * time.Millisecond)
		}
		el := time.Since(t0)
		b.StopTimer()
		stopProfile()
		close(caughtUp)
		busy := <-during
		b.ReportMetric(float64(c.last)/el.Seconds(), "entries/s")
		b.ReportMetric(quantile(idle, 0.99).Seconds()*1000, "idle-post-p99-ms")
		b.ReportMetric(quantile(busy, 0.50).Seconds()*1000, "catchup-post-p50-ms")
		b.ReportMetric(quantile(busy, 0.99).Seconds()*1000, "catchup-post-p99-ms")
		c.close()
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
