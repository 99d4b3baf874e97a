package node

import (
	"testing"

	"github.com/syncnet/syncnet/ring"
)

// TestOnlineAndQuorumOneRule: members online, the members down, the
// majority and the quorum are one rule over one ring status. The case of
// issue 14's flaky /readyz: the leader has gone silent and is dropped while
// the other follower is still heard — the node hears a majority (2 of 3
// online) and knows no leader, so it cannot commit (quorum false) but must
// not be reported as cut off from the majority.
func TestOnlineAndQuorumOneRule(t *testing.T) {
	self := ring.MemberStatus{ID: "n1", Self: true, Heard: true}
	alive := func(id string) ring.MemberStatus {
		return ring.MemberStatus{ID: id, Heard: true, State: ring.MemberAlive}
	}
	suspected := func(id string) ring.MemberStatus {
		return ring.MemberStatus{ID: id, Heard: true, State: ring.MemberSuspected}
	}
	neverHeard := ring.MemberStatus{ID: "n3", State: ring.MemberAlive}
	n := &Node{}
	for _, tc := range []struct {
		name           string
		rs             ring.Status
		online         int
		majority, quor bool
	}{
		{"all heard, leader known", ring.Status{Leader: "n3", Members: []ring.MemberStatus{self, alive("n2"), alive("n3")}}, 3, true, true},
		{"leader silent, the other follower heard", ring.Status{Members: []ring.MemberStatus{self, alive("n2"), suspected("n3")}}, 2, true, false},
		{"both others silent", ring.Status{Members: []ring.MemberStatus{self, suspected("n2"), suspected("n3")}}, 1, false, false},
		{"a peer never heard is not online", ring.Status{Leader: "n1", Members: []ring.MemberStatus{self, suspected("n2"), neverHeard}}, 1, false, false},
		{"two of four is no majority", ring.Status{Leader: "n1", Members: []ring.MemberStatus{self, alive("n2"), suspected("n3"), suspected("n4")}}, 2, false, false},
	} {
		online := 0
		for _, m := range tc.rs.Members {
			if heardAlive(m) {
				online++
			}
		}
		down := downMembers(tc.rs.Members)
		if online != tc.online || len(down) != len(tc.rs.Members)-online {
			t.Errorf("%s: %d online, %d down, want %d online", tc.name, online, len(down), tc.online)
		}
		if got := hearsMajority(tc.rs.Members); got != tc.majority {
			t.Errorf("%s: majority %v, want %v", tc.name, got, tc.majority)
		}
		if got := n.quorum(tc.rs); got != tc.quor {
			t.Errorf("%s: quorum %v, want %v", tc.name, got, tc.quor)
		}
	}
}
