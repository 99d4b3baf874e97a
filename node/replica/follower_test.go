package replica

import (
	"slices"
	"testing"
)

var peers3 = []string{"n1", "n2", "n3"}

func termsOf(es []Entry) []uint64 {
	out := []uint64{}
	for _, e := range es {
		out = append(out, e.Term)
	}
	return out
}

// TestFollowerAppend covers the follower's rules for MsgApp: log matching
// at prev, fast-back-off hints, conflict discard by record (not rewrite),
// acks limited to what the message proved (lastNew), and commit limited to
// lastNew.
func TestFollowerAppend(t *testing.T) {
	// Follower log: 1/1 2/1 3/2, all durable, commit 1, term 3.
	tests := []struct {
		name                string
		prevIndex, prevTerm uint64
		entries             []Entry
		commit              uint64

		wantReject   bool
		wantIndex    uint64 // ack index, or rejected prev
		wantHint     [2]uint64
		wantDiscard  uint64 // 0: none
		wantEntries  []uint64
		wantLogTerms []uint64
		wantCommit   uint64
	}{
		{name: "heartbeat matches, carries commit", prevIndex: 3, prevTerm: 2, commit: 3,
			wantIndex: 3, wantLogTerms: []uint64{1, 1, 2}, wantCommit: 3},
		{name: "append after match", prevIndex: 3, prevTerm: 2, entries: ents(4, 3, 3), commit: 1,
			wantIndex: 5, wantEntries: []uint64{3, 3}, wantLogTerms: []uint64{1, 1, 2, 3, 3}, wantCommit: 1},
		{name: "prev beyond log: reject with last index hint", prevIndex: 6, prevTerm: 3,
			wantReject: true, wantIndex: 6, wantHint: [2]uint64{3, 2}, wantLogTerms: []uint64{1, 1, 2}, wantCommit: 1},
		{name: "prev term mismatch: hint at last index of a term <= prevTerm", prevIndex: 3, prevTerm: 1,
			wantReject: true, wantIndex: 3, wantHint: [2]uint64{2, 1}, wantLogTerms: []uint64{1, 1, 2}, wantCommit: 1},
		{name: "conflicting durable suffix is discarded by record", prevIndex: 2, prevTerm: 1, entries: ents(3, 3, 3), commit: 4,
			wantIndex: 4, wantDiscard: 3, wantEntries: []uint64{3, 3}, wantLogTerms: []uint64{1, 1, 3, 3}, wantCommit: 4},
		{name: "older duplicate append: no truncation, ack only lastNew", prevIndex: 1, prevTerm: 1, entries: ents(2, 1),
			wantIndex: 2, wantLogTerms: []uint64{1, 1, 2}, wantCommit: 1},
		{name: "commit limited to lastNew (unverified suffix)", prevIndex: 1, prevTerm: 1, entries: ents(2, 1), commit: 3,
			wantIndex: 2, wantLogTerms: []uint64{1, 1, 2}, wantCommit: 2},
		{name: "entries at or below commit are skipped", prevIndex: 0, prevTerm: 0, entries: ents(1, 1, 1), commit: 2,
			wantIndex: 2, wantLogTerms: []uint64{1, 1, 2}, wantCommit: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newR(t, "n1", peers3, State{HardState: HardState{Term: 3, Commit: 1}, Entries: ents(1, 1, 1, 2)})
			cycle(r)
			m := Message{Type: MsgApp, From: "n2", To: "n1", Term: 3, PrevIndex: tt.prevIndex, PrevTerm: tt.prevTerm, Entries: tt.entries, Commit: tt.commit}
			if err := r.Step(m); err != nil {
				t.Fatal(err)
			}
			rd := cycle(r)
			resp := msgsOf(rd, MsgAppResp)
			if len(resp) != 1 {
				t.Fatalf("responses = %v", rd.Messages)
			}
			got := resp[0]
			if got.Reject != tt.wantReject || got.Index != tt.wantIndex || [2]uint64{got.HintIndex, got.HintTerm} != tt.wantHint || got.Term != 3 {
				t.Errorf("response %s; want reject=%v index=%d hint=%v", got.Describe(), tt.wantReject, tt.wantIndex, tt.wantHint)
			}
			if d := rd.Discard; (d == nil) != (tt.wantDiscard == 0) || (d != nil && d.FromIndex != tt.wantDiscard) {
				t.Errorf("discard = %v, want from %d", d, tt.wantDiscard)
			}
			if g := termsOf(rd.Entries); !slices.Equal(g, append([]uint64{}, tt.wantEntries...)) {
				t.Errorf("Ready.Entries terms = %v, want %v", g, tt.wantEntries)
			}
			if g := termsOf(r.log.ents); !slices.Equal(g, tt.wantLogTerms) {
				t.Errorf("log terms = %v, want %v", g, tt.wantLogTerms)
			}
			if r.log.committed != tt.wantCommit {
				t.Errorf("commit = %d, want %d", r.log.committed, tt.wantCommit)
			}
		})
	}
}

