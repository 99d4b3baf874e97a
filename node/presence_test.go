package node

import (
	"context"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// presenceOf is user's presence in #general as node id shows it.
func (c *testCluster) presenceOf(id, user string) api.Presence {
	for _, p := range c.nodes[id].n.Members("general") {
		if p.User == user {
			return p
		}
	}
	return api.Presence{User: user, Status: "(not a member)"}
}

// waitPresence waits until every node in ids shows user with status (and
// on node on, if not "").
func (c *testCluster) waitPresence(within time.Duration, user, status, on string, ids ...string) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for _, id := range ids {
		for {
			p := c.presenceOf(id, user)
			if p.Status == status && (on == "" || p.Node == on) {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("%s shows %s %s on %q, want %s on %q", id, user, p.Status, p.Node, status, on)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// A user whose node died used to stay "online" on every other node until
// that node came back (85 s and counting in a trial): the dead node could
// not report its sessions gone. Presence reported by a node that is not
// heard as alive is not shown, on every node, within about failure_timeout;
// and the user is online again once they connect to a live node.
func TestPresenceOfDeadNodeClears(t *testing.T) {
	c := newTestCluster(t, 3)
	c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	n3 := c.nodes["n3"].n
	if err := n3.JoinRoom(ctx, "carol", "general"); err != nil {
		t.Fatal(err)
	}
	if err := n3.SetPresence(ctx, "carol", "online"); err != nil {
		t.Fatal(err)
	}
	c.waitPresence(5*time.Second, "carol", "online", "n3", "n1", "n2", "n3")

	sub := c.nodes["n1"].n.Subscribe(api.Filter{}, 256)
	defer sub.Close()
	c.stop("n3")
	// failure_timeout is 250ms here; allow for a loaded machine.
	c.waitPresence(3*time.Second, "carol", "offline", "", "n1", "n2")
	told := false
	for !told {
		select {
		case ev := <-sub.C():
			told = ev.Kind == api.EventPresence && ev.Index == 0
		case <-time.After(time.Second):
			t.Fatal("n1's subscribers were not told that presence shown changed (front ends would show a stale members pane)")
		}
	}

	c.leader()
	if err := c.nodes["n2"].n.SetPresence(ctx, "carol", "online"); err != nil {
		t.Fatal(err)
	}
	c.waitPresence(5*time.Second, "carol", "online", "n2", "n1", "n2")
}
