package ring

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
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

// retireRemoved stops every node that the committed membership of
// leader's log leaves out, and that its latest one leaves out too: removed
// ones (a node stops itself once it applies its removal) and ones that
// joined by an entry that was never committed (the operator stops them).
func (c *cluster) retireRemoved(leader *simNode) {
	committed := &leader.base
	for i := range leader.confs {
		if leader.confs[i].id.Index <= uint64(len(c.committed)) {
			committed = &leader.confs[i]
		}
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

// TestSimulationMembershipUnsafeRules: the same simulation with the
// leader's rules dropped (changes proposed back to back, before anything of
// its term is committed) must find a broken invariant: the rules, not
// luck, keep the memberships in use one voter apart.
func TestSimulationMembershipUnsafeRules(t *testing.T) {
	p := memberSim
	p.UnsafeConf, p.ConfProb = true, 0.3
	for seed := int64(0); seed < 2000; seed++ {
		_, msg := runRecorded(func(tb testing.TB) simResult {
			return runSeedParams(tb, seed, p, "TestSimulationMembershipUnsafeRules")
		})
		if strings.Contains(msg, "I1") || strings.Contains(msg, "I3") {
			t.Logf("seed %d breaks the election without the rules, as expected:\n%s", seed, firstLine(msg))
			return
		}
	}
	t.Fatal("no seed broke I1 or I3 without the leader's rules: the simulation does not reach the schedules they prevent")
}

// TestCompleteRoundNeedsWinnersMembership runs the schedule at the top of
// this file on one core: n1 holds the configured membership {n1,n2,n3}; its
// round comes back passed by n1 and n3, a majority of it, but the best
// candidate n3 holds a membership with four voters, of which n1 and n3 are
// no majority: no leader. The same token with a best candidate of the
// configured membership wins.
func TestCompleteRoundNeedsWinnersMembership(t *testing.T) {
	for _, tc := range []struct {
		name   string
		conf   ConfID
		voters []string
		wins   bool
	}{
		{"winner holds a larger membership", ConfID{Index: 4, Term: 1}, []string{"n1", "n2", "n3", "n4"}, false},
		{"winner holds the configured membership", ConfID{}, nil, true},
		{"winner holds a smaller membership", ConfID{Index: 4, Term: 1}, []string{"n1", "n3", "n4"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newLearnerNode(t, false, HardState{Term: 5, Vote: "n1"})
			hbFrom(t, n, "n2", 5, "", false)
			hbFrom(t, n, "n3", 5, "", false)
			drain(n)
			step(t, n, Message{Type: MsgToken, From: "n3", Term: 5, Origin: "n1",
				Best:       Candidate{ID: "n3", LastTerm: 1, LastIndex: 9, Conf: tc.conf},
				BestVoters: tc.voters, Passed: []string{"n1", "n3"}})
			if got := n.HardState().Leader == "n3"; got != tc.wins {
				t.Fatalf("leader of term 5: %q (reason %q); want won=%v", n.HardState().Leader, n.Status().Reason, tc.wins)
			}
		})
	}
}

// TestSetMembersVotersAndLearners: a learner of the membership relays
// without voting and counts towards no majority; promoted by the next
// membership, it votes.
func TestSetMembersVotersAndLearners(t *testing.T) {
	n := newLearnerNode(t, false, HardState{})
	learner := []Member{{ID: "n1", Ring: 1, Learner: true}, {ID: "n2", Ring: 2}, {ID: "n3", Ring: 3}}
	if err := n.SetMembers(learner, ConfID{Index: 3, Term: 1}); err != nil {
		t.Fatal(err)
	}
	if !n.NonVoter() || n.Status().Members[0].Voter {
		t.Fatalf("n1 should be a learner of the membership: %+v", n.Status().Members[0])
	}
	hbFrom(t, n, "n2", 1, "", false)
	hbFrom(t, n, "n3", 1, "", false)
	drain(n)
	tok := Message{Type: MsgToken, From: "n3", Term: 2, Origin: "n3", Best: Candidate{ID: "n3", LastTerm: 1, LastIndex: 3},
		Passed: []string{"n3"}}
	step(t, n, tok)
	rd := n.Ready()
	n.Advance(rd)
	if rd.HardState == nil || rd.HardState.Vote != "" {
		t.Fatalf("a learner of the membership voted: %+v", rd.HardState)
	}
	if err := n.SetMembers([]Member{{ID: "n1", Ring: 1}, {ID: "n2", Ring: 2}, {ID: "n3", Ring: 3}}, ConfID{Index: 5, Term: 1}); err != nil {
		t.Fatal(err)
	}
	if n.NonVoter() || n.isLearner() {
		t.Fatal("promoted by the membership, n1 still does not vote")
	}
	step(t, n, Message{Type: MsgToken, From: "n3", Term: 3, Origin: "n3", Best: Candidate{ID: "n3", LastTerm: 1, LastIndex: 5},
		Passed: []string{"n3"}})
	if hs := n.HardState(); hs.Term != 3 || hs.Vote != "n3" {
		t.Fatalf("promoted: hard state %s, want a vote for n3 in term 3", hs.Describe())
	}
	if err := n.SetMembers([]Member{{ID: "n2", Ring: 2, Learner: true}}, ConfID{Index: 6, Term: 1}); err == nil {
		t.Fatal("a membership without this node and without voters was accepted")
	}
}

// TestTokenMembershipEncoding: a best candidate's membership travels with
// its voters, or not at all.
func TestTokenMembershipEncoding(t *testing.T) {
	c := testCodec(t)
	tok := Message{Type: MsgToken, From: "n2", To: "n3", Term: 6, Origin: "n1", Passed: []string{"n1", "n2"},
		Best: Candidate{ID: "n2", Conf: ConfID{Index: 4, Term: 1}}}
	if _, err := c.Encode(tok); err == nil {
		t.Fatal("a membership without its voters was encoded")
	}
	tok.Best.Conf, tok.BestVoters = ConfID{}, []string{"n1"}
	if _, err := c.Encode(tok); err == nil {
		t.Fatal("voters without a membership were encoded")
	}
}

// TestHandOverEndsWhenAnotherLeads: a node that hands over votes again as
// soon as it hears of a leader of a later term than the one it gave up,
// not only when its time is up: with four voters, one handing over and one
// deaf, the other two could elect no one until then.
func TestHandOverEndsWhenAnotherLeads(t *testing.T) {
	n := handingOverLeader(t)
	hbFrom(t, n, "n2", 3, "n2", false) // the same term: not a new leader
	drain(n)
	if !n.isLearner() || n.HandOverTicks() == 0 {
		t.Fatal("a heartbeat of the term it handed over in ended the hand-over")
	}
	hbFrom(t, n, "n2", 4, "n2", false)
	drain(n)
	if n.isLearner() || n.HandOverTicks() != 0 {
		t.Fatalf("still handing over under a leader of a later term (%d ticks left)", n.HandOverTicks())
	}
	// n2 goes silent (deaf to this node) for a failure timeout — far less
	// than the hand-over's time — and n3 starts a round: this node votes.
	for i := 0; i <= 2*n.cfg.FailureTicks; i++ {
		n.Tick()
	}
	drain(n)
	step(t, n, Message{Type: MsgToken, From: "n3", Term: 5, Origin: "n3", Best: Candidate{ID: "n3", LastTerm: 3, LastIndex: 9},
		Passed: []string{"n3"}})
	if hs := n.HardState(); hs.Term != 5 || hs.Vote != "n3" {
		t.Fatalf("after the hand-over: %s, want a vote for n3 in term 5", hs.Describe())
	}
}

// handingOverLeader is n1, leader of term 3 as n2 and n3 know, that has
// just begun to hand over.
func handingOverLeader(t *testing.T) *Node {
	t.Helper()
	n := newLearnerNode(t, false, HardState{Term: 3, Vote: "n1", Leader: "n1"})
	hbFrom(t, n, "n2", 3, "n1", false)
	hbFrom(t, n, "n3", 3, "n1", false)
	drain(n)
	n.HandOver()
	return n
}

// TestHandOver: a node that hands over relays a token without voting and
// starts no round; once its time is up it votes again.
func TestHandOver(t *testing.T) {
	n := handingOverLeader(t)
	if n.Role() == RoleLeader || !n.isLearner() {
		t.Fatalf("after HandOver: role %s, learner %v", n.Role(), n.isLearner())
	}
	step(t, n, Message{Type: MsgToken, From: "n3", Term: 4, Origin: "n3", Best: Candidate{ID: "n3", LastTerm: 3, LastIndex: 9},
		Passed: []string{"n3"}})
	rd := n.Ready()
	n.Advance(rd)
	if rd.HardState == nil || rd.HardState.Vote != "" {
		t.Fatalf("a node handing over voted: %+v", rd.HardState)
	}
	if toks := tokensIn(rd.Messages); len(toks) != 1 || len(toks[0].Passed) != 1 {
		t.Fatalf("relayed %v, want the token unchanged", toks)
	}
	for i := 0; i < handOverFailures*n.cfg.FailureTicks; i++ {
		n.Tick()
	}
	drain(n)
	if n.isLearner() {
		t.Fatal("still handing over after its time")
	}
	step(t, n, Message{Type: MsgToken, From: "n3", Term: 9, Origin: "n3", Best: Candidate{ID: "n3", LastTerm: 3, LastIndex: 9},
		Passed: []string{"n3"}})
	if hs := n.HardState(); hs.Term != 9 || hs.Vote != "n3" {
		t.Fatalf("after the hand-over: %s, want a vote for n3 in term 9", hs.Describe())
	}
}
