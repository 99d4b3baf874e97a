package e2e

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestChaos runs seeded random faults against a 3-node cluster under
// concurrent posters, never more than one node (a minority) down at once,
// then checks the acknowledged set on every node. SYNCNET_CHAOS_CYCLES sets
// the number of cycles (default 8; make chaos runs 100), SYNCNET_CHAOS_SEED
// replays the fault sequence of a run (timing still varies).
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

	c := start(t, 3)
	mon := c.monitorLeaders()
	w := c.startPosters(3, "ch")
	w.waitAcked(5, 30*time.Second)
	counts := map[string]int{}
	for i := 1; i <= cycles; i++ {
		victim := c.ids[rng.IntN(len(c.ids))]
		if rng.IntN(2) == 0 {
			victim = c.waitLeader() // the leader half the time: the interesting case
		}
		pause := time.Duration(100+rng.IntN(1400)) * time.Millisecond
		action := []string{"kill9", "pause", "term"}[rng.IntN(3)]
		counts[action]++
		t.Logf("cycle %d/%d: %s %s for %s (acknowledged so far %d)", i, cycles, action, victim, pause, w.ackedCount())
		switch action {
		case "kill9":
			c.kill9(victim)
			time.Sleep(pause)
			c.restart(victim)
		case "pause":
			c.stop(victim)
			time.Sleep(pause)
			c.cont(victim)
		case "term":
			c.term(victim)
			time.Sleep(pause)
			c.restart(victim)
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
