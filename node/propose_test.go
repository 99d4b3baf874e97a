package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/peer"
	"github.com/syncnet/syncnet/node/state"
)

// steadyWorld is a three-node simulated cluster with a perfect network and
// a leader known to all.
func steadyWorld(t *testing.T) *simWorld {
	t.Helper()
	w, err := newSimWorld(7, simOpts{nodes: 3, clients: 1, msgsPerCli: 1, maxBatch: 8}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.closeAll)
	w.settle()
	w.until(t, 300, "a leader known to all", w.leaderKnownToAll, nil)
	return w
}

// proposalFor builds a post proposal the way Post does.
func proposalFor(n *Node, id, text string) *proposal {
	ev := requestEvent(&eventlog.MessagePosted{Room: state.GeneralRoom, From: "u", Text: text, ClientMsgID: id}, "u", id)
	ev.Origin = n.id
	return &proposal{ev: ev, user: "u", msgID: id,
		deadline: n.now().Add(n.cfg.Timing.PostTimeout.Duration), done: make(chan result, 1)}
}

func (w *simWorld) follower() *simNode {
	for _, sn := range w.nodes {
		if sn.n != nil && sn.n.ring.Leader() != sn.id {
			return sn
		}
	}
	return nil
}

// A post too large for the log, forwarded by a follower, is answered as too
// large at once — not retried until the deadline and reported as "no quorum"
// (the leader used to answer "busy").
func TestForwardedTooLargeIsFinal(t *testing.T) {
	w := steadyWorld(t)
	f := w.follower()
	p := proposalFor(f.n, "big-1", strings.Repeat("x", 70<<10))
	f.inbox = append(f.inbox, proposalInput(p))
	for i := 0; i < 20; i++ {
		if r, ok := p.answer(); ok {
			if !errors.Is(r.err, errMessageTooLarge) {
				t.Fatalf("answer %v, want %v", r.err, errMessageTooLarge)
			}
			return
		}
		w.quietTick(nil)
	}
	t.Fatal("no answer within 20 ticks of a healthy cluster")
}

// A proposal that expires on the leader leaves nothing behind for a later
// retry of the same id to join.
func TestExpiredProposalLeavesNoInflight(t *testing.T) {
	w := steadyWorld(t)
	l := w.leader()
	for _, o := range w.nodes {
		if o != l {
			w.cuts[[2]string{l.id, o.id}] = cutAll // no commit is possible
		}
	}
	p := proposalFor(l.n, "exp-1", "will expire")
	p.deadline = l.n.now().Add(100 * time.Millisecond)
	l.inbox = append(l.inbox, proposalInput(p))
	for i := 0; i < 30; i++ {
		if _, ok := p.answer(); ok {
			break
		}
		w.step++
		w.tick()
		w.runNode(l, len(l.inbox))
	}
	if r, ok := p.answer(); !ok || r.err == nil {
		t.Fatalf("the proposal did not expire: %+v %v", r, ok)
	}
	if got := l.n.inflight[dedupKey{"u", "exp-1"}]; got != nil {
		t.Fatalf("expired proposal still in flight at index %d", got.index)
	}
}

// Proposals queued when the driver stops are answered, and a caller that
// queues after the driver's last look gets an error instead of waiting.
func TestShutdownAnswersQueuedProposals(t *testing.T) {
	w := steadyWorld(t)
	n := w.follower().n
	var queued []*proposal
	for _, id := range []string{"q-1", "q-2", "q-3"} {
		p := proposalFor(n, id, "queued")
		n.proposeC <- p
		queued = append(queued, p)
	}
	n.shutdown()
	for _, p := range queued {
		if r, ok := p.answer(); !ok || r.err == nil {
			t.Fatalf("%s not answered with an error at shutdown: %+v %v", p.msgID, r, ok)
		}
	}
	close(n.stopped)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := n.propose(ctx, requestEvent(&eventlog.MessagePosted{Room: state.GeneralRoom, From: "u", Text: "late"}, "u", "late-1"), "u", "late-1", 0); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("propose after stop: %v, want a shutdown error at once", err)
	}
	n.stopped = make(chan struct{}) // closeAll's WAL close does not care
}

