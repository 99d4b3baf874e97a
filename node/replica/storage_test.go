package replica

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// memStorage is a Storage over a whole log held in a slice (ents[i] has
// index i+1). It counts calls, fails on demand, and fails the test if the
// replica asks for an index above limit (its compaction point).
type memStorage struct {
	t            testing.TB
	ents         []Entry
	limit        func() uint64 // nil: no check
	fail         bool          // every call fails
	failEntries  bool          // Entries fails
	terms, reads int
}

func (s *memStorage) Term(i uint64) (uint64, error) {
	s.terms++
	if s.fail {
		return 0, errors.New("disk on fire")
	}
	if i == 0 || i > uint64(len(s.ents)) || (s.limit != nil && i > s.limit()) {
		s.t.Errorf("storage asked for the term of %d (holds 1..%d)", i, len(s.ents))
		return 0, fmt.Errorf("no entry %d", i)
	}
	return s.ents[i-1].Term, nil
}

func (s *memStorage) Entries(lo, hi uint64, maxBytes int) ([]Entry, error) {
	s.reads++
	if s.fail || s.failEntries {
		return nil, errors.New("disk on fire")
	}
	if lo == 0 || lo >= hi || hi-1 > uint64(len(s.ents)) || (s.limit != nil && hi-1 > s.limit()) {
		s.t.Errorf("storage asked for entries [%d,%d) (holds 1..%d)", lo, hi, len(s.ents))
		return nil, fmt.Errorf("no entries [%d,%d)", lo, hi)
	}
	out, size := []Entry{}, 0
	for i := lo; i < hi; i++ {
		e := s.ents[i-1]
		if size += len(e.Data); len(out) > 0 && size > maxBytes {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// storedReplica builds a replica that restarted from compaction point snap
// over log (the whole log, log[i] at index i+1), with a memStorage for the
// prefix whose limit follows the replica's own compaction point.
func storedReplica(t testing.TB, id string, log []Entry, snap uint64, hs HardState, mod ...func(*Config)) (*Replica, *memStorage) {
	t.Helper()
	s := &memStorage{t: t, ents: log}
	var r *Replica
	s.limit = func() uint64 {
		if r == nil {
			return snap // New reads the restart point
		}
		return r.log.snapIndex
	}
	var st State
	st.HardState = hs
	if snap > 0 {
		st.Snapshot = Snapshot{Index: snap, Term: log[snap-1].Term}
	}
	st.Entries = slices.Clone(log[snap:])
	r = newR(t, id, peers3, st, append([]func(*Config){func(c *Config) { c.Storage = s }}, mod...)...)
	return r, s
}

// TestStorageRestartFromCompactionPoint: a replica restarted from its
// applied index with only the entries after it answers for the whole log
// (terms through Storage), applies only what follows Applied, and reports
// its first in-memory index.
func TestStorageRestartFromCompactionPoint(t *testing.T) {
	log := append(ents(1, repeat(1, 60)...), ents(61, repeat(2, 40)...)...)
	r, s := storedReplica(t, "n1", log, 70, HardState{Term: 2, Commit: 90})
	if s.terms != 1 {
		t.Errorf("New read %d terms, want 1 (the restart point)", s.terms)
	}
	s.terms = 0
	if r.FirstIndex() != 71 || r.Status().FirstIndex != 71 {
		t.Errorf("FirstIndex = %d", r.FirstIndex())
	}
	if lt, li := r.LastIndexTerm(); lt != 2 || li != 100 {
		t.Errorf("last = %d/%d", li, lt)
	}
	for _, c := range []struct{ i, t uint64 }{{0, 0}, {1, 1}, {60, 1}, {61, 2}, {69, 2}, {70, 2}, {100, 2}} {
		if got, ok := r.Term(c.i); !ok || got != c.t {
			t.Errorf("Term(%d) = %d %v, want %d", c.i, got, ok, c.t)
		}
	}
	if _, ok := r.Term(101); ok {
		t.Error("Term beyond the log")
	}
	if s.terms != 4 {
		t.Errorf("%d storage term reads, want 4 (1, 60, 61 and 69 are below the compaction point; 0 and 70 are not read)", s.terms)
	}
	rd := cycle(r)
	if n := len(rd.CommittedEntries); n != 20 || rd.CommittedEntries[0].Index != 71 || rd.Entries != nil {
		t.Errorf("Ready applies %d entries from %v, persists %d", n, rd.CommittedEntries[:min(1, n)], len(rd.Entries))
	}
	if err := r.Compact(80); err != nil || r.FirstIndex() != 81 {
		t.Errorf("Compact(80): %v, FirstIndex %d", err, r.FirstIndex())
	}
	if err := r.Compact(95); !errors.Is(err, ErrCompact) {
		t.Errorf("Compact beyond applied: %v", err)
	}
	if got, ok := r.Term(75); !ok || got != 2 {
		t.Errorf("Term(75) after compaction = %d %v", got, ok)
	}
	if r.Err() != nil {
		t.Error(r.Err())
	}
}

// TestStorageFollowerAcrossBoundary: a follower whose log was compacted at
// 70 (all committed, so its commit is at least 70) takes appends whose prev
// is at, or below, its compaction point, refuses ones that contradict what
// Storage holds, and hints across the boundary.
func TestStorageFollowerAcrossBoundary(t *testing.T) {
	log := append(ents(1, repeat(1, 60)...), ents(61, repeat(2, 20)...)...) // 1..80
	leaderLog := append(slices.Clone(log), ents(81, repeat(3, 10)...)...)
	tests := []struct {
		name        string
		m           Message
		wantReject  bool
		wantRefused string
		wantIndex   uint64
		wantHint    [2]uint64
		wantLast    uint64
	}{
		{name: "prev at the compaction point", m: Message{PrevIndex: 70, PrevTerm: 2, Entries: leaderLog[70:90]},
			wantIndex: 90, wantLast: 90},
		{name: "prev below the compaction point", m: Message{PrevIndex: 50, PrevTerm: 1, Entries: leaderLog[50:85]},
			wantIndex: 85, wantLast: 85},
		{name: "prev below the compaction point, all carried entries committed", m: Message{PrevIndex: 10, PrevTerm: 1, Entries: leaderLog[10:40]},
			wantIndex: 40, wantLast: 80},
		{name: "prev below the compaction point contradicts storage", m: Message{PrevIndex: 50, PrevTerm: 2, Entries: ents(51, 2)},
			wantRefused: RejectCommitConflict},
		{name: "carried entry below the compaction point contradicts storage", m: Message{PrevIndex: 55, PrevTerm: 1, Entries: ents(56, 1, 1, 1, 1, 1, 3)},
			wantRefused: RejectCommitConflict},
		{name: "stale leader: hint searched through storage", m: Message{Term: 1, PrevIndex: 200, PrevTerm: 1},
			wantReject: true, wantIndex: 200, wantHint: [2]uint64{60, 1}, wantLast: 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, s := storedReplica(t, "n1", log, 70, HardState{Term: 3, Commit: 75})
			cycle(r)
			m := tt.m
			m.Type, m.From, m.To, m.Commit = MsgApp, "n2", "n1", 0
			if m.Term == 0 {
				m.Term = 3
			}
			err := r.Step(m)
			if tt.wantRefused != "" {
				var re *RejectError
				if !errors.As(err, &re) || re.Reason != tt.wantRefused {
					t.Fatalf("Step = %v, want refusal %s", err, tt.wantRefused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rd := cycle(r)
			resp := msgsOf(rd, MsgAppResp)
			if len(resp) != 1 {
				t.Fatalf("responses %v", rd.Messages)
			}
			got := resp[0]
			if got.Reject != tt.wantReject || got.Index != tt.wantIndex || [2]uint64{got.HintIndex, got.HintTerm} != tt.wantHint {
				t.Errorf("response %s, want reject=%v index=%d hint=%v", got.Describe(), tt.wantReject, tt.wantIndex, tt.wantHint)
			}
			if r.log.lastIndex() != tt.wantLast || r.Err() != nil {
				t.Errorf("last %d, want %d; err %v", r.log.lastIndex(), tt.wantLast, r.Err())
			}
			if s.terms > 12 {
				t.Errorf("%d storage term reads", s.terms)
			}
		})
	}
}

// TestStorageLeaderConflictSearch: the follower's divergent, uncommitted
// suffix sits below the leader's compaction point; the leader's back-off
// binary-searches its Storage (a few reads, not one per entry), then
// streams the missing entries from Storage in bulk, never asking for a
// snapshot.
func TestStorageLeaderConflictSearch(t *testing.T) {
	leaderLog := append(ents(1, repeat(1, 200)...), ents(201, repeat(3, 800)...)...) // 1..1000
	followerLog := append(ents(1, repeat(1, 200)...), ents(201, repeat(2, 150)...)...)
	mod := func(c *Config) {
		c.MaxBatchEntries, c.MaxInflight, c.CatchUpBatchEntries, c.CatchUpInflight = 8, 4, 128, 2
	}
	c := newMemCluster(t, 3, mod)
	l, ls := storedReplica(t, "n1", leaderLog, 800, HardState{Term: 3, Commit: 1000}, mod)
	c.rs["n1"] = l
	c.rs["n2"] = newR(t, "n2", c.ids, State{HardState: HardState{Term: 2, Commit: 200}, Entries: followerLog}, mod)
	c.rs["n3"], _ = storedReplica(t, "n3", leaderLog, 900, HardState{Term: 3, Commit: 1000}, mod)
	must(t, l.BecomeLeader(4))
	rejects, discards, fromStorage := 0, 0, 0
	for round := 0; round < 200; round++ {
		for _, id := range c.ids {
			r := c.rs[id]
			if !r.HasReady() {
				continue
			}
			rd := r.Ready()
			if rd.Discard != nil {
				discards++
				if rd.Discard.FromIndex != 201 {
					t.Errorf("%s discards from %d", id, rd.Discard.FromIndex)
				}
			}
			for _, m := range rd.Messages {
				switch {
				case m.Type == MsgSnapshotNeeded || m.Type == MsgSnap:
					t.Fatalf("snapshot path with Storage: %s", m.Describe())
				case m.Type == MsgAppResp && m.Reject:
					rejects++
				case m.Type == MsgApp && len(m.Entries) > 0 && m.Entries[0].Index <= 800:
					fromStorage++
					if len(m.Entries) > 128 {
						t.Fatalf("batch of %d", len(m.Entries))
					}
				}
				c.queue = append(c.queue, m)
			}
			r.Advance(rd)
		}
		c.deliver()
	}
	f := c.rs["n2"]
	if f.log.lastIndex() != 1001 || f.log.committed != 1001 || l.log.committed != 1001 || l.Err() != nil {
		t.Fatalf("follower last %d commit %d, leader commit %d, err %v", f.log.lastIndex(), f.log.committed, l.log.committed, l.Err())
	}
	if rejects != 1 || discards != 1 {
		t.Errorf("rejects %d discards %d, want 1 and 1", rejects, discards)
	}
	if want := (800 - 200 + 127) / 128; fromStorage != want || ls.reads != want {
		t.Errorf("%d batches from storage, %d reads; want %d", fromStorage, ls.reads, want)
	}
	if ls.terms > 20 {
		t.Errorf("%d storage term reads for the back-off, want O(log n)", ls.terms)
	}
	if pr := l.Progress(); pr["n2"].Match != 1001 || pr["n3"].Match != 1001 || pr["n2"].CatchingUp {
		t.Errorf("progress %+v", pr)
	}
}

// TestStorageEmptyFollowerBulk: an empty follower of a leader that holds
// only a small tail in memory catches up from Storage in bulk batches with
// a bounded window, while the up-to-date follower keeps committing new
// proposals every round (no starvation).
func TestStorageEmptyFollowerBulk(t *testing.T) {
	const n = 20000
	log := ents(1, repeat(1, n)...)
	mod := func(c *Config) {
		c.MaxBatchEntries, c.MaxInflight, c.CatchUpBatchEntries, c.CatchUpInflight = 16, 4, 1024, 3
	}
	c := newMemCluster(t, 3, mod)
	l, ls := storedReplica(t, "n1", log, n-10, HardState{Term: 1, Commit: n}, mod)
	c.rs["n1"] = l
	c.rs["n3"], _ = storedReplica(t, "n3", log, n-10, HardState{Term: 1, Commit: n}, mod)
	must(t, l.BecomeLeader(2))
	for range 3 { // the no-op commits with n3
		c.pump()
		c.deliver()
	}
	var stalled, maxBatch, appsToN2 int
	sawCatchingUp := false
	for round := 0; c.rs["n2"].log.committed < l.log.lastIndex(); round++ {
		if round > 200 {
			t.Fatalf("no convergence: n2 at %d of %d", c.rs["n2"].log.lastIndex(), l.log.lastIndex())
		}
		before := l.log.committed
		idx, _, err := l.Propose([]byte("new"))
		must(t, err)
		for range 3 { // propose; n3 acks; the leader commits
			for _, id := range c.ids {
				r := c.rs[id]
				if !r.HasReady() {
					continue
				}
				rd := r.Ready()
				perReady := 0
				for _, m := range rd.Messages {
					if m.Type == MsgApp && m.To == "n2" && len(m.Entries) > 0 {
						perReady++
						appsToN2++
						maxBatch = max(maxBatch, len(m.Entries))
					}
					c.queue = append(c.queue, m)
				}
				if perReady > 4 {
					t.Fatalf("%d appends to n2 in one Ready", perReady)
				}
				r.Advance(rd)
			}
			c.deliver()
		}
		if l.log.committed < idx || l.log.committed <= before {
			stalled++
		}
		if pr := l.Progress()["n2"]; pr.CatchingUp {
			sawCatchingUp = true
		}
	}
	if stalled > 0 {
		t.Errorf("commit stalled in %d rounds while n2 caught up", stalled)
	}
	if !sawCatchingUp || c.rs["n2"].Progress() != nil {
		t.Errorf("Progress never showed n2 catching up, or a follower has a Progress")
	}
	if maxBatch != 1024 || appsToN2 > n/1024+20 || ls.reads < n/1024 {
		t.Errorf("max batch %d, %d appends to n2, %d storage reads", maxBatch, appsToN2, ls.reads)
	}
	if !slices.Equal(termsOf(c.rs["n2"].log.ents[:n]), termsOf(log)) {
		t.Error("n2's log differs")
	}
}

// TestStorageError: a failed read sets Err and nothing built from it is
// sent — on the leader (entries for a lagging follower, a back-off search)
// and on a follower (the check of an append below its compaction point).
// Afterwards Step and Propose return the error and Tick does nothing.
func TestStorageError(t *testing.T) {
	log := ents(1, repeat(1, 100)...)
	t.Run("leader reading entries", func(t *testing.T) {
		l, s := storedReplica(t, "n1", log, 90, HardState{Term: 1, Commit: 100})
		must(t, l.BecomeLeader(2))
		cycle(l)
		must(t, l.Step(ack("n3", 2, 101)))
		must(t, l.Step(Message{Type: MsgAppResp, From: "n2", To: "n1", Term: 2, Reject: true, Index: 100, HintIndex: 40, HintTerm: 1}))
		cycle(l)
		s.failEntries = true
		must(t, l.Step(Message{Type: MsgAppResp, From: "n2", To: "n1", Term: 2, Reject: true, Index: 40, HintIndex: 20}))
		if s.reads != 2 {
			t.Errorf("%d reads", s.reads)
		}
		if !errors.Is(l.Err(), ErrStorage) {
			t.Fatalf("Err = %v", l.Err())
		}
		rd := cycle(l)
		for _, m := range rd.Messages {
			if m.Type == MsgApp && m.To == "n2" {
				t.Errorf("sent %s after a failed read", m.Describe())
			}
		}
		if err := l.Step(ack("n3", 2, 101)); !errors.Is(err, ErrStorage) {
			t.Errorf("Step after failure: %v", err)
		}
		if _, _, err := l.Propose([]byte("x")); !errors.Is(err, ErrStorage) {
			t.Errorf("Propose after failure: %v", err)
		}
		l.Tick()
		if l.HasReady() {
			t.Errorf("Tick after failure queued %v", l.Ready().Messages)
		}
	})
	t.Run("leader back-off search", func(t *testing.T) {
		l, s := storedReplica(t, "n1", log, 90, HardState{Term: 1, Commit: 100})
		must(t, l.BecomeLeader(2))
		cycle(l)
		s.fail = true
		must(t, l.Step(Message{Type: MsgAppResp, From: "n2", To: "n1", Term: 2, Reject: true, Index: 100, HintIndex: 50, HintTerm: 1}))
		if !errors.Is(l.Err(), ErrStorage) || len(msgsOf(cycle(l), MsgApp)) != 0 {
			t.Errorf("Err = %v, or a message left", l.Err())
		}
	})
	t.Run("follower check", func(t *testing.T) {
		f, s := storedReplica(t, "n2", log, 90, HardState{Term: 1, Commit: 100})
		cycle(f)
		s.fail = true
		err := f.Step(Message{Type: MsgApp, From: "n1", To: "n2", Term: 1, PrevIndex: 50, PrevTerm: 1, Entries: log[50:60]})
		var re *RejectError
		if !errors.Is(err, ErrStorage) || errors.As(err, &re) || !errors.Is(f.Err(), ErrStorage) || len(f.Rejected()) != 0 {
			t.Errorf("Step = %v, Err = %v, rejected %v", err, f.Err(), f.Rejected())
		}
		if f.HasReady() {
			t.Errorf("queued %v", f.Ready().Messages)
		}
	})
	t.Run("bad storage answer", func(t *testing.T) {
		l, s := storedReplica(t, "n1", log, 90, HardState{Term: 1, Commit: 100})
		must(t, l.BecomeLeader(2))
		cycle(l)
		s.ents = slices.Clone(log)
		s.ents[40].Index = 7 // a broken Storage: the replica checks what it sends
		must(t, l.Step(Message{Type: MsgAppResp, From: "n2", To: "n1", Term: 2, Reject: true, Index: 100, HintIndex: 40, HintTerm: 1}))
		if !errors.Is(l.Err(), ErrStorage) || len(msgsOf(cycle(l), MsgApp)) != 0 {
			t.Errorf("Err = %v", l.Err())
		}
	})
}

// TestStorageRefusesSnapshot: a replica with Storage never installs a
// snapshot (Storage could not fill the gap) and never sends one.
func TestStorageRefusesSnapshot(t *testing.T) {
	log := ents(1, repeat(1, 100)...)
	f, _ := storedReplica(t, "n2", log, 90, HardState{Term: 1, Commit: 95})
	err := f.Step(Message{Type: MsgSnap, From: "n1", To: "n2", Term: 1, Snapshot: &Snapshot{Index: 200, Term: 1}})
	var re *RejectError
	if !errors.As(err, &re) || re.Reason != RejectSnapshotUnsupported || !errors.Is(err, ErrRejected) {
		t.Errorf("Step(MsgSnap) = %v", err)
	}
	must(t, f.Step(Message{Type: MsgSnap, From: "n1", To: "n2", Term: 1, Snapshot: &Snapshot{Index: 80, Term: 1}}))
	if rd := cycle(f); rd.Snapshot != nil || len(msgsOf(rd, MsgAppResp)) != 1 {
		t.Errorf("Ready %s", rd.Describe())
	}
	l, _ := storedReplica(t, "n1", log, 90, HardState{Term: 1, Commit: 100})
	must(t, l.BecomeLeader(2))
	if err := l.SendSnapshot("n2", Snapshot{Index: 95, Term: 1}); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("SendSnapshot with Storage: %v", err)
	}
}

// TestCatchUpConfig: the bulk limits default from the ordinary ones and
// stay within what the peer transport carries.
func TestCatchUpConfig(t *testing.T) {
	base := Config{ID: "n1", Peers: peers3}
	d := base.Default()
	if d.CatchUpBatchEntries != 16384 || d.CatchUpBatchBytes != 4<<20 || d.CatchUpInflight != 4 || d.Validate() != nil {
		t.Errorf("defaults %+v: %v", d, d.Validate())
	}
	for name, mod := range map[string]func(*Config){
		"entries below MaxBatchEntries": func(c *Config) { c.MaxBatchEntries, c.CatchUpBatchEntries = 512, 256 },
		"entries above the wire limit":  func(c *Config) { c.CatchUpBatchEntries = MaxCatchUpBatchEntries + 1 },
		"bytes below MaxBatchBytes":     func(c *Config) { c.CatchUpBatchBytes = 512 << 10 },
		"bytes above the frame limit":   func(c *Config) { c.CatchUpBatchBytes = 8 << 20 },
		"window above the peer queue":   func(c *Config) { c.CatchUpInflight = 17 },
	} {
		c := base
		mod(&c)
		if err := c.Default().Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	old := base
	old.CatchUpBatchEntries, old.CatchUpBatchBytes, old.CatchUpInflight = 256, 1<<20, 64
	if err := old.Default().Validate(); err != nil {
		t.Errorf("bulk off (the ordinary limits): %v", err)
	}
}

// TestStorageRestartPointChecked: New reads the restart point's term from
// Storage and refuses a restart from an (index, term) Storage contradicts.
func TestStorageRestartPointChecked(t *testing.T) {
	log := ents(1, repeat(1, 10)...)
	s := &memStorage{t: t, ents: log}
	_, err := New(Config{ID: "n1", Peers: peers3, Storage: s}, State{HardState: HardState{Term: 2}, Snapshot: Snapshot{Index: 5, Term: 2}})
	if err == nil {
		t.Error("restart from 5/2 accepted; Storage holds 5/1")
	}
	s.fail = true
	if _, err := New(Config{ID: "n1", Peers: peers3, Storage: s}, State{HardState: HardState{Term: 2}, Snapshot: Snapshot{Index: 5, Term: 1}}); err == nil {
		t.Error("restart with a failing Storage accepted")
	}
}

// TestStorageCatchUpBurst: between two Advances the leader sends at most
// catchUpBurst batches read from Storage to a far-behind follower, however
// wide its window and however many acks arrive (the reads run inside Step
// and would hold up every other input), and the window still fills, a
// burst per pass, refilled by acks and ticks.
func TestStorageCatchUpBurst(t *testing.T) {
	const n = 200000
	log := ents(1, repeat(1, n)...)
	mod := func(c *Config) {
		c.MaxBatchEntries, c.MaxInflight, c.CatchUpBatchEntries, c.CatchUpBatchBytes, c.CatchUpInflight = 16, 4, 1024, 1<<20, 16
	}
	c := newMemCluster(t, 3, mod)
	l, _ := storedReplica(t, "n1", log, n-10, HardState{Term: 1, Commit: n}, mod)
	c.rs["n1"] = l
	c.rs["n3"], _ = storedReplica(t, "n3", log, n-10, HardState{Term: 1, Commit: n}, mod)
	must(t, l.BecomeLeader(2))
	widest := 0
	// pass is one pass of a node's driver: the inputs stepped, then one
	// Ready, whose messages are queued for delivery.
	pass := func(in func()) {
		in()
		if !l.HasReady() {
			return
		}
		rd := l.Ready()
		apps := 0
		for _, out := range rd.Messages {
			if out.Type == MsgApp && out.To == "n2" && len(out.Entries) > 0 && out.Entries[0].Index < n-10 {
				apps++
			}
			c.queue = append(c.queue, out)
		}
		if apps > catchUpBurst {
			t.Fatalf("one pass sent %d batches from Storage to n2, want at most %d", apps, catchUpBurst)
		}
		l.Advance(rd)
		widest = max(widest, len(l.prs["n2"].inflight))
	}
	for round := 0; round < 400 && c.rs["n2"].log.lastIndex() < n; round++ {
		c.pump()
		q := c.queue
		c.queue = nil
		pass(func() { // every ack of the round at once
			for _, m := range q {
				must(t, c.rs[m.To].Step(m))
			}
		})
		for range 3 { // the follower is slower than the leader's ticks
			pass(l.Tick)
		}
	}
	if c.rs["n2"].log.lastIndex() < n {
		t.Fatalf("n2 at %d of %d", c.rs["n2"].log.lastIndex(), n)
	}
	if widest < 8 {
		t.Errorf("the window to n2 never grew past %d batches (of 16)", widest)
	}
}
