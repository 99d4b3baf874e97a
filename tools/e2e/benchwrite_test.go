package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestBenchWrite runs `syncnet bench write` (the tool docs/BENCHMARKS.md
// quotes for issue 17's figures) against three real nodes, once per mode,
// and checks what it reports against the cluster: posts counted were
// committed, the servers' and its own CPU were read, and the detectors'
// counts came from every node's status. Exec mode uses 64 users, so no
// person's rate limit (10 a second, bursts of 40) binds in the second.
func TestBenchWrite(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{noLaunch: true})
	keyPath := filepath.Join(c.dir, "bench_ed25519")
	key := writeKeyFile(t, keyPath)
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key.PublicKey())))
	cfg, err := os.ReadFile(c.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// The stream user is a [[bot]] (its own allowance) and the key an admin
	// key (status --json, for the detectors).
	text := strings.Replace(string(cfg), fmt.Sprintf("admin_keys = [%q]", c.adminPK),
		fmt.Sprintf("admin_keys = [%q, %q]", c.adminPK, pub), 1)
	text += fmt.Sprintf("\n[[bot]]\nkey = %q\nrate = 100000\nburst = 100000\n", pub)
	if err := os.WriteFile(c.cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c.launchAll()
	leader := c.waitLeader()
	var addrs, pids []string
	for _, id := range c.ids {
		addrs = append(addrs, c.nodes[id].sshAddr())
		p := c.nodes[id]
		p.mu.Lock()
		pids = append(pids, fmt.Sprint(p.cmd.Process.Pid))
		p.mu.Unlock()
	}
	for _, mode := range []string{"stream", "exec"} {
		t.Run(mode, func(t *testing.T) {
			before, err := c.status(leader)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binPath, "bench", "write", "-i", keyPath, "--addrs", strings.Join(addrs, ","),
				"--pids", strings.Join(pids, ","), "--mode", mode, "--target", "spread", "-c", "4", "--window", "4",
				"--users", "64", "--duration", "1s", "--warmup", "0s", "--json")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("bench write --mode %s: %v\n%s", mode, err, out)
			}
			var res struct {
				Posts, Errors                int64
				PerSec                       float64
				P50, P99                     time.Duration
				CPUPer1000, ClientCPUPer1000 time.Duration
				CPUMeasured, StatusAvailable bool
				LeaderBefore, LeaderAfter    string
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("bench write --json: %v\n%s", err, out)
			}
			t.Logf("%s: %d posts, %.0f/s, p50 %v p99 %v, server %v client %v per 1,000", mode, res.Posts, res.PerSec,
				res.P50, res.P99, res.CPUPer1000, res.ClientCPUPer1000)
			if res.Posts == 0 || res.Errors != 0 || res.P50 <= 0 || res.P99 < res.P50 {
				t.Fatalf("posts %d, errors %d, p50 %v, p99 %v", res.Posts, res.Errors, res.P50, res.P99)
			}
			if !res.CPUMeasured || res.CPUPer1000 <= 0 || res.ClientCPUPer1000 <= 0 {
				t.Fatalf("CPU not measured: servers %v, client %v (measured %v)", res.CPUPer1000, res.ClientCPUPer1000, res.CPUMeasured)
			}
			if !res.StatusAvailable || res.LeaderBefore == "" || res.LeaderAfter == "" {
				t.Fatalf("the detectors were not read from every node: %+v", res)
			}
			after, err := c.status(leader)
			if err != nil {
				t.Fatal(err)
			}
			if grew := int64(messagesOf(after, leader) - messagesOf(before, leader)); grew < res.Posts {
				t.Fatalf("bench counted %d committed posts; the leader's message count grew by %d", res.Posts, grew)
			}
		})
	}
}

// messagesOf is the message count s reports for member id.
func messagesOf(s status, id string) uint64 {
	for _, m := range s.Members {
		if m.ID == id {
			return m.Messages
		}
	}
	return 0
}
