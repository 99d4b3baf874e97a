package ring

import (
	"fmt"
	"testing"
)

// One-way cuts: a node that is deaf (everything sent to it is lost; it
// still sends, so the others keep hearing it) or mute (everything it sends
// is lost; it still hears everyone). The promise under test (I7): while a
// majority is up and connected both ways, it has a leader within
// oneWayBound ticks of the cut and keeps it.

// oneWayBound is the promise in ticks for a network whose hops take at most
// maxDelay ticks: the failure timeout, one heartbeat for the news to spread,
// the rank-0 stagger with its jitter, one move-on of a token whose receiver
// became deaf after its last echo (AckTicks), and a ring trip — token and
// announcement, n hops each.
func oneWayBound(p simParams, maxDelay int) int {
	ack := p.HeartbeatTicks + 1 // Config.AckTicks default
	return p.FailureTicks + p.HeartbeatTicks + p.StaggerTicks + ack + 2*p.Nodes*(maxDelay+1)
}

// stableTicks: how long the leader must then stay (same leader, same term).
func stableTicks(p simParams) int { return 4 * p.FailureTicks }

// workingLeader returns the leader that every live node not cut off from
// it follows, if it is connected both ways; "" otherwise. Deaf nodes do not
// count (they cannot know); a mute node must follow it too (it hears it).
func (c *cluster) workingLeader() string {
	l := c.agreedLeader()
	if l == "" {
		return ""
	}
	if d, m := c.net.Cut(l); d || m || c.paused(c.nodes[l]) {
		return ""
	}
	return l
}

// cutOneWay makes id deaf or mute.
func (c *cluster) cutOneWay(id string, deaf bool) {
	if deaf {
		c.net.SetDeaf(id, true)
		c.note("deaf %s", id)
	} else {
		c.net.SetMute(id, true)
		c.note("mute %s", id)
	}
}

// expectWorkingLeader runs until a working leader exists (failing after
// bound ticks), then for stable ticks requires it and its term to stay. It
// returns the ticks the first part took.
func (c *cluster) expectWorkingLeader(what string, bound, stable int) int {
	c.tb.Helper()
	took := -1
	for i := 0; i <= bound; i++ {
		if c.workingLeader() != "" {
			took = i
			break
		}
		c.tick()
	}
	if took < 0 {
		c.fail("I7 (%s): no working leader within %d ticks", what, bound)
		return -1
	}
	l := c.workingLeader()
	term := c.nodes[l].n.Term()
	for i := 0; i < stable && !c.failed; i++ {
		c.tick()
		if now := c.workingLeader(); now != l || c.nodes[l].n.Term() != term {
			c.fail("I7 (%s): leader %s of term %d not kept: now %q after %d ticks", what, l, term, now, i+1)
		}
	}
	return took
}

// electLeader starts a cluster in which id wins the first election: its
// log is one entry ahead, and a token passed by every member carries the
// best log.
func electLeader(tb testing.TB, seed int64, p simParams, id string) *cluster {
	c := newCluster(tb, seed, p)
	c.p.AppendProb, c.p.ReplicateProb = 0, 0
	c.nodes[id].log = []uint64{0}
	if c.runUntilLeader(200) < 0 || c.agreedLeader() != id {
		c.fail("setup: %s did not win the first election (leader %q)", id, c.agreedLeader())
	}
	c.p.AppendProb, c.p.ReplicateProb = defaultSim.AppendProb, defaultSim.ReplicateProb
	c.net.SetFaults(SimConfig{MaxDelay: 1})
	for i := 0; i < 20; i++ {
		c.tick()
	}
	return c
}

// TestOneWayCuts: 3 and 5 nodes; every node in turn is made deaf or mute,
// once as the leader and once as a follower. The others have a working
// leader within oneWayBound and keep it; after healing, the cut node
// follows that leader without disrupting it. I1 and I3 are checked after
// every tick by the harness.
func TestOneWayCuts(t *testing.T) {
	for _, nodes := range []int{3, 5} {
		p := simParamsN(nodes)
		bound := oneWayBound(p, 1)
		worst := 0
		for v := 1; v <= nodes; v++ {
			victim := fmt.Sprintf("n%d", v)
			for _, asLeader := range []bool{true, false} {
				for _, deaf := range []bool{true, false} {
					leader := victim
					if !asLeader {
						leader = fmt.Sprintf("n%d", v%nodes+1)
					}
					mode := map[bool]string{true: "deaf", false: "mute"}[deaf]
					name := fmt.Sprintf("%d/%s-%s/leader-%s", nodes, mode, victim, leader)
					t.Run(name, func(t *testing.T) {
						c := electLeader(t, int64(100*nodes+10*v), p, leader)
						c.cutOneWay(victim, deaf)
						took := c.expectWorkingLeader(name, bound, stableTicks(p))
						worst = max(worst, took)
						l, term := c.workingLeader(), c.nodes[c.workingLeader()].n.Term()
						if asLeader && l == victim {
							t.Fatalf("the %s leader %s still leads term %d", mode, victim, term)
						}
						if !asLeader && (l != leader || term != 1) {
							t.Fatalf("a %s follower disrupted the leader: %s term %d, was %s term 1", mode, l, term, leader)
						}
						c.note("heal")
						c.net.Heal()
						for i := 0; i < 3*p.FailureTicks; i++ {
							c.tick()
						}
						if now := c.agreedLeader(); now != l || c.nodes[l].n.Term() != term {
							t.Fatalf("healing %s disrupted leader %s term %d: now %q", victim, l, term, now)
						}
					})
				}
			}
		}
		t.Logf("%d nodes: worst ticks from the cut to a working leader: %d (bound %d)", nodes, worst, bound)
	}
}

// TestDeafFollowerLeaderPause: the field report's second case. A follower
// is deaf; then the leader stops for longer than the failure timeout and
// resumes (as after SIGSTOP or a long GC pause). The survivor alone is no
// majority and must not start rounds into the deaf node; with 5 nodes the
// three others elect. Either way a working leader follows within the bound
// and stays.
func TestDeafFollowerLeaderPause(t *testing.T) {
	for _, nodes := range []int{3, 5} {
		p := simParamsN(nodes)
		for v := 1; v <= nodes; v++ {
			deaf := fmt.Sprintf("n%d", v)
			leader := fmt.Sprintf("n%d", v%nodes+1)
			t.Run(fmt.Sprintf("%d/deaf-%s/pause-%s", nodes, deaf, leader), func(t *testing.T) {
				c := electLeader(t, int64(1000*nodes+v), p, leader)
				c.cutOneWay(deaf, true)
				for i := 0; i < 2*p.FailureTicks; i++ {
					c.tick()
				}
				pause := 3 * p.FailureTicks
				c.pause(leader, pause)
				for i := 0; i < pause; i++ {
					c.tick()
				}
				c.expectWorkingLeader("after the pause", oneWayBound(p, 1), stableTicks(p))
				if nodes == 3 {
					if l, term := c.workingLeader(), c.nodes[leader].n.Term(); l != leader || term != 1 {
						t.Fatalf("leader %s term %d, want %s term 1: the survivor started rounds", l, term, leader)
					}
				}
			})
		}
	}
}
