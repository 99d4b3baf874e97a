package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// The checks on the nodes' WALs, through the audit tools (`syncnet wal`),
// which read a data directory without a running node.

// walResult is one run of `syncnet wal`.
type walResult struct {
	stdout, stderr string
	code           int
}

// wal runs `syncnet wal ARGS`; only a failure to run it at all is an error.
func runWAL(args ...string) (walResult, error) {
	cmd := exec.Command(binPath, append([]string{"wal"}, args...)...)
	// A -race binary sleeps a second at exit by default (atexit_sleep_ms),
	// which would be most of each run here; race reports are not delayed.
	cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := walResult{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code, err = ee.ExitCode(), nil
	}
	return r, err
}

// nodeDir is node id's data directory (holding wal/).
func (c *cluster) nodeDir(id string) string { return filepath.Join(c.dir, "data", id) }

// walDiff runs `syncnet wal diff` over the nodes' data directories and fails
// the test unless they AGREE (committed entries identical up to the smaller
// commit index, no two leaders named for one term). It is read-only and
// safe on running nodes.
func (c *cluster) walDiff(nodes []string) {
	c.t.Helper()
	var dirs []string
	for _, id := range nodes {
		dirs = append(dirs, filepath.Join(c.nodeDir(id), "wal"))
	}
	r, err := runWAL(append([]string{"diff"}, dirs...)...)
	if err != nil {
		c.t.Errorf("wal diff: %v", err)
		return
	}
	var agree string
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "AGREE") {
			agree = line
		}
	}
	if r.code != 0 || agree == "" {
		c.t.Errorf("wal diff %v: exit %d:\n%s%s", nodes, r.code, r.stdout, r.stderr)
		return
	}
	c.t.Logf("wal diff %v: %s", nodes, agree)
}

// walVerify runs `syncnet wal verify` on node id and returns its exit code
// (0 clean, 3 torn tail only) and first line.
func (c *cluster) walVerify(id string) (int, string) {
	r, err := runWAL("verify", filepath.Join(c.nodeDir(id), "wal"))
	if err != nil {
		return -1, err.Error()
	}
	line, _, _ := strings.Cut(strings.TrimSpace(r.stdout+r.stderr), "\n")
	return r.code, line
}

// exported reads the messages of rooms from node id's WAL with `syncnet wal
// export` (jsonl), all rooms merged in index order. A room the log does not
// hold (its posts were never committed) exports nothing.
func (c *cluster) exported(id string, rooms []string, uncommitted bool) ([]message, error) {
	var msgs []message
	for _, room := range rooms {
		args := []string{"export", "--room", room, "--format", "jsonl"}
		if uncommitted {
			args = append(args, "--include-uncommitted")
		}
		r, err := runWAL(append(args, filepath.Join(c.nodeDir(id), "wal"))...)
		if err != nil {
			return nil, err
		}
		if r.code == 1 && strings.Contains(r.stderr, "no room") {
			continue
		}
		if r.code != 0 {
			return nil, fmt.Errorf("%s: wal export --room %s: exit %d: %s", id, room, r.code, strings.TrimSpace(r.stderr))
		}
		sc := bufio.NewScanner(strings.NewReader(r.stdout))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m message
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				return nil, fmt.Errorf("%s: wal export line %q: %w", id, sc.Text(), err)
			}
			msgs = append(msgs, m)
		}
	}
	sort.SliceStable(msgs, func(i, j int) bool { return msgs[i].Index < msgs[j].Index })
	return msgs, nil
}

// checkExports is the set check on the nodes' WALs instead of their history
// commands: `syncnet wal export` of every node must hold every acknowledged
// id exactly once, at the index its post returned. A missing id is looked
// for again with --include-uncommitted, to tell "in the WAL, above its
// recorded commit index" (the commit marker trails) from "not in the WAL".
func (w *workload) checkExports(nodes []string) verdict {
	w.c.t.Helper()
	w.mu.Lock()
	rooms := sortedKeys(w.rooms)
	w.mu.Unlock()
	hist, all := map[string][]message{}, map[string][]message{}
	for _, id := range nodes {
		var err error
		if hist[id], err = w.c.exported(id, rooms, false); err != nil {
			w.c.t.Fatal(err)
		}
		if all[id], err = w.c.exported(id, rooms, true); err != nil {
			w.c.t.Fatal(err)
		}
	}
	w.mu.Lock()
	var summary []string
	trails := map[[2]string]bool{} // (node, id) in the WAL above its commit marker
	for _, id := range nodes {
		in := map[string]bool{}
		for _, m := range hist[id] {
			in[m.ID] = true
		}
		var trailing, absent []string
		for _, m := range all[id] {
			if _, ok := w.acked[m.ID]; ok && !in[m.ID] {
				trailing = append(trailing, fmt.Sprintf("%s@%d", m.ID, m.Index))
				trails[[2]string{id, m.ID}] = true
			}
		}
		present := map[string]bool{}
		for _, m := range all[id] {
			present[m.ID] = true
		}
		for cid := range w.acked {
			if !present[cid] {
				absent = append(absent, cid)
			}
		}
		sort.Strings(absent)
		w.c.t.Logf("wal export of %s: %d messages committed, %d with --include-uncommitted", id, len(hist[id]), len(all[id]))
		if len(trailing) > 0 {
			summary = append(summary, fmt.Sprintf("%s: %d acknowledged message(s) are in the WAL but above its recorded commit index (the commit marker trails; export leaves them out): %s",
				id, len(trailing), strings.Join(trailing, " ")))
		}
		if len(absent) > 0 {
			summary = append(summary, fmt.Sprintf("%s: %d acknowledged message(s) are not in the WAL at all: %s", id, len(absent), strings.Join(absent, " ")))
		}
	}
	v := w.judgeLocked(nodes, hist, summary, func(node, id string) bool { return trails[[2]string{node, id}] })
	w.mu.Unlock()
	w.c.t.Logf("export check on %v: %d acknowledged, %d lost, %d duplicated", nodes, v.acked, v.lost, v.duplicated)
	for _, p := range v.problems {
		w.c.t.Error(p)
	}
	return v
}

// termAll sends SIGTERM to every running node at once, as `syncnet up` does
// on Ctrl-C, and waits until each has exited; it fails the test for a node
// that did not stop within 20s or did not log a clean stop.
func (c *cluster) termAll() {
	c.t.Helper()
	var ids []string
	for _, id := range c.ids {
		if c.running(id) {
			c.markLog(id, "SIGTERM (all nodes)")
			if err := c.signal(id, syscall.SIGTERM); err != nil {
				c.t.Fatalf("SIGTERM %s: %v", id, err)
			}
			_ = c.signal(id, syscall.SIGCONT)
			ids = append(ids, id)
		}
	}
	c.t.Logf("SIGTERM %v at once", ids)
	deadline := time.Now().Add(20 * time.Second)
	for _, id := range ids {
		p := c.nodes[id]
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		select {
		case <-done:
		case <-time.After(time.Until(deadline)):
			_ = c.signal(id, syscall.SIGKILL)
			<-done
			c.t.Errorf("%s did not exit within 20s of SIGTERM", id)
		}
		p.mu.Lock()
		p.cmd, p.stopped = nil, false
		p.mu.Unlock()
		if !strings.Contains(tail(p.logPath, 20), "node stopped") {
			c.t.Errorf("%s did not log a clean stop (\"node stopped\"):\n%s", id, tail(p.logPath, 20))
		}
	}
}
