package node

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkClusterPost measures committed posts per second through a
// three-node cluster on loopback in this process, fsync on every node, with
// 200-byte messages. Posters spread over all three nodes (followers forward
// to the leader), as users would.
//
//	go test -run '^$' -bench ClusterPost -benchtime 20000x ./node/
func BenchmarkClusterPost(b *testing.B) {
	for _, posters := range []int{1, 64, 1024} {
		b.Run(fmt.Sprintf("posters=%d", posters), func(b *testing.B) {
			// One user posts as fast as the cluster commits: no allowance.
			c := newTestClusterWith(b, 3, func(o *Options) { o.PostRate = -1 })
			c.leader()
			msg := fmt.Sprintf("%0200d", 0)
			ids := []string{"n1", "n2", "n3"}
			var next atomic.Int64
			var lat []time.Duration
			var mu sync.Mutex
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for p := 0; p < posters; p++ {
				wg.Add(1)
				go func(p int) {
					defer wg.Done()
					nd := c.nodes[ids[p%3]].n
					var mine []time.Duration
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							break
						}
						t0 := time.Now()
						ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
						_, err := nd.Post(ctx, fmt.Sprint("u", p), "general", msg, fmt.Sprint("m", i), 0, false)
						cancel()
						if err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				}(p)
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			if len(lat) > 0 {
				b.ReportMetric(float64(len(lat))/el.Seconds(), "posts/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}
