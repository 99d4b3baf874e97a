package node

import (
	"slices"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/replica"
	"github.com/syncnet/syncnet/ring"
)

// TestScheduleAckAcrossTermChange plays, step by step on the real drivers,
// the schedule a review found that lost an acknowledged message:
//
//  1. Leader L of term T stops (SIGSTOP, a GC pause). Y's failure detector
//     fires; Y starts term T+1 and sends the election token to X.
//  2. L resumes and sends an append with a new entry e.
//  3. X's batch holds L's append first, then Y's token. X appends e in
//     memory and queues an ack of term T; then it forwards the token.
//  4. After one fsync X sends both. If L counts X's ack it commits e and
//     answers the client "committed"; then L dies.
//  5. The token carries [Y, X], a majority. If X's candidacy on it did not
//     include e (a position refreshed only after Advance), Y wins the tie on
//     id and its no-op takes e's index: e is gone.
//
// The ring/replica contract (ring/doc.go) closes it twice over: X's
// candidacy is read from its in-memory log at the token step, so it covers
// e and X wins; and X drops its queued term-T ack once it adopts T+1, so L
// cannot commit e on it. Either alone keeps e; with both reverted this test
// fails with the checker's I3/I4 report.
//
// Ids matter: Y must win a tie against X, so L = n2, Y = n3 (L's successor
// on the ring, which starts the round first) and X = n1.
func TestScheduleAckAcrossTermChange(t *testing.T) { playAckAcrossTermChange(t, false) }

// TestScheduleHeldAckAcrossTermChange is the same schedule with X's disk
// slow: X steps L's append in one pass, whose WAL write (and with it the
// ack of term T) is still in flight when X steps Y's token in the next
// pass and adopts T+1; then the first write completes. The ack was taken
// out of the replica already, so the replica cannot drop it: the driver
// must (persist.go, current), or it leaves at term T+1 — the driver's
// contract assertion panics and this test fails.
func TestScheduleHeldAckAcrossTermChange(t *testing.T) { playAckAcrossTermChange(t, true) }

