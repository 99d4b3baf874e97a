package e2e

import (
	"testing"
	"time"
)

// TestLeaderPauseUDPLoss is a schedule of the safety issue around an old
// leader's replication: the leader is frozen (SIGSTOP) while every UDP
// datagram it sends is dropped but its TCP flows — ring heartbeats and
// election messages are UDP, replication and forwarded posts are TCP — so
// the others elect a new leader while the old one, once resumed, is heard by
// nobody on the ring but still reaches every follower with its appends. Posts
// are sent through it while it is frozen (its kernel accepts the
// connections; it reads them when it resumes, believing it still leads).
// Then it is resumed (SIGCONT) and, a while later, killed (kill -9), its UDP
// restored and it is restarted. Throughout, posters post with client ids;
// at the end every acknowledged post must be present exactly once on every
// node, no term may have had two leaders and the WALs must agree.
//
// Each round runs three trials with a different time between SIGCONT and
// kill -9; SYNCNET_E2E_ROUNDS repeats them.
func TestLeaderPauseUDPLoss(t *testing.T) {
	lab := newNetLab(t, 3)
	lab.requireDrops()
	c := newCluster(t, 3, lab.opts())
	c.waitLeader()
	mon := c.monitorLeaders()
	w := c.startPosters(3, "pu")
	w.bindSide()
	w.waitAcked(5, 30*time.Second)

	holds := []time.Duration{100 * time.Millisecond, failureTimeout, 3 * failureTimeout}
	rounds := envInt(t, "SYNCNET_E2E_ROUNDS", 1)
	for trial := 0; trial < rounds*len(holds); trial++ {
		hold := holds[trial%len(holds)]
		old := c.waitLeader()
		i, rest := c.index(old), others(c.ids, old)
		t.Logf("trial %d/%d: leader %s: UDP out dropped, SIGSTOP, election, SIGCONT, %s, kill -9", trial+1, rounds*len(holds), old, hold)
		lab.dropUDPFrom(i)
		c.stop(old)
		t0 := time.Now()
		for k := 0; k < 3; k++ {
			w.sidePost(old)
		}
		leader, term, took, err := c.electedAmong(rest, t0, electWithin)
		if err != nil {
			t.Fatalf("with leader %s frozen: %v", old, err)
		}
		t.Logf("%v elected %s in term %d %s after the SIGSTOP", rest, leader, term, took.Round(time.Millisecond))
		c.cont(old)
		time.Sleep(hold)
		c.kill9(old)
		if n := lab.clearDrops(i); n == 0 {
			t.Errorf("the UDP filter on %s dropped nothing: the fault did not happen", old)
		}
		c.restart(old)
		c.waitLeader()
		w.waitAcked(3, 30*time.Second)
	}
	w.stop()
	mon.finish()
	if v := w.check(c.ids); v.lost+v.duplicated > 0 {
		t.Fatalf("%d lost, %d duplicated", v.lost, v.duplicated)
	}
	c.walDiff(c.ids)
}
