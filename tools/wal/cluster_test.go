package walcmd_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/tools/fill"
	walcmd "github.com/syncnet/syncnet/tools/wal"
)

// Regression: `wal verify` printed only its file's chain head, which covers
// the node's local records and so differs on every node, and matches
// nothing `status` or `diff` shows. A filled cluster of three real nodes
// runs until a leader's no-op lands at cluster index 192 (a checkpoint);
// each node's status shows its LOGHASH; the nodes stop cleanly. Then verify
// prints the same log hash for the three WALs, its checkpoint is what
// every node's status showed, and diff agrees on that hash.
func TestCommittedHashMatchesStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	const size, messages = 3, 190 // entries 1..191, then the new leader's no-op at 192
	var lns []nodeSockets
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = \"test\"\ndata_dir = %q\nsecret = \"test-secret-0123456789\"\n", filepath.Join(t.TempDir(), "data"))
	b.WriteString("[timing]\nheartbeat_interval = \"50ms\"\nfailure_timeout = \"250ms\"\nelection_timeout = \"150ms\"\npost_timeout = \"10s\"\n")
	for i := 0; i < size; i++ {
		s := bindNode(t)
		lns = append(lns, s)
		fmt.Fprintf(&b, "[[node]]\nid = \"n%d\"\nhost = \"127.0.0.1\"\nssh_port = %d\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nring = %d\n",
			i+1, s.ssh.Addr().(*net.TCPAddr).Port, s.peer.Addr().(*net.TCPAddr).Port,
			s.hb.LocalAddr().(*net.UDPAddr).Port, s.el.LocalAddr().(*net.UDPAddr).Port, i)
	}
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "cluster.toml"), b.String())
	if err != nil {
		t.Fatal(err)
	}
	res, err := fill.Fill(context.Background(), cfg, fill.Options{Messages: messages, Rooms: 5, Users: 10, Seed: 3, End: time.Now()})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	nodes := map[string]*node.Node{}
	for i, id := range res.Nodes {
		lns[i].ssh.Close() // the node API is enough: status is what sshui shows
		logger := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", id)
		n, err := node.New(node.Options{Config: cfg, ID: id, Logger: logger,
			Listeners: &node.Listeners{Peer: lns[i].peer, Heartbeat: lns[i].hb, Election: lns[i].el}})
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
	// Every node shows its own LOGHASH at the checkpoint 192.
	status := map[string]string{}
	deadline := time.Now().Add(60 * time.Second)
	for len(status) < size {
		for id, n := range nodes {
			if h := selfLogHash(n); strings.HasSuffix(h, "@192") {
				status[id] = h
			}
		}
		if time.Now().After(deadline) {
			for id, n := range nodes {
				t.Logf("%s: applied %d, LOGHASH %q", id, n.Applied(), selfLogHash(n))
			}
			t.Fatalf("the nodes did not all show a LOGHASH at 192 within 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel() // a clean stop records the commit index of everything applied
	wg.Wait()

	logHash := regexp.MustCompile(`(?m)^  log hash   (\S+@\d+) `)
	checkpoint := regexp.MustCompile(`(?m)^  checkpoint (\S+@\d+) `)
	var first string
	var dirs []string
	for _, id := range res.Nodes {
		dir := cfg.WALDir(id)
		dirs = append(dirs, dir)
		out, err := runWal("verify", dir)
		if err != nil {
			t.Fatalf("verify %s: %v\n%s", id, err, out)
		}
		lh, cp := logHash.FindStringSubmatch(out), checkpoint.FindStringSubmatch(out)
		if lh == nil || cp == nil {
			t.Fatalf("verify %s prints no log hash or checkpoint:\n%s", id, out)
		}
		if first == "" {
			first = lh[1]
		}
		if lh[1] != first {
			t.Errorf("verify %s: log hash %s, another node's is %s", id, lh[1], first)
		}
		if cp[1] != status[id] {
			t.Errorf("verify %s: checkpoint %s, the node's status showed LOGHASH %s", id, cp[1], status[id])
		}
	}
	// Unless another election appended a no-op after 192, the last
	// committed entry is the checkpoint itself.
	if strings.HasSuffix(first, "@192") && first != status[res.Nodes[0]] {
		t.Errorf("verify's log hash %s at 192 differs from status's %s", first, status[res.Nodes[0]])
	}
	out, err := runWal(append([]string{"diff"}, dirs...)...)
	if err != nil || !strings.Contains(out, "AGREE:") || !strings.Contains(out, "log hash "+first+"\n") {
		t.Errorf("diff: %v; want AGREE with log hash %s:\n%s", err, first, out)
	}
}

func runWal(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := walcmd.Main(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

// selfLogHash is the LOGHASH a node's status shows for itself.
func selfLogHash(n *node.Node) string {
	st := n.Status()
	for _, m := range st.Members {
		if m.ID == st.Node {
			return m.LogHash
		}
	}
	return ""
}

type nodeSockets struct {
	ssh, peer *net.TCPListener
	hb, el    *net.UDPConn
}

func bindNode(t *testing.T) nodeSockets {
	t.Helper()
	lo := net.IPv4(127, 0, 0, 1)
	var s nodeSockets
	var err error
	if s.ssh, err = net.ListenTCP("tcp", &net.TCPAddr{IP: lo}); err != nil {
		t.Fatal(err)
	}
	if s.peer, err = net.ListenTCP("tcp", &net.TCPAddr{IP: lo}); err != nil {
		t.Fatal(err)
	}
	if s.hb, err = net.ListenUDP("udp", &net.UDPAddr{IP: lo}); err != nil {
		t.Fatal(err)
	}
	if s.el, err = net.ListenUDP("udp", &net.UDPAddr{IP: lo}); err != nil {
		t.Fatal(err)
	}
	return s
}

// testLog sends the nodes' warnings to the test log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
