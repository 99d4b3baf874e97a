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
// down at once,
// then checks the acknowledged set on every node. SYNCNET_CHAOS_CYCLES sets
// the number of cycles (default 8; make chaos runs 100), SYNCNET_CHAOS_SEED
// replays the fault sequence of a run (timing still varies),
// SYNCNET_CHAOS_ACTIONS=kill9,pause,term narrows the kinds of fault.
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
	actions := []string{"kill9", "pause", "term"}
	if a := os.Getenv("SYNCNET_CHAOS_ACTIONS"); a != "" {
		actions = strings.Split(a, ",") // e.g. "pause" to narrow a failure down
		for _, x := range actions {
			if x != "kill9" && x != "pause" && x != "term" {
				t.Fatalf("SYNCNET_CHAOS_ACTIONS: unknown fault %q (want kill9, pause, term)", x)
			}
		}
	}
	c := start(t, size)
	mon := c.monitorLeaders()
	w := c.startPosters(3, "ch")
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
		for _, v := range victims {
			action := actions[rng.IntN(len(actions))]
			counts[action]++
			acts = append(acts, action+" "+c.ids[v])
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
			}
		}
		time.Sleep(pause)
		for _, v := range victims {
			if id := c.ids[v]; c.running(id) {
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
	t.Logf("chaos result: seed %d, cycles %d (kill9 %d, pause %d, term %d), posts acknowledged %d, lost %d, duplicated %d",
		seed, cycles, counts["kill9"], counts["pause"], counts["term"], v.acked, v.lost, v.duplicated)
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
