package replica

import (
	"errors"
	"fmt"
	"testing"
)

func ack(from string, term, index uint64) Message {
	return Message{Type: MsgAppResp, From: from, To: "n1", Term: term, Index: index}
}

// TestCommitOnlyOwnTerm is Raft's Figure 8 rule (§5.4.2, I3): an entry of
// an older term stored on a majority is not committed by counting; it
// commits only with the new term's entry above it.
func TestCommitOnlyOwnTerm(t *testing.T) {
	tests := []struct {
		name       string
		acks       []Message
		wantCommit uint64
	}{
		{"old-term entry on a majority is not committed", []Message{ack("n2", 3, 2)}, 1},
		{"own-term no-op on a majority commits everything below", []Message{ack("n2", 3, 2), ack("n3", 3, 3)}, 3},
		{"one ack of own term suffices in a 3-cluster", []Message{ack("n3", 3, 3)}, 3},
		{"acks below commit change nothing", []Message{ack("n2", 3, 1)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newR(t, "n1", peers3, State{HardState: HardState{Term: 2, Commit: 1}, Entries: ents(1, 1, 2)})
			must(t, r.BecomeLeader(3))
			cycle(r) // the no-op (3/3) is durable on the leader
			for _, m := range tt.acks {
				must(t, r.Step(m))
			}
			if r.log.committed != tt.wantCommit {
				t.Errorf("commit = %d, want %d", r.log.committed, tt.wantCommit)
			}
		})
	}
}

// TestLeaderCountsItselfOnlyWhenDurable: the leader's own entries count
// toward commit only after Advance confirmed its fsync.
func TestLeaderCountsItselfOnlyWhenDurable(t *testing.T) {
	r := newR(t, "n1", []string{"n1"}, State{})
	must(t, r.BecomeLeader(1))
	if _, _, err := r.Propose([]byte("x")); err != nil {
		t.Fatal(err)
	}
	rd := r.Ready()
	if len(rd.Entries) != 2 || len(rd.CommittedEntries) != 0 || r.log.committed != 0 {
		t.Fatalf("before persistence: entries=%d committed=%d commit=%d", len(rd.Entries), len(rd.CommittedEntries), r.log.committed)
	}
	r.Advance(rd)
	rd = cycle(r)
	if len(rd.CommittedEntries) != 2 || rd.HardState == nil || rd.HardState.Commit != 2 {
		t.Fatalf("after persistence: committed=%v hs=%v", rd.CommittedEntries, rd.HardState)
	}
}

