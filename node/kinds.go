package node

import (
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
