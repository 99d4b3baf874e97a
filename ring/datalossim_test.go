package ring

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Data loss (issue 12): a member whose data directory is lost restarts
// with an empty HardState (and an empty log). Before the loss it may have
// voted in the current term and acknowledged entries; as a member it could
// vote again in that term, and two majorities in one term elect two leaders
// (I1). As a learner (learner.go) it votes only once the caller promotes it
// with {T, L, L} for a term T whose leader L it learned as a learner.
//
// The harness plays the node layer's part: loseData wipes a node and
// restarts it as a learner (marker kept across crashes until the promotion
// is persisted), and promoteLearners promotes a learner once the ring says
// so (PromotionState, or CanPromoteFresh in a cluster still in term 0) and
// its log is caught up (it held the whole log of T's leader, whose log holds
// every committed entry). Every check of the cluster runs after every step:
// one leader per term over the whole run (both the roles taken and every
// persisted leader), leaders hold every committed entry, and a learner never
// votes, never originates or signs a token and never leads.

// dataLossSim is the random simulation's parameters with data loss.
var dataLossSim = func() simParams {
	p := defaultSim
	p.DataLoss = 0.02
	return p
}()

// loseData: id's disk is replaced. If it runs, it crashes; it restarts at
// once with no HardState and no log, as a learner (or, with UnsafeRejoin,
// as a member: the behaviour before learners existed). At most one learner
// exists at a time: a cluster in which a majority cannot vote cannot elect
// anyone (which is right, and would only fail the liveness checks).
func (c *cluster) loseData(id string) {
	if !c.p.UnsafeRejoin {
		for _, sn := range c.nodes {
			if sn.learner {
				return
			}
		}
	}
	sn := c.nodes[id]
	if sn.n != nil {
		c.crash(id)
	}
	sn.hs, sn.log, sn.caughtUp = HardState{}, nil, 0
	sn.learner = !c.p.UnsafeRejoin
	c.dataLosses++
	c.start(id)
	c.note("%s lost its data directory: restart empty as a %s", id, map[bool]string{true: "learner", false: "member"}[sn.learner])
}

// promoteLearners does the node layer's part for every running learner.
func (c *cluster) promoteLearners() {
	for _, id := range c.ids {
		sn := c.nodes[id]
		if !sn.learner || sn.n == nil || c.paused(sn) {
			continue
		}
		if sn.n.CanPromoteFresh() {
			if err := sn.n.PromoteFresh(); err != nil {
				c.fail("PromoteFresh(%s): %v", id, err)
			}
			c.freshPromotions++
			c.note("%s promoted in a new cluster", id)
		} else if hs, ok := sn.n.PromotionState(); ok && sn.caughtUp == hs.Term {
			if err := sn.n.Promote(hs); err != nil {
				c.fail("Promote(%s, %s): %v", id, hs.Describe(), err)
			}
			c.promotions++
			c.note("%s promoted with %s", id, hs.Describe())
		} else {
			continue
		}
		c.handleReady(sn)  // the promotion's HardState is persisted ...
		sn.learner = false // ... before the marker goes
	}
}

// runRecorded runs f with a recorder as its testing.TB, off the test
// goroutine, and returns what it returned and the first failure ("" if
// none).
func runRecorded(f func(tb testing.TB) simResult) (simResult, string) {
	rec := &recorder{}
	done := make(chan simResult, 1)
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil && r != errRecorderStop {
				rec.Errorf("panic: %v", r)
			}
		}()
		done <- f(rec)
	}()
	res := <-done
	return res, rec.msg
}

// dataLossSeeds: seeds of TestSimulationDataLoss in a normal run (each
// about two thirds of a TestSimulation seed's time); -seeds and -soak set
// both tests' counts.
func dataLossSeeds() int {
	if *flagSoak || *flagSeeds != 1400 {
		return seedCount()
	}
	if testing.Short() {
		return 100
	}
	return 1500
}

// TestSimulationDataLoss is the random simulation (drops, duplicates,
// delays, partitions, one-way cuts, pauses, crashes) in which members also
// lose their data directories at random points and come back as learners:
// I1 and I3 hold after every step, and I7 after healing (learners are
// promoted by then). Replay one seed with -seed=N.
func TestSimulationDataLoss(t *testing.T) {
	run := func(seed int64) func(testing.TB) simResult {
		return func(tb testing.TB) simResult { return runSeedParams(tb, seed, dataLossSim, "TestSimulationDataLoss") }
	}
	if *flagSeed >= 0 {
		res := run(*flagSeed)(t)
		t.Logf("seed %d: %d data losses, %d promotions, %d fresh", *flagSeed, res.dataLosses, res.promotions, res.freshPromotions)
		return
	}
	seeds := dataLossSeeds()
	var next, losses, promotions, fresh, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == 0 {
				s := next.Add(1) - 1
				if s >= int64(seeds) {
					return
				}
				res, msg := runRecorded(run(s))
				if msg != "" {
					failed.Add(1)
					t.Error(msg)
					return
				}
				losses.Add(int64(res.dataLosses))
				promotions.Add(int64(res.promotions))
				fresh.Add(int64(res.freshPromotions))
			}
		}()
	}
	wg.Wait()
	t.Logf("%d seeds: %d data losses, %d promotions, %d fresh promotions", seeds, losses.Load(), promotions.Load(), fresh.Load())
	if failed.Load() == 0 && (losses.Load() < int64(seeds) || promotions.Load() < int64(seeds)/2 || fresh.Load() == 0) {
		t.Errorf("the seeds no longer exercise data loss: %d losses, %d promotions, %d fresh promotions in %d seeds",
			losses.Load(), promotions.Load(), fresh.Load(), seeds)
	}
}

