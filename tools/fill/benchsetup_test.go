package fill

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/config"
)

// benchMessages is FILLBENCH_MESSAGES, or def when it is not set.
func benchMessages(b *testing.B, def int) int {
	s := os.Getenv("FILLBENCH_MESSAGES")
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		b.Fatalf("FILLBENCH_MESSAGES=%q: %v", s, err)
	}
	return v
}

// benchCluster is a three-node config on bound sockets, filled with
// messages (none: an empty log); its nodes start with start.
type benchCluster struct {
	b     *testing.B
	cfg   *config.Config
	socks []*sockets
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	nodes map[string]*node.Node
	last  uint64 // the fill's last index
}

func newBenchCluster(b *testing.B, messages int) *benchCluster {
	c := &benchCluster{b: b, nodes: map[string]*node.Node{}}
	var ports [][4]int
	for j := 0; j < 3; j++ {
		s, p := bindNode(b)
		c.socks, ports = append(c.socks, s), append(ports, p)
	}
	c.cfg = testConfig(b, filepath.Join(b.TempDir(), "data"), 3, ports)
	if messages > 0 {
		o := testOptions()
		o.Messages, o.Rooms, o.Users = messages, DefaultRooms, DefaultUsers
		res, err := Fill(context.Background(), c.cfg, o)
		if err != nil {
			b.Fatal(err)
		}
		c.last = res.LastIndex
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	return c
}

// start runs node j ("n1".."n3") in this process until close.
func (c *benchCluster) start(j int, tweak func(*node.Options)) *node.Node {
	id := []string{"n1", "n2", "n3"}[j]
	s := c.socks[j]
	s.ssh.Close()
	logger := slog.New(slog.NewTextHandler(&testLogWriter{t: c.b}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", id)
	o := node.Options{Config: c.cfg, ID: id, Logger: logger, Listeners: &node.Listeners{Peer: s.peer, Heartbeat: s.hb, Election: s.el}}
	if tweak != nil {
		tweak(&o)
	}
	nd, err := node.New(o)
	if err != nil {
		c.b.Fatalf("start %s: %v", id, err)
	}
	c.nodes[id] = nd
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := nd.Serve(c.ctx); err != nil {
			c.b.Errorf("node %s: %v", id, err)
		}
	}()
	return nd
}

// close stops every node and waits for them.
func (c *benchCluster) close() {
	c.stop()
	c.wg.Wait()
}