func playAckAcrossTermChange(t *testing.T, slowDisk bool) {
	o := simOpts{nodes: 3, steps: 0, clients: 1, msgsPerCli: 1, maxBatch: 1 << 20}
	w := scheduleWorld(t, o)
	defer w.tracePanic(t)
	L, X, Y := w.byID["n2"], w.byID["n1"], w.byID["n3"]

	// A new cluster's nodes start as learners and are promoted once each
	// hears all the others (node/learner.go); no round starts before a
	// failure timeout after that. Then n2 wins the first election: with
	// n3 stopped, n1 and n2 have equal logs and the larger id wins the tie.
	w.until(t, 50, "all promoted", func() bool {
		return !L.n.ring.Learner() && !X.n.ring.Learner() && !Y.n.ring.Learner()
	}, nil)
	if w.leader() != nil {
		t.Fatal("a leader before the schedule began")
	}
	Y.pausedUntil = 1 << 30
	w.settle()
	w.until(t, 200, "n2 leads", func() bool {
		return L.n.ring.Role() == ring.RoleLeader && L.n.replicaLeader == L.id && X.n.ring.Leader() == L.id
	}, nil)
	Y.pausedUntil = 0
	w.until(t, 200, "all follow n2 with equal logs", func() bool {
		return w.leaderKnownToAll() && X.n.replication.Status().LastIndex == L.n.replication.Status().LastIndex &&
			Y.n.replication.Status().LastIndex == L.n.replication.Status().LastIndex
	}, nil)
	term := L.n.ring.Term()

	// 1. L stops; Y starts term T+1; its token to X is held back.
	L.pausedUntil = 1 << 30
	var held []ring.Envelope
	holdToken := func(e ring.Envelope) bool {
		p := e.Payload.(simPayload)
		if p.ring != nil && p.ring.Type == ring.MsgToken && e.From == Y.id && e.To == X.id {
			held = append(held, e)
			return true
		}
		return false
	}
	w.until(t, 400, "Y starts a round and sends X its token", func() bool {
		return Y.n.ring.Term() > term && len(held) > 0
	}, holdToken)
	if X.n.ring.Term() != term {
		t.Fatalf("X moved to term %d before the token reached it", X.n.ring.Term())
	}

	// 2. X stops for a moment; L resumes with a post and sends its append.
	X.pausedUntil = 1 << 30
	L.pausedUntil = 0
	c := w.clients[0]
	c.seq, c.id, c.text = 1, "u0-1", "the message that must not be lost"
	w.chk.composed(c)
	w.submit(c, L)
	w.runNode(L, len(L.inbox))
	w.settle()
	w.deliverAll(func(e ring.Envelope) bool { return e.To != X.id && e.From != L.id })
	var app []ring.Envelope
	w.due = slices.DeleteFunc(w.due, func(e ring.Envelope) bool {
		if e.From == L.id && e.To == X.id {
			app = append(app, e)
			return true
		}
		return false
	})
	if len(app) == 0 {
		t.Fatal("L sent X no append after resuming")
	}

	// 3. X's batch: L's append first, then Y's token.
	X.inbox = nil
	if slowDisk {
		// Two passes, the first one's write still in flight.
		for _, e := range app {
			w.deliver(e)
		}
		X.pausedUntil = 0
		w.runNode(X, len(X.inbox))
		if len(X.writes) == 0 || len(X.n.held) == 0 {
			t.Fatalf("X's append left no write in flight (%d) or nothing held (%d)", len(X.writes), len(X.n.held))
		}
		for _, e := range held {
			w.deliver(e)
		}
		w.runNode(X, len(X.inbox))
		if X.n.ring.Term() <= term {
			t.Fatalf("X did not adopt term %d from the token", term+1)
		}
		for len(X.writes) > 0 {
			wr := X.writes[0]
			X.writes = X.writes[1:]
			w.perform(X, wr)
			X.inbox = append(X.inbox, durableInput(wr))
		}
		w.runNode(X, len(X.inbox))
	} else {
		for _, e := range append(app, held...) {
			w.deliver(e)
		}
		X.pausedUntil = 0
		w.runNode(X, len(X.inbox))
	}
	w.settle()

	// 4. X's messages arrive; L handles them (and may answer the client).
	w.deliverAll(func(e ring.Envelope) bool { return true })
	w.runNode(L, len(L.inbox))
	w.settle()
	acked := c.id == ""

	// 5. L dies; X and Y elect and commit; the checker holds every
	// acknowledged entry to be there (I3 at every step, I4 at the end).
	w.crash(L)
	w.until(t, 400, "X and Y agree on a new leader", func() bool {
		return X.n.ring.Leader() != "" && X.n.ring.Leader() == Y.n.ring.Leader() && X.n.ring.Term() > term &&
			w.byID[X.n.ring.Leader()].n.replicaLeader == X.n.ring.Leader()
	}, nil)
	if err := w.start(L); err != nil {
		t.Fatal(err)
	}
	w.healPhase(true)
	t.Logf("L=%s acked the post before dying: %v; new leader %s in term %d", L.id, acked, X.n.ring.Leader(), X.n.ring.Term())
}

// until runs ticks with a perfect network until cond holds, or fails after
// max ticks. hold, if set, takes out of the network what it wants kept back.
func (w *simWorld) until(t *testing.T, max int, what string, cond func() bool, hold func(ring.Envelope) bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == max {
			t.Fatalf("no %q within %d ticks: %s\nlast steps:\n%s", what, max, w.roles(), w.trace.String())
		}
		w.quietTick(hold)
	}
}

