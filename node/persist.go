package node

import (
	"fmt"
	"slices"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/replica"
	"github.com/syncnet/syncnet/ring"
)

// This file: the driver's writes to its WAL, without waiting for them.
//
// Each pass of the driver queues its records (one walWrite) and goes on
// stepping input while the group commit is written and fsynced; the
// write's completion comes back as an input, in queue order. What needs
// the disk waits for it, nothing else does:
//
//   - every message the pass would have sent after its fsync (the ring's
//     messages — votes, tokens that carry this node's log position — and
//     every replica ack or refusal) is held until the pass's own write
//     and every earlier one are durable (releaseHeld);
//   - the leader counts its own entries toward a commit only then
//     (replica.StableTo);
//   - appends to followers and applying committed entries wait for
//     nothing: an append claims nothing about our disk, and a committed
//     entry is on a majority's disks already.
//
// So a commit waits for the followers' fsyncs and, when the leader is
// needed for the majority, its own — never for a pass of the driver
// blocked in an fsync. A crash loses a suffix of the queued writes and
// with them only what nothing was told about (docs/ARCHITECTURE.md "The
// node driver").

// maxWritesInFlight bounds the writes queued and not yet completed: a
// slow disk then slows the driver down instead of growing the queue.
const maxWritesInFlight = 64

// walWrite is one pass's records on their way to the WAL.
type walWrite struct {
	seq  uint64 // this process's count of writes, from 1
	recs []eventlog.Event
	// marks are what is on disk once this write is (and every earlier one).
	marks durableMarks
	// last is the last replicated entry in recs (Index 0: none).
	last replica.Entry
	// Set on completion.
	first uint64 // WAL sequence number of recs[0]
	err   error
}

// durableMarks are the driver's records that matter to others once they
// are durable: the election's state, the replica's term and the commit
// index last recorded.
type durableMarks struct {
	election    ring.HardState
	replicaTerm uint64
	commit      uint64
}

// termDurable reports whether term's record is durable (recovery takes the
// larger of the two cores' terms).
func (m durableMarks) termDurable(term uint64) bool {
	return term <= max(m.replicaTerm, m.election.Term)
}

// walQueue takes the driver's writes in order. Production: the WAL's
// writer goroutine (AppendAsync), completions through durableC into the
// loop; the simulation: a queue its schedule completes, into the node's
// inbox.
type walQueue interface {
	submit(w *walWrite) error
	// wait blocks until the oldest write whose completion the driver has
	// not stepped is done and returns it; the driver steps it now
	// instead of as input.
	wait() *walWrite
}

// asyncWAL is the production walQueue.
type asyncWAL struct {
	log  *eventlog.Log
	done chan *walWrite // capacity maxWritesInFlight: the writer never blocks on it
}

func newAsyncWAL(log *eventlog.Log) *asyncWAL {
	return &asyncWAL{log: log, done: make(chan *walWrite, maxWritesInFlight)}
}

func (a *asyncWAL) submit(w *walWrite) error {
	return a.log.AppendAsync(w.recs, func(first, _ uint64, err error) {
		w.first, w.err = first, err
		a.done <- w
	})
}

func (a *asyncWAL) wait() *walWrite { return <-a.done }

// heldSends are a pass's messages that may leave only once write seq is
// durable.
type heldSends struct {
	seq  uint64
	ring []ring.Message
	repl []replica.Message
}

// queueWrite queues recs as the next write; last is the last entry among
// them (Index 0: none). It returns the write's number.
func (n *Node) queueWrite(recs []eventlog.Event, last replica.Entry) (uint64, error) {
	if n.writesQueued-n.writesDone >= n.writeBound() {
		panic(fmt.Sprintf("node %s: %d writes in flight (makeRoom not called)", n.id, n.writesQueued-n.writesDone))
	}
	w := &walWrite{seq: n.writesQueued + 1, recs: recs, last: last,
		marks: durableMarks{election: n.electionOnDisk, replicaTerm: n.replicaTermOnDisk, commit: n.commitRecorded}}
	if err := n.walq.submit(w); err != nil {
		// Nothing of it was queued: the log is poisoned or closed.
		return 0, fmt.Errorf("persist to WAL: %w", err)
	}
	n.writesQueued = w.seq
	return w.seq, nil
}

// makeRoom waits for completions while maxWritesInFlight writes are
// queued. Call it only between Readys (it advances the replica).
func (n *Node) makeRoom() {
	for n.writesQueued-n.writesDone >= n.writeBound() && n.walErr == nil {
		n.onDurable(n.walq.wait())
	}
	n.releaseHeld()
}

