package e2e

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStaleForwardReplyAck is the regression test for a false acknowledgement
// found by TestChaos (seeds 1795733179618130549, 1795733457757325632 and a
// third run: 2-4 lost acknowledged posts per 100 cycles).
//
// What broke: a follower forwards a post to the leader; the leader is paused
// (SIGSTOP) and the followers elect a new leader, whose first entry is its
// no-op at index i. When the old leader resumes it still believes it leads
// for a moment, places the forwarded post at its own next index — also i, in
// its old term — and replies (i, old term). The follower (or new leader) that
// forwarded it has already applied index i (the no-op), and
// handleForwardReply's shortcut "r.Index <= applied → resolveApplied" answers
// the post as committed at index i without checking that the entry applied
// at i is this post (its term, or Lookup of the client id). The client is told
// "committed at i"; the entry at i is the no-op; the post is in no WAL (I4,
// and the post contract: exit 0 only once committed).
//
// The check is the plain contract: every post acknowledged with index i is
// in the log at index i. Trials repeat the race until it shows or runs out.
func TestStaleForwardReplyAck(t *testing.T) {
	c := start(t, 3)
	w := &workload{c: c, prefix: "sf", acked: map[string]ack{}, attempted: map[string]bool{}, rooms: map[string]bool{"sf": true}}
	const trials, perTrial = 12, 12
	for trial := 0; trial < trials; trial++ {
		old := c.waitLeader()
		followers := others(c.ids, old)
		offsets := map[string]int64{}
		for _, f := range followers {
			offsets[f] = c.logSize(f)
		}
		c.stop(old)
		var wg sync.WaitGroup
		for k := 0; k < perTrial; k++ {
			id := fmt.Sprintf("sf-%d-%d", trial, k)
			node := followers[k%2]
			user := fmt.Sprintf("sf-user%d", k)
			w.mu.Lock()
			w.attempted[id] = true
			w.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(k) * 25 * time.Millisecond) // spread over the forward-retry period
				if idx, err := c.post(node, user, "sf", "text-"+id, id); err == nil {
					w.mu.Lock()
					w.acked[id] = ack{room: "sf", index: idx, node: node, at: time.Now()}
					w.mu.Unlock()
				}
			}()
		}
		// SIGCONT the moment a follower logs that it leads: the old leader's
		// replies to the forwards queued while it was stopped then race the
		// new leader's no-op and the followers' re-forwarding (every 250ms).
		c.waitLogLine(followers, offsets, "msg=leading", 30*time.Second)
		c.cont(old)
		wg.Wait()
		c.waitLeader()
	}
	if v := w.check(c.ids); v.lost > 0 {
		t.Fatalf("%d of %d acknowledged posts are not in the log (false acknowledgement)", v.lost, v.acked)
	}
}

// logSize is the current length of node id's log file.
func (c *cluster) logSize(id string) int64 {
	fi, err := os.Stat(c.nodes[id].logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// waitLogLine polls the logs of ids, from the given offsets, until one holds
// a line containing what; it returns that node.
func (c *cluster) waitLogLine(ids []string, offsets map[string]int64, what string, within time.Duration) string {
	c.t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		for _, id := range ids {
			b, err := os.ReadFile(c.nodes[id].logPath)
			if err == nil && int64(len(b)) > offsets[id] && strings.Contains(string(b[offsets[id]:]), what) {
				return id
			}
		}
	}
	c.t.Fatalf("no %q in the logs of %v within %s", what, ids, within)
	return ""
}