// quietTick is one tick with a perfect network: everything sent (but what
// hold takes out) is delivered and stepped before it ends.
func (w *simWorld) quietTick(hold func(ring.Envelope) bool) {
	all := func(ring.Envelope) bool { return true }
	w.step++
	w.tick()
	w.settle()
	for guard := 0; guard < 100000; guard++ {
		w.step++
		if hold != nil {
			w.due = slices.DeleteFunc(w.due, hold)
		}
		if !w.deliverAll(all) && !w.runOne() && !w.pendingInput() {
			break
		}
		w.settle()
	}
}

// deliverAll delivers every due envelope that pass accepts; the others stay
// queued. It reports whether anything was delivered.
func (w *simWorld) deliverAll(pass func(ring.Envelope) bool) bool {
	due := w.due
	w.due = nil
	delivered := false
	for _, e := range due {
		if pass(e) {
			w.deliver(e)
			delivered = true
		} else {
			w.due = append(w.due, e)
		}
	}
	return delivered
}

// TestScheduleStaleRemovalKeepsTheLeader plays the schedule of simulation
// seed 4354 (beyond make test's 2,000) step by step: a refused request to
// remove the leader must leave the leader as it was.
//
//  1. Three voters; n4 is added as a learner. A request to remove the
//     leader L was computed from a view of before that add (an admin on a
//     lagging node, or an answer that travelled slowly), so it carries a
//     membership that is no longer what the change makes of L's log.
//  2. L refuses it ("the membership changed while the request travelled").
//     It used to hand over first (ring.HandOver: it steps down and votes
//     for no one for ten failure timeouts) and only then check the
//     request: the cluster lost its leader and one of three votes for a
//     change that never happens (and the last voter asked to remove
//     itself left the cluster with no leader for that long).
//  3. Another voter turns deaf. With L leading, L and the third voter are
//     a majority: L stays leader (I7). With L handing over, only the third
//     voter votes and nobody is elected within simDeafBound.
func TestScheduleStaleRemovalKeepsTheLeader(t *testing.T) {
	o := simOpts{nodes: 3, steps: 0, clients: 1, msgsPerCli: 2, maxBatch: 1 << 20, members: true}
	w := scheduleWorld(t, o)
	defer w.tracePanic(t)
	w.until(t, 300, "a leader known to all", w.leaderKnownToAll, nil)
	L := w.leader()
	stale := *L.n.membersView.Load()

	// 1. n4 joins as a learner, through L.
	c := w.clients[0]
	c.seq, c.id, c.kind, c.text = 1, "u0-1", reqMember, "add n4"
	w.submit(c, L)
	w.until(t, 300, "n4 added", func() bool { return c.id == "" }, nil)
	if w.byID["n4"].n == nil {
		t.Fatalf("n4 was not added: %s", w.roles())
	}
	w.until(t, 300, "n4 follows L and has caught up", func() bool {
		return w.leaderKnownToAll() && w.byID["n4"].n.applied.Load() == L.n.applied.Load()
	}, nil)
	w.quietTick(nil) // L hears n4's heartbeat (what it can apply)

	// 2. The stale request to remove L reaches L.
	b := &eventlog.MembershipChanged{Op: eventlog.MemberRemove, Node: L.id, By: c.user}
	var err error
	if b.Members, b.Retired, err = nextMembers(stale, b); err != nil {
		t.Fatal(err)
	}
	ev := requestEvent(b, c.user, "u0-2")
	ev.Origin = L.id
	p := &proposal{ev: ev, user: c.user, msgID: "u0-2",
		deadline: L.n.now().Add(L.n.cfg.Timing.PostTimeout.Duration), done: make(chan result, 1)}
	L.inbox = append(L.inbox, proposalInput(p))
	var r result
	w.until(t, 50, "L answers the stale request", func() bool {
		select {
		case r = <-p.done:
			return true
		default:
			return false
		}
	}, nil)
	if r.err == nil || !strings.Contains(r.err.Error(), "the membership changed while the request travelled") {
		t.Errorf("L answered the stale removal with %v, not the rules' refusal", r.err)
	}
	if L.n.ring.Role() != ring.RoleLeader || L.n.ring.Status().Members[slices.IndexFunc(L.n.ring.Status().Members,
		func(m ring.MemberStatus) bool { return m.Self })].Status.Learner {
		t.Errorf("a refused removal changed the leader: %s", w.roles())
	}

	// 3. A follower that votes turns deaf: L and the other voter elect (or
	// keep) a leader within the deaf-phase bound.
	var Y *simNode
	for _, sn := range w.nodes {
		if sn != L && sn.id != "n4" {
			Y = sn
			break
		}
	}
	var others []*simNode
	for _, sn := range w.nodes {
		if sn != Y {
			w.cuts[[2]string{sn.id, Y.id}] = cutAll
			others = append(others, sn)
		}
	}
	w.logf("%s is deaf", Y.id)
	w.until(t, simDeafBound, "a leader among the others with "+Y.id+" deaf", func() bool { return w.leaderKnownTo(others) }, nil)
	clear(w.cuts)
}

