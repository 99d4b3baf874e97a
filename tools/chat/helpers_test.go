package chat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
	"golang.org/x/crypto/ssh"
)

// testNode is an in-process sshui server behind a switchable TCP proxy, so a
// test can "kill" the node (drop every connection, refuse new ones) and
// bring it back on the same address.
type testNode struct {
	name  string
	addr  string // the proxy: what the client dials
	inner string // the server itself
	srv   *sshui.Server
	mu    sync.Mutex
	up    bool
	conns map[net.Conn]bool
	thaw  chan struct{} // non-nil while frozen: closed to thaw
}

// startCluster serves one shared fake backend from n servers, as a
// replicated cluster would: every node sees every committed message.
func startCluster(t testing.TB, n int) (*sshuitest.Fake, []*testNode) {
	t.Helper()
	f := sshuitest.New("cluster", nil)
	key := newSigner(t) // one host key for the cluster, as nodes serve
	var nodes []*testNode
	for i := range n {
		nodes = append(nodes, startNode(t, f, "node"+string(rune('1'+i)), key))
	}
	return f, nodes
}

func startNode(t testing.TB, b api.Backend, name string, hostKey ssh.Signer) *testNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sshui.New(sshui.Config{Listener: ln, NodeID: name, HostKey: hostKey,
		HostKeyPath: filepath.Join(t.TempDir(), "host_ed25519"), PostTimeout: 2 * time.Second}, b)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve() }()
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{name: name, addr: pl.Addr().String(), inner: ln.Addr().String(), srv: srv, up: true,
		conns: map[net.Conn]bool{}}
	go tn.accept(pl)
	t.Cleanup(func() {
		_ = pl.Close()
		tn.unfreeze()
		tn.setUp(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return tn
}

func (tn *testNode) node() Node { return Node{Name: tn.name, Addr: tn.addr} }

func (tn *testNode) accept(pl net.Listener) {
	for {
		c, err := pl.Accept()
		if err != nil {
			return
		}
		tn.mu.Lock()
		up := tn.up
		if up {
			tn.conns[c] = true
		}
		tn.mu.Unlock()
		if !up {
			_ = c.Close() // a dead node: the connection ends at once
			continue
		}
		go tn.pipe(c)
	}
}

func (tn *testNode) pipe(c net.Conn) {
	s, err := net.Dial("tcp", tn.inner)
	if err != nil {
		_ = c.Close()
		return
	}
	tn.mu.Lock()
	tn.conns[s] = true
	tn.mu.Unlock()
	go func() { _, _ = io.Copy(s, gated{c, tn}); _ = s.Close() }()
	_, _ = io.Copy(c, gated{s, tn})
	_ = c.Close()
}

// gated stops passing bytes while the node is frozen.
type gated struct {
	r  io.Reader
	tn *testNode
}

func (g gated) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.tn.mu.Lock()
	thaw := g.tn.thaw
	g.tn.mu.Unlock()
	if thaw != nil {
		<-thaw
	}
	return n, err
}

// freeze makes the node stop answering without closing anything, like
// SIGSTOP: TCP stays up, bytes go nowhere. thaw undoes it.
func (tn *testNode) freeze() {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	if tn.thaw == nil {
		tn.thaw = make(chan struct{})
	}
}

func (tn *testNode) unfreeze() {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	if tn.thaw != nil {
		close(tn.thaw)
		tn.thaw = nil
	}
}

// setUp false drops every connection through the proxy and refuses new
// ones, like kill -9 of the node; true lets connections through again.
func (tn *testNode) setUp(up bool) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	tn.up = up
	if !up {
		for c := range tn.conns {
			_ = c.Close()
		}
		clear(tn.conns)
	}
}

func newSigner(t testing.TB) ssh.Signer { return sshuitest.NewSigner(t) }

// recorder collects what a Client reports.
type recorder struct {
	mu     sync.Mutex
	msgs   []Message
	via    []string
	states []State
	acks   map[string]uint64
	drops  []string
}

func (r *recorder) config(cfg *Config) {
	r.acks = map[string]uint64{}
	cfg.OnMessage = func(m Message, via Node) {
		r.mu.Lock()
		r.msgs = append(r.msgs, m)
		r.via = append(r.via, via.Name)
		r.mu.Unlock()
	}
	cfg.OnState = func(s State) {
		r.mu.Lock()
		r.states = append(r.states, s)
		r.mu.Unlock()
	}
	cfg.OnAck = func(id string, idx uint64) {
		r.mu.Lock()
		r.acks[id] = idx
		r.mu.Unlock()
	}
	cfg.OnDrop = func(id, text string, err error) {
		r.mu.Lock()
		r.drops = append(r.drops, id+": "+err.Error())
		r.mu.Unlock()
	}
}

func (r *recorder) messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

func (r *recorder) hasText(text string) bool {
	for _, m := range r.messages() {
		if m.Text == text {
			return true
		}
	}
	return false
}

func (r *recorder) sawState(kind StateKind, node string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.states {
		if s.Kind == kind && (node == "" || s.Node.Name == node) {
			return true
		}
	}
	return false
}

// startClient runs a client for user against nodes until the test ends.
func startClient(t testing.TB, user string, nodes []*testNode, tweak func(*Config)) (*Client, *recorder, *runResult) {
	t.Helper()
	kh, err := OpenKnownHosts(filepath.Join(t.TempDir(), "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	cfg := Config{User: user, Room: "general", Auth: []ssh.AuthMethod{ssh.PublicKeys(newSigner(t))},
		HostKey: kh.Callback(), Logf: t.Logf, KeepaliveInterval: 200 * time.Millisecond,
		KeepaliveTimeout: 2 * time.Second}
	for _, n := range nodes {
		cfg.Nodes = append(cfg.Nodes, n.node())
	}
	rec.config(&cfg)
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res := &runResult{done: make(chan struct{})}
	go func() { res.err = c.Run(ctx); close(res.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-res.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return c, rec, res
}

// runResult is Run's outcome: err is set when done is closed.
type runResult struct {
	done chan struct{}
	err  error
}

// postVia posts text as user through node addr with an exec session.
func postVia(t testing.TB, addr, user string, key ssh.Signer, text, id string) {
	t.Helper()
	c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, serr bytes.Buffer
	s.Stdout, s.Stderr = &out, &serr
	s.Stdin = strings.NewReader(text)
	if err := s.Run("post --id " + id + " -- general -"); err != nil {
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("post %q: %v: %s", text, err, strings.TrimSpace(serr.String()))
		}
		t.Fatalf("post %q: %v", text, err)
	}
}

// waitUntil polls cond every 5ms until d passes.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