// TestSimulationDataLossUnsafeRejoin: the same random simulation, with the
// node that lost its data rejoining as a member at once (no learner): the
// checks find two leaders in one term within a few hundred seeds. This is
// what makes TestSimulationDataLoss evidence: its checks see the bug that
// learners prevent.
func TestSimulationDataLossUnsafeRejoin(t *testing.T) {
	p := dataLossSim
	p.UnsafeRejoin = true
	p.DataLoss = 0.05
	const max = 400
	for seed := int64(0); seed < max; seed++ {
		_, msg := runRecorded(func(tb testing.TB) simResult {
			return runSeedParams(tb, seed, p, "TestSimulationDataLossUnsafeRejoin")
		})
		if strings.Contains(msg, "I1") {
			t.Logf("seed %d (of at most %d) breaks I1 without learners: %s", seed, max, firstLine(msg))
			return
		}
	}
	t.Fatalf("no seed of %d broke I1 with members rejoining after data loss: the checks are blind to it", max)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// dangerousSchedule is the directed schedule of issue 12 on three members
// (ring order n1, n2, n3), logs off:
//
//  1. n3 is cut off; n1 and n2 elect a leader of term 1. Both persisted a
//     vote in term 1: the origin for its own token, and A, the other one,
//     for the origin's (B's) token.
//  2. A loses its data directory and restarts empty (a learner, or, with
//     unsafe, a member).
//  3. B is cut off, A and n3 are together.
//  4. Everything heals.
//
// As a member, A votes again in term 1 in step 3 (n3 starts a round in
// term 1, the highest term it knows plus one), so {B, A} and {A, n3} are
// two majorities of term 1: two leaders. As a learner, A votes in no round,
// n3 starts none (a learner does not count for its pre-vote), and after
// healing the members elect a leader of term 2, after which A is promoted.
func dangerousSchedule(tb testing.TB, unsafe bool) (*cluster, string) {
	p := simParamsN(3)
	p.AppendProb, p.ReplicateProb, p.UnsafeRejoin = 0, 0, unsafe
	c := newCluster(tb, 1, p)
	c.replay = "TestDataLossDangerousSchedule"
	c.net.Partition([]string{"n1", "n2"}, []string{"n3"})
	for i := 0; i < 200 && c.leaders[1] == ""; i++ {
		c.tick()
	}
	if c.leaders[1] == "" {
		c.fail("no leader of term 1 in n1, n2")
	}
	b, a := "n1", "n2"
	if c.nodes["n2"].hs.Vote == "n2" {
		b, a = "n2", "n1"
	}
	if hs := c.nodes[a].hs; hs.Term != 1 || hs.Vote != b {
		c.fail("%s did not vote for %s's token in term 1: %s", a, b, hs.Describe())
	}
	c.loseData(a)
	c.net.Partition([]string{b}, []string{a, "n3"})
	for i := 0; i < 100; i++ {
		c.tick()
	}
	c.net.Heal()
	if c.runUntilLeader(200) < 0 {
		c.fail("no leader after healing")
	}
	for i := 0; i < 100; i++ {
		c.tick()
	}
	return c, a
}

// TestDataLossDangerousSchedule runs dangerousSchedule both ways: with the
// node rejoining as a member the checks report two leaders of term 1; as a
// learner, term 1 keeps its one leader, the cluster elects a leader of a
// later term, and the learner is promoted and a member again.
func TestDataLossDangerousSchedule(t *testing.T) {
	_, msg := runRecorded(func(tb testing.TB) simResult { dangerousSchedule(tb, true); return simResult{} })
	if !strings.Contains(msg, "I1") || !strings.Contains(msg, "term 1") {
		t.Fatalf("rejoining as a member after losing a vote of term 1: the checks did not report two leaders of term 1; got %q", msg)
	}
	t.Logf("as a member: %s", firstLine(msg))

	c, a := dangerousSchedule(t, false)
	l := c.agreedLeader()
	if c.leaders[1] == "" || c.nodes[l].n.Term() < 2 || c.nodes[a].n.Learner() || c.nodes[a].learner || c.promotions+c.freshPromotions != 1 {
		t.Fatalf("as a learner: term 1 led by %q, now %s leads term %d; %s learner %v, %d promotions, %d fresh",
			c.leaders[1], l, c.nodes[l].n.Term(), a, c.nodes[a].n.Learner(), c.promotions, c.freshPromotions)
	}
	if hs := c.nodes[a].hs; hs.Term < 2 || hs.Vote == "" {
		t.Fatalf("as a learner: %s persisted %s after its promotion", a, hs.Describe())
	}
	t.Logf("as a learner: term 1 led by %s only; %s leads term %d; %s promoted", c.leaders[1], l, c.nodes[l].n.Term(), a)
}
