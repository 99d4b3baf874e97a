package replica

import "testing"

// TestMembershipQuorum: n1 leads n1..n3; n4 joins as a learner of the
// membership (replicated to, never counted); with n2 and n3 down nothing
// commits although n4 holds everything; promoted to voter (four voters,
// majority three) still nothing; once n2 and n3 are removed (voters n1 and
// n4, majority two) the entries n4 holds commit at once.
func TestMembershipQuorum(t *testing.T) {
	c := newMemCluster(t, 3)
	c.ids = append(c.ids, "n4")
	c.rs["n4"] = newR(t, "n4", []string{"n1", "n2", "n3", "n4"}, State{})
	must(t, c.rs["n4"].SetMembers([]string{"n1", "n2", "n3"}, []string{"n4"})) // what it was told when it joined
	l := c.rs["n1"]
	must(t, l.BecomeLeader(1))
	must(t, l.SetMembers([]string{"n1", "n2", "n3"}, []string{"n4"}))
	c.settle(t, 20)
	if l.log.committed != 1 || c.rs["n4"].log.lastIndex() != 1 {
		t.Fatalf("no-op: commit %d, n4 holds %d; want 1 and 1", l.log.committed, c.rs["n4"].log.lastIndex())
	}
	run := func() {
		for range 6 {
			c.pump()
			c.deliverExcept("n2")
			c.pump()
			c.deliverExcept("n3")
			l.Tick()
		}
	}
	for i := range 3 {
		if _, _, err := l.Propose([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if c.rs["n4"].log.lastIndex() != 4 || l.log.committed != 1 {
		t.Fatalf("n4 holds %d (want 4); commit %d (want 1: a learner of the membership counted)", c.rs["n4"].log.lastIndex(), l.log.committed)
	}
	cycle(l)
	must(t, l.SetMembers([]string{"n1", "n2", "n3", "n4"}, nil))
	run()
	if l.log.committed != 1 {
		t.Fatalf("commit %d with two of four voters, want 1", l.log.committed)
	}
	cycle(l)
	must(t, l.SetMembers([]string{"n1", "n4"}, nil))
	if !l.Voter("n4") || l.Voter("n2") {
		t.Fatal("Voter does not follow the membership")
	}
	run()
	if l.log.committed != 4 {
		t.Fatalf("commit %d with voters n1 and n4 holding 4, want 4", l.log.committed)
	}
	if err := l.SetMembers(nil, []string{"n1"}); err == nil {
		t.Fatal("a membership without voters was accepted")
	}
}

// TestAppendFromOutsideTheMembership: a follower whose membership lags its
// leader's (the entry that added the leader has not reached it) takes the
// leader's appends; an answer from a node outside a leader's membership is
// refused.
func TestAppendFromOutsideTheMembership(t *testing.T) {
	r := newR(t, "n1", peers3, State{HardState: HardState{Term: 2}})
	if err := r.Step(Message{Type: MsgApp, From: "n9", To: "n1", Term: 2, Entries: []Entry{{Index: 1, Term: 2}}}); err != nil {
		t.Fatalf("append from n9, outside n1's membership: %v", err)
	}
	if r.log.lastIndex() != 1 || r.Status().Lead != "n9" {
		t.Fatalf("after n9's append: last %d, leader %q", r.log.lastIndex(), r.Status().Lead)
	}
	if err := r.Step(Message{Type: MsgApp, From: "n2", To: "n1", Term: 2}); err == nil {
		t.Fatal("a second leader of term 2 was followed")
	}
}
