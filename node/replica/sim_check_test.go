package replica

// Invariant checks of the simulation, run after every step (and on every
// Ready, election and apply). Each failure names the invariant.

// checkReady: Ready.Entries are contiguous and fit the log (I2 by registry:
// an entry (index, term) always has the same payload and the same
// predecessor term, which by induction makes equal (index, term) imply
// equal prefixes).
func (s *sim) checkReady(n *simNode, rd Ready) {
	for i, e := range rd.Entries {
		if i > 0 && e.Index != rd.Entries[i-1].Index+1 {
			s.fail("%s Ready.Entries not contiguous at %d", n.id, e.Index)
		}
		prev, ok := n.r.log.term(e.Index - 1)
		if !ok {
			s.fail("%s entry %d without predecessor in log", n.id, e.Index)
		}
		k := [2]uint64{e.Index, e.Term}
		got := regRec{key: entryKey(e), prevTerm: prev}
		if want, ok := s.registry[k]; ok && want != got {
			s.fail("I2: entry %d/%d on %s is %q after term %d; elsewhere %q after term %d",
				e.Index, e.Term, n.id, got.key, got.prevTerm, want.key, want.prevTerm)
		}
		s.registry[k] = got
	}
	if rd.Discard != nil && rd.Discard.FromIndex <= n.sm.applied {
		s.fail("%s discards from %d but applied %d", n.id, rd.Discard.FromIndex, n.sm.applied)
	}
}

// checkCommitted: every node sees the same entry at a committed index.
// commitTerm (0 = unknown) is the term of the leader that committed it.
func (s *sim) checkCommitted(id string, e Entry, commitTerm uint64) {
	for uint64(len(s.committed)) <= e.Index {
		s.committed = append(s.committed, commitRec{})
	}
	c := &s.committed[e.Index]
	if !c.ok {
		*c = commitRec{term: e.Term, key: entryKey(e), commitTerm: commitTerm, ok: true}
		return
	}
	if c.term != e.Term || c.key != entryKey(e) {
		s.fail("committed prefixes differ: %s has %d/%d %q, committed was %d/%d %q",
			id, e.Index, e.Term, entryKey(e), e.Index, c.term, c.key)
	}
	if commitTerm != 0 && (c.commitTerm == 0 || commitTerm < c.commitTerm) {
		c.commitTerm = commitTerm
	}
}

// recordLeaderCommits notes what each live leader has committed, and
// checks it against leaders of later terms (I3).
func (s *sim) recordLeaderCommits() {
	for _, n := range s.nodes {
		if !n.up || n.r.role != Leader {
			continue
		}
		from := max(n.recorded+1, n.r.log.firstIndex())
		for i := from; i <= n.r.log.committed; i++ {
			e := n.r.log.entry(i)
			s.checkCommitted(n.id, e, n.r.term)
			s.checkDurableMajority(e)
			for _, l := range s.nodes {
				if l.up && l.r.role == Leader && l.r.term > n.r.term {
					s.checkHas(l, i)
				}
			}
		}
		n.recorded = n.r.log.committed
	}
}

// checkDurableMajority: a committed entry is on the disk of a majority at
// the moment its leader commits it (I4). A member that lost its data and is
// not promoted yet counts by the disk it lost: a leader that has not heard
// from it since may count the acks that disk backed (it cannot know of the
// loss), and that is safe because a learner neither votes nor is counted
// again before it holds every committed entry (maybePromote). Its acks as
// a learner back nothing: an entry only it holds since its loss fails here.
func (s *sim) checkDurableMajority(e Entry) {
	n := 0
	for _, m := range s.nodes {
		if m.disk.durable(e.Index, e.Term) || m.lostHeld(e.Index, e.Term, true) {
			n++
		}
	}
	if n < s.quorum() {
		s.fail("I4: entry %d/%d committed but durable on only %d nodes", e.Index, e.Term, n)
	}
}

// checkMatches: a leader's match for a follower still in its term is true
// of the follower's durable log (an ack never outruns the follower's disk
// nor claims entries it does not have). For a follower that lost its data
// and is not promoted yet, it may instead be true of the disk it lost: the
// leader learns of the loss only from the follower's first refusal (a disk
// it lost as a learner backed acks that are tracked, never counted).
func (s *sim) checkMatches(l *simNode) {
	for id, pr := range l.r.prs {
		f := s.byID[id]
		if pr.match == 0 || f.disk.term != l.r.term || pr.match < l.r.log.firstIndex() {
			continue
		}
		t, _ := l.r.log.term(pr.match)
		if !f.disk.durable(pr.match, t) && !f.lostHeld(pr.match, t, false) {
			s.fail("leader %s believes %s matches %d/%d, its disk does not", l.id, id, pr.match, t)
		}
	}
}

