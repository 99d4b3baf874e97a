package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/config"
)

// testCluster is n real nodes in this process, on loopback sockets bound
// before the config is written (no find-then-bind race).
type testCluster struct {
	t     testing.TB
	tweak func(*Options) // applied to every node's options, if set
	cfg   *config.Config
	nodes map[string]*runningNode
	ports map[string][4]int   // ssh, peer, heartbeat, election
	bound map[string]*sockets // sockets bound before the config was written
}

// sockets are a node's Listeners and the SSH port the config names (bound
// only to reserve it: these tests drive the node API, sshui has its own).
type sockets struct {
	Listeners
	SSH *net.TCPListener
}

type runningNode struct {
	n    *Node
	stop context.CancelFunc
	done chan error
}

type testLogWriter struct {
	t  testing.TB
	mu sync.Mutex
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newTestCluster(t *testing.T, size int) *testCluster { return newTestClusterB(t, size) }

func newTestClusterB(t testing.TB, size int) *testCluster { return newTestClusterWith(t, size, nil) }

// newTestClusterWith starts a cluster whose nodes' options tweak changes.
func newTestClusterWith(t testing.TB, size int, tweak func(*Options)) *testCluster {
	t.Helper()
	return newTestClusterConf(t, size, "", tweak)
}

// newTestClusterConf starts a cluster whose config has extra TOML tables
// (before the nodes) and whose nodes' options tweak changes.
func newTestClusterConf(t testing.TB, size int, extra string, tweak func(*Options)) *testCluster {
	t.Helper()
	return newTestClusterPrepared(t, size, extra, tweak, nil)
}

// newTestClusterPrepared is newTestClusterConf with prepare run on the
// config before any node starts (to fill data directories).
func newTestClusterPrepared(t testing.TB, size int, extra string, tweak func(*Options), prepare func(*config.Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, tweak: tweak, nodes: map[string]*runningNode{}, ports: map[string][4]int{}, bound: map[string]*sockets{}}
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = \"test\"\ndata_dir = %q\nsecret = \"test-secret-0123456789\"\n", t.TempDir())
	b.WriteString("[timing]\nheartbeat_interval = \"50ms\"\nfailure_timeout = \"250ms\"\nelection_timeout = \"150ms\"\npost_timeout = \"10s\"\n")
	b.WriteString(extra)
	for i := 0; i < size; i++ {
		id := fmt.Sprintf("n%d", i+1)
		ls := bindAll(t, [4]int{})
		c.bound[id] = ls
		ps := ports(ls)
		c.ports[id] = ps
		fmt.Fprintf(&b, "[[node]]\nid = %q\nhost = \"127.0.0.1\"\nssh_port = %d\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nring = %d\n",
			id, ps[0], ps[1], ps[2], ps[3], i)
	}
	cfg, err := config.Parse("test.toml", b.String())
	if err != nil {
		t.Fatal(err)
	}
	c.cfg = cfg
	if prepare != nil {
		prepare(cfg)
	}
	for id := range c.ports {
		c.start(id)
	}
	t.Cleanup(func() {
		for id := range c.nodes {
			c.stop(id)
		}
	})
	return c
}

