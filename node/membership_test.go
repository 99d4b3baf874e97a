package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/ring"
)

// startJoiner starts node id with a config that lists it beside the
// cluster's nodes (its own cluster.toml), on sockets bound now: a new host.
func (c *testCluster) startJoiner(id string, ring int) (*config.Config, api.MemberSpec) {
	c.t.Helper()
	ls := bindAll(c.t, [4]int{})
	ps := ports(ls)
	ls.SSH.Close()
	cfg := *c.cfg
	cfg.Nodes = append(slices.Clone(c.cfg.Nodes), config.Node{ID: id, Host: "127.0.0.1", SSHPort: ps[0], PeerPort: ps[1],
		HeartbeatPort: ps[2], ElectionPort: ps[3], Ring: ring})
	c.ports[id] = ps
	c.runWith(&cfg, id, &ls.Listeners)
	return &cfg, api.MemberSpec{ID: id, Host: "127.0.0.1", SSHPort: ps[0], PeerPort: ps[1], HeartbeatPort: ps[2], ElectionPort: ps[3], Ring: ring}
}

func (c *testCluster) runWith(cfg *config.Config, id string, ls *Listeners) {
	c.t.Helper()
	logger := slog.New(slog.NewTextHandler(&testLogWriter{t: c.t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", id)
	n, err := New(Options{Config: cfg, ID: id, Logger: logger, Listeners: ls, NoSeed: true})
	if err != nil {
		c.t.Fatalf("start %s: %v", id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runningNode{n: n, stop: cancel, done: make(chan error, 1)}
	go func() { rn.done <- n.Serve(ctx) }()
	c.nodes[id] = rn
}

func change(t *testing.T, n *Node, ch api.MemberChange) (uint64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return n.ChangeMembers(ctx, ch)
}

// waitMembers waits until node id holds a committed membership entry whose
// voters and learners are exactly these.
func (c *testCluster) waitMembers(id string, voters, learners []string) api.MembershipInfo {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info := c.nodes[id].n.ClusterMembers()
		var v, l []string
		for _, m := range info.Members {
			if m.Voter {
				v = append(v, m.ID)
			} else {
				l = append(l, m.ID)
			}
		}
		if info.Entry != 0 && info.Committed && slices.Equal(v, voters) && slices.Equal(l, learners) {
			return info
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s holds voters %v and learners %v (entry %d, committed %v), want %v and %v", id, v, l, info.Entry, info.Committed, voters, learners)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMembershipAddPromoteRemove: a three-node cluster takes a fourth node
// as a learner (the change asked on a follower, which forwards it), the
// new node gets the whole history, is promoted once caught up, and an
// original node is removed and stops itself; posts commit throughout, the
// new node restarts on the membership of its log, the leader refuses what
// the rules forbid with a message that says why, and a leader asked to
// remove itself hands over first and is removed by the next.
func TestMembershipAddPromoteRemove(t *testing.T) {
	c := newTestClusterConf(t, 3, "[storage]\nsnapshot_every = 25\n", func(o *Options) { o.PostRate = -1 })
	lead := c.leader()
	for i := range 30 {
		c.post(lead, "alice", fmt.Sprintf("before %d", i), fmt.Sprintf("b%d", i))
	}
	var follower string
	for _, id := range []string{"n1", "n2", "n3"} {
		if id != lead {
			follower = id
		}
	}
	cfg4, spec := c.startJoiner("n4", 3)
	if _, err := change(t, c.nodes[follower].n, api.MemberChange{Op: "add", Node: "n4", Spec: spec, By: "admin"}); err != nil {
		t.Fatalf("add n4 through %s: %v", follower, err)
	}
	for _, id := range []string{"n1", "n2", "n3", "n4"} {
		c.waitMembers(id, []string{"n1", "n2", "n3"}, []string{"n4"})
	}
	c.waitHistory("n4", 30)

	if _, err := change(t, c.nodes[lead].n, api.MemberChange{Op: "add", Node: "n4", Spec: spec, By: "admin"}); err == nil ||
		!strings.Contains(err.Error(), "member already") {
		t.Fatalf("adding n4 twice: %v", err)
	}
	var promoted bool
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !promoted; {
		_, err := change(t, c.nodes[lead].n, api.MemberChange{Op: "promote", Node: "n4", By: "admin"})
		switch {
		case err == nil:
			promoted = true
		case strings.Contains(err.Error(), "caught up"), strings.Contains(err.Error(), "not been heard"):
			time.Sleep(50 * time.Millisecond)
		default:
			t.Fatalf("promote n4: %v", err)
		}
	}
	if !promoted {
		t.Fatal("n4 never caught up enough to be promoted")
	}
	for _, id := range []string{"n1", "n2", "n3", "n4"} {
		c.waitMembers(id, []string{"n1", "n2", "n3", "n4"}, nil)
	}
	if _, err := change(t, c.nodes[lead].n, api.MemberChange{Op: "promote", Node: "n9", By: "admin"}); err == nil ||
		!strings.Contains(err.Error(), "not a member") {
		t.Fatalf("promoting a stranger: %v", err)
	}

	// Remove the follower: it applies its removal and stops by itself.
	if _, err := change(t, c.nodes[lead].n, api.MemberChange{Op: "remove", Node: follower, By: "admin"}); err != nil {
		t.Fatalf("remove %s: %v", follower, err)
	}
	rn := c.nodes[follower]
	select {
	case err := <-rn.done:
		if !errors.Is(err, ErrRemoved) {
			t.Fatalf("%s stopped with %v, want ErrRemoved", follower, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not stop after its removal", follower)
	}
	rn.stop()
	delete(c.nodes, follower)
	var rest []string
	for _, id := range []string{"n1", "n2", "n3", "n4"} {
		if id != follower {
			rest = append(rest, id)
		}
	}
	for _, id := range rest {
		c.waitMembers(id, rest, nil)
	}
	for i := range 20 {
		c.post(lead, "alice", fmt.Sprintf("after %d", i), fmt.Sprintf("a%d", i))
	}
	want := c.sameHistoryEverywhere(50)

	// n4 restarts from its own log and snapshot: the same membership.
	c.stop("n4")
	c.runWith(cfg4, "n4", &bindAll(t, c.ports["n4"]).Listeners)
	c.waitMembers("n4", rest, nil)
	if got := c.waitHistory("n4", 50); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("n4's history after its restart differs")
	}
	c.post(c.leader(), "alice", "last", "last")
	c.sameHistoryEverywhere(51)

	// The leader is removed: it hands over first, the request goes to the
	// next leader, and the old one stops once it applies its removal.
	old := c.leader()
	if _, err := change(t, c.nodes[old].n, api.MemberChange{Op: "remove", Node: old, By: "admin"}); err != nil {
		t.Fatalf("removing the leader %s: %v", old, err)
	}
	orn := c.nodes[old]
	select {
	case err := <-orn.done:
		if !errors.Is(err, ErrRemoved) {
			t.Fatalf("%s stopped with %v, want ErrRemoved", old, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the old leader %s did not stop after its removal", old)
	}
	orn.stop()
	delete(c.nodes, old)
	rest = slices.DeleteFunc(rest, func(id string) bool { return id == old })
	for _, id := range rest {
		c.waitMembers(id, rest, nil)
	}
	c.post(c.leader(), "alice", "after the leader left", "left")
	c.sameHistoryEverywhere(52)
}

// TestNextMembersRefusals: each change the rules forbid is refused with
// why, and nothing is planned.
func TestNextMembersRefusals(t *testing.T) {
	spec := func(id, host string, port int, learner bool) eventlog.NodeSpec {
		return eventlog.NodeSpec{ID: id, Host: host, SSHPort: port, PeerPort: port + 1, HeartbeatPort: port + 2, ElectionPort: port + 3, Learner: learner}
	}
	cur := memberConf{id: ring.ConfID{Index: 9, Term: 2}, retired: []string{"n0"},
		specs: []eventlog.NodeSpec{spec("n1", "h1", 2000, false), spec("n4", "h4", 2000, true)}}
	js := func(s eventlog.NodeSpec) string { b, _ := json.Marshal(s); return string(b) }
	for _, tc := range []struct {
		b    eventlog.MembershipChanged
		want string
	}{
		{eventlog.MembershipChanged{Op: "add", Node: "n1", Spec: js(spec("n1", "h9", 2000, false))}, "a member already"},
		{eventlog.MembershipChanged{Op: "add", Node: "n0", Spec: js(spec("n0", "h9", 2000, false))}, "joins under a new id"},
		{eventlog.MembershipChanged{Op: "add", Node: "n5", Spec: js(spec("n5", "h1", 2001, false))}, "which n1 uses"},
		{eventlog.MembershipChanged{Op: "add", Node: "n5", Spec: js(spec("n6", "h9", 2000, false))}, "with the address of n6"},
		{eventlog.MembershipChanged{Op: "add", Node: "n5", Spec: `{"id":"n5"}`}, "has no host"},
		{eventlog.MembershipChanged{Op: "promote", Node: "n1"}, "a voter already"},
		{eventlog.MembershipChanged{Op: "promote", Node: "n7"}, "not a member"},
		{eventlog.MembershipChanged{Op: "remove", Node: "n7"}, "not a member"},
		{eventlog.MembershipChanged{Op: "remove", Node: "n1"}, "the last voter"},
		{eventlog.MembershipChanged{Op: "rename", Node: "n1"}, "unknown change"},
	} {
		if _, _, err := nextMembers(cur, &tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want %q", tc.b.Op, tc.b.Node, err, tc.want)
		}
	}
	m, retired, err := nextMembers(cur, &eventlog.MembershipChanged{Op: "remove", Node: "n4"})
	if err != nil || strings.Contains(m, "n4") || retired != "n0,n4" {
		t.Fatalf("remove n4: %s retired %q: %v", m, retired, err)
	}
}

// TestJoinByAddress: a node whose cluster.toml lists only itself joins with
// Options.Join (ID@HOST:PEER_PORT here, without TLS): refused while the
// membership does not hold it, nothing left behind; once added it copies
// the log and runs on the cluster's membership.
func TestJoinByAddress(t *testing.T) {
	c := newTestClusterConf(t, 3, "", func(o *Options) { o.PostRate = -1 })
	lead := c.leader()
	for i := range 10 {
		c.post(lead, "alice", fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", i))
	}
	ls := bindAll(t, [4]int{})
	ps := ports(ls)
	ls.SSH.Close()
	cfg := *c.cfg
	cfg.Nodes = []config.Node{{ID: "n5", Host: "127.0.0.1", SSHPort: ps[0], PeerPort: ps[1], HeartbeatPort: ps[2], ElectionPort: ps[3], Ring: 0}}
	join := fmt.Sprintf("n1@127.0.0.1:%d", c.ports["n1"][1])
	logger := slog.New(slog.NewTextHandler(&testLogWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", "n5")
	if _, err := New(Options{Config: &cfg, ID: "n5", Logger: logger, Listeners: &ls.Listeners, Join: join}); err == nil ||
		!strings.Contains(err.Error(), "does not hold n5") {
		t.Fatalf("joining before member add: %v", err)
	}
	if _, err := New(Options{Config: &cfg, ID: "n5", Logger: logger, Listeners: &ls.Listeners, Join: "127.0.0.1"}); err == nil ||
		!strings.Contains(err.Error(), "HOST:PEER_PORT") {
		t.Fatalf("a join address without a port: %v", err)
	}
	spec := api.MemberSpec{ID: "n5", Host: "127.0.0.1", SSHPort: ps[0], PeerPort: ps[1], HeartbeatPort: ps[2], ElectionPort: ps[3], Ring: 3}
	if _, err := change(t, c.nodes[lead].n, api.MemberChange{Op: "add", Node: "n5", Spec: spec, By: "admin"}); err != nil {
		t.Fatal(err)
	}
	c.waitMembers("n1", []string{"n1", "n2", "n3"}, []string{"n5"}) // the member it copies from knows it
	if _, err := os.Stat(cfg.NodeDir("n5")); !os.IsNotExist(err) {
		t.Fatalf("the refused join left %s behind (%v)", cfg.NodeDir("n5"), err)
	}
	// The refused starts never opened the network: the sockets are free.
	n, err := New(Options{Config: &cfg, ID: "n5", Logger: logger, Listeners: &ls.Listeners, Join: join})
	if err != nil {
		t.Fatalf("joining after member add: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runningNode{n: n, stop: cancel, done: make(chan error, 1)}
	go func() { rn.done <- n.Serve(ctx) }()
	c.nodes["n5"] = rn
	c.waitMembers("n5", []string{"n1", "n2", "n3"}, []string{"n5"})
	c.waitHistory("n5", 10)
}
