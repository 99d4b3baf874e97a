package ring

import (
	"errors"
	"math/rand"
	"slices"
	"testing"
)

// Unit tests of learners (learner.go) on one core: n1 of n1..n3, fed
// messages by hand. The cluster-level proof is in datalossim_test.go.

func newLearnerNode(t *testing.T, learner bool, hs HardState) *Node {
	t.Helper()
	members := []Member{{ID: "n1", Ring: 1}, {ID: "n2", Ring: 2}, {ID: "n3", Ring: 3}}
	n, err := New(Config{ID: "n1", Members: members, HeartbeatTicks: 2, FailureTicks: 8, ElectionTicks: 8,
		StaggerTicks: 3, Rand: rand.New(rand.NewSource(1)), Learner: learner,
		LogPosition: func() (uint64, uint64) { return 0, 0 }}, hs)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// hbFrom steps a heartbeat from a revision-3 peer that hears n1.
func hbFrom(t *testing.T, n *Node, from string, term uint64, leader string, learner bool) {
	t.Helper()
	m := Message{Type: MsgHeartbeat, From: from, To: n.ID(), Term: term, Leader: leader, Hears: []string{"n1"},
		Status: StatusInfo{Proto: ProtoVersion, Learner: learner}}
	if err := n.Step(m); err != nil {
		t.Fatal(err)
	}
}

func step(t *testing.T, n *Node, m Message) {
	t.Helper()
	m.To = n.ID()
	if err := n.Step(m); err != nil {
		t.Fatal(err)
	}
}

// TestLearnerRelaysWithoutVoting: a token reaches a learner; it goes on to
// the successor exactly as it came (no vote in HardState, not in Passed,
// Best unchanged even though the learner's position would beat it), the
// learner adopts the term with no vote, and a copy of it is not relayed
// again. A rival token of the same term is relayed too: no vote, so no
// second vote.
func TestLearnerRelaysWithoutVoting(t *testing.T) {
	n := newLearnerNode(t, true, HardState{})
	n.cfg.LogPosition = func() (uint64, uint64) { return 9, 99 } // would beat any candidacy
	hbFrom(t, n, "n2", 0, "", false)
	hbFrom(t, n, "n3", 0, "", false)
	drain(n)
	tok := Message{Type: MsgToken, From: "n3", Term: 4, Origin: "n3", Best: Candidate{ID: "n3", LastTerm: 1, LastIndex: 2},
		Passed: []string{"n3"}}
	step(t, n, tok)
	rd := n.Ready()
	n.Advance(rd)
	if rd.HardState == nil || *rd.HardState != (HardState{Term: 4}) {
		t.Fatalf("persisted %+v, want term 4 with no vote", rd.HardState)
	}
	toks := tokensIn(rd.Messages)
	if len(toks) != 1 || toks[0].To != "n2" || toks[0].Best != tok.Best || !slices.Equal(toks[0].Passed, tok.Passed) ||
		toks[0].Origin != "n3" || toks[0].Term != 4 {
		t.Fatalf("relayed %v, want the token unchanged to n2", toks)
	}
	// Moved on past n2 (no sign of arrival within AckTicks) to the origin:
	// still as it came.
	for i := 0; i < 3; i++ {
		n.Tick()
	}
	toks = tokensIn(drain(n))
	if len(toks) != 1 || toks[0].To != "n3" || toks[0].Best != tok.Best || !slices.Equal(toks[0].Passed, tok.Passed) {
		t.Fatalf("moved on: %v, want the token unchanged to n3", toks)
	}
	step(t, n, tok) // a duplicate
	if toks := tokensIn(drain(n)); len(toks) != 0 || n.Drops()["token: learner: already relayed"] != 1 {
		t.Fatalf("a copy was relayed again: %v, drops %v", toks, n.Drops())
	}
	rival := Message{Type: MsgToken, From: "n3", Term: 4, Origin: "n2", Best: Candidate{ID: "n3"}, Passed: []string{"n2", "n3"}}
	step(t, n, rival)
	toks = tokensIn(drain(n))
	if len(toks) != 1 || !slices.Equal(toks[0].Passed, rival.Passed) || n.HardState().Vote != "" {
		t.Fatalf("rival token: relayed %v, hard state %s", toks, n.HardState().Describe())
	}
	// Its own token of before the loss is dropped, never completed.
	own := Message{Type: MsgToken, From: "n3", Term: 5, Origin: "n1", Best: Candidate{ID: "n3"}, Passed: []string{"n1", "n2", "n3"}}
	step(t, n, own)
	if n.HardState().Leader != "" || n.Drops()["token: learner: own token from before"] != 1 {
		t.Fatalf("own token: %s, drops %v", n.HardState().Describe(), n.Drops())
	}
}

// TestLearnerStartsNoRound: a learner among leaderless members never
// originates a token, however long it waits.
func TestLearnerStartsNoRound(t *testing.T) {
	n := newLearnerNode(t, true, HardState{})
	for i := 0; i < 200; i++ {
		if i%2 == 0 {
			hbFrom(t, n, "n2", 0, "", false)
			hbFrom(t, n, "n3", 0, "", false)
		}
		n.Tick()
		for _, m := range tokensIn(drain(n)) {
			t.Fatalf("tick %d: the learner sent %s", i, m.Describe())
		}
	}
	if n.Role() != RoleFollower || n.HardState() != (HardState{}) {
		t.Fatalf("role %s, %s", n.Role(), n.HardState().Describe())
	}
}

// TestLearnerDoesNotCountForPreVote: a member that hears only a learner
// besides itself has no majority of voters reporting no leader, so it
// starts no round; the same peer as a member makes one.
func TestLearnerDoesNotCountForPreVote(t *testing.T) {
	for _, learner := range []bool{true, false} {
		n := newLearnerNode(t, false, HardState{})
		started := false
		for i := 0; i < 100 && !started; i++ {
			if i%2 == 0 {
				hbFrom(t, n, "n2", 0, "", learner)
			}
			n.Tick()
			for _, m := range tokensIn(drain(n)) {
				started = started || m.Origin == "n1"
			}
		}
		if started == learner {
			t.Fatalf("n2 learner=%v: n1 started a round: %v", learner, started)
		}
	}
}

// TestLearnerNamedLeaderDoesNotLead: an announcement naming the learner
// (only a token of before its data loss can carry its candidacy) is
// recorded, relayed, but not followed; its heartbeats say it resigned, and
// it does not lead that term once promoted either.
func TestLearnerNamedLeaderDoesNotLead(t *testing.T) {
	n := newLearnerNode(t, true, HardState{})
	hbFrom(t, n, "n2", 0, "", false)
	hbFrom(t, n, "n3", 0, "", false)
	drain(n)
	step(t, n, Message{Type: MsgElected, From: "n3", Term: 3, Leader: "n1", Origin: "n3"})
	msgs := drain(n)
	if n.Role() == RoleLeader || n.Leader() != "" || n.HardState() != (HardState{Term: 3, Leader: "n1"}) {
		t.Fatalf("role %s leader %q, %s", n.Role(), n.Leader(), n.HardState().Describe())
	}
	relayed := false
	for _, m := range msgs {
		relayed = relayed || m.Type == MsgElected && m.To == "n2"
	}
	if !relayed {
		t.Fatalf("announcement not relayed: %v", msgs)
	}
	n.broadcastHeartbeat()
	for _, m := range drain(n) {
		if !m.Resigned || m.Leader != "" || !m.Status.Learner {
			t.Fatalf("heartbeat %s", m.Describe())
		}
	}
	hs, ok := n.PromotionState()
	if !ok || hs != (HardState{Term: 3, Vote: "n1", Leader: "n1"}) {
		t.Fatalf("PromotionState = %s, %v", hs.Describe(), ok)
	}
	if err := n.Promote(hs); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		n.Tick()
		drain(n)
		if n.Role() == RoleLeader && n.Term() == 3 {
			t.Fatal("promoted node leads the term it was named in as a learner")
		}
	}
}

