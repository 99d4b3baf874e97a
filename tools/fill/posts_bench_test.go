package fill

import (
	"context"
	"fmt"
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
	n := benchMessages(b, 200_000)
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
	c := newBenchCluster(b, history)
	defer c.close()
	var nodes []*node.Node
	for j := range 3 {
		// PostRate -1: the posters are 256 users posting as fast as they
		// commit; NoSeed: this measures posts, not a copy.
		nodes = append(nodes, c.start(j, func(o *node.Options) { o.PostRate, o.NoSeed = -1, true }))
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
