package replica

import (
	"slices"
	"testing"
)

// TestLeaderCommitsOnFollowersWhileItsOwnWriteRuns: with Accept the leader
// goes on while its own write is in flight; two followers of three are a
// majority without it, one follower is not — that one waits for StableTo.
func TestLeaderCommitsOnFollowersWhileItsOwnWriteRuns(t *testing.T) {
	for _, tt := range []struct {
		name        string
		acks        []Message
		wantBefore  uint64 // commit before the leader's own StableTo
		wantAfter   uint64
		stableTwice bool
	}{
		{"two followers commit without the leader's disk", []Message{ack("n2", 1, 2), ack("n3", 1, 2)}, 2, 2, false},
		{"one follower waits for the leader's disk", []Message{ack("n2", 1, 2)}, 0, 2, false},
		{"a repeated StableTo changes nothing", []Message{ack("n2", 1, 2)}, 0, 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newR(t, "n1", peers3, State{})
			must(t, r.BecomeLeader(1))
			if _, _, err := r.Propose([]byte("x")); err != nil {
				t.Fatal(err)
			}
			rd := r.Ready()
			if len(rd.Entries) != 2 {
				t.Fatalf("entries = %d", len(rd.Entries))
			}
			r.Accept(rd)
			if again := r.Ready(); len(again.Entries) != 0 {
				t.Fatal("accepted entries handed out twice")
			} else {
				r.Accept(again)
			}
			for _, m := range tt.acks {
				must(t, r.Step(m))
			}
			if r.log.committed != tt.wantBefore {
				t.Fatalf("commit before the leader's StableTo = %d, want %d", r.log.committed, tt.wantBefore)
			}
			last := rd.Entries[len(rd.Entries)-1]
			r.StableTo(last.Index, last.Term)
			if tt.stableTwice {
				r.StableTo(last.Index, last.Term)
			}
			if r.log.committed != tt.wantAfter || r.log.stable != 2 {
				t.Fatalf("after StableTo: commit %d stable %d, want %d and 2", r.log.committed, r.log.stable, tt.wantAfter)
			}
		})
	}
}

// TestStableToAfterDiscardOfInFlightEntries: a follower's entries are being
// written when a new leader's append replaces them. The discard record must
// be written (the entries reach the disk before it), and the old write's
// completion must not mark the replacement durable.
func TestStableToAfterDiscardOfInFlightEntries(t *testing.T) {
	r := newR(t, "n1", peers3, State{HardState: HardState{Term: 1}, Entries: ents(1, 1)})
	cycle(r)
	must(t, r.Step(Message{Type: MsgApp, From: "n2", To: "n1", Term: 1, PrevIndex: 1, PrevTerm: 1, Entries: ents(2, 1, 1)}))
	rd1 := r.Ready()
	r.Accept(rd1) // 2/1 and 3/1 are being written
	if r.log.stable != 1 || r.log.handed != 3 {
		t.Fatalf("stable %d handed %d, want 1 and 3", r.log.stable, r.log.handed)
	}
	// n3 leads term 2 and replaces from index 2.
	must(t, r.Step(Message{Type: MsgApp, From: "n3", To: "n1", Term: 2, PrevIndex: 1, PrevTerm: 1, Entries: ents(2, 2, 2)}))
	rd2 := r.Ready()
	if rd2.Discard == nil || rd2.Discard.FromIndex != 2 {
		t.Fatalf("discard = %v, want from 2: the in-flight entries reach the disk first", rd2.Discard)
	}
	if g := termsOf(rd2.Entries); !slices.Equal(g, []uint64{2, 2}) {
		t.Fatalf("entries = %v", g)
	}
	r.Accept(rd2)
	r.StableTo(3, 1) // the first write completes: 3/1 is no longer in the log
	if r.log.stable != 1 {
		t.Fatalf("stable = %d after the completion of a voided write, want 1", r.log.stable)
	}
	r.StableTo(3, 2)
	if r.log.stable != 3 {
		t.Fatalf("stable = %d, want 3", r.log.stable)
	}
	// The acks were in the Readys, for the driver to hold until their
	// writes are durable; the second one claims only the new entries.
	if a := msgsOf(rd2, MsgAppResp); len(a) != 1 || a[0].To != "n3" || a[0].Index != 3 || a[0].Term != 2 {
		t.Fatalf("acks of the second Ready = %v", a)
	}
}
