package chat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// checkExactly compares what the client delivered with the committed room:
// same indexes, in order, each once, starting after skip messages of history.
func checkExactly(t *testing.T, got []Message, want []api.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("client got %d messages, room has %d:\ngot  %v\nwant %v", len(got), len(want), indexes(got), sindexes(want))
	}
	for i := range want {
		if got[i].Index != want[i].Index || got[i].Text != want[i].Text || got[i].ID != want[i].ID {
			t.Fatalf("message %d: got %d %q, want %d %q", i, got[i].Index, got[i].Text, want[i].Index, want[i].Text)
		}
	}
}

func indexes(ms []Message) []uint64 {
	var out []uint64
	for _, m := range ms {
		out = append(out, m.Index)
	}
	return out
}

func sindexes(ms []api.Message) []uint64 {
	var out []uint64
	for _, m := range ms {
		out = append(out, m.Index)
	}
	return out
}

// countID counts the committed messages carrying client id.
func countID(ms []api.Message, id string) int {
	n := 0
	for _, m := range ms {
		if m.ID == id {
			n++
		}
	}
	return n
}

// The node in use dies; while no node is reachable another user posts
// through node2 and this user types lines; node2 comes back. The client must
// move to node2, show every message exactly once with no gap, and store each
// queued line once.
func TestFailoverResumesAndDeliversQueuedLinesOnce(t *testing.T) {
	f, nodes := startCluster(t, 3)
	for i := range 3 {
		f.Append(api.Message{Room: "general", From: "carol", Text: fmt.Sprintf("old %d", i)})
	}
	c, rec, _ := startClient(t, "alice", nodes, nil)
	waitUntil(t, 10*time.Second, "connected to node1", func() bool { return rec.sawState(StateConnected, "node1") })
	waitUntil(t, 10*time.Second, "history", func() bool { return len(rec.messages()) == 3 })
	bob := newSigner(t)
	for i := range 3 {
		postVia(t, nodes[1].inner, "bob", bob, fmt.Sprintf("before %d", i), fmt.Sprintf("bob-a%d", i))
	}
	id0 := c.Send("alice before")
	waitUntil(t, 10*time.Second, "own line echoed", func() bool { return rec.hasText("alice before") })

	// Kill node1 and keep node2 and node3 down too: the client is stranded.
	nodes[1].setUp(false)
	nodes[2].setUp(false)
	nodes[0].setUp(false)
	waitUntil(t, 10*time.Second, "disconnected", func() bool { return rec.sawState(StateDisconnected, "node1") })
	var queued []string
	for i := range 4 {
		queued = append(queued, c.Send(fmt.Sprintf("typed while down %d", i)))
	}
	if _, ok := c.Connected(); ok {
		t.Fatal("client claims a connection while every node is down")
	}
	for i := range 5 { // committed meanwhile, through node2's server
		postVia(t, nodes[1].inner, "bob", bob, fmt.Sprintf("meanwhile %d", i), fmt.Sprintf("bob-b%d", i))
	}
	nodes[1].setUp(true)
	waitUntil(t, 10*time.Second, "queue drained", func() bool { return c.Queued() == 0 })
	postVia(t, nodes[1].inner, "bob", bob, "after", "bob-c")
	waitUntil(t, 10*time.Second, "message after failover", func() bool { return rec.hasText("after") })

	room := historyAfter(t, f, 1000)
	checkExactly(t, rec.messages(), room)
	for _, id := range append(queued, id0) {
		if n := countID(room, id); n != 1 {
			t.Errorf("client id %s stored %d times", id, n)
		}
	}
	if !rec.sawState(StateConnected, "node2") {
		t.Errorf("never connected to node2: %+v", rec.states)
	}
	fo := c.Failovers()
	if len(fo) != 1 || fo[0].From.Name != "node1" || fo[0].To.Name != "node2" || fo[0].FirstMessage.IsZero() {
		t.Fatalf("failovers = %+v", fo)
	}
}

