package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// FuzzStep feeds arbitrary messages (any type, term, index, entries,
// snapshot, commit, hint, from any sender to any recipient) into a live
// 3-replica cluster whose target replica is, by the first input byte, a
// leader, a follower, a deposed leader with an uncommitted tail, a leader
// with a follower waiting for a snapshot, a lagging follower, or a fresh
// leader probing its followers — each after real traffic. Fuzzed messages
// interleave with real rounds (the cluster keeps replicating), ticks,
// proposals and elections. Every Step anywhere in the cluster must not
// panic; a refused message must return a *RejectError, be counted under its
// reason, and leave the replica exactly as it was; committed entries never
// change; and until a fuzzed message is accepted, no real message is
// refused. See doc.go, "Refusing what a peer sends".
//
//	go test ./node/replica -run '^$' -fuzz FuzzStep -fuzztime 1m
func FuzzStep(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 7))
	for sc := range fuzzScenarios {
		for range 3 {
			b := make([]byte, 400)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			b[0] = byte(sc)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { runFuzzStep(t, data) })
}

// TestStepRandomMessages runs FuzzStep's body on seeded random inputs, so
// that a plain go test explores far more than the seed corpus.
func TestStepRandomMessages(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 150
	}
	rng := rand.New(rand.NewPCG(42, 1))
	refused := map[string]int{}
	for i := range n {
		b := make([]byte, 100+rng.IntN(1500))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		b[0] = byte(i % fuzzScenarios)
		w := runFuzzStep(t, b)
		if t.Failed() {
			t.Fatalf("input %d failed (scenario %d)", i, b[0])
		}
		for _, r := range w.c.rs {
			for k, v := range r.Rejected() {
				refused[k] += v
			}
		}
	}
	// The generator must reach every refusal, or the test proves little.
	for _, reason := range []string{RejectNotForUs, RejectType, RejectMalformed, RejectSecondLeader, RejectCommitConflict, RejectAckBeyondLog} {
		if refused[reason] == 0 {
			t.Errorf("no message refused as %s in %d inputs: %v", reason, n, refused)
		}
	}
	t.Logf("refusals over %d inputs: %v", n, refused)
}

// fuzzIn draws decisions from the fuzz input; past its end it yields zeros.
type fuzzIn struct{ b []byte }

func (in *fuzzIn) empty() bool { return len(in.b) == 0 }

func (in *fuzzIn) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *fuzzIn) intn(n int) int { return int(in.byte()) % n }

func (in *fuzzIn) u64() uint64 {
	var b [8]byte
	for i := range b {
		b[i] = in.byte()
	}
	return binary.BigEndian.Uint64(b[:])
}

func sat(a uint64, b int) uint64 {
	if a < uint64(b) {
		return 0
	}
	return a - uint64(b)
}

// index picks an index near the interesting points of r's log, or wild.
func (in *fuzzIn) index(r *Replica) uint64 {
	l := r.log
	switch in.intn(14) {
	case 0:
		return 0
	case 1:
		return l.snapIndex
	case 2:
		return l.committed
	case 3:
		return l.committed + 1
	case 4, 5:
		return l.lastIndex()
	case 6:
		return l.lastIndex() + 1
	case 7:
		return l.lastIndex() + 2 + uint64(in.intn(8))
	case 8:
		return sat(l.committed, 1+in.intn(4))
	case 9:
		return sat(l.lastIndex(), 1+in.intn(4))
	case 10:
		return in.u64()
	case 11:
		return maxIndex - 2 + uint64(in.intn(5))
	case 12:
		return math.MaxUint64 - uint64(in.intn(3))
	}
	return uint64(in.intn(40))
}

// term picks a term: mostly the one r's log has at index at (so appends
// match), else near r's term, or wild.
func (in *fuzzIn) term(r *Replica, at uint64) uint64 {
	switch in.intn(11) {
	case 0, 1, 2:
		if t, ok := r.log.term(at); ok {
			return t
		}
		return r.term
	case 3:
		return r.term
	case 4:
		return r.term + 1
	case 5:
		return sat(r.term, 1)
	case 6:
		return 0
	case 7:
		return in.u64()
	case 8:
		return math.MaxUint64
	}
	return uint64(in.intn(6))
}