// TestScheduleLeaderCrashBeforeItsElectionIsDurable plays the schedule of
// simulation seed 7228 (I2: "two different entries 2/2 on the wire") step by
// step on the real drivers:
//
//  1. L wins term T. The ring's record of it (LeaderElected), which is what
//     keeps L from ever leading T again after a crash (ring.New: ledTerm),
//     is queued in a WAL write that L's disk does not finish.
//  2. L's replica used to lead T at once: its no-op and a post left in
//     appends (appends leave before the leader's own write is durable) and
//     the followers stored them as entries 1 and 2 of T.
//  3. L crashes; the write is lost: on disk L took part in T, never led it.
//  4. L restarts with an empty log and hears a follower name it leader of
//     T: it led T again, and its no-op and the next post took indexes 1 and
//     2 of T, where the followers held L's first entry 2 — two different
//     entries 2/T, and the checker's I2 fails.
//
// The replica now leads only once that record is durable (followRing), so
// in step 2 nothing of T leaves L, and whatever L does after its restart,
// nothing it sent in T can disagree with it.
func TestScheduleLeaderCrashBeforeItsElectionIsDurable(t *testing.T) {
	o := simOpts{nodes: 3, steps: 0, clients: 2, msgsPerCli: 1, maxBatch: 1 << 20}
	w := scheduleWorld(t, o)
	defer w.tracePanic(t)
	w.until(t, 50, "all promoted", func() bool {
		for _, sn := range w.nodes {
			if sn.n.ring.Learner() {
				return false
			}
		}
		return true
	}, nil)
	if w.leader() != nil {
		t.Fatal("a leader before the schedule began")
	}

	// 1. The first election, with a perfect network; the disk of a node
	// whose ring leads never completes a write from then on.
	leads := func(sn *simNode) bool { return sn.n.ring.Role() == ring.RoleLeader }
	var L *simNode
	for i := 0; L == nil; i++ {
		if i == 300 {
			t.Fatalf("no leader within 300 ticks: %s\nlast steps:\n%s", w.roles(), w.trace.String())
		}
		w.tickDiskStuck(leads)
		L = w.leader()
	}
	term := L.n.ring.Term()
	if len(L.writes) == 0 {
		t.Fatalf("%s leads term %d with no write in flight", L.id, term)
	}

	// 2. A post through L while its record is still being written; the
	// followers store what L sends them.
	a := w.clients[0]
	a.seq, a.id, a.text = 1, "u0-1", "sent in term T before L's election was durable"
	w.chk.composed(a)
	w.submit(a, L)
	for range 10 {
		w.tickDiskStuck(leads)
	}
	var sent uint64
	for _, sn := range w.nodes {
		if sn != L {
			sent = max(sent, sn.n.replication.Status().LastIndex)
		}
	}
	t.Logf("%s leads term %d, its election not durable; the followers hold %d entries of it", L.id, term, sent)

	// 3. L crashes; every write it queued is lost.
	L.writes = nil
	w.crash(L)
	if err := w.start(L); err != nil {
		t.Fatal(err)
	}

	// 4. With L back, a leader (L again, in T) takes the next post; the
	// checker compares every entry on the wire with what was sent before.
	w.until(t, 300, "a leader known to all after L's restart", w.leaderKnownToAll, nil)
	b := w.clients[1]
	b.seq, b.id, b.text = 1, "u1-1", "the post after L's restart"
	w.chk.composed(b)
	w.submit(b, w.leader())
	w.until(t, 300, "the second post acknowledged", func() bool { return b.id == "" }, nil)
	w.healPhase(true)
	t.Logf("after the restart %s leads term %d", w.leader().id, w.leader().n.ring.Term())
}

