package e2e

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestChaos runs seeded random faults against a cluster (3 nodes, or
// SYNCNET_CHAOS_NODES) under concurrent posters, never more than a minority
// down at once, then checks the acknowledged set on every node.
// SYNCNET_CHAOS_CYCLES sets the number of cycles (default 8; make chaos runs
// 100), SYNCNET_CHAOS_SEED replays the fault sequence of a run (timing still
// varies), SYNCNET_CHAOS_ACTIONS=kill9,pause,term,pauseudp narrows the kinds
// of fault.
//
// The kinds: kill9 (kill -9, then restart), pause (SIGSTOP, then SIGCONT),
// term (SIGTERM, then restart) and pauseudp: the schedule of
// TestLeaderPauseUDPLoss — every UDP datagram the node sends is dropped (its
// ring heartbeats and election messages; its TCP still flows), it is frozen
// with posts sent through it meanwhile, resumed, and killed a random while
// later, then restarted with its UDP restored. pauseudp needs the namespace
// lab (root, ip and tc); without it the run leaves pauseudp out and says why,
// or skips if SYNCNET_CHAOS_ACTIONS asked for it.
func TestChaos(t *testing.T) {
	cycles := envInt(t, "SYNCNET_CHAOS_CYCLES", 8)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SYNCNET_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SYNCNET_CHAOS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("chaos: %d cycles, seed %d (replay: SYNCNET_CHAOS_SEED=%d)", cycles, seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))

	size := envInt(t, "SYNCNET_CHAOS_NODES", 3)
	kinds := []string{"kill9", "pause", "term", "pauseudp"}
	actions, asked := kinds, os.Getenv("SYNCNET_CHAOS_ACTIONS")
	if asked != "" {
		actions = strings.Split(asked, ",") // e.g. "pause" to narrow a failure down
		for _, x := range actions {
			if !contains(kinds, x) {
				t.Fatalf("SYNCNET_CHAOS_ACTIONS: unknown fault %q (want %s)", x, strings.Join(kinds, ", "))
			}
		}
	}
	var lab *netLab
	if contains(actions, "pauseudp") {
		var why string
		if lab, why = tryNetLab(t, size); lab != nil {
			if err := lab.probeDrops(); err != nil {
				lab, why = nil, err.Error()
			}
		}
		if lab == nil {
			if asked != "" {
				t.Skipf("chaos: pauseudp asked for, but the namespace lab is not available: %s", why)
			}
			actions = others(actions, "pauseudp")
			t.Logf("chaos: fault pauseudp left out: %s", why)
		}
	}
	var c *cluster
	if lab != nil {
		t.Logf("chaos: nodes in the namespace lab (%s.0/24)", lab.subnet)
		c = newCluster(t, size, lab.opts())
		c.waitLeader()
	} else {
		c = start(t, size)
	}
	mon := c.monitorLeaders()
	w := c.startPosters(3, "ch")
	if lab != nil {
		w.bindSide()
	}
	w.waitAcked(5, 30*time.Second)
	counts := map[string]int{}
	for i := 1; i <= cycles; i++ {
		// Up to a minority of nodes fail together, each in its own way.
		victims := rng.Perm(size)[:1+rng.IntN((size-1)/2)]
		if rng.IntN(2) == 0 {
			victims[0] = c.index(c.waitLeader()) // the leader half the time: the interesting case
			victims = dedup(victims)
		}
		pause := time.Duration(100+rng.IntN(1400)) * time.Millisecond
		var acts []string
		holds := map[int]time.Duration{} // pauseudp: SIGCONT to kill -9
		for _, v := range victims {
			action := actions[rng.IntN(len(actions))]
			counts[action]++
			acts = append(acts, action+" "+c.ids[v])
			if action == "pauseudp" {
				holds[v] = time.Duration(rng.IntN(1200)) * time.Millisecond
			}
		}
		t.Logf("cycle %d/%d: %s for %s (acknowledged so far %d)", i, cycles, strings.Join(acts, ", "), pause, w.ackedCount())
		for j, v := range victims {
			switch id := c.ids[v]; strings.Fields(acts[j])[0] {
			case "kill9":
				c.kill9(id)
			case "pause":
				c.stop(id)
			case "term":
				c.term(id)
			case "pauseudp":
				lab.dropUDPFrom(v)
				c.stop(id)
				for k := 0; k < 3; k++ {
					w.sidePost(id) // read when it resumes
				}
			}
		}
		time.Sleep(pause)
		for _, v := range victims {
			id := c.ids[v]
			if hold, ok := holds[v]; ok {
				c.cont(id)
				time.Sleep(hold)
				c.kill9(id)
				lab.clearDrops(v)
				c.restart(id)
				continue
			}
			if c.running(id) {
				c.cont(id)
			} else {
				c.restart(id)
			}
		}
		// I7: with a majority up, a leader exists and posts commit.
		c.waitLeader()
		w.waitAcked(3, 30*time.Second)
	}
	w.stop()
	mon.finish()
	v := w.check(c.ids)
	c.walDiff(c.ids)
	t.Logf("chaos result: seed %d, cycles %d (kill9 %d, pause %d, term %d, pauseudp %d), posts acknowledged %d, lost %d, duplicated %d",
		seed, cycles, counts["kill9"], counts["pause"], counts["term"], counts["pauseudp"], v.acked, v.lost, v.duplicated)
	if v.lost+v.duplicated > 0 || t.Failed() {
		t.Fatalf("chaos failed; replay with SYNCNET_CHAOS_SEED=%d SYNCNET_CHAOS_CYCLES=%d", seed, cycles)
	}
}

// dedup drops repeated entries, keeping the order.
func dedup(xs []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}
