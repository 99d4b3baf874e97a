package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/replica"
)

// proposal is one event a caller wants in the replicated log. It lives in
// the driver goroutine only; the caller waits on done.
//
// Life: proposed on the leader (or forwarded to it) → has (index, term) →
// when this node applies that index: the same term means it is committed,
// another term means it was lost to a leader change and is proposed again.
// A retry never duplicates anything: every proposal carries an (author,
// request id) in its header, node/state keeps the first entry of each for
// every kind, and the retry path checks it first (I5).
type proposal struct {
	ev       eventlog.Event
	user     string // exactly-once key: author
	msgID    string // exactly-once key: request id (set by the Backend for every kind)
	seen     uint64 // Lamport time the author had seen (I6)
	deadline time.Time
	done     chan result

	seq         uint64    // arrival order at this node, for deterministic retries
	index, term uint64    // where it was proposed; 0 while unplaced
	reqID       uint64    // forwarded: request id awaiting the leader's answer
	sentAt      time.Time // forwarded: when, to resend if the answer is lost
}

type result struct {
	index uint64
	err   error
}

// errMessageTooLarge is final: a retry would be refused again.
var errMessageTooLarge = fmt.Errorf("message too large: %w", replica.ErrEntryTooLarge)

// answer returns the result already sent to p, if any, without taking it
// from the caller (done holds one result).
func (p *proposal) answer() (result, bool) {
	select {
	case r := <-p.done:
		p.done <- r
		return r, true
	default:
		return result{}, false
	}
}

// retryForward is how long a follower waits for the leader's answer to a
// forwarded proposal before sending it again (same client id, so harmless).
const retryForward = 250 * time.Millisecond

// propose hands ev to the driver and waits until it is committed and applied
// on this node, so the caller can read its own write (data flow step 5).
func (n *Node) propose(ctx context.Context, ev eventlog.Event, user, msgID string, seen uint64) (uint64, error) {
	p, err := n.enqueue(ctx, ev, user, msgID, seen)
	if err != nil {
		return 0, err
	}
	return n.await(ctx, p)
}

// enqueue hands ev to the driver without waiting for it to commit. It
// blocks only while the driver's queue is full: the back-pressure a
// pipelining caller (a stream) feels when the leader is slow.
func (n *Node) enqueue(ctx context.Context, ev eventlog.Event, user, msgID string, seen uint64) (*proposal, error) {
	deadline := n.now().Add(n.cfg.Timing.PostTimeout.Duration)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ev.Origin = n.id
	p := &proposal{ev: ev, user: user, msgID: msgID, seen: seen, deadline: deadline, done: make(chan result, 1)}
	select {
	case n.proposeC <- p:
		return p, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.stopped:
		return nil, errors.New("node stopped")
	}
}

// await waits for the answer to an enqueued proposal.
func (n *Node) await(ctx context.Context, p *proposal) (uint64, error) {
	select {
	case r := <-p.done:
		return r.index, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-n.stopped:
		// Queued after the driver's last look at proposeC: never placed.
		select {
		case r := <-p.done:
			return r.index, r.err
		default:
			return 0, errors.New("node shutting down")
		}
	}
}

// handlePropose places a proposal: answered from state if it is a retry of
// something already applied, proposed here if we lead, else forwarded.
func (n *Node) handlePropose(p *proposal) {
	if p.seq == 0 {
		n.nextSeq++
		p.seq = n.nextSeq
	}
	if p.msgID != "" {
		if o, ok := n.state.Lookup(p.user, p.msgID); ok {
			p.done <- result{index: o.Index}
			return
		}
	}
	n.pending[p] = struct{}{}
	p.index, p.term, p.reqID = 0, 0, 0
	if n.replicaLeader == n.id {
		n.placeAsLeader(p)
		return
	}
	n.forwardToLeader(p)
}

