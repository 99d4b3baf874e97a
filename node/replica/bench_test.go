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

// BenchmarkCatchUp: a leader whose 1M entries of 200 bytes are all below
// its compaction point (in Storage), an empty follower n2 and an up-to-date
// n3, Readys handled and messages stepped in-process (persist is a no-op,
// Storage is a slice: this is the core's cost and the shape of the
// traffic, not the disk's). One op is n2 catching up, from its first
// probe until the leader's Match for it reaches the last index.
// "ordinary" sets the catch-up limits to the ordinary ones (today's
// batching); "bulk" uses the defaults. n2 compacts what it applied after
// every round, as the node will.
func BenchmarkCatchUp(b *testing.B) {
	const total = 1 << 20
	data := make([]byte, 200)
	log := make([]Entry, total)
	for i := range log {
		log[i] = Entry{Index: uint64(i + 1), Term: 1, Data: data}
	}
	for _, bc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"ordinary", func(c *Config) { c.CatchUpBatchEntries, c.CatchUpBatchBytes, c.CatchUpInflight = 256, 1<<20, 64 }},
		{"bulk", func(c *Config) {}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var msgs, rounds, apps int
			for range b.N {
				b.StopTimer()
				c := newMemCluster(b, 3, bc.mod)
				hs := HardState{Term: 1, Commit: total}
				c.rs["n1"], _ = storedReplica(b, "n1", log, total, hs, bc.mod)
				c.rs["n3"], _ = storedReplica(b, "n3", log, total, hs, bc.mod)
				fs := &memStorage{t: b, ents: log}
				c.rs["n2"] = newR(b, "n2", c.ids, State{}, bc.mod, func(cfg *Config) { cfg.Storage = fs })
				leader := c.rs["n1"]
				must(b, leader.BecomeLeader(2))
				b.StartTimer()
				for leader.prs["n2"].match < leader.log.lastIndex() {
					c.pump()
					for _, m := range c.queue {
						if m.Type == MsgApp && m.To == "n2" && len(m.Entries) > 0 {
							apps++
						}
					}
					c.deliver()
					rounds++
					if f := c.rs["n2"]; f.log.applied > f.log.snapIndex {
						must(b, f.Compact(f.log.applied)) // the node keeps memory flat
					}
					if rounds > 100000 {
						b.Fatal("stuck")
					}
				}
				msgs += c.msgs
			}
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(apps)/float64(b.N), "appends")
			// A round hands every Ready and delivers every message: half a
			// round trip (appends out, or acks back).
			b.ReportMetric(float64(rounds)/2/float64(b.N), "round-trips")
			b.ReportMetric(float64(total)*float64(b.N)*2/float64(rounds), "entries/round-trip")
			b.ReportMetric(float64(msgs)/float64(b.N), "msgs")
		})
	}
}