// tickDiskStuck is one tick with a perfect network in which every process
// takes all its input at once and its queued writes complete, except while
// stuck holds for it: its disk then finishes nothing.
func (w *simWorld) tickDiskStuck(stuck func(*simNode) bool) {
	w.step++
	w.tick()
	w.settle()
	for guard := 0; guard < 100000; guard++ {
		w.step++
		progress := w.deliverAll(func(ring.Envelope) bool { return true })
		for _, sn := range w.live() {
			if len(sn.inbox) > 0 {
				w.runNode(sn, len(sn.inbox))
				progress = true
			}
			for sn.n != nil && len(sn.writes) > 0 && !stuck(sn) {
				wr := sn.writes[0]
				sn.writes = sn.writes[1:]
				w.perform(sn, wr)
				sn.inbox = append(sn.inbox, durableInput(wr))
				progress = true
			}
		}
		w.settle()
		if !progress {
			return
		}
	}
}

// scheduleWorld makes the world a directed schedule plays (seed 1, no
// random steps), logging every step with -v; it is closed when the test
// ends.
func scheduleWorld(t *testing.T, o simOpts) *simWorld {
	t.Helper()
	w, err := newSimWorld(1, o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.closeAll)
	if testing.Verbose() {
		w.verbose = func(s string) { t.Log(s) }
	}
	return w
}

// tracePanic, deferred by a schedule, turns a panic (a checker's failure,
// a driver's contract assertion) into a test failure with the last steps.
func (w *simWorld) tracePanic(t *testing.T) {
	if r := recover(); r != nil {
		t.Fatalf("%v\nlast steps:\n%s", r, w.trace.String())
	}
}