// placeAsLeader stamps and proposes p. A proposal whose (author, client id)
// is already in flight joins that entry instead of adding a second one.
func (n *Node) placeAsLeader(p *proposal) {
	if p.msgID != "" {
		// Join an entry of this term only: an entry placed in an earlier term
		// may have been lost to a leader change, and joining it would tell
		// the caller an index where another entry committed
		// (TestRetryDoesNotJoinEntryOfEarlierTerm).
		if other := n.inflight[dedupKey{p.user, p.msgID}]; other != nil && other.index != 0 && other.term == n.replication.Status().Term {
			p.index, p.term = other.index, other.term
			n.waiters[p.index] = append(n.waiters[p.index], p)
			return
		}
	}
	if err := n.supportedByAll(requiredKind(p.ev)); err != nil { // a reply needs kinds 27-29
		n.finish(p, result{err: err})
		return
	}
	if b, ok := p.ev.Body.(*eventlog.MembershipChanged); ok {
		if err := n.planMembers(b); err != nil {
			n.finish(p, result{err: err}) // final; a forward reply carries it as text
			return
		}
	}
	// The author's allowance for the whole cluster: every post is placed
	// here. A retry joined above or answered from state is not charged.
	if limited(p.ev.Body) {
		if rl := n.posts.take(p.user, n.now(), n.botAllowance(p.user)); rl != nil {
			n.finish(p, result{err: rl}) // final; a forward reply carries it as text
			return
		}
	}
	ev := p.ev
	ev.Index, ev.Term = 0, 0
	ev.Lamport = n.nextLamport(max(p.seen, ev.Lamport))
	ev.Time = n.now().UnixNano()
	data, err := eventlog.AppendRecord(nil, eventlog.Hash{}, ev)
	if err != nil {
		n.finish(p, result{err: fmt.Errorf("encode: %w", err)})
		return
	}
	idx, term, err := n.replication.Propose(data)
	if err != nil {
		if errors.Is(err, replica.ErrEntryTooLarge) {
			n.finish(p, result{err: errMessageTooLarge})
		}
		return // not leader after all, or busy: the tick retries it
	}
	p.index, p.term = idx, term
	n.waiters[idx] = append(n.waiters[idx], p)
	if ev.Kind() == eventlog.KindMembershipChanged {
		n.proposedMembers(idx, term, ev)
	}
	if p.msgID != "" {
		n.inflight[dedupKey{p.user, p.msgID}] = p
	}
}

func (n *Node) forwardToLeader(p *proposal) {
	lead := n.replicaLeader
	if lead == "" {
		return // no leader yet: the tick retries
	}
	n.nextReqID++
	p.reqID, p.sentAt = n.nextReqID, n.now()
	n.fwdWait[p.reqID] = p
	ev := p.ev
	ev.Lamport = max(p.seen, ev.Lamport)
	data, err := eventlog.AppendRecord(nil, eventlog.Hash{}, ev)
	if err != nil {
		n.finish(p, result{err: fmt.Errorf("encode: %w", err)})
		return
	}
	n.peers.Send(lead, frameForward, encodeForward(forward{Boot: n.bootID, ReqID: p.reqID, Data: data, User: p.user, MsgID: p.msgID}))
}

// handleForward runs on the leader: propose a follower's event and tell it
// where the entry went. The follower learns of the commit by applying it.
func (n *Node) handleForward(from string, fw forward) {
	reply := forwardReply{Boot: fw.Boot, ReqID: fw.ReqID}
	rec, err := eventlog.DecodeRecord(fw.Data)
	switch {
	case err != nil:
		reply.Err = "bad event: " + err.Error()
	case n.replicaLeader != n.id:
		reply.Err = "not leader"
	default:
		if o, ok := n.state.Lookup(fw.User, fw.MsgID); ok && fw.MsgID != "" {
			reply.Index, reply.Term = o.Index, 0 // already applied: the follower has or will have it
			break
		}
		p := &proposal{ev: rec.Event, user: fw.User, msgID: fw.MsgID, seen: rec.Event.Lamport,
			deadline: n.now().Add(time.Second), done: make(chan result, 1)}
		n.placeAsLeader(p)
		if r, ok := p.answer(); ok && r.err != nil {
			reply.Err = r.err.Error() // final: the follower gives up too
			reply.Final = true
			break
		}
		if p.index == 0 {
			reply.Err = "busy"
			break
		}
		reply.Index, reply.Term = p.index, p.term
	}
	n.peers.Send(from, frameForwardR, encodeForwardReply(reply))
}

func (n *Node) handleForwardReply(r forwardReply) {
	p := n.fwdWait[r.ReqID]
	// A reply to an earlier incarnation of this node is about another post:
	// request ids start again at 1 after a restart
	// (TestForwardReplyAcrossRestart).
	if p == nil || r.Boot != n.bootID {
		return // answered before, or given up
	}
	delete(n.fwdWait, r.ReqID)
	if r.Final {
		err := errors.New(r.Err)
		if r.Err == errMessageTooLarge.Error() {
			err = errMessageTooLarge
		}
		if rl, ok := api.ParseRateLimited(r.Err); ok {
			err = rl // the leader's refusal, with its wait
		}
		n.finish(p, result{err: err})
		return
	}
	if r.Err != "" || r.Index == 0 {
		p.reqID = 0 // the tick retries
		return
	}
	if r.Term == 0 { // the leader had already applied it
		if o, ok := n.state.Lookup(p.user, p.msgID); ok {
			n.finish(p, result{index: o.Index})
			return
		}
		// Not applied here yet: wait for our apply to catch up and retry then.
		p.reqID = 0
		return
	}
	p.index, p.term = r.Index, r.Term
	if r.Index <= n.applied.Load() {
		// Already applied here: it is ours only if the entry there has the
		// term the leader placed it in.
		if t, ok := n.replication.Term(r.Index); ok && t == r.Term {
			n.resolveApplied(p)
		} else {
			n.requeue(p)
		}
		return
	}
	n.waiters[r.Index] = append(n.waiters[r.Index], p)
}

