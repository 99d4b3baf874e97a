package node

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/replica"
	"github.com/syncnet/syncnet/ring"
)

// maxReadyRounds bounds how many Ready rounds one driver wake-up handles, so
// ticks and socket input keep flowing while a long catch-up applies.
const maxReadyRounds = 8

// commitRecordEvery spaces CommittedUpTo records: commit is re-learned from
// the leader anyway, the record only saves re-work after a restart.
const commitRecordEvery = 100 * time.Millisecond

// handleReady drains both cores in the order every Ready demands: send
// what needs no disk, apply, queue the records (one WAL write, one fsync,
// not waited for), hold what needs them durable, accept.
func (n *Node) handleReady() error {
	for round := 0; round < maxReadyRounds && (n.ring.HasReady() || n.replication.HasReady()); round++ {
		if n.walErr != nil {
			return n.walErr
		}
		n.makeRoom()
		var ringReady ring.Ready
		var replReady replica.Ready
		hasRing, hasRep := n.ring.HasReady(), n.replication.HasReady()
		if hasRing {
			ringReady = n.ring.Ready()
		}
		if hasRep {
			replReady = n.replication.Ready()
		}
		// A term is durable once either core's record of it is on disk
		// (recovery takes the largest): the marks of the last completed
		// write, not of the records queued below.
		termDurable := replReady.HardState == nil || n.durable.termDurable(replReady.HardState.Term)
		recs := n.ringRecords(ringReady)
		recs = append(recs, n.replicaRecords(replReady)...)
		// Appends may leave before our own write is durable (Raft
		// §10.2.1): they claim nothing about our disk, since a leader
		// counts its own copy only after StableTo. Acks claim durable
		// entries and wait. Committed entries are on a majority's disks
		// already, so they are applied now too.
		early, late := splitMessages(replReady.Messages, termDurable)
		n.sendReplica(early)
		n.applyCommitted(replReady.CommittedEntries)
		// What waits for the disk waits for this pass's write, or, when
		// the pass wrote nothing, for every write queued so far (an ack
		// may claim entries an earlier pass queued).
		seq := n.writesQueued
		if len(recs) > 0 {
			var last replica.Entry
			if k := len(replReady.Entries); k > 0 {
				last = replReady.Entries[k-1]
			}
			var err error
			if seq, err = n.queueWrite(recs, last); err != nil {
				return err
			}
		}
		n.hold(seq, ringReady.Messages, late)
		n.applyRing(ringReady)
		if hasRing {
			n.ring.Advance(ringReady)
		}
		if hasRep {
			n.replication.Accept(replReady)
			if replReady.SoftState != nil {
				n.replicaLeader = replReady.SoftState.Lead
			}
		}
		n.followRing()
		n.publishView()
	}
	if n.walErr != nil {
		return n.walErr
	}
	return n.recordCommitIfIdle()
}

// indexRecords tells the entry index where the records just appended at
// WAL positions first... put each entry, and which entries a discard voided.
func (n *Node) indexRecords(first uint64, recs []eventlog.Event) {
	for i, ev := range recs {
		switch b := ev.Body.(type) {
		case *eventlog.SuffixDiscarded:
			n.index.Discard(b.FromIndex)
		default:
			if ev.Index != 0 {
				n.index.wrote(ev.Index, first+uint64(i))
			}
		}
	}
}

// recordCommitIfIdle writes the commit index when it moved since the last
// CommittedUpTo record and no Ready has carried it for commitRecordEvery: an
// idle node's WAL then shows every entry it knows to be committed, so an
// offline audit of a stopped node sees every acknowledged message.
func (n *Node) recordCommitIfIdle() error {
	if n.replication.HasReady() {
		return nil // the next Ready carries it, with the entries it covers
	}
	c := n.replication.Status().Commit
	if c <= n.commitRecorded || n.now().Sub(n.commitRecordAt) < commitRecordEvery {
		return nil
	}
	return n.recordCommit(c)
}

// recordCommit queues a CommittedUpTo record for commit c on its own. Every
// entry up to c is queued before it (the replica has no Ready pending).
func (n *Node) recordCommit(c uint64) error {
	n.makeRoom()
	if n.walErr != nil {
		return n.walErr
	}
	now := n.now()
	ev := eventlog.Event{Header: eventlog.Header{Origin: n.id, Time: now.UnixNano(), Term: n.replicaTermOnDisk},
		Body: &eventlog.CommittedUpTo{Index: c}}
	n.commitRecorded, n.commitRecordAt = c, now
	_, err := n.queueWrite([]eventlog.Event{ev}, replica.Entry{})
	return err
}