func (n *Node) writeBound() uint64 {
	if k := n.opts.writesInFlight; k > 0 && k < maxWritesInFlight {
		return uint64(k)
	}
	return maxWritesInFlight
}

// flushWrites waits until every queued write is done (shutdown). Call it
// only between Readys.
func (n *Node) flushWrites() error {
	for n.writesDone < n.writesQueued && n.walErr == nil {
		n.onDurable(n.walq.wait())
	}
	n.releaseHeld()
	return n.walErr
}

// onDurable steps the completion of write w: index its entries, move the
// durable marks, let the replica count its entries. What waited for it is
// sent by releaseHeld, once per batch of input.
func (n *Node) onDurable(w *walWrite) {
	if w.seq != n.writesDone+1 {
		panic(fmt.Sprintf("node %s: write %d completed after %d", n.id, w.seq, n.writesDone))
	}
	n.writesDone = w.seq
	if n.walErr != nil {
		return // the node is stopping; nothing more leaves
	}
	if w.err != nil {
		// The log is poisoned: nothing more can be acknowledged (I4).
		n.walErr = fmt.Errorf("persist to WAL: %w", w.err)
		return
	}
	n.indexRecords(w.first, w.recs)
	n.durable = w.marks
	if w.last.Index != 0 {
		n.replication.StableTo(w.last.Index, w.last.Term)
	}
	if e := w.marks.election; e.Leader == n.id && e.Term == n.ring.Term() {
		n.followRing() // this node's election is durable: the replica may lead
	}
}

// hold sends msgs once write seq is durable: at once if it is.
func (n *Node) hold(seq uint64, rm []ring.Message, pm []replica.Message) {
	if len(rm) == 0 && len(pm) == 0 {
		return
	}
	if seq <= n.writesDone && len(n.held) == 0 && n.walErr == nil {
		n.sendRing(rm)
		n.sendReplica(n.current(pm))
		return
	}
	n.held = append(n.held, heldSends{seq: seq, ring: rm, repl: pm})
}

// releaseHeld sends, in order, the held messages whose write is durable.
// An accepting ack followed by another to the same leader of the same term
// that claims as much or more is left out: acks are cumulative, and a
// batch of input often completes several writes of a follower at once.
func (n *Node) releaseHeld() {
	if n.walErr != nil {
		return // nothing more leaves (I4)
	}
	k := 0
	for k < len(n.held) && n.held[k].seq <= n.writesDone {
		k++
	}
	if k == 0 {
		return
	}
	var repl []replica.Message
	for _, h := range n.held[:k] {
		n.sendRing(h.ring)
		repl = append(repl, h.repl...)
	}
	clear(n.held[:k])
	n.held = n.held[k:]
	if len(n.held) == 0 {
		n.held = nil
	}
	n.sendReplica(n.current(supersededAcks(repl)))
}

// supersededAcks drops each accepting ack that a later accepting ack in
// msgs to the same peer, of the same term, covers.
func supersededAcks(msgs []replica.Message) []replica.Message {
	accept := func(m replica.Message) bool { return m.Type == replica.MsgAppResp && !m.Reject }
	last := map[string]int{} // peer -> position of its last accepting ack
	for i, m := range msgs {
		if accept(m) {
			last[m.To] = i
		}
	}
	covered := func(i int) bool {
		j, ok := last[msgs[i].To]
		return ok && accept(msgs[i]) && i != j && msgs[j].Term == msgs[i].Term && msgs[j].Index >= msgs[i].Index
	}
	var out []replica.Message // nil until the first message left out
	for i, m := range msgs {
		switch {
		case covered(i):
			if out == nil {
				out = append(make([]replica.Message, 0, len(msgs)), msgs[:i]...)
			}
		case out != nil:
			out = append(out, m)
		}
	}
	if out == nil {
		return msgs
	}
	return out
}

// current drops the acks and refusals of a term this node has left while
// they were held: once it moved to a term — by passing a ring token for it,
// or by a newer leader's append — nothing it sends may help a leader of an
// older term commit (the ring/replica contract, rule 2), just as the
// replica drops such messages still queued inside it.
func (n *Node) current(msgs []replica.Message) []replica.Message {
	term := max(n.ring.Term(), n.replication.Status().Term)
	stale := func(m replica.Message) bool { return m.Type == replica.MsgAppResp && m.Term < term }
	if slices.ContainsFunc(msgs, stale) {
		return slices.DeleteFunc(slices.Clone(msgs), stale)
	}
	return msgs
}