// onApplied settles every proposal waiting on index, whose entry had term.
func (n *Node) onApplied(index, term uint64) {
	ws := n.waiters[index]
	delete(n.waiters, index)
	for _, p := range ws {
		if p.index != index {
			continue // re-placed elsewhere since: this entry is stale
		}
		if p.msgID != "" {
			if n.inflight[dedupKey{p.user, p.msgID}] == p {
				delete(n.inflight, dedupKey{p.user, p.msgID})
			}
		}
		if p.term == term {
			n.resolveApplied(p)
			continue
		}
		n.requeue(p) // lost to a leader change: propose again
	}
}

// resolveApplied answers a proposal whose entry is applied: with the index of
// the first entry of its (author, client id), which may be an earlier one.
func (n *Node) resolveApplied(p *proposal) {
	idx := p.index
	if p.msgID != "" {
		if o, ok := n.state.Lookup(p.user, p.msgID); ok {
			idx = o.Index
		}
	}
	n.finish(p, result{index: idx})
}

func (n *Node) requeue(p *proposal) {
	p.index, p.term, p.reqID = 0, 0, 0
}

func (n *Node) finish(p *proposal, r result) {
	delete(n.pending, p)
	if p.reqID != 0 {
		delete(n.fwdWait, p.reqID)
	}
	if k := (dedupKey{p.user, p.msgID}); p.msgID != "" && n.inflight[k] == p {
		delete(n.inflight, k) // an expired or failed proposal joins nothing later
	}
	select {
	case p.done <- r:
	default:
	}
}

// expireWaiters runs every tick: it fails proposals past their deadline and
// (re)places those that lost their place or their forwarded answer. It
// works in proposal order, so a simulation replays exactly.
func (n *Node) expireWaiters() {
	now := n.now()
	var expired, retry []*proposal
	for p := range n.pending {
		switch {
		case now.After(p.deadline):
			expired = append(expired, p)
		case p.index == 0 && (p.reqID == 0 || now.Sub(p.sentAt) > retryForward):
			retry = append(retry, p)
		}
	}
	bySeq := func(a, b *proposal) int { return cmp.Compare(a.seq, b.seq) }
	slices.SortFunc(expired, bySeq)
	slices.SortFunc(retry, bySeq)
	for _, p := range expired {
		n.dropWaiter(p)
		n.finish(p, result{err: n.noQuorumError()})
	}
	for _, p := range retry {
		if p.reqID != 0 {
			delete(n.fwdWait, p.reqID)
		}
		delete(n.pending, p)
		n.handlePropose(p)
	}
}

func (n *Node) dropWaiter(p *proposal) {
	if p.index == 0 {
		return
	}
	ws := n.waiters[p.index]
	for i, w := range ws {
		if w == p {
			n.waiters[p.index] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
}

func (n *Node) noQuorumError() error {
	lead := n.replicaLeader
	if lead == "" {
		return fmt.Errorf("%w: no leader elected within %s", api.ErrNoQuorum, n.cfg.Timing.PostTimeout)
	}
	return fmt.Errorf("%w: leader %s could not commit within %s", api.ErrNoQuorum, lead, n.cfg.Timing.PostTimeout)
}

// shutdown runs as the driver stops: it records the commit index (so the
// stopped node's WAL shows every entry it knew committed) and answers every
// proposal, placed or still queued, with an error.
func (n *Node) shutdown() {
	if !n.replication.HasReady() {
		if c := n.replication.Status().Commit; c > n.commitRecorded {
			if err := n.recordCommit(c); err != nil {
				n.log.Warn("record commit index at shutdown", "err", err)
			}
		}
	}
	if err := n.flushWrites(); err != nil {
		n.log.Warn("finish the WAL writes at shutdown", "err", err)
	}
	err := errors.New("node shutting down")
	for p := range n.pending {
		n.finish(p, result{err: err})
	}
	for {
		select {
		case p := <-n.proposeC:
			n.finish(p, result{err: err})
		default:
			return
		}
	}
}

// dedupKey names a post for exactly-once handling: (author, client id).
type dedupKey struct{ user, id string }
