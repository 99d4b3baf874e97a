package eventlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// NodeSpec is one member of the cluster as a membership entry holds it: its
// id, where it listens, its place on the ring, and whether it votes.
type NodeSpec struct {
	ID            string `json:"id"`
	Host          string `json:"host"`
	SSHPort       int    `json:"ssh_port"`
	PeerPort      int    `json:"peer_port"`
	HeartbeatPort int    `json:"heartbeat_port"`
	ElectionPort  int    `json:"election_port"`
	MetricsPort   int    `json:"metrics_port,omitempty"`
	Ring          int    `json:"ring"`
	// Learner: added and not promoted yet; replicated to, never counted.
	Learner bool `json:"learner,omitempty"`
}

// Membership change operations (MembershipChanged.Op).
const (
	MemberAdd     = "add"     // Spec joins as a learner
	MemberPromote = "promote" // the learner Node becomes a voter
	MemberRemove  = "remove"  // Node leaves
)

// MembershipChanged is one membership change and the whole membership after
// it. The node that asks fills Op, Node, Spec (for add) and By; the leader
// that places it in the log computes Members from the latest membership in
// its own log, so that two changes can never be made from the same base.
type MembershipChanged struct {
	Op   string `json:"op"`
	Node string `json:"node"`
	// Spec is the added node (NodeSpec as JSON), for add only.
	Spec string `json:"spec,omitempty"`
	By   string `json:"by"`
	// Members is the membership after the change: NodeSpecs as a JSON
	// array sorted by id (MembersJSON).
	Members string `json:"members"`
	// Retired lists, comma-separated and sorted, every id ever removed:
	// such an id never joins again (its node may replay its own removal
	// from the log, and stops there).
	Retired string `json:"retired,omitempty"`
}

func (*MembershipChanged) Kind() Kind { return KindMembershipChanged }
func (m *MembershipChanged) Describe() string {
	d := fmt.Sprintf("op=%s node=%q by=%q members=%s", m.Op, m.Node, m.By, m.Members)
	if m.Retired != "" {
		d += fmt.Sprintf(" retired=%q", m.Retired)
	}
	return d
}
func (m *MembershipChanged) Wire(w Wire) {
	w.String(1, &m.Op)
	w.String(2, &m.Node)
	w.String(3, &m.Spec)
	w.String(4, &m.By)
	w.String(5, &m.Members)
	w.String(6, &m.Retired)
}

// ErrMembers wraps every malformed membership.
var ErrMembers = errors.New("malformed membership")

// MembersJSON encodes a membership the one way an entry holds it: sorted
// by id, checked (CheckMembers).
func MembersJSON(ms []NodeSpec) (string, error) {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b NodeSpec) int { return strings.Compare(a.ID, b.ID) })
	if err := CheckMembers(ms); err != nil {
		return "", err
	}
	b, err := json.Marshal(ms)
	return string(b), err
}

// ParseMembers decodes and checks what MembersJSON wrote.
func ParseMembers(s string) ([]NodeSpec, error) {
	var ms []NodeSpec
	if err := json.Unmarshal([]byte(s), &ms); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMembers, err)
	}
	if err := CheckMembers(ms); err != nil {
		return nil, err
	}
	return ms, nil
}

// ParseSpec decodes and checks one NodeSpec (MembershipChanged.Spec).
func ParseSpec(s string) (NodeSpec, error) {
	var n NodeSpec
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		return NodeSpec{}, fmt.Errorf("%w: %v", ErrMembers, err)
	}
	return n, checkSpec(n)
}

// CheckMembers: 1 to 64 members, ids unique, at least one voter, each spec
// well formed.
func CheckMembers(ms []NodeSpec) error {
	if len(ms) == 0 || len(ms) > 64 {
		return fmt.Errorf("%w: %d members (1 to 64)", ErrMembers, len(ms))
	}
	seen, voters := map[string]bool{}, 0
	for _, m := range ms {
		if err := checkSpec(m); err != nil {
			return err
		}
		if seen[m.ID] {
			return fmt.Errorf("%w: %s twice", ErrMembers, m.ID)
		}
		seen[m.ID] = true
		if !m.Learner {
			voters++
		}
	}
	if voters == 0 {
		return fmt.Errorf("%w: no voter", ErrMembers)
	}
	return nil
}

func checkSpec(m NodeSpec) error {
	switch {
	case m.ID == "" || len(m.ID) > 64:
		return fmt.Errorf("%w: node id %q (1 to 64 bytes)", ErrMembers, m.ID)
	case m.Host == "":
		return fmt.Errorf("%w: %s has no host", ErrMembers, m.ID)
	}
	for _, p := range []int{m.SSHPort, m.PeerPort, m.HeartbeatPort, m.ElectionPort} {
		if p <= 0 || p > 65535 {
			return fmt.Errorf("%w: %s has port %d (1 to 65535)", ErrMembers, m.ID, p)
		}
	}
	if m.MetricsPort < 0 || m.MetricsPort > 65535 {
		return fmt.Errorf("%w: %s has metrics port %d", ErrMembers, m.ID, m.MetricsPort)
	}
	return nil
}