// message builds a message for r, mostly plausible enough to get past
// validation and reach the protocol's corners.
func (in *fuzzIn) message(r *Replica, ids []string) Message {
	var m Message
	switch t := in.intn(16); {
	case t < 6:
		m.Type = MsgApp
	case t < 11:
		m.Type = MsgAppResp
	case t < 14:
		m.Type = MsgSnap
	default:
		m.Type = MsgType(in.byte())
	}
	m.To = r.cfg.ID
	if in.intn(16) == 0 {
		m.To = ids[in.intn(len(ids))]
	}
	switch in.intn(16) {
	case 0:
		m.From = r.cfg.ID
	case 1:
		m.From = []string{"", "n9", "x"}[in.intn(3)]
	default:
		others := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == r.cfg.ID })
		m.From = others[in.intn(len(others))]
	}
	switch in.intn(8) {
	case 0:
		m.Term = r.term + 1 + uint64(in.intn(2))
	case 1:
		m.Term = in.term(r, in.index(r))
	default:
		m.Term = r.term
	}
	switch m.Type {
	case MsgApp:
		m.PrevIndex = in.index(r)
		m.PrevTerm = min(in.term(r, m.PrevIndex), m.Term)
		if in.intn(16) == 0 {
			m.PrevTerm = in.term(r, m.PrevIndex)
		}
		prevT := m.PrevTerm
		for i := range in.intn(6) {
			e := Entry{Index: m.PrevIndex + 1 + uint64(i), Type: EntryType(in.intn(3)), Data: []byte{in.byte()}}
			switch in.intn(5) {
			case 0, 1:
				e.Term, _ = r.log.term(e.Index)
				e.Term = max(e.Term, prevT)
			case 2:
				e.Term = prevT
			case 3:
				e.Term = m.Term
			default:
				e.Term = in.term(r, e.Index)
			}
			if in.intn(20) == 0 {
				e.Index = in.index(r)
			}
			prevT = e.Term
			m.Entries = append(m.Entries, e)
		}
		m.Commit = in.index(r)
	case MsgAppResp:
		m.Reject = in.intn(3) == 0
		m.Learner = in.intn(4) == 0
		m.Index = in.index(r)
		if m.Reject {
			m.HintIndex = min(in.index(r), m.Index)
			m.HintTerm = min(in.term(r, m.HintIndex), m.Term)
			if in.intn(16) == 0 {
				m.HintIndex, m.HintTerm = in.index(r), in.term(r, 0)
			}
		}
	case MsgSnap:
		if in.intn(16) != 0 {
			s := &Snapshot{Index: in.index(r), Data: []byte("img")}
			s.Term = min(in.term(r, s.Index), m.Term)
			if in.intn(16) == 0 {
				s.Term = in.term(r, s.Index)
			}
			m.Snapshot = s
		}
	}
	return m
}

// coreState is a deep copy of everything a refused Step must leave alone
// (all but the refusal counter and scratch space).
type coreState struct {
	Term         uint64
	Lead         string
	Role         Role
	Log          memLog
	Prs          map[string]progress
	HbElapsed    int
	PendingBcast bool
	Msgs         []Message
	PrevHard     HardState
	PrevSoft     SoftState
	ReadyOut     bool
}

func captureState(r *Replica) coreState {
	s := coreState{Term: r.term, Lead: r.lead, Role: r.role, Log: *r.log, HbElapsed: r.hbElapsed,
		PendingBcast: r.pendingBcast, Msgs: slices.Clone(r.msgs), PrevHard: r.prevHard, PrevSoft: r.prevSoft, ReadyOut: r.readyOut}
	s.Log.ents = slices.Clone(r.log.ents)
	if p := r.log.pendingSnap; p != nil {
		c := *p
		s.Log.pendingSnap = &c
	}
	if r.prs != nil {
		s.Prs = map[string]progress{}
		for id, pr := range r.prs {
			c := *pr
			c.inflight = slices.Clone(pr.inflight)
			s.Prs[id] = c
		}
	}
	return s
}

// fuzzScenarios is the number of starting situations (see fuzzWorld.setup).
const fuzzScenarios = 7

// fuzzDisk is a member's durable log as its Readys wrote it, and its
// Storage (scenario 6). Asked for anything it does not hold, it fails,
// which the replica turns into Err and the test into a failure.
type fuzzDisk struct{ ents []Entry }

func (d *fuzzDisk) write(rd Ready) {
	if rd.Discard != nil {
		d.ents = d.ents[:min(len(d.ents), int(rd.Discard.FromIndex-1))]
	}
	for _, e := range rd.Entries {
		d.ents = append(d.ents[:e.Index-1], e)
	}
}

func (d *fuzzDisk) Term(i uint64) (uint64, error) {
	if i == 0 || i > uint64(len(d.ents)) {
		return 0, fmt.Errorf("no entry %d on disk (%d)", i, len(d.ents))
	}
	return d.ents[i-1].Term, nil
}

func (d *fuzzDisk) Entries(lo, hi uint64, maxBytes int) ([]Entry, error) {
	if lo == 0 || lo >= hi || hi-1 > uint64(len(d.ents)) {
		return nil, fmt.Errorf("no entries [%d,%d) on disk (%d)", lo, hi, len(d.ents))
	}
	return capBytes(slices.Clone(d.ents[lo-1:hi-1]), maxBytes), nil
}

