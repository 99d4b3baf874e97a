package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestScaleRestartAndRejoin runs the nodes over a long history made by
// `syncnet fill` (SYNCNET_E2E_FILL messages, default 200,000; the
// benchmarks in docs/BENCHMARKS.md use 1M and 10M): the nodes start from
// the filled WALs and snapshot; a node restarted cleanly and one killed
// with kill -9 come back from their snapshot and serve the same history;
// a node whose data directory is wiped rejoins (it copies a peer's log
// before it starts, then catches up the rest through replication), and
// `wal diff` finds the three WALs in agreement. It
// logs the restart and catch-up times; it asserts only correctness (no
// test asserts a wall-clock time).
func TestScaleRestartAndRejoin(t *testing.T) {
	msgs := envInt(t, "SYNCNET_E2E_FILL", 200_000)
	c := newCluster(t, 3, clusterOpts{noLaunch: true})
	t0 := time.Now()
	out, err := exec.Command(binPath, "fill", "--config", c.cfgPath, "--messages", fmt.Sprint(msgs), "--rooms", "100").CombinedOutput()
	if err != nil {
		t.Fatalf("fill: %v\n%s", err, out)
	}
	t.Logf("fill %d messages: %s", msgs, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	c.launchAll()
	for _, id := range c.ids {
		// Three whole replays at once: 2-3 s on a quiet machine, more than
		// half a minute on one others load.
		c.waitUpWithin(id, 3*time.Minute)
	}
	lead := c.waitLeader()
	t.Logf("first start over the filled WALs (whole replay): %s", time.Since(t0).Round(time.Millisecond))
	if _, err := c.post(lead, "alice", "general", "after the fill", "scale-1"); err != nil {
		t.Fatalf("post after the fill: %v", err)
	}
	want := c.newest(lead, "general", 50)
	if len(want) != 50 || want[len(want)-1].Text != "after the fill" {
		t.Fatalf("history on %s: %d messages, last %+v", lead, len(want), want[len(want)-1])
	}

	// A clean stop writes a snapshot of everything applied; kill -9 leaves
	// the last periodic one (every 100,000 entries) and a WAL tail.
	f := c.follower(lead)
	// The post may have committed without f (a majority is the leader and
	// the other follower): what is checked is that what f held before it
	// stopped is what it serves after, so wait until it holds it.
	for deadline := time.Now().Add(30 * time.Second); fmt.Sprint(c.newest(f, "general", 50)) != fmt.Sprint(want); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %s's history of general", f, lead)
		}
	}
	for _, how := range []string{"SIGTERM", "kill -9"} {
		if how == "SIGTERM" {
			c.term(f)
		} else {
			c.kill9(f)
		}
		t0 = time.Now()
		c.restart(f)
		took := time.Since(t0)
		got := c.newest(f, "general", 50)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after %s and restart, %s's history of general differs from %s's:\n%v\n%v", how, f, lead, got, want)
		}
		t.Logf("restart of %s after %s to answering status: %s (%s)", f, how, took.Round(time.Millisecond), c.logLine(f, "wal recovered"))
	}

	// A lost data directory: the node comes back empty, copies a peer's
	// log before it starts, and must not vote before it has caught up.
	c.kill9(f)
	if err := os.RemoveAll(c.nodeDir(f)); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	c.restart(f)
	leadCommit := c.commitOf(lead)
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		st, err := c.status(f)
		if err == nil && selfCommit(st) >= leadCommit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not catch up to commit %d in 5 minutes: %+v %v", f, leadCommit, st, err)
		}
	}
	took := time.Since(t0)
	t.Logf("%s caught up %d entries from an empty data directory in %s (%.0f entries/s)",
		f, leadCommit, took.Round(time.Millisecond), float64(leadCommit)/took.Seconds())
	// Its commit index reached the leader's; what it applies follows a
	// moment later (a Ready applies a bounded number of entries).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got := c.newest(f, "general", 50)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after catching up, %s's history still differs:\n%v\n%v", f, got, want)
		}
	}
	for _, id := range c.ids {
		c.term(id)
	}
	c.walDiff(c.ids)
}

// newest is the last n messages of room on node id.
func (c *cluster) newest(id, room string, n int) []message {
	c.t.Helper()
	out, err := c.run(id, "reader", c.userKey("reader"), 10*time.Second, fmt.Sprintf("history %s --json --limit %d", room, n))
	if err != nil {
		c.t.Fatalf("history on %s: %v", id, err)
	}
	msgs, err := parseMessages(id, out)
	if err != nil {
		c.t.Fatal(err)
	}
	return msgs
}

// follower is a live node other than lead.
func (c *cluster) follower(lead string) string {
	for _, id := range c.ids {
		if id != lead && c.live(id) {
			return id
		}
	}
	c.t.Fatal("no live follower")
	return ""
}

// commitOf is node id's own commit index.
func (c *cluster) commitOf(id string) uint64 {
	c.t.Helper()
	st, err := c.status(id)
	if err != nil {
		c.t.Fatal(err)
	}
	return selfCommit(st)
}

func selfCommit(st status) uint64 {
	for _, m := range st.Members {
		if m.ID == st.Node {
			return m.CommitIndex
		}
	}
	return 0
}

// logLine is the last line of node id's log containing what, trimmed.
func (c *cluster) logLine(id, what string) string {
	b, err := os.ReadFile(c.nodes[id].logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], what) {
			return strings.TrimSpace(lines[i])
		}
	}
	return "(no " + what + " line)"
}
