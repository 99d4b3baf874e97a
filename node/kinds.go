package node

import (
	"fmt"
	"slices"

	"github.com/syncnet/syncnet/eventlog"
)

// maxKind is the highest event kind this build can apply.
var maxKind = slices.Max(eventlog.Kinds())

// replicated reports whether entries of kind k may travel in the replicated
// log. A node's own observations (votes, terms, suspicions, commit marks,
// discards) are local records and never replicated.
func replicated(k eventlog.Kind) bool {
	switch k {
	case eventlog.KindTermStarted, eventlog.KindLeaderElected, eventlog.KindVoteCast,
		eventlog.KindNodeSuspected, eventlog.KindNodeLeft, eventlog.KindNodeRecovered,
		eventlog.KindCommittedUpTo, eventlog.KindSuffixDiscarded, eventlog.KindInvalid:
		return false
	}
	return true
}

// baselineKind is the highest kind every build of the replicated log has
// applied: a member that reports no MaxKind in its heartbeats (an older
// build) knows exactly the kinds up to it.
const baselineKind = eventlog.KindSuffixDiscarded

// supportedByAll reports whether every member can apply entries of kind k,
// judged by what their heartbeats announce. A leader proposes a new kind only
// then, so a rolling upgrade never hands an old node an entry it cannot
// apply; the one who cannot is named in the error.
func (n *Node) supportedByAll(k eventlog.Kind) error {
	if k <= baselineKind {
		return nil
	}
	for _, m := range n.ring.Members() {
		if !m.Self && !m.Heard {
			return fmt.Errorf("%s needs every member to announce it applies it, and %s has not been heard yet; try again in a moment", k, m.ID)
		}
		mk := eventlog.Kind(m.Status.MaxKind)
		if m.Self {
			mk = maxKind
		}
		if mk < baselineKind {
			mk = baselineKind
		}
		if k > mk {
			return fmt.Errorf("%s is not supported by every member yet: %s knows kinds up to %d (upgrade it first)", k, m.ID, mk)
		}
	}
	return nil
}