// TestPromote: what Promote refuses, and that it ends the learner phase
// with a HardState that is persisted in the next Ready and counts as this
// node's one vote in the term.
func TestPromote(t *testing.T) {
	if err := newLearnerNode(t, false, HardState{}).Promote(HardState{Term: 1, Vote: "n2", Leader: "n2"}); !errors.Is(err, ErrPromote) {
		t.Fatalf("promoting a member: %v", err)
	}
	n := newLearnerNode(t, true, HardState{})
	hbFrom(t, n, "n2", 5, "n2", false) // n2 leads term 5
	hbFrom(t, n, "n3", 5, "n2", false)
	drain(n)
	if n.HardState() != (HardState{Term: 5, Leader: "n2"}) || n.Leader() != "n2" {
		t.Fatalf("learner follows %q, %s", n.Leader(), n.HardState().Describe())
	}
	for _, bad := range []HardState{
		{},
		{Term: 4, Vote: "n2", Leader: "n2"},
		{Term: 5, Vote: "", Leader: "n2"},
		{Term: 5, Vote: "n2", Leader: "x"},
		{Term: 5, Vote: "n3", Leader: "n3"}, // another leader of term 5
	} {
		if err := n.Promote(bad); !errors.Is(err, ErrPromote) || !n.Learner() || n.HardState() != (HardState{Term: 5, Leader: "n2"}) {
			t.Fatalf("Promote(%s): %v; learner %v, %s", bad.Describe(), err, n.Learner(), n.HardState().Describe())
		}
	}
	hs, ok := n.PromotionState()
	if !ok {
		t.Fatal("no promotion state")
	}
	if err := n.Promote(hs); err != nil {
		t.Fatal(err)
	}
	rd := n.Ready()
	n.Advance(rd)
	if n.Learner() || rd.HardState == nil || *rd.HardState != (HardState{Term: 5, Vote: "n2", Leader: "n2"}) {
		t.Fatalf("learner %v, persisted %+v", n.Learner(), rd.HardState)
	}
	if err := n.Promote(hs); !errors.Is(err, ErrPromote) {
		t.Fatalf("promoted twice: %v", err)
	}
	n.broadcastHeartbeat()
	for _, m := range drain(n) {
		if m.Status.Learner {
			t.Fatalf("promoted node still says learner: %s", m.Describe())
		}
	}
	// No second token in term 5.
	n.leader = "" // as if the leader had gone silent
	step(t, n, Message{Type: MsgToken, From: "n3", Term: 5, Origin: "n3", Best: Candidate{ID: "n3"}, Passed: []string{"n3"}})
	if n.HardState().Vote != "n2" || len(tokensIn(drain(n))) != 0 {
		t.Fatalf("voted again in term 5: %s", n.HardState().Describe())
	}
}