// A restarted node has re-applied every entry its WAL recorded as committed
// before it starts (recovery applies them), so it reports caught up at once
// and its history holds what it acknowledged (Run serves SSH only then).
func TestCaughtUpAfterRestart(t *testing.T) {
	w := steadyWorld(t)
	c := w.clients[0]
	c.seq, c.id, c.text = 1, "cu-1", "before the restart"
	w.submit(c, w.leader())
	w.until(t, 200, "the post acked", func() bool { return c.id == "" }, nil)
	w.until(t, 50, "a commit record on every node", func() bool {
		for _, sn := range w.nodes {
			if sn.n.commitRecorded < sn.n.replication.Status().Commit || sn.n.replication.Status().Commit < 2 {
				return false
			}
		}
		return true
	}, nil)
	f := w.follower()
	recorded := f.n.commitRecorded
	w.crash(f)
	if err := w.start(f); err != nil {
		t.Fatal(err)
	}
	n := f.n
	select {
	case <-n.caughtUp:
	default:
		t.Fatalf("not caught up after recovery (applied %d, commit recorded %d)", n.applied.Load(), recorded)
	}
	if n.applied.Load() < recorded {
		t.Fatalf("recovery applied up to %d, the WAL recorded commit %d", n.applied.Load(), recorded)
	}
	h, err := n.History("general", 0, 10)
	if err != nil || len(h) != 1 || h[0].Text != "before the restart" {
		t.Fatalf("history after restart = %+v, %v", h, err)
	}
}

// A forward reply meant for an earlier incarnation of a follower is about
// another post: request ids start again at 1 after a restart. It must not
// answer the new incarnation's proposal with the same request id.
func TestForwardReplyAcrossRestart(t *testing.T) {
	w := steadyWorld(t)
	f := w.follower()
	oldBoot := f.n.bootID
	w.crash(f)
	if err := w.start(f); err != nil {
		t.Fatal(err)
	}
	w.until(t, 100, "the restarted node follows the leader", func() bool { return f.n.replicaLeader != "" }, nil)
	p := proposalFor(f.n, "new-1", "the new incarnation's post")
	f.n.handlePropose(p)
	if p.reqID != 1 {
		t.Fatalf("request id %d, want 1 (ids restart with the process)", p.reqID)
	}
	stale := encodeForwardReply(forwardReply{Boot: oldBoot, ReqID: 1, Index: 1, Term: 1})
	if err := f.n.process([]input{frameInput(peer.Frame{From: f.n.replicaLeader, Type: frameForwardR, Payload: stale})}); err != nil {
		t.Fatal(err)
	}
	if r, ok := p.answer(); ok {
		t.Fatalf("answered by a reply to the previous incarnation: %+v", r)
	}
	if f.n.fwdWait[1] != p {
		t.Fatal("the stale reply took the new forward out of the waiting set")
	}
}

// A leader joins a retry to an in-flight entry only if that entry is of
// its current term: one placed in an earlier term may have been replaced by
// another entry after a leader change, and joining it would acknowledge an
// index holding something else.
func TestRetryDoesNotJoinEntryOfEarlierTerm(t *testing.T) {
	w := steadyWorld(t)
	l := w.leader()
	term := l.n.replication.Status().Term
	stale := proposalFor(l.n, "x-1", "placed in an earlier term")
	stale.index, stale.term = 1, term-1 // index 1 holds the leader's no-op
	l.n.inflight[dedupKey{"u", "x-1"}] = stale
	retry := proposalFor(l.n, "x-1", "placed in an earlier term")
	l.n.handlePropose(retry)
	if retry.index == stale.index {
		t.Fatalf("the retry joined the stale entry %d of term %d (leader in term %d)", stale.index, stale.term, term)
	}
	if retry.index == 0 || retry.term != term {
		t.Fatalf("the retry was not placed in the current term: index %d term %d", retry.index, retry.term)
	}
}
