package ring

import (
	"math/rand"
	"slices"
	"testing"
)

// Unit tests of the ring view and the relays on one core: n1 of n1..n3,
// fed heartbeats by hand.

func newUnitNode(t *testing.T, log *Candidate) *Node {
	t.Helper()
	members := []Member{{ID: "n1", Ring: 1}, {ID: "n2", Ring: 2}, {ID: "n3", Ring: 3}}
	n, err := New(Config{ID: "n1", Members: members, HeartbeatTicks: 2, FailureTicks: 8, ElectionTicks: 8,
		StaggerTicks: 3, Rand: rand.New(rand.NewSource(1)),
		LogPosition: func() (uint64, uint64) { return log.LastTerm, log.LastIndex }}, HardState{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// hb steps a heartbeat from a proto-2 peer that echoes hears.
func hb(t *testing.T, n *Node, from string, term uint64, hears ...string) {
	t.Helper()
	m := Message{Type: MsgHeartbeat, From: from, To: n.ID(), Term: term, Hears: hears,
		Status: StatusInfo{Proto: ProtoVersion}}
	if err := n.Step(m); err != nil {
		t.Fatal(err)
	}
}

// drain returns the messages of the pending Ready (and advances).
func drain(n *Node) []Message {
	rd := n.Ready()
	n.Advance(rd)
	return rd.Messages
}

func tokensIn(msgs []Message) []Message {
	return slices.DeleteFunc(slices.Clone(msgs), func(m Message) bool { return m.Type != MsgToken })
}

// TestSuccessorMustHearUs: a member that is heard but whose heartbeats do
// not echo us (it cannot hear us) is skipped: the token goes past it.
func TestSuccessorMustHearUs(t *testing.T) {
	n := newUnitNode(t, &Candidate{})
	hb(t, n, "n2", 0)       // n2 is deaf: hears nobody
	hb(t, n, "n3", 0, "n1") // n3 hears us
	drain(n)
	n.startRound()
	toks := tokensIn(drain(n))
	if len(toks) != 1 || toks[0].To != "n3" {
		t.Fatalf("token sent %v, want one to n3 (n2 cannot hear us)", toks)
	}
	if st := n.Status(); st.Members[1].Linked || !st.Members[2].Linked || st.Members[1].HearsUs {
		t.Fatalf("status: %+v", st.Members)
	}
}

// TestTokenMovesOnWithoutEvidence: a token whose receiver shows no sign of
// it for AckTicks goes to the next member, with the candidacy read again;
// an ack, or a heartbeat of the receiver in the token's term, stops that.
func TestTokenMovesOnWithoutEvidence(t *testing.T) {
	for _, tc := range []struct {
		name     string
		evidence func(n *Node, term uint64)
		moved    bool
	}{
		{"silence", func(*Node, uint64) {}, true},
		{"ack", func(n *Node, term uint64) {
			_ = n.Step(Message{Type: MsgAck, From: "n2", To: "n1", Acked: MsgToken, Term: term, Origin: "n1"})
		}, false},
		{"ack of another message", func(n *Node, term uint64) {
			_ = n.Step(Message{Type: MsgAck, From: "n2", To: "n1", Acked: MsgElected, Term: term, Origin: "n1"})
		}, true},
		{"heartbeat in the term", func(n *Node, term uint64) { hb(t, n, "n2", term, "n1", "n3") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &Candidate{LastTerm: 1, LastIndex: 3}
			n := newUnitNode(t, log)
			hb(t, n, "n2", 0, "n1", "n3")
			hb(t, n, "n3", 0, "n1", "n2")
			drain(n)
			n.startRound()
			term := n.Term()
			if toks := tokensIn(drain(n)); len(toks) != 1 || toks[0].To != "n2" {
				t.Fatalf("first send %v, want n2", toks)
			}
			tc.evidence(n, term)
			log.LastIndex = 4 // the log grew: a resend must say so
			var moved []Message
			for i := 0; i < n.cfg.AckTicks; i++ {
				n.Tick()
				moved = append(moved, tokensIn(drain(n))...)
			}
			if !tc.moved {
				if len(moved) != 0 {
					t.Fatalf("moved on despite evidence: %v", moved)
				}
				return
			}
			if len(moved) != 1 {
				t.Fatalf("after %d ticks: %v, want one token to n3", n.cfg.AckTicks, moved)
			}
			m := moved[0]
			if m.To != "n3" || m.Term != term || m.Origin != "n1" || !slices.Equal(m.Passed, []string{"n1"}) ||
				m.Best != (Candidate{ID: "n1", LastTerm: 1, LastIndex: 4}) {
				t.Fatalf("moved on as %s", m.Describe())
			}
		})
	}
}

// TestElectedMovesOn: an announcement nobody confirms moves on, but never
// past its origin.
func TestElectedMovesOn(t *testing.T) {
	n := newUnitNode(t, &Candidate{})
	hb(t, n, "n2", 0, "n1", "n3")
	hb(t, n, "n3", 0, "n1", "n2")
	drain(n)
	// n3 started term 5 and n1 forwards its announcement: to n2 only,
	// then (no sign of it) on to ... n3 is the origin: nowhere.
	if err := n.Step(Message{Type: MsgElected, From: "n3", To: "n1", Term: 5, Leader: "n3", Origin: "n3"}); err != nil {
		t.Fatal(err)
	}
	msgs := drain(n)
	if i := slices.IndexFunc(msgs, func(m Message) bool { return m.Type == MsgElected }); i < 0 || msgs[i].To != "n2" {
		t.Fatalf("announcement not forwarded to n2: %v", msgs)
	}
	for i := 0; i < 3*n.cfg.AckTicks; i++ {
		n.Tick()
		for _, m := range drain(n) {
			if m.Type == MsgElected {
				t.Fatalf("announcement moved on to %s, past its origin", m.To)
			}
		}
	}

	// n1's own round wins; its announcement to n2 shows no sign of arrival
	// and moves on to n3.
	n = newUnitNode(t, &Candidate{})
	hb(t, n, "n2", 0, "n1", "n3")
	hb(t, n, "n3", 0, "n1", "n2")
	n.startRound()
	drain(n)
	tok := Message{Type: MsgToken, From: "n3", To: "n1", Term: n.Term(), Origin: "n1", Best: Candidate{ID: "n3"},
		Passed: []string{"n1", "n2", "n3"}}
	if err := n.Step(tok); err != nil || n.HardState().Leader != "n3" {
		t.Fatalf("round not won: %v, %s", err, n.HardState().Describe())
	}
	var sent []string
	for i := 0; i <= n.cfg.AckTicks; i++ {
		for _, m := range drain(n) {
			if m.Type == MsgElected {
				sent = append(sent, m.To)
			}
		}
		n.Tick()
	}
	if !slices.Equal(sent, []string{"n2", "n3"}) {
		t.Fatalf("announcement sent to %v, want n2 then n3", sent)
	}
}

// TestLegacyPeerGetsPlainHeartbeats: a peer whose heartbeats carry Proto 0
// (a build before the heartbeat extension, which rejects any byte after
// status) is sent heartbeats without it; the others get it, with the echo.
func TestLegacyPeerGetsPlainHeartbeats(t *testing.T) {
	n := newUnitNode(t, &Candidate{})
	n.SetLocalStatus(StatusInfo{MaxKind: 7})
	if err := n.Step(Message{Type: MsgHeartbeat, From: "n2", To: "n1"}); err != nil { // Proto 0
		t.Fatal(err)
	}
	hb(t, n, "n3", 0, "n1")
	drain(n)
	n.broadcastHeartbeat()
	c := testCodec(t)
	for _, m := range drain(n) {
		b, err := c.Encode(m)
		if err != nil {
			t.Fatalf("%s: %v", m.Describe(), err)
		}
		plain := m
		plain.Status.Proto, plain.Status.MaxKind, plain.Hears = 0, 0, nil
		old, _ := c.Encode(plain)
		switch m.To {
		case "n2":
			if len(b) != len(old) || m.Status.Proto != 0 {
				t.Fatalf("to the legacy peer: %s", m.Describe())
			}
		case "n3":
			if m.Status.Proto != ProtoVersion || m.Status.MaxKind != 7 || !slices.Equal(m.Hears, []string{"n2", "n3"}) {
				t.Fatalf("to n3: %s", m.Describe())
			}
		}
	}
	// A legacy peer counts on being heard alone (no echo to ask for).
	if st := n.Status(); !st.Members[1].Linked {
		t.Fatalf("legacy peer not linked: %+v", st.Members[1])
	}
}

// TestStatusSupports: every member, this one included, must announce the
// kind; a member never heard does not.
func TestStatusSupports(t *testing.T) {
	n := newUnitNode(t, &Candidate{})
	n.SetLocalStatus(StatusInfo{MaxKind: 5})
	step := func(from string, kind uint16) {
		_ = n.Step(Message{Type: MsgHeartbeat, From: from, To: "n1", Status: StatusInfo{Proto: ProtoVersion, MaxKind: kind}})
	}
	step("n2", 6)
	if n.Status().Supports(1) {
		t.Fatal("n3 was never heard, yet supports kind 1")
	}
	step("n3", 4)
	st := n.Status()
	if !st.Supports(4) || st.Supports(5) || st.Members[0].Status.Proto != ProtoVersion || st.Members[0].Status.MaxKind != 5 {
		t.Fatalf("supports 4: %v, 5: %v; self %+v", st.Supports(4), st.Supports(5), st.Members[0].Status)
	}
}