// A node shut down abruptly (srv.Shutdown with no grace: every connection
// closed) while another user posts continuously: the client moves to the
// next node and misses nothing, duplicates nothing.
func TestFailoverUnderContinuousPosting(t *testing.T) {
	f, nodes := startCluster(t, 3)
	c, rec, _ := startClient(t, "alice", nodes, nil)
	waitUntil(t, 10*time.Second, "connected", func() bool { return rec.sawState(StateConnected, "node1") })

	stop := make(chan struct{})
	posted := make(chan int)
	go func() { // bob posts straight into the shared log, as node3 would
		n := 0
		defer func() { posted <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := f.Post(context.Background(), "bob", "general", fmt.Sprintf("tick %d", n), fmt.Sprintf("b%d", n), 0, false); err != nil {
				t.Errorf("post: %v", err)
				return
			}
			n++
			time.Sleep(2 * time.Millisecond)
		}
	}()
	waitUntil(t, 10*time.Second, "ticks", func() bool { return len(rec.messages()) >= 20 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	killed := time.Now()
	_ = nodes[0].srv.Shutdown(ctx)
	for i := range 3 {
		c.Send(fmt.Sprintf("alice %d", i))
	}
	waitUntil(t, 10*time.Second, "reconnected", func() bool { return len(c.Failovers()) == 1 && !c.Failovers()[0].FirstMessage.IsZero() })
	fo := c.Failovers()[0]
	t.Logf("failover %s -> %s: noticed %v after the kill, first message %v after it",
		fo.From.Name, fo.To.Name, fo.Lost.Sub(killed), fo.FirstMessage.Sub(killed))
	waitUntil(t, 10*time.Second, "queue drained", func() bool { return c.Queued() == 0 })
	close(stop)
	n := <-posted
	waitUntil(t, 10*time.Second, "all ticks", func() bool { return len(rec.messages()) >= n+3 })
	checkExactly(t, rec.messages(), historyAfter(t, f, 100000))
}

// A node that stops answering but keeps its TCP connections (SIGSTOP, a
// partition) is noticed by the keepalive and left for the next node.
func TestFrozenNodeIsLeftByKeepalive(t *testing.T) {
	f, nodes := startCluster(t, 2)
	c, rec, _ := startClient(t, "alice", nodes, func(c *Config) {
		c.KeepaliveInterval, c.KeepaliveTimeout = 100*time.Millisecond, 300*time.Millisecond
	})
	waitUntil(t, 10*time.Second, "connected", func() bool { return rec.sawState(StateConnected, "node1") })
	f.Append(api.Message{Room: "general", From: "bob", Text: "before"})
	waitUntil(t, 10*time.Second, "before", func() bool { return rec.hasText("before") })
	nodes[0].freeze()
	id := c.Send("while frozen")
	f.Append(api.Message{Room: "general", From: "bob", Text: "during"})
	waitUntil(t, 10*time.Second, "moved to node2", func() bool { return rec.sawState(StateConnected, "node2") })
	waitUntil(t, 10*time.Second, "queue drained", func() bool { return c.Queued() == 0 })
	waitUntil(t, 10*time.Second, "own line", func() bool { return rec.hasText("while frozen") })
	room := historyAfter(t, f, 100)
	checkExactly(t, rec.messages(), room)
	if n := countID(room, id); n != 1 {
		t.Fatalf("line stored %d times", n)
	}
}

func TestKnownHostsTrustOnFirstUseThenRefuseChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "known_hosts")
	kh, err := OpenKnownHosts(path)
	if err != nil {
		t.Fatal(err)
	}
	k1, k2 := newSigner(t).PublicKey(), newSigner(t).PublicKey()
	check := kh.Callback()
	cb := func(host string, k ssh.PublicKey) error {
		return check(host, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}, k)
	}
	if err := cb("127.0.0.1:2222", k1); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := cb("127.0.0.1:2222", k1); err != nil {
		t.Fatalf("same key again: %v", err)
	}
	if err := cb("127.0.0.1:2223", k2); err != nil {
		t.Fatalf("another host: %v", err)
	}
	err = cb("127.0.0.1:2222", k2)
	hk, ok := err.(*HostKeyChangedError)
	if !ok {
		t.Fatalf("changed key: got %v, want HostKeyChangedError", err)
	}
	if hk.File != path || hk.Line != 1 || !strings.Contains(err.Error(), path+":1") {
		t.Fatalf("error does not name file and line: %v", err)
	}
	raw, _ := os.ReadFile(path)
	if n := strings.Count(string(raw), "\n"); n != 2 {
		t.Fatalf("known_hosts has %d lines:\n%s", n, raw)
	}
}

