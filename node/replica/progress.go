package replica

import "fmt"

// progressState is how the leader currently replicates to one follower.
type progressState uint8

const (
	// stateProbe: one append at a time until the follower's match is found.
	stateProbe progressState = iota
	// stateReplicate: optimistic pipelining, up to MaxInflight batches.
	stateReplicate
	// stateSnapshot: the follower needs a snapshot; appends pause.
	stateSnapshot
)

func (s progressState) String() string {
	return [...]string{"probe", "replicate", "snapshot"}[s]
}

// progress is the leader's view of one follower.
type progress struct {
	match, next uint64
	state       progressState
	probeSent   bool     // stateProbe: an append is out, wait for answer or heartbeat
	inflight    []uint64 // stateReplicate: last index of each unacked batch, ascending
	pendingSnap uint64   // stateSnapshot: index of the snapshot sent (0: asked node, none yet)
	idleTicks   int      // ticks without progress while something is outstanding
	sentCommit  uint64   // highest commit the follower can have learnt from us (min(commit, last index sent))
	learner     bool     // its last answer said it is a learner: maybeCommit does not count it
}

func (p *progress) becomeProbe() {
	if p.state == stateSnapshot && p.pendingSnap > 0 {
		p.next = max(p.match, p.pendingSnap) + 1
	} else {
		p.next = p.match + 1
	}
	p.state, p.probeSent, p.inflight, p.pendingSnap, p.idleTicks = stateProbe, false, p.inflight[:0], 0, 0
}

func (p *progress) becomeReplicate() {
	p.state, p.next, p.probeSent, p.inflight, p.idleTicks = stateReplicate, p.match+1, false, p.inflight[:0], 0
}

func (p *progress) becomeSnapshot() {
	p.state, p.probeSent, p.inflight, p.pendingSnap, p.idleTicks = stateSnapshot, false, p.inflight[:0], 0, 0
}

// maybeUpdate records an accepted ack for index n; it reports progress.
func (p *progress) maybeUpdate(n uint64) bool {
	if n <= p.match {
		return false
	}
	p.match = n
	p.next = max(p.next, n+1)
	i := 0
	for i < len(p.inflight) && p.inflight[i] <= n {
		i++
	}
	p.inflight = append(p.inflight[:0], p.inflight[i:]...)
	p.idleTicks = 0
	return true
}

// maybeDecrTo handles a rejection of PrevIndex rejected; hint is the next
// index worth probing minus one. It reports whether the rejection was
// current (not a stale duplicate).
func (p *progress) maybeDecrTo(rejected, hint uint64) bool {
	if p.state == stateReplicate {
		if rejected <= p.match {
			return false // stale: an older append
		}
		p.becomeProbe()
		p.next = max(min(rejected, hint+1), p.match+1)
		return true
	}
	if p.next-1 != rejected {
		return false // stale
	}
	p.next = max(min(rejected, hint+1), p.match+1)
	p.probeSent = false
	return true
}

// regress handles a current-term rejection whose hint lies below match
// (see handleAppResp): match drops to known, an index the follower is
// proven to hold (0 if none), and the leader probes at next (> known). The
// pipeline (inflight), a pending snapshot and bulk catch-up (derived from
// next) restart from there, and sentCommit drops with match so commit
// updates reach the follower again.
func (p *progress) regress(known, next uint64) {
	p.match = known
	p.becomeProbe()
	p.next = max(next, known+1)
	p.sentCommit = min(p.sentCommit, known)
}

// paused reports whether nothing more may be sent now.
func (p *progress) paused(maxInflight int) bool {
	switch p.state {
	case stateProbe:
		return p.probeSent
	case stateReplicate:
		return len(p.inflight) >= maxInflight
	}
	return true
}

func (p *progress) String() string {
	s := fmt.Sprintf("%s match=%d next=%d inflight=%d", p.state, p.match, p.next, len(p.inflight))
	if p.learner {
		s += " learner"
	}
	return s
}
