package chat

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"
)

// The interactive UI in a real terminal (a pty): it shows the connection,
// sends a typed line, shows what arrives, and moves to node2 when node1 dies.
func TestUIInTerminal(t *testing.T) {
	_, nodes := startCluster(t, 2)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 20, Cols: 70}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var screen strings.Builder
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	seen := func(s string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return strings.Contains(ansi.Strip(screen.String()), s)
		}
	}
	kh, err := OpenKnownHosts(filepath.Join(t.TempDir(), "kh"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{User: "alice", Nodes: []Node{nodes[0].node(), nodes[1].node()},
		Auth: []ssh.AuthMethod{ssh.PublicKeys(newSigner(t))}, HostKey: kh.Callback()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- RunUI(ctx, cfg, UIOptions{In: tty, Out: tty, Renderer: asciiRenderer()}) }()

	waitUntil(t, 10*time.Second, "connected line", seen("connected to node1 ("+nodes[0].addr+")"))
	_, _ = ptmx.WriteString("hello there\r")
	waitUntil(t, 10*time.Second, "own line", seen("alice: hello there"))
	nodes[0].setUp(false)
	waitUntil(t, 10*time.Second, "moved to node2", seen("connected to node2 ("+nodes[1].addr+")"))
	_, _ = ptmx.WriteString("/quit\r")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunUI: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("UI did not quit")
	}
}