// TestStaleTerm: messages of an older term are refused and answered with
// the current term; a newer leader's append moves the term, a newer
// response does not.
func TestStaleTerm(t *testing.T) {
	tests := []struct {
		name       string
		leader     bool
		m          Message
		wantReply  bool // a reject carrying term 5 to m.From
		wantTerm   uint64
		wantRole   Role
		wantLead   string
		wantLogLen int
	}{
		{name: "stale MsgApp refused", m: Message{Type: MsgApp, From: "n2", Term: 4, PrevIndex: 2, PrevTerm: 1, Entries: ents(3, 4)},
			wantReply: true, wantTerm: 5, wantRole: Follower, wantLogLen: 2},
		{name: "stale MsgSnap refused", m: Message{Type: MsgSnap, From: "n2", Term: 4, Snapshot: &Snapshot{Index: 9, Term: 4}},
			wantReply: true, wantTerm: 5, wantRole: Follower, wantLogLen: 2},
		{name: "stale response dropped silently", leader: true, m: Message{Type: MsgAppResp, From: "n2", Term: 4, Index: 3},
			wantTerm: 5, wantRole: Leader, wantLead: "n1", wantLogLen: 3},
		// The term is the ring's: the peer's may be a candidacy nobody
		// adopted (node simulation seed 27062).
		{name: "newer response: ignored, the leader keeps its term", leader: true, m: Message{Type: MsgAppResp, From: "n2", Term: 6, Reject: true, Index: 3, HintIndex: 2, HintTerm: 1},
			wantTerm: 5, wantRole: Leader, wantLead: "n1", wantLogLen: 3},
		{name: "newer MsgApp: follow its sender", m: Message{Type: MsgApp, From: "n3", Term: 6, PrevIndex: 2, PrevTerm: 1},
			wantTerm: 6, wantRole: Follower, wantLead: "n3", wantLogLen: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newR(t, "n1", peers3, State{HardState: HardState{Term: 5}, Entries: ents(1, 1, 1)})
			if tt.leader {
				must(t, r.BecomeLeader(5))
			}
			cycle(r)
			tt.m.To = "n1"
			must(t, r.Step(tt.m))
			rd := cycle(r)
			var reply *Message
			for i, m := range rd.Messages {
				if m.To == tt.m.From && m.Type == MsgAppResp && m.Reject {
					reply = &rd.Messages[i]
				}
			}
			if (reply != nil) != tt.wantReply || (reply != nil && reply.Term != 5) {
				t.Errorf("reply = %v, want %v with term 5", reply, tt.wantReply)
			}
			st := r.Status()
			if st.Term != tt.wantTerm || st.Role != tt.wantRole || st.Lead != tt.wantLead || len(r.log.ents) != tt.wantLogLen {
				t.Errorf("status %+v loglen %d", st, len(r.log.ents))
			}
			if tt.wantTerm != 5 && (rd.HardState == nil || rd.HardState.Term != tt.wantTerm) {
				t.Errorf("new term not in Ready.HardState: %v", rd.HardState)
			}
		})
	}
	r := newR(t, "n1", peers3, State{HardState: HardState{Term: 5}})
	if err := r.BecomeLeader(4); !errors.Is(err, ErrStaleTerm) {
		t.Errorf("BecomeLeader(4) at 5: %v", err)
	}
	if err := r.BecomeFollower(4, "n2"); !errors.Is(err, ErrStaleTerm) {
		t.Errorf("BecomeFollower(4) at 5: %v", err)
	}
	must(t, r.BecomeFollower(5, "n2"))
	if err := r.BecomeLeader(5); err == nil {
		t.Errorf("BecomeLeader in a term led by n2 accepted (I1)")
	}
}

// TestProposeErrors covers the proposal limits.
func TestProposeErrors(t *testing.T) {
	r := newR(t, "n1", peers3, State{}, func(c *Config) { c.MaxEntryBytes, c.MaxUncommittedEntries = 8, 3 })
	if _, _, err := r.Propose([]byte("x")); !errors.Is(err, ErrNotLeader) {
		t.Errorf("follower propose: %v", err)
	}
	must(t, r.BecomeLeader(1))
	if _, _, err := r.Propose(make([]byte, 9)); !errors.Is(err, ErrEntryTooLarge) {
		t.Errorf("large propose: %v", err)
	}
	for i := range 2 {
		if idx, term, err := r.Propose([]byte("x")); err != nil || idx != uint64(i+2) || term != 1 {
			t.Fatalf("propose %d: %d/%d %v", i, idx, term, err)
		}
	}
	if _, _, err := r.Propose([]byte("x")); !errors.Is(err, ErrBusy) {
		t.Errorf("over MaxUncommittedEntries: %v", err)
	}
}

// TestCatchUp: far-behind and divergent followers are brought up to date
// in bounded batches with a bounded pipeline, and fast back-off needs few
// rejections even across a long conflicting suffix. Each case runs with
// bulk catch-up off (the catch-up limits set to the ordinary ones: batches
// of at most 16 entries, 4 in flight) and on (at most 64 entries, 2 in
// flight, for a follower more than 16*4 entries behind).
func TestCatchUp(t *testing.T) {
	for _, bulk := range []bool{false, true} {
		t.Run(fmt.Sprintf("bulk=%v", bulk), func(t *testing.T) { testCatchUp(t, bulk) })
	}
}

