package up

import (
	"strings"
	"testing"

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