// TestDiscardDropsQueuedAcks: an ack queued for entries that a later
// message in the same Ready window discarded must not be sent (it would
// claim entries that are no longer on disk).
func TestDiscardDropsQueuedAcks(t *testing.T) {
	r := newR(t, "n1", peers3, State{HardState: HardState{Term: 1}, Entries: ents(1, 1, 1)})
	cycle(r)
	// Leader n2 (term 1) sends 3..4; ack 4 is queued, entries unstable.
	must(t, r.Step(Message{Type: MsgApp, From: "n2", To: "n1", Term: 1, PrevIndex: 2, PrevTerm: 1, Entries: ents(3, 1, 1)}))
	// Leader n3 of term 2 replaces from index 2 (durable): discard record.
	must(t, r.Step(Message{Type: MsgApp, From: "n3", To: "n1", Term: 2, PrevIndex: 1, PrevTerm: 1, Entries: ents(2, 2)}))
	rd := cycle(r)
	if rd.HardState == nil || rd.HardState.Term != 2 {
		t.Fatalf("new term not persisted before sending: %v", rd.HardState)
	}
	if rd.Discard == nil || rd.Discard.FromIndex != 2 {
		t.Fatalf("discard = %v, want from 2", rd.Discard)
	}
	if g := termsOf(rd.Entries); !slices.Equal(g, []uint64{2}) {
		t.Fatalf("entries = %v", g)
	}
	for _, m := range rd.Messages {
		if m.Type == MsgAppResp && !m.Reject && m.Index > 2 {
			t.Errorf("stale ack sent: %s", m.Describe())
		}
	}
	if acks := msgsOf(rd, MsgAppResp); len(acks) != 1 || acks[0].To != "n3" || acks[0].Index != 2 {
		t.Errorf("acks = %v, want one ack of 2 to n3", acks)
	}
}

// TestFollowerSnapshot: install when the log lacks the snapshot point,
// fast-forward commit when it already holds it, no-op when older.
func TestFollowerSnapshot(t *testing.T) {
	tests := []struct {
		name        string
		snap        Snapshot
		wantInstall bool
		wantAck     uint64
		wantCommit  uint64
		wantFirst   uint64
	}{
		{"behind: install", Snapshot{Index: 10, Term: 2, Data: []byte("img")}, true, 10, 10, 11},
		{"matching entry: commit only", Snapshot{Index: 3, Term: 1}, false, 3, 3, 1},
		{"conflicting entry: install", Snapshot{Index: 3, Term: 2}, true, 3, 3, 4},
		{"older than commit: ack commit", Snapshot{Index: 1, Term: 1}, false, 2, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newR(t, "n1", peers3, State{HardState: HardState{Term: 2, Commit: 2}, Entries: ents(1, 1, 1, 1, 1)})
			cycle(r)
			must(t, r.Step(Message{Type: MsgSnap, From: "n2", To: "n1", Term: 2, Snapshot: &tt.snap}))
			rd := cycle(r)
			if (rd.Snapshot != nil) != tt.wantInstall {
				t.Fatalf("install = %v", rd.Snapshot)
			}
			acks := msgsOf(rd, MsgAppResp)
			if len(acks) != 1 || acks[0].Index != tt.wantAck {
				t.Errorf("acks = %v, want %d", acks, tt.wantAck)
			}
			if r.log.committed != tt.wantCommit || r.log.firstIndex() != tt.wantFirst {
				t.Errorf("commit=%d first=%d, want %d %d", r.log.committed, r.log.firstIndex(), tt.wantCommit, tt.wantFirst)
			}
			if len(rd.CommittedEntries) > 0 && rd.CommittedEntries[0].Index <= r.log.snapIndex {
				t.Errorf("re-applies entries inside the snapshot: %v", rd.CommittedEntries)
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