// bindAll binds a node's four sockets on loopback: on port 0 the first
// time, on the node's known ports when it restarts.
func bindAll(t testing.TB, ps [4]int) *sockets {
	t.Helper()
	ip := net.IPv4(127, 0, 0, 1)
	var ls sockets
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		ls, err = sockets{}, nil
		if ls.SSH, err = net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: ps[0]}); err == nil {
			if ls.Peer, err = net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: ps[1]}); err == nil {
				if ls.Heartbeat, err = net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: ps[2]}); err == nil {
					ls.Election, err = net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: ps[3]})
				}
			}
		}
		if err == nil {
			return &ls
		}
		closeListeners(&ls)
		if time.Now().After(deadline) {
			t.Fatalf("bind %v: %v", ps, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func closeListeners(ls *sockets) {
	// Close is safe on a nil *net.TCPListener or *net.UDPConn.
	if ls.SSH != nil {
		ls.SSH.Close()
	}
	if ls.Peer != nil {
		ls.Peer.Close()
	}
	ls.Heartbeat.Close()
	ls.Election.Close()
}

func ports(ls *sockets) [4]int {
	return [4]int{ls.SSH.Addr().(*net.TCPAddr).Port, ls.Peer.Addr().(*net.TCPAddr).Port,
		ls.Heartbeat.LocalAddr().(*net.UDPAddr).Port, ls.Election.LocalAddr().(*net.UDPAddr).Port}
}

func (c *testCluster) start(id string) {
	c.t.Helper()
	logger := slog.New(slog.NewTextHandler(&testLogWriter{t: c.t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", id)
	ls := c.bound[id]
	first := ls != nil
	delete(c.bound, id)
	if ls == nil {
		ls = bindAll(c.t, c.ports[id])
	}
	ls.SSH.Close() // these tests drive the node API; sshui has its own
	// At its first start every node is empty and its peers' sockets are
	// bound but not yet served: asking them for a copy of their log would
	// only wait out the connect timeout.
	o := Options{Config: c.cfg, ID: id, Logger: logger, Listeners: &ls.Listeners, NoSeed: first}
	if c.tweak != nil {
		c.tweak(&o)
	}
	n, err := New(o)
	if err != nil {
		c.t.Fatalf("start %s: %v", id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runningNode{n: n, stop: cancel, done: make(chan error, 1)}
	go func() { rn.done <- n.Serve(ctx) }()
	c.nodes[id] = rn
}

func (c *testCluster) stop(id string) {
	rn := c.nodes[id]
	if rn == nil {
		return
	}
	rn.stop()
	if err := <-rn.done; err != nil {
		c.t.Errorf("node %s: %v", id, err)
	}
	delete(c.nodes, id)
}

// leader waits until every running node names the same leader in one term.
func (c *testCluster) leader() string {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var lead string
		var term uint64
		agree := true
		for _, rn := range c.nodes {
			st := rn.n.Status()
			if st.Leader == "" || (lead != "" && (st.Leader != lead || st.Term != term)) {
				agree = false
				break
			}
			lead, term = st.Leader, st.Term
		}
		if agree && lead != "" && c.nodes[lead] != nil {
			return lead
		}
		time.Sleep(10 * time.Millisecond)
	}
	for id, rn := range c.nodes {
		st := rn.n.Status()
		c.t.Logf("%s sees leader=%q term=%d", id, st.Leader, st.Term)
	}
	c.t.Fatal("no agreed leader within 15s")
	return ""
}

func (c *testCluster) post(id, user, text, msgID string) uint64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	idx, err := c.nodes[id].n.Post(ctx, user, "general", text, msgID, 0, false)
	if err != nil {
		c.t.Fatalf("post %q on %s: %v", text, id, err)
	}
	return idx
}

// history returns room general's texts on a node once it holds want of them.
func (c *testCluster) waitHistory(id string, want int) []string {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		msgs, err := c.nodes[id].n.History("general", 0, 100000)
		if err != nil {
			c.t.Fatalf("history on %s: %v", id, err)
		}
		if len(msgs) >= want || time.Now().After(deadline) {
			var out []string
			for _, m := range msgs {
				out = append(out, fmt.Sprintf("%d:%s", m.Index, m.Text))
			}
			if len(msgs) < want {
				c.t.Fatalf("%s holds %d messages, want %d: %v", id, len(msgs), want, out)
			}
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *testCluster) sameHistoryEverywhere(want int) []string {
	c.t.Helper()
	var first []string
	var firstID string
	for id := range c.nodes {
		h := c.waitHistory(id, want)
		if first == nil {
			first, firstID = h, id
			continue
		}
		if strings.Join(h, "|") != strings.Join(first, "|") {
			c.t.Fatalf("histories differ:\n%s: %v\n%s: %v", firstID, first, id, h)
		}
	}
	return first
}

func TestClusterReplicatesInOneOrder(t *testing.T) {
	c := newTestCluster(t, 3)
	c.leader()
	n := 0
	for round := 0; round < 5; round++ {
		for _, id := range []string{"n1", "n2", "n3"} {
			c.post(id, "alice", fmt.Sprintf("%s-%d", id, round), fmt.Sprintf("%s-%d", id, round))
			n++
		}
	}
	h := c.sameHistoryEverywhere(n)
	if len(h) != n {
		t.Fatalf("want %d messages, got %d: %v", n, len(h), h)
	}
}

func TestPostIsExactlyOnceOnRetry(t *testing.T) {
	c := newTestCluster(t, 3)
	c.leader()
	a := c.post("n1", "bob", "hello", "same-id")
	b := c.post("n2", "bob", "hello", "same-id")
	if a != b {
		t.Fatalf("retry with the same client id got index %d, first was %d", b, a)
	}
	// The same id for another text changes nothing either, and says so.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if idx, err := c.nodes["n3"].n.Post(ctx, "bob", "general", "hello again", "same-id", 0, false); idx != a || !errors.Is(err, api.ErrIDReused) {
		t.Fatalf("same id, other text: index %d (first %d), err %v", idx, a, err)
	}
	c.post("n3", "bob", "other", "other-id")
	h := c.sameHistoryEverywhere(2)
	if len(h) != 2 {
		t.Fatalf("history %v", h)
	}
}

func TestLeaderStopNewLeaderCatchUp(t *testing.T) {
	c := newTestCluster(t, 3)
	lead := c.leader()
	c.post(lead, "carol", "before", "b1")
	c.stop(lead)
	newLead := c.leader()
	if newLead == lead {
		t.Fatalf("stopped leader %s still named leader", lead)
	}
	c.post(newLead, "carol", "after", "a1")
	for id := range c.nodes {
		if id != newLead {
			c.post(id, "carol", "via follower", "f1")
			break
		}
	}
	c.sameHistoryEverywhere(3)
	c.start(lead)
	h := c.waitHistory(lead, 3)
	if strings.Join(h, "|") != strings.Join(c.waitHistory(newLead, 3), "|") {
		t.Fatalf("restarted node disagrees: %v", h)
	}
}

func TestWholeClusterRestartKeepsPosts(t *testing.T) {
	c := newTestCluster(t, 3)
	c.leader()
	for i := 0; i < 20; i++ {
		c.post(fmt.Sprintf("n%d", i%3+1), "dave", fmt.Sprint("m", i), fmt.Sprint("id", i))
	}
	before := c.sameHistoryEverywhere(20)
	for _, id := range []string{"n1", "n2", "n3"} {
		c.stop(id)
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		c.start(id)
	}
	c.leader()
	after := c.sameHistoryEverywhere(20)
	if strings.Join(before, "|") != strings.Join(after, "|") {
		t.Fatalf("history changed across restart:\nbefore %v\nafter  %v", before, after)
	}
}

func TestPostWithoutQuorumFails(t *testing.T) {
	c := newTestCluster(t, 3)
	lead := c.leader()
	var survivor string
	for id := range c.nodes {
		if id != lead {
			c.stop(id)
		} else {
			survivor = id
		}
	}
	for id := range c.nodes {
		if id != survivor {
			c.stop(id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.nodes[survivor].n.Post(ctx, "eve", "general", "alone", "x", 0, false)
	if err == nil {
		t.Fatal("a lone node committed a post")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "quorum") {
		t.Fatalf("unclear error: %v", err)
	}
}

// A node whose data directory is lost comes back empty and catches up the
// whole log from the others (read from their WALs: the leader keeps only
// recent entries in memory), in large batches.
func TestRejoinWithEmptyDataDir(t *testing.T) {
	// 32 users post 6000 messages as fast as they commit: no allowance.
	c := newTestClusterWith(t, 3, func(o *Options) { o.PostRate = -1 })
	lead := c.leader()
	const posts = 6000
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < posts; i += 32 {
				c.post(lead, fmt.Sprintf("u%d", w), fmt.Sprintf("m%d", i), fmt.Sprintf("id%d", i))
			}
		}()
	}
	wg.Wait()
	var f string
	for id := range c.nodes {
		if id != lead {
			f = id
		}
	}
	want := c.waitHistory(f, posts)
	c.stop(f)
	if err := os.RemoveAll(c.cfg.NodeDir(f)); err != nil {
		t.Fatal(err)
	}
	c.start(f)
	if got := c.waitHistory(f, posts); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rejoined %s's history differs", f)
	}
}
