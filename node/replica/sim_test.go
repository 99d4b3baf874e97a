package replica

import (
	"flag"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

var (
	flagSeed  = flag.Int64("seed", -1, "run only this simulation seed (replays a failure)")
	flagSimV  = flag.Bool("simv", false, "with -seed: log every simulation step")
	flagSeeds = flag.Int("seeds", 0, "number of simulation seeds (default 1000, 20000 with SYNCNET_SOAK=1)")
)

// TestSimulation runs many seeded whole-cluster simulations (3 and 5
// replicas) with drops, duplicates, reordering, partitions, crashes that
// lose unpersisted state, restarts, snapshots and retrying clients — and,
// in half the seeds, Storage: random compaction, restarts from a
// compaction point, failing reads, and an empty member joining late that
// catches up by bulk appends; and, in about half the seeds, members that
// lose their data directory, restart empty as learners (their acks never
// count), catch up and are promoted; see sim_world_test.go. A failure prints the seed; -seed=N replays it.
func TestSimulation(t *testing.T) {
	soak := os.Getenv("SYNCNET_SOAK") == "1"
	if *flagSeed >= 0 {
		s := newSim(*flagSeed, drawOpts(*flagSeed, soak))
		if *flagSimV {
			s.verbose = func(line string) { t.Log(line) }
		}
		if err := s.run(); err != nil {
			t.Fatal(err)
		}
		return
	}
	n := *flagSeeds
	if n == 0 {
		n = 1000
		if soak {
			n = 20000
		}
	}
	if testing.Short() {
		n = 100
	}
	var next, failures atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total simStats
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				seed := next.Add(1) - 1
				if seed >= int64(n) || failures.Load() >= 3 {
					return
				}
				s := newSim(seed, drawOpts(seed, soak))
				if err := s.run(); err != nil {
					failures.Add(1)
					env := ""
					if soak {
						env = "SYNCNET_SOAK=1 "
					}
					t.Errorf("%v\nreplay: %sgo test ./node/replica -run TestSimulation -v -seed=%d -simv", err, env, seed)
				}
				mu.Lock()
				total.add(s.stats)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d seeds: %+v", n, total)
	// The Storage paths must be exercised, or the run proves little there.
	if n >= 100 && (total.storageReads == 0 || total.storageFails == 0 || total.bulkApps == 0 || total.joined == 0) {
		t.Errorf("Storage mode not exercised: %+v", total)
	}
	// Nor data loss: members restarted empty as learners, leaders that
	// regressed a follower's match, learners caught up and promoted.
	if n >= 100 && (total.losses == 0 || total.promotions == 0 || total.regressions == 0 || total.learnerAcks == 0) {
		t.Errorf("data loss not exercised: %+v", total)
	}
}