func testCatchUp(t *testing.T, bulk bool) {
	maxEnts, maxInflight := 16, 4
	if bulk {
		maxEnts, maxInflight = 64, 4
	}
	leaderLog := append(ents(1, repeat(1, 500)...), ents(501, repeat(2, 500)...)...)
	tests := []struct {
		name        string
		follower    []Entry
		maxRejects  int
		wantDiscard bool
	}{
		{"empty follower", nil, 1, false},
		{"short follower", ents(1, repeat(1, 10)...), 1, false},
		{"long conflicting suffix", ents(1, repeat(1, 800)...), 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := func(c *Config) {
				c.MaxBatchEntries, c.MaxInflight = 16, 4
				c.CatchUpBatchEntries, c.CatchUpInflight = 16, 4
				if bulk {
					c.CatchUpBatchEntries, c.CatchUpInflight = 64, 2
				}
			}
			c := newMemCluster(t, 3, mod)
			c.rs["n1"] = newR(t, "n1", c.ids, State{HardState: HardState{Term: 2, Commit: 500}, Entries: leaderLog}, mod)
			c.rs["n2"] = newR(t, "n2", c.ids, State{HardState: HardState{Term: 2}, Entries: tt.follower}, mod)
			c.rs["n3"] = newR(t, "n3", c.ids, State{HardState: HardState{Term: 2}, Entries: leaderLog}, mod)
			must(t, c.rs["n1"].BecomeLeader(3))
			rejects, discards, biggest := 0, 0, 0
			for round := 0; ; round++ {
				if round > 1000 {
					t.Fatal("no convergence")
				}
				for _, id := range c.ids {
					r := c.rs[id]
					if !r.HasReady() {
						continue
					}
					rd := r.Ready()
					if rd.Discard != nil {
						discards++
					}
					perFollower := map[string]int{}
					for _, m := range rd.Messages {
						if m.Type == MsgApp && len(m.Entries) > 0 {
							perFollower[m.To]++
							biggest = max(biggest, len(m.Entries))
							if len(m.Entries) > maxEnts {
								t.Fatalf("batch of %d entries", len(m.Entries))
							}
						}
						if m.Type == MsgAppResp && m.Reject {
							rejects++
						}
						c.queue = append(c.queue, m)
					}
					for to, n := range perFollower {
						if n > maxInflight {
							t.Fatalf("%d batches to %s in one Ready, MaxInflight %d", n, to, maxInflight)
						}
					}
					r.Advance(rd)
				}
				if c.deliver() == 0 && !c.rs["n1"].HasReady() && !c.rs["n2"].HasReady() && !c.rs["n3"].HasReady() {
					break
				}
			}
			l, f := c.rs["n1"].log, c.rs["n2"].log
			if f.lastIndex() != l.lastIndex() || f.lastTerm() != 3 || f.committed != l.lastIndex() || l.committed != l.lastIndex() {
				t.Errorf("follower last=%d/%d commit=%d; leader last=%d commit=%d", f.lastIndex(), f.lastTerm(), f.committed, l.lastIndex(), l.committed)
			}
			if rejects > tt.maxRejects {
				t.Errorf("%d rejections, want <= %d (fast back-off)", rejects, tt.maxRejects)
			}
			if (discards > 0) != tt.wantDiscard {
				t.Errorf("discards = %d", discards)
			}
			if bulk && biggest <= 16 {
				t.Errorf("bulk catch-up never sent a batch above 16 entries")
			}
		})
	}
}

func repeat(term uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = term
	}
	return out
}

