package replica

import (
	"errors"
	"testing"
)

// learnerCluster: n1 leads term 1 of a 3-member group in which n3 is a
// learner (Config.Learner: it lost its data and is not promoted yet).
func learnerCluster(t *testing.T) *memCluster {
	t.Helper()
	c := newMemCluster(t, 3)
	c.rs["n3"] = newR(t, "n3", c.ids, State{}, func(c *Config) { c.Learner = true })
	must(t, c.rs["n1"].BecomeLeader(1))
	return c
}

// deliverExcept steps the queued messages, dropping those to or from down.
func (c *memCluster) deliverExcept(down string) int {
	q := c.queue
	c.queue = nil
	n := 0
	for _, m := range q {
		if m.To == down || m.From == down {
			continue
		}
		if err := c.rs[m.To].Step(m); err != nil {
			panic(err)
		}
		n++
	}
	return n
}

// TestLearnerAcksDoNotCount: with n3 a learner, a commit needs both voters
// (n1 and n2); with n2 down nothing commits although n3 holds and
// acknowledges everything, and n1 keeps replicating to n3; once n3 is
// promoted (SetLearner(false)) its next answer counts, even one that
// acknowledges nothing new.
func TestLearnerAcksDoNotCount(t *testing.T) {
	c := learnerCluster(t)
	l, n3 := c.rs["n1"], c.rs["n3"]
	c.settle(t, 20)
	if l.log.committed != 1 || n3.log.committed != 1 {
		t.Fatalf("no-op: leader commit %d, n3 commit %d; want 1 (both voters up)", l.log.committed, n3.log.committed)
	}
	if pr := l.Progress()["n3"]; !pr.Learner || pr.Match != 1 {
		t.Errorf("n3's progress %+v, want a learner at match 1", pr)
	}

	// n2 goes down: n3 acknowledges every entry, nothing commits.
	var learnerAcks int
	for i := range 5 {
		if _, _, err := l.Propose([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			c.pump()
			for _, m := range c.queue {
				if m.From == "n3" && m.Type == MsgAppResp {
					if !m.Learner {
						t.Fatalf("learner's answer without Learner: %s", m.Describe())
					}
					learnerAcks++
				}
			}
			c.deliverExcept("n2")
			l.Tick()
		}
	}
	if learnerAcks == 0 || n3.log.lastIndex() != 6 || l.Progress()["n3"].Match != 6 {
		t.Fatalf("n3 holds %d, leader's match %d after %d answers; want 6", n3.log.lastIndex(), l.Progress()["n3"].Match, learnerAcks)
	}
	if l.log.committed != 1 || n3.log.committed != 1 {
		t.Fatalf("commit %d (n3: %d) with one voter down, want 1: a learner's acks counted", l.log.committed, n3.log.committed)
	}

	// Promotion: n3's next answer (a heartbeat's, nothing new) counts.
	n3.SetLearner(false)
	if n3.Status().Learner {
		t.Error("Status().Learner after SetLearner(false)")
	}
	l.Tick()
	for range 4 {
		c.pump()
		c.deliverExcept("n2")
	}
	if pr := l.Progress()["n3"]; pr.Learner || l.log.committed != 6 || n3.log.committed != 6 {
		t.Fatalf("after promotion: n3 progress %+v, leader commit %d, n3 commit %d; want 6", pr, l.log.committed, n3.log.committed)
	}

	// Back to a learner (only the node's start does this; covered for
	// the queued-answer rule): a queued ack is marked too.
	must(t, n3.Step(Message{Type: MsgApp, From: "n1", To: "n3", Term: 1, PrevIndex: 6, PrevTerm: 1, Commit: 6}))
	n3.SetLearner(true)
	if resp := msgsOf(cycle(n3), MsgAppResp); len(resp) != 1 || !resp[0].Learner {
		t.Errorf("queued answer after SetLearner(true): %v", resp)
	}
}

// TestLearnerStaleMatchNotCounted: the leader holds match 3 for n3 from
// acks n3 sent before it lost its data. The first learner answer (even one
// that does not regress match) stops the leader counting it; a later
// promoted answer makes it count again.
func TestLearnerStaleMatchNotCounted(t *testing.T) {
	l := newR(t, "n1", peers3, State{})
	must(t, l.BecomeLeader(1))
	for range 3 {
		_, _, err := l.Propose([]byte("x"))
		must(t, err)
	}
	cycle(l)
	must(t, l.Step(ack("n3", 1, 3)))
	cycle(l)
	if l.log.committed != 3 {
		t.Fatalf("commit %d, want 3", l.log.committed)
	}
	_, _, err := l.Propose([]byte("y"))
	must(t, err)
	cycle(l) // 4 durable on the leader
	learnerAck := ack("n3", 1, 2)
	learnerAck.Learner = true
	must(t, l.Step(learnerAck)) // an old append's answer, from the learner
	learnerAck.Index = 4
	must(t, l.Step(learnerAck))
	if pr := l.Progress()["n3"]; !pr.Learner || pr.Match != 4 || l.log.committed != 3 {
		t.Fatalf("n3 %+v, commit %d; want a learner at 4, commit 3", pr, l.log.committed)
	}
	must(t, l.Step(ack("n3", 1, 4))) // promoted: the same index counts now
	if l.log.committed != 4 {
		t.Fatalf("commit %d after n3's promoted ack, want 4", l.log.committed)
	}
	// A learner's refusal is marked and also stops the counting.
	_, _, err = l.Propose([]byte("z"))
	must(t, err)
	cycle(l)
	must(t, l.Step(Message{Type: MsgAppResp, From: "n3", To: "n1", Term: 1, Reject: true, Index: 5, HintIndex: 4, HintTerm: 1, Learner: true}))
	must(t, l.Step(ack("n2", 1, 4)))
	if pr := l.Progress()["n3"]; !pr.Learner || l.log.committed != 4 {
		t.Fatalf("n3 %+v, commit %d; want a learner, commit 4", pr, l.log.committed)
	}
}

// TestLearnerNeverLeads: BecomeLeader on a learner fails and changes
// nothing; its answers, accepts and refusals alike, say Learner.
func TestLearnerNeverLeads(t *testing.T) {
	r := newR(t, "n3", peers3, State{}, func(c *Config) { c.Learner = true })
	if err := r.BecomeLeader(1); !errors.Is(err, ErrLearner) {
		t.Fatalf("BecomeLeader on a learner: %v", err)
	}
	if st := r.Status(); st.Role != Follower || st.Term != 0 || !st.Learner || r.HasReady() {
		t.Fatalf("after the refused BecomeLeader: %+v", st)
	}
	must(t, r.Step(Message{Type: MsgApp, From: "n1", To: "n3", Term: 2, Entries: ents(1, 2)}))
	must(t, r.Step(Message{Type: MsgApp, From: "n1", To: "n3", Term: 2, PrevIndex: 5, PrevTerm: 2}))
	resp := msgsOf(cycle(r), MsgAppResp)
	if len(resp) != 2 || !resp[0].Learner || !resp[1].Learner || !resp[1].Reject {
		t.Fatalf("answers %v, want an accept and a refusal, both from a learner", resp)
	}
	if got := resp[0].Describe(); got != "n3->n1 MsgAppResp t2 index=1 learner" {
		t.Errorf("Describe = %q", got)
	}
	r.SetLearner(false)
	must(t, r.BecomeFollower(3, ""))
	if err := r.BecomeLeader(3); err != nil {
		t.Errorf("BecomeLeader after promotion: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("SetLearner(true) on a leader did not panic")
		}
	}()
	r.SetLearner(true)
}