// TestScheduleDeafCandidateKeepsTheLeader plays the schedule of simulation
// seed 27062 (I7: "with n2 deaf, no leader among the others") step by step:
//
//  1. L leads term T. Its heartbeats are lost for a failure timeout (it
//     still hears the others and keeps leading); the followers lose it and
//     one of them, Y, starts a round for T+1; its replica moves to T+1
//     with its ring. Y's token is lost, and a heartbeat of L reaches the
//     third node X before X's own round timer fires (here X is stopped
//     for a moment meanwhile): X follows L in T again, and its pre-vote
//     gate would refuse Y's round.
//  2. L's next append reaches Y, whose replica refuses it with its term,
//     T+1. L's replica used to adopt the newer term from that refusal; its
//     ring still led T, and the replica could no longer lead T.
//  3. Y turns deaf before the ring settles the term (L steps down for a
//     member stuck at a higher term only while that member hears it). L
//     and X are a majority and both follow L in T, so no new round starts,
//     and nothing committed: I7 failed. Now the replica leaves terms to the
//     ring (a refusal's newer term is dropped), L goes on leading T with X,
//     and a post commits.
func TestScheduleDeafCandidateKeepsTheLeader(t *testing.T) {
	o := simOpts{nodes: 3, steps: 0, clients: 2, msgsPerCli: 1, maxBatch: 1 << 20}
	w := scheduleWorld(t, o)
	defer w.tracePanic(t)
	w.until(t, 300, "a leader known to all", w.leaderKnownToAll, nil)
	L := w.leader()
	term := L.n.ring.Term()
	var X, Y *simNode
	for _, sn := range w.nodes {
		switch {
		case sn == L:
		case Y == nil:
			Y = sn
		default:
			X = sn
		}
	}

	// 1. L's heartbeats are lost (it still hears the others, so it keeps
	// leading); Y's round of T+1 starts and its token is lost.
	for _, sn := range w.nodes {
		if sn != L {
			w.cuts[[2]string{L.id, sn.id}] = cutRing
		}
	}
	w.logf("%s's heartbeats are lost", L.id)
	token := func(e ring.Envelope) bool {
		p := e.Payload.(simPayload)
		return p.ring != nil && p.ring.Type == ring.MsgToken
	}
	w.until(t, 300, Y.id+" starts a round", func() bool {
		return Y.n.ring.Role() == ring.RoleCandidate || X.n.ring.Role() == ring.RoleCandidate
	}, token)
	if X.n.ring.Role() == ring.RoleCandidate {
		X, Y = Y, X // the node that started the round is Y
	}
	if Y.n.ring.Term() != term+1 || Y.n.replication.Status().Term != term+1 {
		t.Fatalf("%s: ring term %d, replica term %d, want both %d", Y.id, Y.n.ring.Term(), Y.n.replication.Status().Term, term+1)
	}
	// X stops for a moment (a pause) and L's heartbeats arrive again; X
	// steps L's first heartbeat before the timer tick that waited while it
	// was stopped, so it follows L in T before its own round would start.
	X.pausedUntil = w.ticks + 1000
	clear(w.cuts)
	w.logf("%s pauses; %s's heartbeats arrive again", X.id, L.id)
	fromL := func(in input) bool {
		return in.kind == inputRing && in.ring.Type == ring.MsgHeartbeat && in.ring.From == L.id
	}
	w.until(t, 50, "a heartbeat of "+L.id+" queued at "+X.id, func() bool { return slices.ContainsFunc(X.inbox, fromL) }, token)
	slices.SortStableFunc(X.inbox, func(a, b input) int {
		switch {
		case fromL(a) && !fromL(b):
			return -1
		case fromL(b) && !fromL(a):
			return 1
		}
		return 0
	})
	X.pausedUntil = 0
	w.until(t, 50, X.id+" follows "+L.id+" again", func() bool {
		return X.n.ring.Leader() == L.id && X.n.ring.Term() == term
	}, token)

	// 2. A post through L: its append reaches Y, which refuses it in T+1.
	a := w.clients[0]
	a.seq, a.id, a.text = 1, "u0-1", "sent while "+Y.id+" is a candidate of T+1"
	w.chk.composed(a)
	w.submit(a, L)
	w.until(t, 50, "the first post acknowledged", func() bool { return a.id == "" }, token)
	if got := Y.n.replication.Status().Term; got != term+1 {
		t.Fatalf("%s's replica at term %d, want %d (the schedule did not play)", Y.id, got, term+1)
	}
	if st := L.n.replication.Status(); st.Role != replica.Leader || st.Term != term {
		t.Errorf("%s's replica is %s of term %d after %s's refusal, its ring leads term %d", L.id, st.Role, st.Term, Y.id, term)
	}

	// 3. Y deaf: L and X keep a leader and commit.
	for _, sn := range w.nodes {
		if sn != Y {
			w.cuts[[2]string{sn.id, Y.id}] = cutAll
		}
	}
	w.logf("%s is deaf", Y.id)
	others := []*simNode{L, X}
	w.until(t, simDeafBound, "a leader among the others with "+Y.id+" deaf", func() bool { return w.leaderKnownTo(others) }, nil)
	b := w.clients[1]
	b.seq, b.id, b.text = 1, "u1-1", "posted while "+Y.id+" is deaf"
	w.chk.composed(b)
	w.submit(b, w.leader())
	w.until(t, simAckBound, "a post acknowledged with "+Y.id+" deaf", func() bool { return b.id == "" }, nil)
	clear(w.cuts)
	w.healPhase(true)
}
