package sshui_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// memberFake is a backend whose membership changes as asked (the leader's
// checks are node's; here only what reaches it and what is printed).
type memberFake struct {
	*sshuitest.Fake
	info    api.MembershipInfo
	changes []api.MemberChange
}

func (f *memberFake) ClusterMembers() api.MembershipInfo { return f.info }
func (f *memberFake) ChangeMembers(ctx context.Context, c api.MemberChange) (uint64, error) {
	if c.Op == "remove" && c.Node == "node1" {
		return 0, errors.New("membership: node1 leads the cluster; it hands over first")
	}
	f.changes = append(f.changes, c)
	return 42, nil
}

func TestExecMember(t *testing.T) {
	f := &memberFake{Fake: sshuitest.New("node1", nil), info: api.MembershipInfo{Entry: 7, Committed: true, Members: []api.MemberSpec{
		{ID: "node1", Host: "10.0.0.1", SSHPort: 2222, PeerPort: 7001, HeartbeatPort: 7101, ElectionPort: 7201, Ring: 1, Voter: true},
		{ID: "node4", Host: "10.0.0.4", SSHPort: 2222, PeerPort: 7001, HeartbeatPort: 7101, ElectionPort: 7201, Ring: 4},
	}}}
	ts := startServer(t, f, nil)
	r := run(t, ts.addr, "admin", ts.admin, "member list")
	if r.code != 0 || !strings.Contains(r.out, "log entry 7 (committed)") || !strings.Contains(r.out, "node4  learner") {
		t.Fatalf("member list: %+v", r)
	}
	r = run(t, ts.addr, "admin", ts.admin, "member list --json")
	var info api.MembershipInfo
	if r.code != 0 || json.Unmarshal([]byte(r.out), &info) != nil || len(info.Members) != 2 || info.Members[1].Voter {
		t.Fatalf("member list --json: %+v", r)
	}
	r = run(t, ts.addr, "admin", ts.admin, "member add node5 --host 10.0.0.5 --ssh-port 2222 --peer-port 7001 --heartbeat-port 7101 --election-port 7201")
	if r.code != 0 || !strings.Contains(r.out, "node5 added as a learner") || len(f.changes) != 1 ||
		f.changes[0].Spec.Ring != 5 || f.changes[0].Spec.Host != "10.0.0.5" || f.changes[0].By != "admin" {
		t.Fatalf("member add: %+v, changes %+v", r, f.changes)
	}
	if r = run(t, ts.addr, "admin", ts.admin, "member promote node4"); r.code != 0 || !strings.Contains(r.out, "node4 promoted") {
		t.Fatalf("member promote: %+v", r)
	}
	for cmd, want := range map[string]string{
		"member":                    "need list, add, promote or remove",
		"member frob":               "unknown member command",
		"member add node6 --host h": "missing --election-port, --heartbeat-port, --peer-port, --ssh-port",
		"member add node6 --host h --ssh-port 0x": "is not a port",
		"member promote":      "needs exactly one ID",
		"member remove node1": "hands over first",
	} {
		if r := run(t, ts.addr, "admin", ts.admin, cmd); r.code == 0 || !strings.Contains(r.err, want) {
			t.Errorf("%q: %+v, want %q", cmd, r, want)
		}
	}
	if r := run(t, ts.addr, "admin", ts.admin, "member --help"); r.code != 0 || !strings.Contains(r.out, "usage: member") {
		t.Errorf("member --help: %+v", r)
	}
	if r := run(t, ts.addr, "alice", newSigner(t), "member list"); r.code == 0 || !strings.Contains(r.err, "permission denied") {
		t.Errorf("member list as alice: %+v", r)
	}
}
