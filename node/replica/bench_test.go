package replica

import (
	"fmt"
	"testing"
)

// compact lets every replica forget what it applied (as the node does
// after a snapshot), keeping the benchmark's memory flat.
func (c *memCluster) compact(b *testing.B) {
	for _, id := range c.ids {
		if a := c.applied[id]; a > c.rs[id].log.snapIndex {
			must(b, c.rs[id].Compact(a))
		}
	}
}

// BenchmarkCluster3 pushes 200-byte entries through a 3-replica in-memory
// cluster (no disk, no network cost): proposals per driver round, all
// Readys handled, all messages delivered, until every entry is committed
// on the leader and applied everywhere. It shows the core's own cost.
func BenchmarkCluster3(b *testing.B) {
	for _, perRound := range []int{1, 64, 1024} {
		b.Run(fmt.Sprintf("proposals_per_round=%d", perRound), func(b *testing.B) {
			c := newMemCluster(b, 3)
			leader := c.rs["n1"]
			must(b, leader.BecomeLeader(1))
			c.settle(b, 20)
			data := make([]byte, 200)
			b.ReportAllocs()
			b.ResetTimer()
			proposed, rounds := 0, 0
			var last uint64
			for proposed < b.N || c.applied["n2"] < last || c.applied["n3"] < last || c.applied["n1"] < last {
				for i := 0; i < perRound && proposed < b.N; i++ {
					idx, _, err := leader.Propose(data)
					if err != nil {
						break // ErrBusy: let the pipeline drain
					}
					last = idx
					proposed++
				}
				c.pump()
				c.deliver()
				rounds++
				if rounds%64 == 0 {
					c.compact(b) // steady state: the node snapshots and compacts
				}
				if rounds > 10*b.N+1000 {
					b.Fatalf("stuck: proposed=%d last=%d applied=%v leader=%+v prs=%v %v", proposed, last, c.applied, leader.Status(), leader.prs["n2"], leader.prs["n3"])
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(c.msgs)/float64(b.N), "msgs/entry")
		})
	}
}