// TestPromotionStateWaitsForHigherTerms: a member heard reporting a term
// above the learner's may hold a term the learner voted in before its loss;
// no promotion until everyone heard is at most at the learner's term, and
// not before a majority of the members was heard.
func TestPromotionStateWaitsForHigherTerms(t *testing.T) {
	one := newLearnerNode(t, true, HardState{})
	hbFrom(t, one, "n2", 5, "n2", false)
	if hs, ok := one.PromotionState(); ok {
		t.Fatalf("promotion to %s hearing 1 of the 2 others (not a majority of 3)", hs.Describe())
	}
	n := newLearnerNode(t, true, HardState{})
	hbFrom(t, n, "n2", 5, "n2", false)
	hbFrom(t, n, "n3", 7, "", false) // stuck in term 7, which n1 may have voted in
	if hs, ok := n.PromotionState(); ok {
		t.Fatalf("promotion to %s while n3 reports term 7", hs.Describe())
	}
	hbFrom(t, n, "n2", 8, "n2", false)
	hbFrom(t, n, "n3", 8, "n2", false)
	if hs, ok := n.PromotionState(); !ok || hs != (HardState{Term: 8, Vote: "n2", Leader: "n2"}) {
		t.Fatalf("PromotionState = %s, %v", hs.Describe(), ok)
	}
}

// TestPromoteFresh: only once every other member was heard reporting an
// empty log and no leader; in term 0 nothing is persisted, above it the
// node takes the highest term with a vote for itself.
func TestPromoteFresh(t *testing.T) {
	n := newLearnerNode(t, true, HardState{})
	if n.CanPromoteFresh() || !errors.Is(n.PromoteFresh(), ErrPromote) {
		t.Fatal("fresh promotion before hearing anyone")
	}
	hbFrom(t, n, "n2", 0, "", true)
	if n.CanPromoteFresh() {
		t.Fatal("fresh promotion without hearing n3")
	}
	hbFrom(t, n, "n3", 1, "n3", false)
	if n.CanPromoteFresh() {
		t.Fatal("fresh promotion while n3 reports a leader")
	}
	step(t, n, Message{Type: MsgHeartbeat, From: "n3", Term: 1, Hears: []string{"n1"},
		Status: StatusInfo{Proto: ProtoVersion, CommitIndex: 3, LastLogTerm: 1, LastLogIndex: 3}})
	if n.CanPromoteFresh() {
		t.Fatal("fresh promotion while n3 reports entries")
	}
	hbFrom(t, n, "n3", 0, "", false) // (a reordered heartbeat, say)
	if err := n.PromoteFresh(); err != nil {
		t.Fatal(err)
	}
	// It heard term 1 (and took it, as learners do): it holds that term
	// with a vote for itself now, so it forwards no token in it.
	if n.Learner() || n.hs != (HardState{Term: 1, Vote: "n1"}) {
		t.Fatalf("learner %v after a fresh promotion, hard state %s", n.Learner(), n.hs.Describe())
	}
	st := n.Status()
	if st.Members[0].Status.Learner || !st.Members[1].Status.Learner || st.Members[2].Status.Learner {
		t.Fatalf("status shows learners %v %v %v", st.Members[0].Status.Learner, st.Members[1].Status.Learner, st.Members[2].Status.Learner)
	}
	m := newLearnerNode(t, true, HardState{Term: 2})
	hbFrom(t, m, "n2", 3, "", true)
	hbFrom(t, m, "n3", 1, "", false)
	if err := m.PromoteFresh(); err != nil {
		t.Fatal(err)
	}
	if !m.HasReady() || m.Ready().HardState == nil || m.hs != (HardState{Term: 3, Vote: "n1"}) {
		t.Fatalf("fresh promotion above term 0 persists %+v, want term 3 with a vote for itself", m.hs)
	}
}
