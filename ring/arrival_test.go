package ring

import "testing"

// A node whose driver is behind its queue for longer than the failure
// timeout (client work ahead of the heartbeats) must not suspect the peers
// it hears, nor a follower drop its leader, when it is told of arrivals as
// they happen: the detector judges by arrival (Node.Arrived). Without the
// arrivals the same schedule raises suspicions, so the test can fail.
func TestArrivalsKeepBusyNodeFromSuspecting(t *testing.T) {
	for _, withArrivals := range []bool{true, false} {
		for seed := int64(1); seed <= 20; seed++ {
			c := newCluster(t, seed, simParams{Nodes: 3, HeartbeatTicks: 5, FailureTicks: 20, ElectionTicks: 15})
			if c.runUntilLeader(500) < 0 {
				t.Fatalf("seed %d: no leader", seed)
			}
			leader := c.agreedLeader()
			term := c.nodes[leader].n.Term()
			before := map[string]uint64{}
			for _, id := range c.ids {
				before[id] = c.nodes[id].n.Suspicions()
				if id != leader || seed%2 == 0 { // the leader busy in odd seeds, every node in even ones
					c.nodes[id].busyUntil = c.now + 3*20
					c.nodes[id].arrivals = withArrivals
				}
			}
			for range 4 * 20 {
				c.tick()
			}
			suspicions := 0
			for _, id := range c.ids {
				suspicions += int(c.nodes[id].n.Suspicions() - before[id])
			}
			changed := c.agreedLeader() != leader || c.nodes[leader].n.Term() != term
			if withArrivals && (suspicions > 0 || changed) {
				t.Fatalf("seed %d: busy nodes told of arrivals: %d suspicions, leader %s term %d -> leader %q term %d\n%s",
					seed, suspicions, leader, term, c.agreedLeader(), c.nodes[leader].n.Term(), c.dump("end"))
			}
			if !withArrivals && suspicions == 0 {
				t.Fatalf("seed %d: busy nodes without arrivals raised no suspicion: the test cannot fail", seed)
			}
		}
	}
}
