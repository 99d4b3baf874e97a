package eventlog

import (
	"errors"
	"testing"
)

// TestMembersJSON: one encoding (sorted by id), checked both ways.
func TestMembersJSON(t *testing.T) {
	a := NodeSpec{ID: "node2", Host: "h2", SSHPort: 2222, PeerPort: 7001, HeartbeatPort: 7101, ElectionPort: 7201, Ring: 2}
	b := a
	b.ID, b.Ring, b.Learner = "node1", 1, true
	s, err := MembersJSON([]NodeSpec{a, b})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ParseMembers(s)
	if err != nil || len(ms) != 2 || ms[0].ID != "node1" || !ms[0].Learner || ms[1] != a {
		t.Fatalf("round trip of %s: %+v, %v", s, ms, err)
	}
	for name, bad := range map[string][]NodeSpec{
		"no voter":  {b},
		"twice":     {a, a},
		"no host":   {{ID: "x", SSHPort: 1, PeerPort: 1, HeartbeatPort: 1, ElectionPort: 1}},
		"bad port":  {{ID: "x", Host: "h", SSHPort: 70000, PeerPort: 1, HeartbeatPort: 1, ElectionPort: 1}},
		"empty":     nil,
		"long id":   {{ID: string(make([]byte, 65)), Host: "h", SSHPort: 1, PeerPort: 1, HeartbeatPort: 1, ElectionPort: 1}},
		"no port":   {{ID: "x", Host: "h"}},
		"neg. port": {{ID: "x", Host: "h", SSHPort: 1, PeerPort: 1, HeartbeatPort: 1, ElectionPort: 1, MetricsPort: -1}},
	} {
		if _, err := MembersJSON(bad); !errors.Is(err, ErrMembers) {
			t.Errorf("%s: %v, want ErrMembers", name, err)
		}
	}
	if _, err := ParseMembers(`[{"id":1}]`); !errors.Is(err, ErrMembers) {
		t.Errorf("garbage: %v", err)
	}
}