// checkHas: leader l holds committed entry i (or has it in its snapshot).
func (s *sim) checkHas(l *simNode, i uint64) {
	c := s.committed[i]
	if i < l.r.log.firstIndex() {
		// Compacted: with Storage the entry is on this member's disk.
		if s.o.storage && (i > uint64(len(l.disk.ents)) || l.disk.ents[i-1].Term != c.term) {
			s.fail("I3: leader %s (term %d) lacks committed entry %d/%d on its disk", l.id, l.r.term, i, c.term)
		}
		return
	}
	if t, ok := l.r.log.term(i); !ok || t != c.term {
		s.fail("I3: leader %s (term %d) lacks committed entry %d/%d (has term %d)", l.id, l.r.term, i, c.term, t)
	}
}

// checkLeaderComplete: a new leader holds every entry committed by a leader
// of an earlier term (I3).
func (s *sim) checkLeaderComplete(l *simNode) {
	for i := 1; i < len(s.committed); i++ {
		if c := s.committed[i]; c.ok && c.commitTerm != 0 && c.commitTerm < l.r.term {
			s.checkHas(l, uint64(i))
		}
	}
}

// checkCanonical: the applied state (deduplicated order of posts) is the
// same sequence on every node (I6 order, I5 exactly once).
func (s *sim) checkCanonical(n *simNode, i int) {
	switch {
	case i < len(s.canonical):
		if s.canonical[i] != n.sm.order[i] {
			s.fail("applied order differs at %d: %s has %s, another node %s", i, n.id, n.sm.order[i], s.canonical[i])
		}
	case i == len(s.canonical):
		s.canonical = append(s.canonical, n.sm.order[i])
	default:
		s.fail("%s applied order skips ahead of canonical", n.id)
	}
}

// checkSM verifies a whole state machine restored from a snapshot.
func (s *sim) checkSM(n *simNode) {
	for i := range n.sm.order {
		s.checkCanonical(n, i)
	}
}

// checkDiskMatchesMemory: the disk's effective log (after folding Discard
// and Install records) agrees with the replica's durable prefix, so the
// Ready protocol keeps disk and memory in step.
func (s *sim) checkDiskMatchesMemory(n *simNode) {
	l, d := n.r.log, &n.disk
	if d.base+uint64(len(d.terms)) < l.stable {
		s.fail("%s: replica thinks %d durable, disk ends at %d", n.id, l.stable, d.base+uint64(len(d.terms)))
	}
	for i := max(l.firstIndex(), d.base+1); i <= l.stable; i++ {
		if t, _ := l.term(i); d.terms[i-d.base-1] != t {
			s.fail("%s: disk has %d/%d, memory %d/%d", n.id, i, d.terms[i-d.base-1], i, t)
		}
	}
}

// checkStep runs after every tick.
func (s *sim) checkStep() {
	s.recordLeaderCommits()
	for _, n := range s.nodes {
		if !n.up {
			continue
		}
		l := n.r.log
		if !(l.snapIndex <= l.applied && l.applied <= l.committed && l.committed <= l.lastIndex() && l.stable <= l.lastIndex()) {
			s.fail("%s log positions broken: snap=%d applied=%d commit=%d stable=%d last=%d",
				n.id, l.snapIndex, l.applied, l.committed, l.stable, l.lastIndex())
		}
		if s.tick%8 == 0 {
			s.checkDiskMatchesMemory(n)
		}
		if n.r.Status().Learner != n.learner {
			s.fail("%s: replica learner=%v, node's marker %v", n.id, n.r.Status().Learner, n.learner)
		}
		if n.r.role == Leader {
			if n.learner {
				s.fail("learner %s leads term %d", n.id, n.r.term)
			}
			if s.leaderOf[n.r.term] != n.id {
				s.fail("I1: %s leads term %d, oracle elected %q", n.id, n.r.term, s.leaderOf[n.r.term])
			}
			s.checkMatches(n)
		}
	}
}

// checkFinal: logs match pairwise (I2, directly), and every acknowledged
// post is in every node's state exactly once (I4, I5).
func (s *sim) checkFinal() {
	for i, a := range s.nodes {
		for _, b := range s.nodes[i+1:] {
			s.checkPairI2(a, b)
		}
	}
	for id, idx := range s.acked {
		if c := s.committed[idx]; !c.ok || c.key[:len(id)] != id {
			s.fail("acked %s at %d, committed log holds %q", id, idx, c.key)
		}
		for _, n := range s.nodes {
			count := 0
			for _, x := range n.sm.order {
				if x == id {
					count++
				}
			}
			if count != 1 {
				s.fail("I4/I5: acked %s appears %d times on %s", id, count, n.id)
			}
		}
	}
}

func (s *sim) checkPairI2(a, b *simNode) {
	la, lb := a.r.log, b.r.log
	lo := max(la.firstIndex(), lb.firstIndex())
	hi := min(la.lastIndex(), lb.lastIndex())
	for i := hi; i >= lo && i > 0; i-- {
		if la.entry(i).Term != lb.entry(i).Term {
			continue
		}
		for j := lo; j <= i; j++ {
			ea, eb := la.entry(j), lb.entry(j)
			if ea.Term != eb.Term || entryKey(ea) != entryKey(eb) {
				s.fail("I2: %s and %s agree at %d/%d but differ at %d", a.id, b.id, i, la.entry(i).Term, j)
			}
		}
		return
	}
}