type fuzzWorld struct {
	t       *testing.T
	c       *memCluster
	target  string
	drop    map[string]bool      // partitioned nodes: their traffic is lost
	tainted bool                 // a fuzzed message was accepted somewhere
	disks   map[string]*fuzzDisk // scenario 6: each member's Storage
	term    uint64               // the newest term the simulated election used
	steps   int
}

func runFuzzStep(t *testing.T, data []byte) *fuzzWorld {
	in := &fuzzIn{b: data}
	w := &fuzzWorld{t: t, drop: map[string]bool{}}
	w.setup(in.intn(fuzzScenarios))
	for n := 0; !in.empty() && n < 300 && !t.Failed(); n++ {
		switch op := in.intn(32); {
		case op < 20:
			id := w.target
			if op == 0 {
				id = w.c.ids[in.intn(len(w.c.ids))] // now and then, fuzz another member
			}
			r := w.c.rs[id]
			w.step(id, in.message(r, w.c.ids), true)
		case op < 25:
			w.round()
		case op < 27:
			for _, id := range w.c.ids {
				w.c.rs[id].Tick()
			}
		case op < 30:
			w.propose(1 + in.intn(3))
		case op < 31:
			w.elect(w.c.ids[in.intn(len(w.c.ids))])
		default:
			id := w.c.ids[in.intn(len(w.c.ids))]
			w.drop[id] = !w.drop[id]
		}
	}
	clear(w.drop)
	for range 20 {
		w.round()
	}
	return w
}

// setup builds the scenario after real traffic.
func (w *fuzzWorld) setup(sc int) {
	mod := func(c *Config) {
		c.MaxBatchEntries, c.MaxBatchBytes, c.MaxInflight = 3, 256, 2
		c.MaxEntryBytes, c.RetransmitTicks, c.SnapshotRetryTicks = 32, 3, 5
	}
	w.c = newMemCluster(w.t, 3, mod)
	if sc == 6 {
		w.disks = map[string]*fuzzDisk{}
		for _, id := range w.c.ids {
			d := &fuzzDisk{}
			w.disks[id] = d
			w.c.rs[id] = newR(w.t, id, w.c.ids, State{}, mod, func(c *Config) { c.Storage, c.CatchUpBatchEntries, c.CatchUpInflight = d, 5, 1 })
		}
	}
	w.elect("n1")
	w.settle()
	w.propose(8)
	w.settle()
	switch sc {
	case 0: // leader with an uncommitted tail and appends in flight
		w.target = "n1"
		w.propose(4)
		w.round()
	case 1: // follower that knows its leader, with an uncommitted tail
		w.target = "n2"
		w.propose(4)
		w.round()
		w.round()
	case 2: // deposed leader holding an uncommitted tail; n2 leads term 2
		w.target = "n1"
		w.drop["n1"] = true
		w.propose(4)
		w.round()
		delete(w.drop, "n1")
		w.elect("n2")
		w.round()
	case 3, 4: // leader compacted while n3 was away: n3 needs a snapshot
		w.target = "n1"
		if sc == 4 {
			w.target = "n3"
		}
		w.drop["n3"] = true
		w.propose(6)
		w.settle()
		for _, id := range []string{"n1", "n2"} {
			r := w.c.rs[id]
			must(w.t, r.Compact(r.log.applied))
		}
		delete(w.drop, "n3")
		w.round()
	case 5: // new leader of term 2 probing followers
		w.target = "n2"
		w.propose(3)
		w.elect("n2")
		w.round()
	case 6: // with Storage: n1 and n2 compacted everything applied while
		// n3 was away; n3 catches up from n1's Storage; n2 is the target
		// (compacted follower: appends and hints below its compaction point)
		w.target = "n2"
		w.drop["n3"] = true
		w.propose(6)
		w.settle()
		for _, id := range []string{"n1", "n2"} {
			r := w.c.rs[id]
			must(w.t, r.Compact(r.log.applied))
		}
		delete(w.drop, "n3")
		w.round()
		w.propose(2)
		w.round()
	}
	if w.tainted || w.t.Failed() {
		w.t.Fatal("setup refused real traffic")
	}
}

func (w *fuzzWorld) settle() {
	for range 30 {
		w.round()
	}
}

