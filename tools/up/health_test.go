package up

import (
	"strings"
	"testing"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/config"
)

// The commands to try name the real ports, the adopted key and the
// leader's pid, and their comments line up in one column.
func TestTryLines(t *testing.T) {
	cfg, err := config.Parse("cluster.toml", `[cluster]
secret = "0123456789abcdef0123"
[[node]]
id = "node1"
host = "127.0.0.1"
ssh_port = 2222
peer_port = 8000
heartbeat_port = 8020
election_port = 8030
metrics_port = 8040
ring = 0
[[node]]
id = "node2"
host = "127.0.0.1"
ssh_port = 2223
peer_port = 8001
heartbeat_port = 8021
election_port = 8031
ring = 1
`)
	if err != nil {
		t.Fatal(err)
	}
	out := tryLines(cfg, Options{Binary: "bin/syncnet", ConfigPath: "cluster.toml"}, adopted{count: 1, from: []string{"/x/.ssh/id_ed25519.pub"}},
		"node2", func(id string) int { return map[string]int{"node2": 4242}[id] })
	for _, want := range []string{"ssh -p 2222 ", "ssh -p 2223 ", "admin@localhost status", "/x/.ssh/id_ed25519.pub was adopted",
		"curl -s 127.0.0.1:8040/readyz", "kill -9 4242", "node2, the leader"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	col, lines := -1, 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		i := strings.Index(l, "  # ")
		if i < 0 {
			continue
		}
		lines++
		if col >= 0 && i != col {
			t.Errorf("comments not in one column:\n%s", out)
			break
		}
		col = i
	}
	if lines < 6 {
		t.Errorf("%d commented lines:\n%s", lines, out)
	}
}

// TestSettled: the first status table waits for every online member to
// report the term and leader the cluster has (a fresh node's row said term
// 0 while the cluster was healthy); an offline member does not hold it.
func TestSettled(t *testing.T) {
	st := api.ClusterStatus{Term: 2, Leader: "node3", Members: []api.MemberStatus{
		{ID: "node1", Online: true, Term: 2, LeaderID: "node3"},
		{ID: "node2", Online: true, Term: 0, LeaderID: ""},
		{ID: "node3", Online: true, Term: 2, LeaderID: "node3"},
	}}
	if settled(st) {
		t.Fatal("settled with node2 reporting term 0")
	}
	st.Members[1].Term, st.Members[1].LeaderID = 2, "node3"
	if !settled(st) {
		t.Fatal("not settled with every member on term 2 under node3")
	}
	st.Members[1] = api.MemberStatus{ID: "node2", Online: false}
	if !settled(st) {
		t.Fatal("an offline member held the table back")
	}
}