// followRing makes the replica follow the election's outcome: the ring
// decides who leads which term (I1); the replica only sequences.
//
// The replica leads term T only once the ring's record that this node leads
// T (LeaderElected) is durable — not when it is queued: its appends leave
// before its own writes are durable, and what keeps a node from leading T a
// second time after a crash, with a different entry at an index it already
// sent in T (I2), is that record, read back at restart (ring.New: ledTerm).
// Lost in a crash while appends of T were out, the restarted node would hear
// a follower name it leader of T and lead T again from its durable log
// (simulation seed 7228, TestScheduleLeaderCrashBeforeItsElectionIsDurable).
// onDurable calls this again when the write that holds the record completes.
func (n *Node) followRing() {
	term, lead := n.ring.Term(), n.ring.Leader()
	st := n.replication.Status()
	switch {
	case lead == n.id && n.ring.Role() == ring.RoleLeader:
		if st.Role != replica.Leader || st.Term != term {
			if e := n.durable.election; e.Term != term || e.Leader != n.id {
				return // not yet durable: onDurable comes back
			}
			if err := n.replication.BecomeLeader(term); err != nil {
				n.log.Warn("cannot lead", "term", term, "err", err)
				return
			}
			// The clock already observed every entry in the log (persist and
			// recovery), so new entries stamp above all of them (I6).
			n.log.Info("leading", "term", term)
		}
	case term > st.Term || (term == st.Term && lead != st.Lead && st.Role != replica.Leader):
		if err := n.replication.BecomeFollower(term, lead); err != nil {
			n.log.Debug("follow", "term", term, "err", err)
		}
	case st.Role == replica.Leader && (lead != n.id || term != st.Term):
		// The ring stepped us down (lost quorum) in the same term.
		if err := n.replication.BecomeFollower(max(term, st.Term), lead); err != nil {
			n.log.Debug("step down", "err", err)
		}
	}
}

// ringRecords turns the election's hard state and the failure detector's
// transitions into local WAL records. Terms and votes must be durable before
// the messages that depend on them are sent (I1).
func (n *Node) ringRecords(rd ring.Ready) []eventlog.Event {
	var out []eventlog.Event
	now := n.now().UnixNano()
	h := eventlog.Header{Origin: n.id, Time: now}
	if hs := rd.HardState; hs != nil {
		h.Term = hs.Term
		prev := n.electionOnDisk
		if hs.Term != prev.Term {
			out = append(out, eventlog.Event{Header: h, Body: &eventlog.TermStarted{Term: hs.Term, Candidate: hs.Vote}})
		}
		if hs.Vote != "" && (hs.Vote != prev.Vote || hs.Term != prev.Term) {
			out = append(out, eventlog.Event{Header: h, Body: &eventlog.VoteCast{Term: hs.Term, Candidate: hs.Vote}})
		}
		if hs.Leader != "" && (hs.Leader != prev.Leader || hs.Term != prev.Term) {
			out = append(out, eventlog.Event{Header: h, Body: &eventlog.LeaderElected{Term: hs.Term, Leader: hs.Leader}})
		}
		// What recovery will read: a vote or a leader recorded in this
		// term is never taken back by a later record of the same term.
		on := *hs
		if on.Term == prev.Term {
			on.Vote = cmp.Or(on.Vote, prev.Vote)
			on.Leader = cmp.Or(on.Leader, prev.Leader)
		}
		n.electionOnDisk = on
	}
	for _, c := range rd.MemberChanges {
		var b eventlog.Body
		switch c.To {
		case ring.MemberSuspected:
			b = &eventlog.NodeSuspected{NodeEvent: eventlog.NodeEvent{Node: c.ID}}
		case ring.MemberDead:
			b = &eventlog.NodeLeft{NodeEvent: eventlog.NodeEvent{Node: c.ID}}
		case ring.MemberAlive:
			b = &eventlog.NodeRecovered{NodeEvent: eventlog.NodeEvent{Node: c.ID}}
		}
		if b != nil {
			out = append(out, eventlog.Event{Header: h, Body: b})
		}
	}
	return out
}

