package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestClientFailover: `syncnet chat --batch` on node1; node1 is killed; the
// client moves to another node, and lines written before, during and after
// the move are each stored and received exactly once.
func TestClientFailover(t *testing.T) {
	requireChat(t)
	c := start(t, 3)
	chat := c.startChat("carol", "cf", c.ids)
	t.Log(chat.waitState("connected node1", 30*time.Second))

	before, during, after := texts("before", 5), texts("during", 5), texts("after", 5)
	chat.send(before...)
	chat.waitReceived(before, 30*time.Second)

	c.kill9("node1")
	chat.send(during...)
	t.Log(chat.waitState("reconnected", 30*time.Second))
	chat.send(after...)
	all := append(append(append([]string{}, before...), during...), after...)
	chat.waitReceived(all, 30*time.Second)
	chat.finish(30 * time.Second)

	// Received exactly once, in index order.
	chat.mu.Lock()
	seen := map[string]int{}
	var last uint64
	for _, l := range chat.received {
		seen[l.Text]++
		if l.Index <= last {
			t.Errorf("chat received index %d after %d (gap or duplicate)", l.Index, last)
		}
		last = l.Index
	}
	chat.mu.Unlock()
	for _, x := range all {
		if seen[x] != 1 {
			t.Errorf("chat received %q %d times, want 1", x, seen[x])
		}
	}

	// Stored exactly once on both survivors, same order.
	hist := c.converged([]string{"node2", "node3"}, []string{"cf"}, 30*time.Second)
	for _, id := range []string{"node2", "node3"} {
		stored := map[string]int{}
		for _, m := range hist[id] {
			stored[m.Text]++
		}
		for _, x := range all {
			if stored[x] != 1 {
				t.Errorf("%s stores %q %d times, want 1", id, x, stored[x])
			}
		}
		if len(hist[id]) != len(all) {
			t.Errorf("%s holds %d messages in room cf, want %d", id, len(hist[id]), len(all))
		}
	}
	t.Logf("%d lines delivered once through %s", len(all), strings.Join(others(c.ids, "node1"), "/"))
}
