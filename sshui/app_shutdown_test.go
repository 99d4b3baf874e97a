package sshui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/sshui/sshuitest"
	gossh "golang.org/x/crypto/ssh"
)

// On shutdown the terminal is left clean (colours reset, alternate screen
// left, cursor shown) with nothing drawn after, and the user is told where
// to reconnect: the other nodes' SSH addresses. (A terminal gets stdout
// and stderr in the order the server wrote them; the test client copies
// them apart, so each is checked on its own.)
func TestShutdownSaysWhereToReconnect(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	c := dial(t, ts.addr, "alice", newSigner(t))
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	sess.Stdout, sess.Stderr = out, errOut
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	(&term{t: t, c: c, sess: sess, out: out}).waitFor("#general")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
	screen := out.String()
	const leave = "\x1b[0m\x1b[?2004l\x1b[?25h\x1b[?1049l"
	if !strings.HasSuffix(screen, leave) {
		t.Fatalf("the terminal is not restored last: %q", screen[max(len(screen)-300, 0):])
	}
	said := errOut.String()
	for _, want := range []string{"shutting down", "ssh -p 2223 alice@127.0.0.1", "ssh -p 2224 alice@127.0.0.1"} {
		if !strings.Contains(said, want) {
			t.Fatalf("no %q in %q", want, said)
		}
	}
	if strings.Contains(said, "-p 2222 ") || strings.Contains(said, "\x1b") {
		t.Fatalf("suggests the node that is going away, or draws: %q", said)
	}
}
