package api

import "context"

// Membership is implemented by a backend whose cluster membership can
// change (node.Node): the `member` exec commands. It is apart from Backend
// so that front ends and fakes without a log need not implement it.
type Membership interface {
	// ClusterMembers is the membership this node's log holds now
	// (committed or not) and the entry that holds it.
	ClusterMembers() MembershipInfo
	// ChangeMembers asks the leader for one change (docs/ARCHITECTURE.md,
	// "Membership through the log") and waits until it is committed and
	// applied here; it returns the entry's index. The leader refuses a
	// change while another is not committed, a promotion of a learner that
	// has not caught up, the removal of the last voter or of itself, an id
	// that exists: the error says which.
	ChangeMembers(ctx context.Context, c MemberChange) (uint64, error)
}

// MembershipInfo is a membership and where it comes from.
type MembershipInfo struct {
	// Entry is the index of the membership entry that holds it, 0 for the
	// configured one; Committed says whether it is committed.
	Entry     uint64       `json:"entry"`
	Committed bool         `json:"committed"`
	Members   []MemberSpec `json:"members"`
}

// MemberSpec is one member: where it listens and whether it votes.
type MemberSpec struct {
	ID            string `json:"id"`
	Host          string `json:"host"`
	SSHPort       int    `json:"ssh_port"`
	PeerPort      int    `json:"peer_port"`
	HeartbeatPort int    `json:"heartbeat_port"`
	ElectionPort  int    `json:"election_port"`
	MetricsPort   int    `json:"metrics_port,omitempty"`
	Ring          int    `json:"ring"`
	Voter         bool   `json:"voter"` // false: a learner, added and not promoted yet
}

// MemberChange is one change: Op is "add" (Spec joins as a learner),
// "promote" or "remove" (of Node); By names the admin who asked.
type MemberChange struct {
	Op   string
	Node string
	Spec MemberSpec
	By   string
}