// TestSnapshotNeeded: a follower behind the leader's compacted log start
// gets MsgSnapshotNeeded → SendSnapshot → MsgSnap → install → replication
// resumes after the snapshot.
func TestSnapshotNeeded(t *testing.T) {
	c := newMemCluster(t, 3)
	st := State{HardState: HardState{Term: 1, Commit: 100}, Snapshot: Snapshot{Index: 90, Term: 1}, Entries: ents(91, repeat(1, 10)...)}
	c.rs["n1"] = newR(t, "n1", c.ids, st)
	c.rs["n3"] = newR(t, "n3", c.ids, st)
	c.snaps["n1"] = Snapshot{Index: 90, Term: 1, Data: []byte("image@90")}
	must(t, c.rs["n1"].BecomeLeader(2))

	var needed, installed int
	for round := 0; round < 50; round++ {
		for _, id := range c.ids {
			r := c.rs[id]
			if !r.HasReady() {
				continue
			}
			rd := r.Ready()
			needed += len(msgsOf(rd, MsgSnapshotNeeded))
			if rd.Snapshot != nil {
				installed++
				if id != "n2" || string(rd.Snapshot.Data) != "image@90" || len(rd.CommittedEntries) > 0 && rd.CommittedEntries[0].Index != 91 {
					t.Fatalf("%s installs %s, applies %v", id, rd.Snapshot.Describe(), rd.CommittedEntries)
				}
			}
			r.Advance(rd)
			for _, m := range rd.Messages {
				if m.Type == MsgSnapshotNeeded {
					if m.To != "n2" || m.Index != 91 {
						t.Fatalf("snapshot request %s", m.Describe())
					}
					if err := r.SendSnapshot(m.To, Snapshot{Index: 80, Term: 1}); !errors.Is(err, ErrBadSnapshot) {
						t.Errorf("snapshot below log start accepted: %v", err)
					}
					must(t, r.SendSnapshot(m.To, c.snaps[id]))
					continue
				}
				c.queue = append(c.queue, m)
			}
		}
		c.deliver()
	}
	f := c.rs["n2"].log
	if needed != 1 || installed != 1 {
		t.Errorf("needed=%d installed=%d, want 1 and 1", needed, installed)
	}
	if f.snapIndex != 90 || f.lastIndex() != 101 || f.committed != 101 {
		t.Errorf("follower snap=%d last=%d commit=%d", f.snapIndex, f.lastIndex(), f.committed)
	}
}

// TestLostProposalDetectable: a proposal whose index another leader filled
// is seen by the proposer as a committed entry with another term.
func TestLostProposalDetectable(t *testing.T) {
	c := newMemCluster(t, 3)
	must(t, c.rs["n1"].BecomeLeader(1))
	c.settle(t, 20)
	idx, term, err := c.rs["n1"].Propose([]byte("lost"))
	must(t, err)
	cycle(c.rs["n1"]) // durable on n1 only; its messages are lost
	for _, id := range []string{"n2", "n3"} {
		must(t, c.rs[id].BecomeFollower(2, ""))
	}
	must(t, c.rs["n1"].BecomeFollower(2, "")) // ring moved on
	must(t, c.rs["n2"].BecomeLeader(2))
	var seen *Entry
	for range 20 {
		for _, id := range c.ids {
			r := c.rs[id]
			if !r.HasReady() {
				continue
			}
			rd := r.Ready()
			c.queue = append(c.queue, rd.Messages...)
			for _, e := range rd.CommittedEntries {
				if id == "n1" && e.Index == idx {
					seen = &e
				}
			}
			r.Advance(rd)
		}
		c.deliver()
	}
	if seen == nil || seen.Term == term {
		t.Fatalf("proposal %d/%d: committed entry at its index = %v, want another term", idx, term, seen)
	}
}

// TestStepWhileReadyPanics: the caller protocol is enforced loudly.
func TestStepWhileReadyPanics(t *testing.T) {
	r := newR(t, "n1", peers3, State{})
	r.Ready()
	defer func() {
		if recover() == nil {
			t.Error("Tick during an outstanding Ready did not panic")
		}
	}()
	r.Tick()
}

