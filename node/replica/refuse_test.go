package replica

import (
	"errors"
	"reflect"
	"testing"
)

// TestStepRefusesWithoutChange: messages a correct peer never sends, which
// used to panic the receiver (a second leader of a term; an entry that
// differs from a committed one) or to be believed (an ack of entries the
// leader never had), are refused: a *RejectError naming peer and reason,
// counted in Rejected, and no change at all.
func TestStepRefusesWithoutChange(t *testing.T) {
	// follower: log 1/1 2/1 3/2 4/2, commit 3, term 2, leader n2.
	follower := func(t *testing.T) *Replica {
		r := newR(t, "n1", peers3, State{HardState: HardState{Term: 2, Commit: 3}, Entries: ents(1, 1, 1, 2, 2)})
		must(t, r.BecomeFollower(2, "n2"))
		cycle(r)
		return r
	}
	// leader of term 3 over 1/1 2/1, plus its no-op 3/3.
	leader := func(t *testing.T) *Replica {
		r := newR(t, "n1", peers3, State{HardState: HardState{Term: 2, Commit: 1}, Entries: ents(1, 1, 1)})
		must(t, r.BecomeLeader(3))
		cycle(r)
		return r
	}
	tests := []struct {
		name   string
		r      func(*testing.T) *Replica
		m      Message
		kind   error
		reason string
	}{
		{"append from a second leader of the term", follower,
			Message{Type: MsgApp, From: "n3", Term: 2, PrevIndex: 4, PrevTerm: 2}, ErrRejected, RejectSecondLeader},
		{"snapshot from a second leader of the term", follower,
			Message{Type: MsgSnap, From: "n3", Term: 2, Snapshot: &Snapshot{Index: 9, Term: 2}}, ErrRejected, RejectSecondLeader},
		{"append of our term while we lead it", leader,
			Message{Type: MsgApp, From: "n2", Term: 3, PrevIndex: 3, PrevTerm: 3}, ErrRejected, RejectSecondLeader},
		{"entry at our commit index with another term", follower,
			Message{Type: MsgApp, From: "n2", Term: 2, PrevIndex: 1, PrevTerm: 1, Entries: ents(2, 2, 2, 2)}, ErrRejected, RejectCommitConflict},
		{"same, from a newer term (the term does not move either)", follower,
			Message{Type: MsgApp, From: "n3", Term: 5, PrevIndex: 2, PrevTerm: 1, Entries: ents(3, 4)}, ErrRejected, RejectCommitConflict},
		{"prev below our commit with another term", follower,
			Message{Type: MsgApp, From: "n2", Term: 2, PrevIndex: 2, PrevTerm: 2}, ErrRejected, RejectCommitConflict},
		{"snapshot that differs from a committed entry", follower,
			Message{Type: MsgSnap, From: "n2", Term: 2, Snapshot: &Snapshot{Index: 3, Term: 1}}, ErrRejected, RejectCommitConflict},
		{"snapshot past our commit but older than it", follower,
			Message{Type: MsgSnap, From: "n2", Term: 2, Snapshot: &Snapshot{Index: 9, Term: 1}}, ErrRejected, RejectCommitConflict},
		{"ack beyond the leader's log", leader,
			Message{Type: MsgAppResp, From: "n2", Term: 3, Index: 4}, ErrRejected, RejectAckBeyondLog},
		{"hint above the rejected index", leader,
			Message{Type: MsgAppResp, From: "n2", Term: 3, Reject: true, Index: 2, HintIndex: 3, HintTerm: 1}, ErrBadMessage, RejectMalformed},
		{"snapshot beyond any log (index overflow)", follower,
			Message{Type: MsgSnap, From: "n2", Term: 2, Snapshot: &Snapshot{Index: 1<<64 - 1, Term: 2}}, ErrBadMessage, RejectMalformed},
		{"entries that wrap around", follower,
			Message{Type: MsgApp, From: "n2", Term: 2, PrevIndex: 1<<64 - 1, PrevTerm: 2, Entries: []Entry{{Index: 0, Term: 2}}}, ErrBadMessage, RejectMalformed},
		{"from ourselves", follower,
			Message{Type: MsgApp, From: "n1", Term: 2}, ErrBadMessage, RejectNotForUs},
		{"local type", leader,
			Message{Type: MsgSnapshotNeeded, From: "n2", Term: 3}, ErrBadMessage, RejectType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r(t)
			tt.m.To = "n1"
			before := captureState(r)
			err := r.Step(tt.m)
			var re *RejectError
			if !errors.Is(err, tt.kind) || !errors.As(err, &re) || re.Reason != tt.reason || re.Peer != tt.m.From {
				t.Fatalf("Step: %v, want %v with reason %s from %s", err, tt.kind, tt.reason, tt.m.From)
			}
			if got := r.Rejected(); len(got) != 1 || got[tt.reason] != 1 {
				t.Errorf("Rejected() = %v, want %s: 1", got, tt.reason)
			}
			if after := captureState(r); !reflect.DeepEqual(before, after) {
				t.Errorf("state changed:\nbefore %+v\nafter  %+v", before, after)
			}
			if r.HasReady() {
				t.Errorf("a refusal produced work: %s", r.Ready().Describe())
			}
			t.Log(err)
		})
	}
}

// TestRejectedIsACopy: the counter map belongs to the caller.
func TestRejectedIsACopy(t *testing.T) {
	r := newR(t, "n1", peers3, State{})
	if got := r.Rejected(); len(got) != 0 {
		t.Fatalf("fresh replica: %v", got)
	}
	_ = r.Step(Message{Type: 99, From: "n2", To: "n1"})
	got := r.Rejected()
	got[RejectType] = 100
	if r.Rejected()[RejectType] != 1 {
		t.Errorf("caller's map aliases the counter: %v", r.Rejected())
	}
}

// TestStaleRefusalBeyondLog: a refusal of an append the leader sent in an
// earlier life (it crashed before its fsync, its log is now shorter, and
// it was re-elected) names an index beyond its log with no hint term. It
// is no offence, and must not make the leader probe past its end (which
// would look like a follower needing a snapshot).
func TestStaleRefusalBeyondLog(t *testing.T) {
	r := newR(t, "n1", peers3, State{HardState: HardState{Term: 4}, Entries: ents(1, 1, 1, 4)})
	must(t, r.BecomeLeader(5))
	cycle(r)
	must(t, r.Step(Message{Type: MsgAppResp, From: "n2", To: "n1", Term: 5, Index: 4}))
	cycle(r)
	// n2 is replicating at match 4; a refusal of prev 10 with hint 9/0 arrives.
	must(t, r.Step(Message{Type: MsgAppResp, From: "n2", To: "n1", Term: 5, Reject: true, Index: 10, HintIndex: 9}))
	rd := cycle(r)
	if n := len(msgsOf(rd, MsgSnapshotNeeded)); n != 0 {
		t.Errorf("leader asked for a snapshot for a follower that needs none")
	}
	if pr := r.prs["n2"]; pr.next > r.log.lastIndex()+1 {
		t.Errorf("progress %s beyond last index %d", pr, r.log.lastIndex())
	}
}
