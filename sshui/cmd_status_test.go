package sshui_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui/sshuitest"
	gossh "golang.org/x/crypto/ssh"
)

func statusMembers(online ...bool) api.ClusterStatus {
	st := api.ClusterStatus{Node: "node1", Leader: "node1", Term: 7}
	for i, id := range []string{"node1", "node2", "node3"} {
		st.Members = append(st.Members, api.MemberStatus{ID: id, Online: online[i], Leader: i == 0, LeaderID: "node1",
			Term: 7, Uptime: time.Hour, Clients: 4, Messages: 1900, CommitIndex: 1990 + uint64(i),
			LogHash: "2040604b304b@1984", SSHPort: 2222 + i, PeerPort: 8000 + i, HeartbeatPort: 8020 + i})
	}
	return st
}

// runPty runs cmd on a PTY (ssh -t) and returns what the terminal got.
func runPty(t *testing.T, addr, user string, key gossh.Signer, cmd string) string {
	t.Helper()
	c := dial(t, addr, user, key)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm", 24, 200, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput(cmd)
	if err != nil {
		t.Fatalf("%s on a pty: %v: %q", cmd, err, out)
	}
	return string(out)
}

func rowOf(out, node string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, node+" ") || strings.Contains(l, node+"\x1b") {
			return l
		}
	}
	return ""
}

// TestExecStatusShowsStaleOfflineNodes: status showed an offline node's last
// heartbeat values as if they were current, said NO LEADER with 1 of 3 up,
// and cut the hash@index that README promises to a bare hash.
func TestExecStatusShowsStaleOfflineNodes(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	f.SetStatus(statusMembers(true, true, true))
	r := run(t, ts.addr, "admin", ts.admin, "status")
	if r.code != 0 || strings.Contains(r.out, "last seen") || !strings.Contains(r.out, "2040604b304b@1984") {
		t.Fatalf("all online: %+v", r)
	}
	f.SetStatus(statusMembers(true, true, false))
	r = run(t, ts.addr, "admin", ts.admin, "status")
	row := rowOf(r.out, "node3")
	if !regexp.MustCompile(`offline \(last seen \d+s ago\)`).MatchString(row) || !strings.Contains(r.out, "DEGRADED") {
		t.Errorf("offline node3 not shown as stale:\n%s", r.out)
	}
	if !strings.Contains(r.out, "last heartbeat") {
		t.Errorf("no word on what an offline row's values are:\n%s", r.out)
	}
	if strings.Contains(r.out, "\x1b") {
		t.Errorf("escape sequences without a pty: %q", r.out)
	}
	out := runPty(t, ts.addr, "admin", ts.admin, "status")
	if row := rowOf(out, "node3"); !strings.HasPrefix(row, "\x1b[2m") || strings.HasPrefix(rowOf(out, "node2"), "\x1b[2m") {
		t.Errorf("on a pty the offline row is not greyed (only it):\n%q", out)
	}
	r = run(t, ts.addr, "admin", ts.admin, "status simple")
	if !regexp.MustCompile(`(?m)^node3 offline .* last_seen=\d+s$`).MatchString(r.out) {
		t.Errorf("simple: %q", r.out)
	}
	r = run(t, ts.addr, "admin", ts.admin, "status --json")
	var doc struct {
		Status  string
		Storage *struct {
			WALVerify string `json:"wal_verify"`
		}
		Members []struct {
			ID       string
			LastSeen string `json:"last_seen"`
			LogHash  string `json:"log_hash"`
		}
	}
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Storage == nil {
		t.Errorf("no storage object, which the contract promises: %s", r.out)
	}
	if doc.Members[2].LastSeen == "" || doc.Members[1].LastSeen != "" || doc.Members[2].LogHash != "2040604b304b@1984" {
		t.Errorf("json members: %+v", doc.Members)
	}

	// 1 of 3 up: no quorum, whatever leader the survivor still names.
	f.SetStatus(statusMembers(true, false, false))
	f.SetQuorum(false)
	r = run(t, ts.addr, "admin", ts.admin, "status")
	if !strings.Contains(r.out, "Cluster Status: NO QUORUM") {
		t.Errorf("1 of 3 up:\n%s", r.out)
	}
	if r := run(t, ts.addr, "admin", ts.admin, "status --json"); !strings.Contains(r.out, `"status":"NO QUORUM"`) {
		t.Errorf("json: %s", r.out)
	}
}

// TestExecStatusWatchWithoutPty: without a PTY, watch appended whole frames
// with no timestamps. It prints one timestamped line per interval.
func TestExecStatusWatchWithoutPty(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	f.SetStatus(statusMembers(true, true, false))
	c := dial(t, ts.addr, "admin", ts.admin)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	sess.Stdout = out
	if err := sess.Start("status watch --interval 100ms"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() bool { return strings.Count(out.String(), "\n") >= 3 },
		func() string { return "watch printed: " + out.String() })
	_ = c.Close()
	line := regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) DEGRADED online=2/3 leader=node1 term=7 commit=1990 offline=node3$`)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines[:3] {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q; all:\n%s", l, out.String())
		}
		if _, err := time.Parse(time.RFC3339, m[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// On a PTY, watch redraws the table in place.
func TestExecStatusWatchOnPty(t *testing.T) {
	ts := startServer(t, sshuitest.New("node1", nil), nil)
	c := dial(t, ts.addr, "admin", ts.admin)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 200, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	sess.Stdout = out
	if err := sess.Start("status watch --interval 100ms"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() bool { return strings.Count(out.String(), "\x1b[H\x1b[2J") >= 2 },
		func() string { return "watch did not redraw: " + out.String() })
	if !strings.Contains(out.String(), "Cluster Status") {
		t.Errorf("no table: %q", out.String())
	}
	_ = c.Close() // the session ends: watch must stop (checked by the leak test)
}
