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

// messageView is what every node must answer alike about a message: its
// text, whether edited or deleted, its reactions, its thread.
func (c *testCluster) messageView(id string, user string, index uint64) string {
	c.t.Helper()
	m, err := c.nodes[id].n.Message(user, index)
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %q reply_to=%d", m.Index, m.From, m.Text, m.ReplyTo)
	if x := m.Extra; x != nil {
		fmt.Fprintf(&b, " edits=%d deleted=%v by=%q replies=%d last=%d", x.Edits, x.Deleted, x.By, x.Replies, x.LastReply)
		for _, r := range x.Reactions {
			fmt.Fprintf(&b, " %s%v", r.Emoji, r.Users)
		}
	}
	return b.String()
}

// waitViews waits until every running node answers want for each index.
func (c *testCluster) waitViews(user string, want map[uint64]string) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var bad []string
		for id := range c.nodes {
			for x, w := range want {
				if got := c.messageView(id, user, x); got != w {
					bad = append(bad, fmt.Sprintf("%s: message %d:\n  got  %s\n  want %s", id, x, got, w))
				}
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("nodes disagree:\n%s", strings.Join(bad, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Edits, deletions, reactions and replies through the replicated log: made
// on any node, seen alike on every node and live by subscribers, kept
// across a leader failover, a restart from a snapshot and the WAL tail,
// and a restart of the whole cluster.
func TestMessageChangesAcrossFailoverAndRestart(t *testing.T) {
	c := newTestClusterConf(t, 3, "[storage]\nsnapshot_every = 8\n", func(o *Options) { o.PostRate = -1 })
	lead := c.leader()
	var follower string
	for id := range c.nodes {
		if id != lead {
			follower = id
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub := c.nodes[follower].n.Subscribe(api.Filter{Rooms: []string{"general"}}, 64)
	defer sub.Close()

	a := c.post(lead, "alice", "helo world", "a1")
	b := c.post(follower, "bob", "hi alice", "b1")
	if _, err := c.nodes[follower].n.Edit(ctx, "alice", a, "hello world"); err != nil {
		t.Fatal(err)
	}
	for _, x := range []uint64{0, 1, 1 << 40} { // a no-op entry, no entry: not found (never a wait for it)
		if _, err := c.nodes[follower].n.Message("alice", x); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("message %d: %v", x, err)
		}
	}
	if _, err := c.nodes[lead].n.Edit(ctx, "bob", a, "bob was here"); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("bob editing alice's message: %v", err)
	}
	if on, err := c.nodes[lead].n.React(ctx, "bob", a, "👍", api.ReactToggle); err != nil || !on {
		t.Fatalf("react: %v %v", on, err)
	}
	r := c.nodes[lead].n.Submit(ctx, api.PostRequest{User: "carol", Room: "general", Text: "agreed", ReplyTo: a})
	reply, err := r.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A reply to the reply goes to the thread of the first message. (The
	// follower replies to what it has applied, as its users see it.)
	c.waitViews("bob", map[uint64]string{reply: fmt.Sprintf(`%d carol "agreed" reply_to=%d`, reply, a)})
	r2, err := c.nodes[follower].n.Submit(ctx, api.PostRequest{User: "bob", Room: "general", Text: "same", ReplyTo: reply}).Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The edit reached the follower's subscriber live.
	sawEdit := false
	for !sawEdit {
		select {
		case ev := <-sub.C():
			if ev.Kind == api.EventMessageChanged && ev.Change.Op == api.ChangeEdit && ev.Change.Target == a && ev.Change.Text == "hello world" {
				sawEdit = true
			}
		case <-ctx.Done():
			t.Fatal("no live edit on the follower")
		}
	}

	want := map[uint64]string{
		a:     fmt.Sprintf(`%d alice "hello world" reply_to=0 edits=1 deleted=false by="" replies=2 last=%d 👍[bob]`, a, r2),
		b:     fmt.Sprintf(`%d bob "hi alice" reply_to=0`, b),
		reply: fmt.Sprintf(`%d carol "agreed" reply_to=%d`, reply, a),
		r2:    fmt.Sprintf(`%d bob "same" reply_to=%d`, r2, a),
	}
	c.waitViews("alice", want)

	// Failover: the leader stops; the survivors go on.
	c.stop(lead)
	newLead := c.leader()
	if _, err := c.nodes[newLead].n.Edit(ctx, "alice", a, "hello, world"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.nodes[newLead].n.Delete(ctx, "alice", b, false, ""); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("alice deleting bob's message: %v", err)
	}
	if _, err := c.nodes[newLead].n.Delete(ctx, "root", b, true, "off topic"); err != nil {
		t.Fatalf("an admin's deletion: %v", err)
	}
	if on, err := c.nodes[newLead].n.React(ctx, "bob", a, "👍", api.ReactToggle); err != nil || on {
		t.Fatalf("toggle off: %v %v", on, err)
	}
	if on, err := c.nodes[newLead].n.React(ctx, "carol", a, "🎉", api.ReactAdd); err != nil || !on {
		t.Fatalf("react: %v %v", on, err)
	}
	want[a] = fmt.Sprintf(`%d alice "hello, world" reply_to=0 edits=2 deleted=false by="" replies=2 last=%d 🎉[carol]`, a, r2)
	want[b] = fmt.Sprintf(`%d bob "" reply_to=0 edits=0 deleted=true by="root" replies=0 last=0`, b)
	c.waitViews("alice", want)
	vs, err := c.nodes[newLead].n.Versions("bob", a)
	if err != nil || len(vs) != 3 || vs[0].Text != "helo world" || vs[2].Text != "hello, world" {
		t.Fatalf("versions: %+v %v", vs, err)
	}
	th, err := c.nodes[newLead].n.Thread("bob", a, 10)
	if err != nil || len(th) != 3 || th[1].Index != reply || th[2].Index != r2 {
		t.Fatalf("thread: %+v %v", th, err)
	}

	// Enough entries after the changes for snapshots that hold them (a
	// snapshot is anchored at a multiple of 16 entries).
	for i := range 24 {
		c.post(newLead, "dave", fmt.Sprint("filler ", i), fmt.Sprint("f", i))
	}
	// The stopped node comes back (snapshot + WAL tail) and agrees.
	c.start(lead)
	c.waitViews("alice", want)
	// So does the whole cluster after a restart.
	for _, id := range []string{"n1", "n2", "n3"} {
		c.stop(id)
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		c.start(id)
	}
	c.leader()
	c.waitViews("alice", want)
	for id := range c.nodes {
		if snap := c.nodes[id].n.Status().Storage.SnapshotIndex; snap == 0 {
			t.Errorf("%s restarted without a snapshot", id)
		}
		if vs2, _ := c.nodes[id].n.Versions("alice", a); !reflect.DeepEqual(vs2, vs) {
			t.Errorf("%s: versions %+v, want %+v", id, vs2, vs)
		}
	}
}

// The upgrade rule: edits, deletions, reactions and replies are proposed
// only once every member announces it applies kinds 27 to 29 (a reply is a
// post with a field an older build would apply as a plain post, keeping no
// thread). Here every member announces a build that stops at kind 26.
func TestMessageChangesWaitForEveryMember(t *testing.T) {
	old := maxKind
	maxKind = eventlog.KindMembershipChanged
	t.Cleanup(func() { maxKind = old })
	c := newTestClusterWith(t, 3, func(o *Options) { o.PostRate = -1 })
	lead := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a := c.post(lead, "alice", "plain posts go on", "a1")
	if _, err := c.nodes[lead].n.Edit(ctx, "alice", a, "edited"); err == nil || !strings.Contains(err.Error(), "not supported by every member yet") {
		t.Fatalf("an edit before every member applies kind 27: %v", err)
	}
	if _, err := c.nodes[lead].n.Submit(ctx, api.PostRequest{User: "bob", Room: "general", Text: "re", ReplyTo: a}).Wait(ctx); err == nil ||
		!strings.Contains(err.Error(), "reaction_set is not supported by every member yet") {
		t.Fatalf("a reply before every member applies kinds 27-29: %v", err)
	}
	if got := requiredKind(eventlog.Event{Body: &eventlog.DirectMessage{ReplyTo: 3}}); got != eventlog.KindReactionSet {
		t.Fatalf("a direct reply needs kind %v", got)
	}
	if got := requiredKind(eventlog.Event{Body: &eventlog.MessagePosted{}}); got != eventlog.KindMessagePosted {
		t.Fatalf("a plain post needs kind %v", got)
	}
}

// A reader's subscription gets an edit, deletion or reaction only of a
// message it may read: a private room's that lets it in, a direct
// conversation it is a party of.
func TestChangeEventsReachOnlyReaders(t *testing.T) {
	set := &subscribers{canRead: func(user, conv string) bool {
		return conv == "general" || (conv == api.DMRoom("ann", "bob") && (user == "ann" || user == "bob"))
	}}
	change := func(conv string) api.Event {
		return api.Event{Kind: api.EventMessageChanged, Room: conv, Change: &api.MessageChange{Conv: conv, Op: api.ChangeEdit}}
	}
	for _, c := range []struct {
		reader, conv string
		want         bool
	}{
		{"cat", "general", true}, {"cat", "ops", false}, {"ann", api.DMRoom("ann", "bob"), true}, {"cat", api.DMRoom("ann", "bob"), false},
	} {
		if got := set.readable(c.reader, change(c.conv)); got != c.want {
			t.Errorf("%s reading a change in %s: %v, want %v", c.reader, c.conv, got, c.want)
		}
	}
}
