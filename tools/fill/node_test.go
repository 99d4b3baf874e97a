package fill

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/api"
)

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

// selfCommit is the commit index a node reports for itself.
func selfCommit(n *node.Node) uint64 {
	st := n.Status()
	for _, m := range st.Members {
		if m.ID == st.Node {
			return m.CommitIndex
		}
	}
	return 0
}

// TestNodesStartFromFill starts real nodes (node.New and Serve, loopback
// sockets on port 0) on a filled cluster: each re-applies the N+1
// committed entries, they elect a leader of term 2 whose no-op commits at
// N+2, History returns the newest messages of a room as the log holds
// them, and a new post lands after them with a later Lamport time.
func TestNodesStartFromFill(t *testing.T) {
	const size = 3
	var socks []*sockets
	var ports [][4]int
	for i := 0; i < size; i++ {
		s, p := bindNode(t)
		socks, ports = append(socks, s), append(ports, p)
	}
	cfg := testConfig(t, filepath.Join(t.TempDir(), "data"), size, ports)
	o := testOptions()
	o.End = time.Now()
	res, err := Fill(context.Background(), cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	// What the log says each room's newest messages are.
	rl, _ := walLog(t, cfg.WALDir("n1"))
	byRoom := map[string][]api.Message{}
	for _, en := range rl.Entries[1:] {
		ev := en.Event
		m := ev.Body.(*eventlog.MessagePosted)
		byRoom[m.Room] = append(byRoom[m.Room], api.Message{Index: ev.Index, ID: m.ClientMsgID, Room: m.Room,
			From: m.From, Text: m.Text, Lamport: ev.Lamport, Time: time.Unix(0, ev.Time).UTC()})
	}

	nodes := map[string]*node.Node{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		wg.Wait()
	}()
	for i, id := range res.Nodes {
		s := socks[i]
		s.ssh.Close() // these tests drive the node API; sshui is not started
		logger := slog.New(slog.NewTextHandler(&testLogWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", id)
		n, err := node.New(node.Options{Config: cfg, ID: id, Logger: logger,
			Listeners: &node.Listeners{Peer: s.peer, Heartbeat: s.hb, Election: s.el}})
		if err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
		nodes[id] = n
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Serve(ctx); err != nil {
				t.Errorf("node %s: %v", id, err)
			}
		}()
	}
	for id, n := range nodes {
		select {
		case <-n.CaughtUp():
		case <-time.After(60 * time.Second):
			t.Fatalf("%s did not re-apply its committed entries within 60s (applied %d)", id, n.Applied())
		}
		if got := n.Applied(); got < res.LastIndex {
			t.Fatalf("%s caught up at %d, want %d", id, got, res.LastIndex)
		}
		if got := selfCommit(n); got < res.LastIndex {
			t.Errorf("%s reports commit %d, want at least %d", id, got, res.LastIndex)
		}
	}

	// A leader of term 2, and its no-op committed everywhere.
	var lead string
	deadline := time.Now().Add(30 * time.Second)
	for {
		lead = agreedLeader(nodes)
		done := lead != ""
		for _, n := range nodes {
			done = done && selfCommit(n) == res.LastIndex+1 && n.Applied() == res.LastIndex+1
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			for id, n := range nodes {
				st := n.Status()
				t.Logf("%s: leader %q term %d commit %d applied %d", id, st.Leader, st.Term, selfCommit(n), n.Applied())
			}
			t.Fatalf("no leader with commit %d on every node within 30s", res.LastIndex+1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The fill wrote term 1. The first leader is of term 2 unless a round
	// failed first: node.New replays the whole log before it returns, so
	// the nodes start serving one after the other, and an early round may
	// find no majority yet. Either way exactly one no-op follows the fill
	// (commit N+2 above).
	if st := nodes[lead].Status(); st.Term < 2 {
		t.Errorf("leader %s in term %d, want a term above the fill's 1", lead, st.Term)
	}

	for _, room := range []string{"general", "random", "dev-1"} {
		want := byRoom[room]
		want = want[max(0, len(want)-50):]
		if len(want) == 0 {
			t.Fatalf("room %s has no messages in the log", room)
		}
		for id, n := range nodes {
			got, err := n.History(room, 0, 50)
			if err != nil {
				t.Fatalf("%s: History(%s): %v", id, room, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: History(%s, 0, 50): %d messages, want the log's newest %d\n got first %+v\nwant first %+v",
					id, room, len(got), len(want), got[0], want[0])
			}
		}
	}
	if got := nodes["n1"].Status().Members[0].Messages; got != testMessages {
		t.Errorf("n1 counts %d messages, want %d", got, testMessages)
	}

	// A new post, through a follower, lands after the filled history.
	var follower string
	for id := range nodes {
		if id != lead {
			follower = id
		}
	}
	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer pcancel()
	idx, err := nodes[follower].Post(pctx, "alice", "general", "after the fill", "", 0, false)
	if err != nil || idx != res.LastIndex+2 {
		t.Fatalf("post through %s: index %d, %v; want %d", follower, idx, err, res.LastIndex+2)
	}
	h, err := nodes[follower].History("general", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[1].Index != idx || h[1].Lamport <= h[0].Lamport || h[1].Lamport <= uint64(testMessages) {
		t.Errorf("history after the post: %+v", h)
	}
}

// agreedLeader is the leader every node names in one term, or "".
func agreedLeader(nodes map[string]*node.Node) string {
	var lead string
	var term uint64
	for _, n := range nodes {
		st := n.Status()
		if st.Leader == "" || (lead != "" && (st.Leader != lead || st.Term != term)) {
			return ""
		}
		lead, term = st.Leader, st.Term
	}
	return lead
}