// A client whose known_hosts records another key for the node never
// authenticates to it, and Run says why, naming the file.
func TestClientRefusesChangedHostKey(t *testing.T) {
	_, nodes := startCluster(t, 1)
	path := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(nodes[0].addr)}, newSigner(t).PublicKey())
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kh, err := OpenKnownHosts(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rec, done := startClient(t, "alice", nodes, func(c *Config) { c.HostKey = kh.Callback() })
	select {
	case <-done.done:
		err := done.err
		if err == nil || !strings.Contains(err.Error(), "has changed") || !strings.Contains(err.Error(), path+":1") {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept going with a changed host key")
	}
	if rec.sawState(StateConnected, "") {
		t.Fatal("connected despite a changed host key")
	}
}

// TestSendKeepsTextExact: every line arrives as typed (it was shell-quoted
// for a server that split the command line like a shell; the server now
// takes the text verbatim and the client sends it on stdin).
func TestSendKeepsTextExact(t *testing.T) {
	f, nodes := startCluster(t, 1)
	c, rec, _ := startClient(t, "alice", nodes, nil)
	waitUntil(t, 10*time.Second, "connected", func() bool { return rec.sawState(StateConnected, "node1") })
	texts := []string{"plain", "two  spaces", "it's", `"dq" \ back`, "--id x", "-x", "-", "--", "$(rm -rf /)", "ünï ✓", "a'b'c"}
	for _, s := range texts {
		c.Send(s)
	}
	waitUntil(t, 10*time.Second, "queue drained", func() bool { return c.Queued() == 0 })
	var got []string
	for _, m := range historyAfter(t, f, 1000) {
		got = append(got, m.Text)
	}
	if !slices.Equal(got, texts) {
		t.Errorf("stored %q, want %q", got, texts)
	}
}

// A user whose name belongs to another key is refused for good, not
// bounced between nodes.
func TestNameTakenIsFatal(t *testing.T) {
	_, nodes := startCluster(t, 2)
	postVia(t, nodes[0].inner, "alice", newSigner(t), "first", "a1")
	_, _, done := startClient(t, "alice", nodes, nil)
	select {
	case <-done.done:
		err := done.err
		if err == nil || !strings.Contains(err.Error(), "another key") {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept retrying a name that belongs to another key")
	}
}

// historyAfter is the fake's general room from the start, up to limit.
func historyAfter(t *testing.T, f interface {
	HistoryAfter(string, uint64, int) ([]api.Message, error)
}, limit int) []api.Message {
	t.Helper()
	msgs, err := f.HistoryAfter("general", 0, limit)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// The nodes of a cluster share one host key: once one is recorded, a node
// seen for the first time must offer it (failover is when an impostor on a
// node never reached would answer); with none recorded, the first is
// trusted. Hosts outside the cluster are trusted on first use as before.
func TestKnownHostsClusterKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known_hosts")
	kh, err := OpenKnownHosts(path)
	if err != nil {
		t.Fatal(err)
	}
	kh.SetCluster([]string{"127.0.0.1:2222", "127.0.0.1:2223", "127.0.0.1:2224"})
	cluster, impostor := newSigner(t).PublicKey(), newSigner(t).PublicKey()
	check := kh.Callback()
	cb := func(host string, k ssh.PublicKey) error {
		addr, _ := net.ResolveTCPAddr("tcp", host)
		return check(host, addr, k)
	}
	if err := cb("127.0.0.1:2222", cluster); err != nil {
		t.Fatalf("first node, first use: %v", err)
	}
	err = cb("127.0.0.1:2223", impostor)
	var ce *ClusterKeyError
	if !errors.As(err, &ce) || ce.Other != "[127.0.0.1]:2222" || !strings.Contains(err.Error(), path) {
		t.Fatalf("an unseen node of the cluster with another key: %v", err)
	}
	if err := cb("127.0.0.1:2223", cluster); err != nil {
		t.Fatalf("an unseen node with the cluster's key: %v", err)
	}
	if err := cb("127.0.0.1:9999", impostor); err != nil {
		t.Fatalf("a host outside the cluster, first use: %v", err)
	}
	raw, _ := os.ReadFile(path)
	if n := strings.Count(string(raw), "\n"); n != 3 {
		t.Fatalf("known_hosts has %d lines, want 3 (the refused key not recorded):\n%s", n, raw)
	}
}
