package chat

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkFailoverGap measures the gap a user sees when its node dies: from
// the kill (every connection through that node dropped, new ones refused)
// to the first message received through the next node, while another user
// posts every 5ms. In process, over loopback; the real-process figure comes
// from `syncnet chat --batch --trace` (first-message lines on stderr).
//
//	go test ./tools/chat -run '^$' -bench FailoverGap -benchtime 20x
func BenchmarkFailoverGap(b *testing.B) {
	f, nodes := startCluster(b, 3)
	c, _, _ := startClient(b, "alice", nodes, func(c *Config) { c.Logf = nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // bob posts straight into the shared log, as another node would
		for i := 0; ctx.Err() == nil; i++ {
			_, _ = f.Post(ctx, "bob", "general", fmt.Sprintf("tick %d", i), fmt.Sprintf("t%d", i), 0, false)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	waitB(b, func() bool { _, ok := c.Connected(); return ok && c.Last() > 0 })
	var gaps []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cur, _ := c.Connected()
		var victim *testNode
		for _, n := range nodes {
			if n.addr == cur.Addr {
				victim = n
			}
		}
		before := len(c.Failovers())
		killed := time.Now()
		victim.setUp(false)
		waitB(b, func() bool {
			fo := c.Failovers()
			return len(fo) > before && !fo[len(fo)-1].FirstMessage.IsZero()
		})
		fo := c.Failovers()
		gaps = append(gaps, fo[len(fo)-1].FirstMessage.Sub(killed))
		victim.setUp(true)
	}
	b.StopTimer()
	slices.Sort(gaps)
	pct := func(p float64) float64 {
		return float64(gaps[min(int(p*float64(len(gaps))), len(gaps)-1)]) / 1e6
	}
	b.ReportMetric(pct(0.5), "gap-p50-ms")
	b.ReportMetric(pct(0.99), "gap-p99-ms")
	b.ReportMetric(float64(gaps[len(gaps)-1])/1e6, "gap-max-ms")
}

func waitB(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
