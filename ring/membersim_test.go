package ring

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// Membership through the log (membership.go, issue 13), simulated. The
// harness plays the caller: the leader appends membership entries to its
// log (its simulated replication copies them with the log), every node's
// ring membership is the latest one in its log (SetMembers after every
// change), commits count the voters of the leader's latest membership, and
// nodes removed by a committed entry stop. The leader proposes one change
// at a time — add a spare as a learner, promote a caught-up learner, remove
// a voter other than itself or a learner — only once an entry of its own
// term is committed and its latest membership entry is committed (the
// node's rules, docs/ARCHITECTURE.md "Membership through the log"). All of
// the random simulation's faults run meanwhile; I1 and I3 are checked after
// every step (one leader per term, among roles taken and among persisted
// leaders; a new leader holds every committed entry; a round is won only by
// a majority of its winner's voters).
//
// The schedule that breaks a ring without Candidate.Conf: voters {a,b,c}
// add d and then e; c is cut off before either entry reaches it. c's
// round is passed by c and a (a majority of {a,b,c}); a holds {a,b,c,d}
// and a longer log, so a is the best candidate, while b, d and e elect b in
// the same term with a majority of {a,b,c,d,e}. Two leaders. With the
// winner's voters on the token (Message.BestVoters), c counts {c,a} against
// a's voters {a,b,c,d}: no majority, no leader.
// TestCompleteRoundNeedsWinnersMembership runs that schedule on one core;
// UnsafeConf below shows the simulation finds what breaks when the
// leader's rules are dropped.

// simConf is a membership entry at id (or the membership a log starts from).
type simConf struct {
	id      ConfID
	members []Member
}

func (sc simConf) has(id string) bool {
	return slices.ContainsFunc(sc.members, func(m Member) bool { return m.ID == id })
}

func (sc simConf) voters() []string {
	var out []string
	for _, m := range sc.members {
		if !m.Learner {
			out = append(out, m.ID)
		}
	}
	return out
}

// ringMembers is the membership given to id's core: a node that is not in
// it (removed, or not yet told) is added as a learner, so it stays on the
// ring it knows until it is stopped.
func (sc simConf) ringMembers(id string) []Member {
	ms := slices.Clone(sc.members)
	if !sc.has(id) {
		var ring int
		fmt.Sscanf(id, "n%d", &ring)
		ms = append(ms, Member{ID: id, Ring: ring, Learner: true})
	}
	return ms
}

func countIn(ids, set []string) int {
	c := 0
	for _, id := range ids {
		if slices.Contains(set, id) {
			c++
		}
	}
	return c
}

// confOf is sn's latest membership: the last membership entry in its log,
// else the one its log starts from.
func (c *cluster) confOf(sn *simNode) simConf {
	if len(sn.confs) > 0 {
		return sn.confs[len(sn.confs)-1]
	}
	return sn.base
}

// syncMembers: the caller's duty after a log change (membership.go).
func (c *cluster) syncMembers(sn *simNode) {
	conf := c.confOf(sn)
	if sn.n == nil || sn.n.Conf() == conf.id {
		return
	}
	if err := sn.n.SetMembers(conf.ringMembers(sn.id), conf.id); err != nil {
		c.fail("SetMembers(%s, %v): %v", sn.id, conf.id, err)
	}
	c.note("%s: membership %d/%d %v", sn.id, conf.id.Index, conf.id.Term, conf.members)
	c.handleReady(sn)
}

// proposeChange: leader l appends one membership change to its log, under
// the node's rules unless UnsafeConf.
func (c *cluster) proposeChange(l *simNode) {
	term := l.n.Term()
	cur := c.confOf(l)
	if !c.p.UnsafeConf {
		if !slices.Contains(c.committed, term) || cur.id.Index > uint64(len(c.committed)) {
			return
		}
	}
	var opts []func() ([]Member, string)
	ms := cur.members
	for _, id := range c.ids {
		if sn := c.nodes[id]; sn.spare && len(ms) < MaxMembers {
			sn := sn
			opts = append(opts, func() ([]Member, string) {
				var ring int
				fmt.Sscanf(sn.id, "n%d", &ring)
				return append(slices.Clone(ms), Member{ID: sn.id, Ring: ring, Learner: true}), "add " + sn.id
			})
		}
	}
	for i, m := range ms {
		i, m := i, m
		f := c.nodes[m.ID]
		switch {
		case m.ID == l.id:
		case m.Learner && len(f.log) >= len(c.committed) && slices.Equal(f.log[:len(c.committed)], c.committed):
			opts = append(opts, func() ([]Member, string) {
				out := slices.Clone(ms)
				out[i].Learner = false
				return out, "promote " + m.ID
			})
		case m.Learner || len(cur.voters()) > 3: // three voters stay: the liveness checks cut one
			opts = append(opts, func() ([]Member, string) {
				return slices.Delete(slices.Clone(ms), i, i+1), "remove " + m.ID
			})
		}
	}
	if len(opts) == 0 {
		return
	}
	next, what := opts[c.rnd.Intn(len(opts))]()
	l.log = append(l.log, term)
	conf := simConf{id: ConfID{Index: uint64(len(l.log)), Term: term}, members: next}
	l.confs = append(l.confs, conf)
	c.confsByID[conf.id] = conf
	c.confChanges++
	c.note("%s proposes %s at %d/%d: %v", l.id, what, conf.id.Index, term, next)
	c.syncMembers(l)
	for _, m := range next {
		if sn := c.nodes[m.ID]; sn.spare {
			// It joins: told the new membership, with an empty log.
			sn.spare, sn.base = false, conf
			c.start(m.ID)
			c.note("%s joins as a learner", m.ID)
		}
	}
}

// retireRemoved stops every node that a committed membership entry of
// leader's log left out, and that its latest one leaves out too (the node
// stops itself once it applies its removal, or the operator stops it).
func (c *cluster) retireRemoved(leader *simNode) {
	var committed *simConf
	for i := range leader.confs {
		if leader.confs[i].id.Index <= uint64(len(c.committed)) {
			committed = &leader.confs[i]
		}
	}
	if committed == nil {
		return
	}
	latest := c.confOf(leader)
	for _, id := range c.ids {
		sn := c.nodes[id]
		if sn.spare || sn.gone || committed.has(id) || latest.has(id) {
			continue
		}
		if sn.n != nil {
			c.crash(id)
		}
		sn.gone = true
		c.note("%s removed (committed at %d/%d): stopped", id, committed.id.Index, committed.id.Term)
	}
}

var memberSim = func() simParams {
	p := defaultSim
	p.Membership, p.ConfProb = true, 0.05
	return p
}()

// TestSimulationMembership: the random simulation with membership changes
// at random points (see the top of this file). Replay with -seed=N.
func TestSimulationMembership(t *testing.T) {
	run := func(seed int64) func(testing.TB) simResult {
		return func(tb testing.TB) simResult {
			return runSeedParams(tb, seed, memberSim, "TestSimulationMembership")
		}
	}
	if *flagSeed >= 0 {
		res := run(*flagSeed)(t)
		t.Logf("seed %d: %d elections", *flagSeed, res.elections)
		return
	}
	seeds := 600
	if testing.Short() {
		seeds = 100
	}
	var next, failed, changes atomic.Int64
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
				changes.Add(int64(res.confChanges))
			}
		}()
	}
	wg.Wait()
	t.Logf("%d seeds, %d membership changes committed or proposed", seeds, changes.Load())
	if changes.Load() < int64(seeds) {
		t.Errorf("only %d membership changes in %d seeds: the simulation does not exercise them", changes.Load(), seeds)
	}
}