// TestNewRejectsBadState: recovered state is validated.
func TestNewRejectsBadState(t *testing.T) {
	bad := []State{
		{HardState: HardState{Term: 1}, Entries: []Entry{{Index: 1, Term: 1}, {Index: 3, Term: 1}}},
		{HardState: HardState{Term: 1, Commit: 5}, Entries: ents(1, 1)},
		{HardState: HardState{Term: 1}, Entries: ents(1, 2)},
		{HardState: HardState{Term: 2}, Entries: ents(1, 2, 1)},
		{HardState: HardState{Term: 1}, Snapshot: Snapshot{Index: 5, Term: 1}, Entries: ents(5, 1)},
	}
	for i, st := range bad {
		if _, err := New(Config{ID: "n1", Peers: peers3}, st); err == nil {
			t.Errorf("state %d accepted", i)
		}
	}
	for i, cfg := range []Config{{ID: "n1", Peers: []string{"n2"}}, {ID: "", Peers: []string{""}}, {ID: "n1", Peers: []string{"n1", "n1"}}, {ID: "n1", Peers: peers3, MaxInflight: -1}} {
		if _, err := New(cfg, State{}); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}

// TestDescribe: every message type and record renders.
func TestDescribe(t *testing.T) {
	for _, m := range []Message{
		{Type: MsgApp, From: "a", To: "b", Term: 1, PrevIndex: 1, PrevTerm: 1, Entries: ents(2, 1)},
		{Type: MsgAppResp, Reject: true, Index: 3, HintIndex: 2, HintTerm: 1},
		{Type: MsgSnap, Snapshot: &Snapshot{Index: 9, Term: 2}},
		{Type: MsgSnapshotNeeded, Index: 4},
		{Type: 99},
	} {
		if d := m.Describe(); d == "" || m.Size() <= 0 {
			t.Errorf("%v: %q", m.Type, d)
		}
	}
	t.Log(Entry{Index: 1, Term: 1, Type: EntryNoop}.Describe(), Discard{FromIndex: 3, Term: 2}.Describe(), Ready{}.Describe())
}

// TestStepRejectsMalformed: inconsistent messages are errors, not panics.
func TestStepRejectsMalformed(t *testing.T) {
	bad := []Message{
		{Type: MsgApp, From: "n2", To: "n1", Term: 2, PrevIndex: 0, Entries: []Entry{{Index: 2, Term: 1}}},
		{Type: MsgApp, From: "n2", To: "n1", Term: 2, PrevIndex: 0, Entries: []Entry{{Index: 1, Term: 3}}},
		{Type: MsgApp, From: "n2", To: "n1", Term: 2, PrevIndex: 0, Entries: []Entry{{Index: 1, Term: 2}, {Index: 2, Term: 1}}},
		{Type: MsgSnap, From: "n2", To: "n1", Term: 2},
		{Type: MsgSnapshotNeeded, From: "n2", To: "n1", Term: 2},
		{Type: MsgAppResp, From: "n9", To: "n1", Term: 2}, // an answer from a non-member (appends are taken: membership.go)
		{Type: MsgApp, From: "n2", To: "n3", Term: 2},
	}
	for _, m := range bad {
		r := newR(t, "n1", peers3, State{HardState: HardState{Term: 2}})
		if err := r.Step(m); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v", m.Describe(), err)
		}
	}
}

// TestStaleRefusalKeepsProgress is the regression test for a soak failure
// (seed 5396): a leader re-elected in term 5 received the refusal of its own
// term-4 append, sent with term 5 and hint 0, took it for a current
// rejection and restarted the follower from index 1, walking 146 entries
// one batch per round trip. The refusal now carries a real hint.
func TestStaleRefusalKeepsProgress(t *testing.T) {
	// n2 adopted term 5; n1's term-4 heartbeat (prev 5/4) reaches it late.
	f := newR(t, "n2", peers3, State{HardState: HardState{Term: 5}, Entries: ents(1, 1, 1, 4, 4)})
	cycle(f)
	must(t, f.Step(Message{Type: MsgApp, From: "n1", To: "n2", Term: 4, PrevIndex: 5, PrevTerm: 4}))
	refusal := msgsOf(cycle(f), MsgAppResp)
	if len(refusal) != 1 || !refusal[0].Reject || refusal[0].Term != 5 || refusal[0].Index != 5 || refusal[0].HintIndex != 4 || refusal[0].HintTerm != 4 {
		t.Fatalf("refusal = %v, want reject of 5 at term 5 with hint 4/4", refusal)
	}
	// Meanwhile n1 was re-elected in term 5: its probe to n2 is at prev 5,
	// so the refusal looks current.
	l := newR(t, "n1", peers3, State{HardState: HardState{Term: 4}, Entries: ents(1, 1, 1, 4, 4, 4)})
	must(t, l.BecomeLeader(5))
	cycle(l)
	must(t, l.Step(refusal[0]))
	if pr := l.prs["n2"]; pr.next != 5 {
		t.Errorf("progress after the refusal: %s, want next 5", pr)
	}
}

