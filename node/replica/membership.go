package replica

import (
	"fmt"
	"slices"
)

// This file: membership that changes (issue 13). The node keeps the
// replica's membership equal to the latest membership in its log,
// committed or not (SetMembers after every append or truncation that
// changes it), as in Raft's single-server changes (docs/ARCHITECTURE.md,
// "Membership through the log"): a leader replicates to every member and
// commits an entry once a majority of the voters of its latest membership
// hold it. Learners of the membership (added, not yet promoted) are
// replicated to like any follower and never counted. Who may propose a
// change, and when, is the node's rule.

// SetMembers replaces the membership: voters and learners, this replica
// among either or neither (a node that was removed keeps following until
// it stops). A leader starts replicating to new members at its last index
// (probing back as usual), forgets removed ones, and may commit at once if
// the majority shrank.
func (r *Replica) SetMembers(voters, learners []string) error {
	r.assertIdle("SetMembers")
	if len(voters) == 0 {
		return fmt.Errorf("replica %s: a membership needs a voter", r.cfg.ID)
	}
	all := make([]string, 0, len(voters)+len(learners)+1)
	seen := map[string]bool{}
	for _, id := range append(slices.Clone(voters), learners...) {
		if id == "" || seen[id] {
			return fmt.Errorf("replica %s: empty or duplicate member %q", r.cfg.ID, id)
		}
		seen[id] = true
		all = append(all, id)
	}
	if !seen[r.cfg.ID] {
		all = append(all, r.cfg.ID) // removed: keeps following until its node stops
	}
	r.cfg.Peers = all
	r.nonVoters = map[string]bool{}
	for _, id := range all {
		if !slices.Contains(voters, id) {
			r.nonVoters[id] = true
		}
	}
	r.quorum = len(voters)/2 + 1
	if r.role != Leader {
		return nil
	}
	for _, id := range all {
		if id != r.cfg.ID && r.prs[id] == nil {
			r.prs[id] = &progress{next: r.log.lastIndex() + 1, inflight: make([]uint64, 0, r.cfg.MaxInflight)}
		}
	}
	for id := range r.prs {
		if !seen[id] {
			delete(r.prs, id)
		}
	}
	if r.maybeCommit() {
		r.bcastAppend()
	}
	return nil
}

// Voter reports whether id votes in this replica's membership.
func (r *Replica) Voter(id string) bool {
	return slices.Contains(r.cfg.Peers, id) && !r.nonVoters[id]
}