// elect plays the ring: a new term, which id wins only if its log is at
// least as up to date as a majority's (I3), the others follow it.
func (w *fuzzWorld) elect(id string) {
	w.term++
	for _, r := range w.c.rs {
		w.term = max(w.term, r.term+1)
	}
	ct, ci := w.c.rs[id].LastIndexTerm()
	votes := 0
	for _, r := range w.c.rs {
		if t, i := r.LastIndexTerm(); ct > t || (ct == t && ci >= i) {
			votes++
		}
	}
	for _, other := range w.c.ids {
		if other != id || votes < len(w.c.ids)/2+1 {
			_ = w.c.rs[other].BecomeFollower(w.term, "")
		}
	}
	if votes >= len(w.c.ids)/2+1 {
		_ = w.c.rs[id].BecomeLeader(w.term)
	}
}

func (w *fuzzWorld) propose(n int) {
	for _, r := range w.c.rs {
		if r.role == Leader {
			for i := range n {
				_, _, _ = r.Propose(fmt.Appendf(nil, "p%d", i))
			}
		}
	}
}

// round handles every Ready (answering snapshot requests with the node's
// latest snapshot, its compaction point) and delivers the messages.
func (w *fuzzWorld) round() {
	for _, id := range w.c.ids {
		r := w.c.rs[id]
		if !r.HasReady() {
			continue
		}
		rd := r.Ready()
		if d := w.disks[id]; d != nil {
			d.write(rd)
		}
		var need []string
		for _, m := range rd.Messages {
			switch {
			case m.Type == MsgSnapshotNeeded:
				need = append(need, m.To)
			case w.c.rs[m.To] == nil:
				// An answer to a fuzzed sender that is no replica here
				// (appends are taken from any node): nobody receives it.
			case !w.drop[m.From] && !w.drop[m.To]:
				w.c.queue = append(w.c.queue, m)
			}
		}
		r.Advance(rd)
		for _, to := range need {
			_ = r.SendSnapshot(to, Snapshot{Index: r.log.snapIndex, Term: r.log.snapTerm, Data: []byte("img")})
		}
	}
	q := w.c.queue
	w.c.queue = nil
	for _, m := range q {
		w.step(m.To, m, false)
	}
}

// step feeds m to replica id and checks the contract.
func (w *fuzzWorld) step(id string, m Message, fuzzed bool) {
	t := w.t
	t.Helper()
	r := w.c.rs[id]
	w.steps++
	before := captureState(r)
	counts := r.Rejected()
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("%s panicked on %s (fuzzed=%v): %v", id, m.Describe(), fuzzed, p)
			}
		}()
		err = r.Step(m)
	}()
	if err == nil {
		if fuzzed {
			w.tainted = true
		}
		w.checkLog(id, before)
		return
	}
	var re *RejectError
	if !errors.As(err, &re) {
		t.Fatalf("%s: Step(%s) returned %T %v, want *RejectError", id, m.Describe(), err, err)
	}
	if !fuzzed && !w.tainted {
		t.Fatalf("%s refused a real message before any fuzzed one was accepted: %v", id, err)
	}
	bad, rejected := errors.Is(err, ErrBadMessage), errors.Is(err, ErrRejected)
	wantBad := re.Reason == RejectNotForUs || re.Reason == RejectType || re.Reason == RejectMalformed
	if bad == rejected || bad != wantBad || re.Peer != m.From || re.Msg == "" {
		t.Fatalf("%s: refusal %v: kind bad=%v rejected=%v peer=%q", id, err, bad, rejected, re.Peer)
	}
	counts[re.Reason]++
	if got := r.Rejected(); !maps.Equal(got, counts) {
		t.Fatalf("%s: refusal %v counted %v, want %v", id, err, got, counts)
	}
	if after := captureState(r); !reflect.DeepEqual(before, after) {
		t.Fatalf("%s: refused %s (%v) but its state changed:\nbefore %+v\nafter  %+v", id, m.Describe(), err, before, after)
	}
}

// checkLog: the log's positions stay ordered, the term never goes back, and
// no committed entry still held changes term (an accepted message may
// install a snapshot over them, never rewrite them).
func (w *fuzzWorld) checkLog(id string, before coreState) {
	r := w.c.rs[id]
	l := r.log
	if !(l.snapIndex <= l.applied && l.applied <= l.committed && l.committed <= l.lastIndex() && l.stable <= l.lastIndex()) {
		w.t.Fatalf("%s log positions broken: snap=%d applied=%d commit=%d stable=%d last=%d",
			id, l.snapIndex, l.applied, l.committed, l.stable, l.lastIndex())
	}
	if r.term < before.Term || l.committed < before.Log.committed {
		w.t.Fatalf("%s went back: term %d→%d commit %d→%d", id, before.Term, r.term, before.Log.committed, l.committed)
	}
	old := before.Log
	for i := max(old.firstIndex(), l.firstIndex()); i <= old.committed; i++ {
		ot, _ := old.term(i)
		if nt, _ := l.term(i); nt != ot {
			w.t.Fatalf("%s: committed entry %d changed term %d→%d", id, i, ot, nt)
		}
	}
}