// TestSplitMessages: a follower's ack queued before it became leader in
// the same Ready never goes out before the fsync.
func TestSplitMessages(t *testing.T) {
	r := newR(t, "n1", peers3, State{HardState: HardState{Term: 1}})
	cycle(r)
	must(t, r.Step(Message{Type: MsgApp, From: "n2", To: "n1", Term: 1, Entries: ents(1, 1)}))
	must(t, r.BecomeLeader(2))
	rd := r.Ready()
	early, late := rd.SplitMessages()
	for _, m := range early {
		if m.Type != MsgApp && m.Type != MsgSnap {
			t.Errorf("early: %s", m.Describe())
		}
	}
	if rd.HardState != nil && len(early) != 0 {
		t.Errorf("messages before a new term is durable: %v", early)
	}
	if len(msgsOf(Ready{Messages: late}, MsgAppResp)) != 1 {
		t.Errorf("late = %v, want the ack", late)
	}
	r.Advance(rd)
	must(t, r.Step(ack("n2", 2, 2)))
	must(t, r.Step(ack("n3", 2, 2)))
	cycle(r)
	_, _, err := r.Propose([]byte("x"))
	must(t, err)
	rd = r.Ready()
	early, late = rd.SplitMessages()
	if len(early) != 2 || len(late) != 0 {
		t.Errorf("leader steady state: early=%d late=%d, want 2 and 0", len(early), len(late))
	}
	r.Advance(rd)
}

// TestSmallBatchesWaitForAnAck (Config.SmallBatchInflight): while that
// many batches to a follower are unacknowledged, a batch that is not full
// waits and leaves with what comes after it; a full batch still goes; a
// heartbeat still carries the commit index; the ack that frees a slot
// sends what waited.
func TestSmallBatchesWaitForAnAck(t *testing.T) {
	mod := func(c *Config) { c.MaxBatchEntries, c.MaxInflight, c.SmallBatchInflight = 4, 8, 2 }
	r := newR(t, "n1", peers3, State{HardState: HardState{Term: 1}}, mod)
	must(t, r.BecomeLeader(2))
	cycle(r) // the no-op at 1, probes
	must(t, r.Step(ack("n2", 2, 1)))
	must(t, r.Step(ack("n3", 2, 1)))
	cycle(r)
	// batches returns the entry counts of the appends to n2 in rd (-1 for
	// one without entries).
	batches := func(rd Ready) []int {
		var out []int
		for _, m := range msgsOf(rd, MsgApp) {
			if m.To != "n2" {
				continue
			}
			if len(m.Entries) == 0 {
				out = append(out, -1)
				continue
			}
			out = append(out, len(m.Entries))
		}
		return out
	}
	step := func(what string, proposals int, want ...int) {
		t.Helper()
		for range proposals {
			if _, _, err := r.Propose([]byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		if got := batches(cycle(r)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: appends to n2 %v, want %v (%s)", what, got, want, r.prs["n2"])
		}
	}
	step("first small batch", 1, 1)
	step("second small batch", 1, 1)
	step("third waits: two in flight", 1)
	step("still not full", 1)
	step("full: goes although two are in flight", 2, 4)
	step("a small one waits again", 1)
	r.Tick() // heartbeat
	if got := batches(cycle(r)); fmt.Sprint(got) != "[-1]" {
		t.Fatalf("heartbeat while a batch waits: appends to n2 %v, want one without entries", got)
	}
	must(t, r.Step(ack("n2", 2, 3))) // the two small batches: one slot free
	rd := cycle(r)
	if got := batches(rd); fmt.Sprint(got) != "[1]" {
		t.Fatalf("after the ack: appends to n2 %v, want the waiting entry", got)
	}
	for _, m := range msgsOf(rd, MsgApp) {
		if m.To == "n2" && len(m.Entries) > 0 && m.Entries[0].Index != 8 {
			t.Fatalf("the waiting entry is %d, want 8", m.Entries[0].Index)
		}
	}
}