// replicaRecords turns the replica's Ready into WAL records: its term, a
// discard record (never a rewrite, the log is append-only), the entries
// with their cluster index and term, and now and then the commit index.
func (n *Node) replicaRecords(rd replica.Ready) []eventlog.Event {
	var out []eventlog.Event
	now := n.now()
	h := eventlog.Header{Origin: n.id, Time: now.UnixNano(), Term: n.replicaTermOnDisk}
	if hs := rd.HardState; hs != nil {
		h.Term = hs.Term
		if hs.Term > n.replicaTermOnDisk {
			n.replicaTermOnDisk = hs.Term
			out = append(out, eventlog.Event{Header: h, Body: &eventlog.TermStarted{Term: hs.Term}})
		}
	}
	if d := rd.Discard; d != nil {
		for i := range n.decoded {
			if i >= d.FromIndex {
				delete(n.decoded, i)
			}
		}
		out = append(out, eventlog.Event{Header: h, Body: &eventlog.SuffixDiscarded{FromIndex: d.FromIndex, Term: d.Term}})
	}
	for _, e := range rd.Entries {
		ev, err := n.decodeEntry(e)
		if err != nil {
			// Our own proposals are encoded here, and a peer's entries were
			// decoded by checkEntries before the replica saw them: an
			// undecodable one here is a bug in this node, never peer input.
			panic(fmt.Sprintf("node %s: undecodable entry %d/%d from the replicated log: %v", n.id, e.Index, e.Term, err))
		}
		// Every entry a node receives or proposes passes here before it is
		// applied or acknowledged: the Lamport clock merges it (I6).
		n.observeLamport(ev.Lamport)
		n.decoded[e.Index] = ev
		if e.Data != nil {
			// Written as the bytes that arrived (or were proposed), spliced
			// with the index and term, not encoded again.
			ev = eventlog.WithEntryRecord(ev, e.Data)
		}
		out = append(out, ev)
	}
	if hs := rd.HardState; hs != nil && hs.Commit > n.commitRecorded && now.Sub(n.commitRecordAt) >= commitRecordEvery {
		out = append(out, eventlog.Event{Header: h, Body: &eventlog.CommittedUpTo{Index: hs.Commit}})
		n.commitRecorded, n.commitRecordAt = hs.Commit, now
	}
	return out
}

// splitMessages sorts a Ready's messages into those that may be sent before
// its records are durable (appends and snapshots of a durable term) and those
// that must wait (every ack or refusal).
func splitMessages(msgs []replica.Message, termDurable bool) (early, late []replica.Message) {
	for _, m := range msgs {
		if termDurable && (m.Type == replica.MsgApp || m.Type == replica.MsgSnap) {
			early = append(early, m)
		} else {
			late = append(late, m)
		}
	}
	return early, late
}

// receivedEntry is an entry a peer sent, decoded on arrival.
type receivedEntry struct {
	ev   eventlog.Event
	data []byte
}

// decodeEntry decodes an entry the replica is about to persist, reusing the
// decoding done on arrival when it is of these very bytes (a refused message
// in the same batch may have carried other bytes at the same index).
func (n *Node) decodeEntry(e replica.Entry) (eventlog.Event, error) {
	if r, ok := n.received[e.Index]; ok && r.ev.Term == e.Term && bytes.Equal(r.data, e.Data) {
		return r.ev, nil
	}
	return entryEvent(e)
}

// entryEvent decodes a replicated entry into the event stored in the WAL,
// stamped with its cluster index and term.
func entryEvent(e replica.Entry) (eventlog.Event, error) {
	if e.Type == replica.EntryNoop {
		return eventlog.Event{Header: eventlog.Header{Index: e.Index, Term: e.Term}, Body: &eventlog.NoOp{}}, nil
	}
	rec, err := eventlog.DecodeRecord(e.Data)
	if err != nil {
		return eventlog.Event{}, err
	}
	ev := rec.Event
	ev.Index, ev.Term = e.Index, e.Term
	return ev, nil
}

func (n *Node) sendRing(msgs []ring.Message) {
	for _, m := range msgs {
		if err := n.ringNet.Send(m.To, m); err != nil {
			n.log.Debug("ring send", "msg", m.Describe(), "err", err)
		}
	}
}

func (n *Node) sendReplica(msgs []replica.Message) {
	for _, m := range msgs {
		if m.Type == replica.MsgAppResp && m.Term < n.ring.Term() {
			// The ring/replica contract (ring/doc.go): once this node has
			// moved to a term, by passing a token for it or otherwise, no
			// ack to a leader of an older term may leave it (I3).
			panic(fmt.Sprintf("node %s: ack of term %d leaving at ring term %d (I3 contract broken): %s",
				n.id, m.Term, n.ring.Term(), m.Describe()))
		}
		if m.Type == replica.MsgSnapshotNeeded {
			// This node never compacts its log (the whole history is the
			// product), so a follower can always be caught up from entries.
			n.log.Error("replica asked for a snapshot, which this build never needs", "msg", m.Describe())
			continue
		}
		n.peers.Send(m.To, frameReplica, encodeReplica(m))
	}
}

