package node

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// accessView is everything a node answers about private rooms, keys and
// settings, for comparing nodes.
func accessView(n *Node) string {
	var b strings.Builder
	for _, room := range []string{"ops", "dev", "general"} {
		fmt.Fprintf(&b, "%+v\n", n.RoomAccess(room))
		for _, u := range []string{"alice", "bob", "carol"} {
			fmt.Fprintf(&b, "%s reads %s: %v\n", u, room, n.CanRead(u, room))
		}
		fmt.Fprintf(&b, "members %s: %v\n", room, n.state.Chat.Members(room))
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		fmt.Fprintf(&b, "keys %s: %+v\nsettings %s: %+v\n", u, n.Keys(u), u, n.NotifySettings(u))
	}
	return b.String()
}

// sameAccessEverywhere waits until every running node answers alike, and
// returns the answer.
func (c *testCluster) sameAccessEverywhere(applied uint64) string {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var first, firstID string
		same := true
		for id, rn := range c.nodes {
			if rn.n.applied.Load() < applied {
				same = false
				break
			}
			v := accessView(rn.n)
			if firstID == "" {
				first, firstID = v, id
			} else if v != first {
				same = false
			}
		}
		if same {
			return first
		}
		if time.Now().After(deadline) {
			for id, rn := range c.nodes {
				c.t.Logf("%s (applied %d):\n%s", id, rn.n.applied.Load(), accessView(rn.n))
			}
			c.t.Fatalf("nodes disagree on access, keys or settings")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Private rooms, keys and settings are replicated state: decided alike on
// every node, across a leader failover, after a restart of one node and of
// the whole cluster (state rebuilt from a snapshot and the WAL after it).
func TestAccessAcrossFailoverAndRestart(t *testing.T) {
	c := newTestClusterConf(t, 3, "[storage]\nsnapshot_every = 10\n", nil)
	lead := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	other := func(not ...string) *Node {
		for id, rn := range c.nodes {
			if !strings.Contains(strings.Join(not, ","), id) {
				return rn.n
			}
		}
		t.Fatal("no node left")
		return nil
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	refused := func(err error, want string) {
		t.Helper()
		var r *api.Refusal
		if !errors.As(err, &r) || !strings.Contains(r.Error(), want) {
			t.Fatalf("got %v, want a refusal saying %q", err, want)
		}
	}
	n := other(lead) // a follower proposes: forwarded to the leader
	for _, u := range []string{"alice", "bob", "carol"} {
		must(n.BindName(ctx, u, "SHA256:"+u))
	}
	for i := range 8 { // enough entries that snapshots fall among the changes below
		c.post(lead, "carol", fmt.Sprint("m", i), fmt.Sprint("id", i))
	}
	must(n.JoinRoom(ctx, "alice", "ops"))
	must(n.SetRoomPrivate(ctx, "alice", "ops", true, false))
	must(n.Invite(ctx, "alice", "ops", "bob", false))
	must(n.JoinRoom(ctx, "bob", "ops"))
	refused(n.JoinRoom(ctx, "carol", "ops"), "#ops is private")
	_, err := n.Post(ctx, "carol", "ops", "let me in", "", 0, false)
	refused(err, "not a member")
	must(n.AddKey(ctx, "alice", "alice", "SHA256:laptop", "ssh-ed25519 laptop", false))
	refused(n.AddKey(ctx, "bob", "bob", "SHA256:laptop", "", false), "belongs to another name")
	must(n.SetNotify(ctx, "alice", "ops", api.NotifyAll))
	must(n.SetPref(ctx, "alice", api.PrefHighlight, "deploy", false))
	before := c.sameAccessEverywhere(n.applied.Load())

	// The leader stops; the next one carries on with the same state.
	c.stop(lead)
	newLead := c.leader()
	if newLead == lead {
		t.Fatal("no new leader")
	}
	n = c.nodes[newLead].n
	if got := accessView(n); got != before {
		t.Fatalf("the new leader's state differs:\n%s\nwant\n%s", got, before)
	}
	must(n.RemoveFromRoom(ctx, "alice", "ops", "bob", "rotation", false))
	must(n.RemoveKey(ctx, "alice", "alice", "SHA256:alice", false))
	refused(n.RemoveKey(ctx, "alice", "alice", "SHA256:laptop", false), "only key")
	must(n.SetPref(ctx, "alice", api.PrefBell, "off", false))
	if n.CanRead("bob", "ops") || !n.HasKey("alice", "SHA256:laptop") || n.HasKey("alice", "SHA256:alice") {
		t.Fatal("the changes after the failover did not take")
	}
	// The old leader comes back and catches up.
	c.start(lead)
	after := c.sameAccessEverywhere(n.applied.Load())

	// The whole cluster restarts: state from the newest snapshot and the
	// WAL after it.
	for _, id := range []string{"n1", "n2", "n3"} {
		c.stop(id)
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		c.start(id)
	}
	c.leader()
	for id, rn := range c.nodes {
		if rn.n.snaps.status().applied == 0 {
			t.Errorf("%s started without a snapshot", id)
		}
		if got := accessView(rn.n); got != after {
			t.Fatalf("%s after the restart:\n%s\nwant\n%s", id, got, after)
		}
	}
}

// Every kind of this feature respects the upgrade rule: a cluster whose
// members do not all announce it refuses it before it reaches the log.
func TestAccessKindsNeedEveryMember(t *testing.T) {
	old := maxKind
	maxKind = eventlog.KindMembershipChanged // a build from before them
	t.Cleanup(func() { maxKind = old })      // after the nodes stop (cleanups run last first)
	// Every kind of the feature is above the baseline, so the rule
	// applies to each (supportedByAll reads the ring: only the driver
	// calls it, so the refusals are checked through requests below).
	for k := eventlog.KindRoomAccessSet; k <= eventlog.KindPrefSet; k++ {
		if k <= baselineKind || !k.Known() {
			t.Fatalf("%s is not a new kind above the baseline", k)
		}
	}
	c := newTestCluster(t, 3)
	lead := c.leader()
	n := c.nodes[lead].n
	// Refused either way: a member announces kinds up to 26, or (early,
	// on a loaded machine) has not been heard from yet.
	refused := func(err error) bool {
		return err != nil && (strings.Contains(err.Error(), "not supported by every member yet") || strings.Contains(err.Error(), "has not been heard yet"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.BindName(ctx, "alice", "SHA256:alice"); err != nil {
		t.Fatal(err)
	}
	if err := n.JoinRoom(ctx, "alice", "ops"); err != nil {
		t.Fatal(err)
	}
	// Requests that the state would take (invite and remove need a room
	// already private, and a removal another key: the state refuses them
	// before the kind is even asked).
	for _, err := range []error{
		n.SetRoomPrivate(ctx, "alice", "ops", true, false),
		n.AddKey(ctx, "alice", "alice", "SHA256:x", "", false),
		n.SetNotify(ctx, "alice", "ops", "none"),
		n.SetPref(ctx, "alice", "bell", "off", false),
	} {
		if !refused(err) {
			t.Fatalf("a new kind on an old cluster: %v", err)
		}
	}
	if got := n.state.Prefs.Of("alice"); !reflect.DeepEqual(got, api.NotifySettings{Bell: true, Notify: map[string]string{}}) ||
		n.state.Access.Private("ops") || len(n.Keys("alice")) != 1 {
		t.Fatalf("something applied: %+v", got)
	}
}
