package e2e

import (
	"fmt"
	"testing"
	"time"
)

// electWithin is how long the nodes that still hear each other may take to
// agree on a leader among themselves before the test fails. They should
// need about failure_timeout plus one trip around the ring (logged as
// measured); the bound is generous because status polling, -race and a
// loaded machine add their share.
const electWithin = 10 * time.Second

// TestDeafNode: in the namespace lab, every node in turn is made deaf — the
// other two nodes' packets to it are dropped, while its own packets (its
// heartbeats, its election messages) still reach them — first the leader,
// then the followers. The other two must agree on a leader among
// themselves (a deaf leader can commit nothing, and its heartbeats must not
// keep the others from electing) and keep committing posts; after healing,
// every acknowledged post is present exactly once on every node and the
// WALs agree. SYNCNET_E2E_ROUNDS repeats the cycle.
func TestDeafNode(t *testing.T) { oneWayTrials(t, "deaf") }

// TestMuteNode is TestDeafNode the other way round: a mute node's packets
// to the other nodes are dropped; it still hears them.
func TestMuteNode(t *testing.T) { oneWayTrials(t, "mute") }

func oneWayTrials(t *testing.T, kind string) {
	lab := newNetLab(t, 3)
	lab.requireDrops()
	c := newCluster(t, 3, lab.opts())
	c.waitLeader()
	mon := c.monitorLeaders()
	w := c.startPosters(3, kind[:2])
	w.bindSide()
	w.waitAcked(5, 30*time.Second)

	rounds := envInt(t, "SYNCNET_E2E_ROUNDS", 1)
	roles := map[string]int{}
	for round := 1; round <= rounds; round++ {
		done := map[string]bool{}
		for k := range c.ids {
			leader := c.waitLeader()
			victim := pickVictim(c, leader, done, k)
			done[victim] = true
			role := "follower"
			if victim == leader {
				role = "leader"
			}
			roles[role]++
			rest := others(c.ids, victim)
			t.Logf("round %d/%d, trial %d: %s node %s (the %s)", round, rounds, k+1, kind, victim, role)

			w.setAvoid(victim)
			t0 := time.Now()
			if kind == "deaf" {
				lab.deafen(c.index(victim))
			} else {
				lab.mute(c.index(victim))
			}
			// A post through the cut-off node: it cannot commit there (no
			// majority hears it, or it hears none); if it is acknowledged
			// anyway, the set check requires it in every log.
			w.sidePost(victim)
			got, term, took, err := c.electedAmong(rest, t0, electWithin)
			if err != nil {
				t.Errorf("%s %s (the %s): %v", kind, victim, role, err)
			} else {
				t.Logf("%s %s (the %s): %v agree on leader %s in term %d %s after the fault (failure_timeout %s)",
					kind, victim, role, rest, got, term, took.Round(time.Millisecond), failureTimeout)
				w.waitAcked(5, 30*time.Second) // through the two others only
			}
			if n := lab.clearDrops(); n == 0 {
				t.Errorf("%s %s: the filters dropped no packet: the fault did not happen", kind, victim)
			}
			t.Logf("net: healed")
			w.setAvoid()
			c.waitLeader()
			w.waitAcked(3, 30*time.Second)
		}
	}
	w.stop()
	mon.finish()
	t.Logf("%s trials: %d with the leader, %d with a follower", kind, roles["leader"], roles["follower"])
	if roles["leader"] == 0 || roles["follower"] == 0 {
		t.Errorf("%s trials covered roles %v; want both the leader and a follower", kind, roles)
	}
	if v := w.check(c.ids); v.lost+v.duplicated > 0 {
		t.Fatalf("%d lost, %d duplicated", v.lost, v.duplicated)
	}
	c.walDiff(c.ids)
}

// pickVictim chooses trial k's node: the leader first, then a follower not
// yet chosen in this round, then whichever node is left.
func pickVictim(c *cluster, leader string, done map[string]bool, k int) string {
	if k == 0 {
		return leader
	}
	for _, id := range c.ids {
		if !done[id] && id != leader {
			return id
		}
	}
	for _, id := range c.ids {
		if !done[id] {
			return id
		}
	}
	panic(fmt.Sprintf("pickVictim: no node left (%v)", done))
}
