package replica

import (
	"fmt"
	"slices"
	"testing"
)

// lostCluster builds the real 3-node history of the data-loss bug: n3 leads
// term 1 with a log of 6001 entries (its no-op and 6000 posts), all
// committed and acknowledged by n1 and n2 (match 6001). With storage, n3
// then compacts everything and serves its log from a Storage.
func lostCluster(t *testing.T, storage bool) (*memCluster, *Replica) {
	t.Helper()
	c := newMemCluster(t, 3)
	l := c.rs["n3"]
	must(t, l.BecomeLeader(1))
	for i := range 6000 {
		if _, _, err := l.Propose(fmt.Appendf(nil, "post %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.settle(t, 200)
	if pr := l.Progress()["n2"]; pr.Match != 6001 || l.log.committed != 6001 || l.log.lastIndex() != 6001 {
		t.Fatalf("setup: n2 progress %+v, leader commit %d last %d", pr, l.log.committed, l.log.lastIndex())
	}
	if storage {
		s := &memStorage{t: t, ents: slices.Clone(l.log.ents)}
		l.cfg.Storage, l.log.storage = s, s
		must(t, l.Compact(6001))
	}
	return c, l
}

// TestLostFollowerCatchesUp is the regression test for the 3-node failure
// in which n2 lost its data directory: n3 kept match 6001 for it, n2
// restarted with an empty log and answered every heartbeat with
// "reject=6001 hint=0/0", which n3 took for a stale refusal (at or below
// match) and ignored, forever. The refusal's hint proves n2's log ends
// below match: n3 regresses match and next and probes from the hint; n2
// catches up (from Storage when n3 compacted everything).
func TestLostFollowerCatchesUp(t *testing.T) {
	for _, storage := range []bool{false, true} {
		t.Run(fmt.Sprintf("storage=%v", storage), func(t *testing.T) {
			c, l := lostCluster(t, storage)
			c.rs["n2"] = newR(t, "n2", c.ids, State{}) // disk replaced: empty, term 0
			l.Tick()                                   // heartbeat
			rd := l.Ready()
			var hb []string
			for _, m := range rd.Messages {
				if m.To == "n2" {
					hb = append(hb, m.Describe())
					must(t, c.rs["n2"].Step(m))
				}
			}
			l.Advance(rd)
			if want := []string{"n3->n2 MsgApp t1 prev=6001/1 commit=6001"}; !slices.Equal(hb, want) {
				t.Fatalf("heartbeat = %q, want %q", hb, want)
			}
			resp := msgsOf(cycle(c.rs["n2"]), MsgAppResp)
			if len(resp) != 1 || resp[0].Describe() != "n2->n3 MsgAppResp t1 reject=6001 hint=0/0" {
				t.Fatalf("n2 answers %v", resp)
			}
			must(t, l.Step(resp[0]))
			if pr := l.Progress()["n2"]; pr.Match != 0 || pr.Next != 1 {
				t.Errorf("after the refusal n2's progress is %+v, want match 0 next 1", pr)
			}
			apps := msgsOf(l.Ready(), MsgApp)
			l.Advance(Ready{})
			if len(apps) != 1 || apps[0].To != "n2" || apps[0].PrevIndex != 0 || apps[0].PrevTerm != 0 || len(apps[0].Entries) == 0 {
				t.Fatalf("leader sends %v, want a probe of n2 from index 1", apps)
			}
			c.queue = append(c.queue, apps...)
			rejects := 0
			for round := 0; c.rs["n2"].log.committed < 6001 || l.Progress()["n2"].Match < 6001; round++ {
				if round > 300 {
					t.Fatalf("n2 not caught up: last %d commit %d; progress %+v", c.rs["n2"].log.lastIndex(), c.rs["n2"].log.committed, l.Progress()["n2"])
				}
				c.pump()
				for _, m := range c.queue {
					if m.Type == MsgAppResp && m.Reject {
						rejects++
					}
				}
				c.deliver()
				l.Tick()
			}
			f := c.rs["n2"]
			if f.log.lastIndex() != 6001 || f.log.committed != 6001 || !slices.Equal(termsOf(f.log.ents), termsOf(c.rs["n1"].log.ents)) {
				t.Errorf("n2: last %d commit %d", f.log.lastIndex(), f.log.committed)
			}
			if pr := l.Progress()["n2"]; pr.Match != 6001 || pr.Next != 6002 || pr.CatchingUp {
				t.Errorf("n2's progress at the end: %+v", pr)
			}
			if rejects > 0 {
				t.Errorf("%d more refusals while n2 caught up", rejects)
			}
		})
	}
}

// TestStaleRefusalBelowMatch: an old refusal that overtook newer acks (its
// hint below match) regresses match to the hint entry it proves the
// follower holds, and the leader resends from there; the commit index
// never moves back, and the next ack restores match.
func TestStaleRefusalBelowMatch(t *testing.T) {
	l := newR(t, "n1", peers3, State{HardState: HardState{Term: 1}, Entries: ents(1, 1, 1, 1)})
	must(t, l.BecomeLeader(2)) // no-op 4/2
	cycle(l)
	must(t, l.Step(ack("n2", 2, 4)))
	cycle(l)
	if l.log.committed != 4 {
		t.Fatalf("commit %d, want 4", l.log.committed)
	}
	// n2's refusal of the first probe (prev 3/1, when it held only 1..2).
	must(t, l.Step(Message{Type: MsgAppResp, From: "n2", To: "n1", Term: 2, Reject: true, Index: 3, HintIndex: 2, HintTerm: 1}))
	if pr := l.Progress()["n2"]; pr.Match != 2 || pr.Next != 3 || l.log.committed != 4 {
		t.Fatalf("after the stale refusal: %+v, commit %d; want match 2 next 3, commit 4", pr, l.log.committed)
	}
	apps := msgsOf(cycle(l), MsgApp)
	if len(apps) != 1 || apps[0].To != "n2" || apps[0].PrevIndex != 2 || apps[0].PrevTerm != 1 || len(apps[0].Entries) != 2 {
		t.Fatalf("resend = %v, want 3..4 after 2/1 to n2", apps)
	}
	// A hint whose term is not ours proves nothing: match drops to 0.
	must(t, l.Step(ack("n2", 2, 4)))
	must(t, l.Step(Message{Type: MsgAppResp, From: "n2", To: "n1", Term: 2, Reject: true, Index: 3, HintIndex: 3, HintTerm: 0}))
	if pr := l.Progress()["n2"]; pr.Match != 0 || pr.Next != 4 || l.log.committed != 4 {
		t.Fatalf("after a refusal with hint 3/0: %+v, commit %d; want match 0 next 4", pr, l.log.committed)
	}
	cycle(l)
	must(t, l.Step(ack("n2", 2, 4)))
	if pr := l.Progress()["n2"]; pr.Match != 4 || pr.Next != 5 {
		t.Errorf("after the next ack: %+v, want match 4 next 5", pr)
	}
}