func (n *Node) applyRing(rd ring.Ready) {
	if s := rd.SoftState; s != nil {
		// The subject is the elected node; the logging node's own part
		// is its role.
		if s.Leader != "" {
			n.log.Info(fmt.Sprintf("election: %s leads term %d", s.Leader, s.Term), "elected", s.Leader, "term", s.Term,
				"this_node", s.Role.String(), "reason", s.Reason)
		} else {
			n.log.Info(fmt.Sprintf("election: term %d has no leader yet", s.Term), "term", s.Term,
				"this_node", s.Role.String(), "reason", s.Reason)
		}
	}
	for _, c := range rd.MemberChanges {
		n.log.Info("member", "id", c.ID, "from", c.From.String(), "to", c.To.String())
	}
}

// applyCommitted folds committed entries into the plugins in index order,
// fans their events out, and answers the proposals waiting on them.
func (n *Node) applyCommitted(ents []replica.Entry) {
	for _, e := range ents {
		ev, ok := n.decoded[e.Index]
		if ok && ev.Term == e.Term {
			delete(n.decoded, e.Index)
		} else {
			var err error
			if ev, err = entryEvent(e); err != nil {
				panic(fmt.Sprintf("node %s: undecodable committed entry %d/%d: %v", n.id, e.Index, e.Term, err))
			}
		}
		n.hash.add(e)
		n.subscribers.publish(n.state.Apply(e.Index, ev))
		n.noteMembersApplied(e.Index, e.Term, ev)
		n.applied.Store(e.Index)
		n.appliedTerm = e.Term
		n.onApplied(e.Index, e.Term)
	}
}

func (n *Node) publishView() {
	st := n.replication.Status()
	rs := n.ring.Status()
	down := downMembers(rs.Members)
	n.mu.Lock()
	downChanged := !maps.Equal(down, n.view.down)
	n.view = view{
		term: rs.Term, leader: rs.Leader, commit: st.Commit, members: rs.Members, quorum: n.quorum(rs), down: down,
	}
	n.mu.Unlock()
	if downChanged {
		// Presence shown (Members) depends on who is down: tell the front
		// ends to read it again. An observed event, not a committed one.
		n.subscribers.publish([]api.Event{{Kind: api.EventPresence}})
	}
	n.ring.SetLocalStatus(ring.StatusInfo{
		BootID: n.bootID, CommitIndex: st.Commit,
		UptimeMillis: uint64(n.now().Sub(n.start).Milliseconds()),
		Clients:      uint32(n.clientsNow()), Messages: n.state.Chat.Count(),
		HashIndex: n.hash.checkpoint, LogHash: n.hash.atCheck,
		MaxKind: uint16(maxKind),
	})
}

// heardAlive is the one rule for a member being online as this node sees
// it: itself, or heard since it started and not silent for failure_timeout
// (the detector's Alive). Status's Online, the members down, the quorum,
// Stats and so /readyz and the metrics all read it, from one published view.
func heardAlive(m ring.MemberStatus) bool {
	return m.Self || (m.Heard && m.State == ring.MemberAlive)
}

// hearsMajority reports whether more than half of the members are
// heardAlive.
func hearsMajority(ms []ring.MemberStatus) bool {
	online := 0
	for _, m := range ms {
		if heardAlive(m) {
			online++
		}
	}
	return online > len(ms)/2
}

// downMembers are the members not heard as alive: silent for
// failure_timeout (suspected) or longer. Status shows them offline, and the
// presence their sessions reported is not shown (Node.Members).
func downMembers(ms []ring.MemberStatus) map[string]bool {
	var down map[string]bool
	for _, m := range ms {
		if !heardAlive(m) {
			if down == nil {
				down = map[string]bool{}
			}
			down[m.ID] = true
		}
	}
	return down
}

// quorum reports whether posts can commit as this node sees it: it hears a
// majority as alive and knows a leader.
func (n *Node) quorum(rs ring.Status) bool {
	return hearsMajority(rs.Members) && rs.Leader != ""
}

func (n *Node) clientsNow() int {
	if f := n.clientCount.Load(); f != nil {
		return (*f)()
	}
	return 0
}
