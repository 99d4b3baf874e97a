package sshui_test

import (
	"testing"
	"time"

	"github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// An idle connection is still closed by the idle timeout (the deadline
// is pushed back lazily, not dropped).
func TestIdleConnectionIsClosed(t *testing.T) {
	ts := startServer(t, sshuitest.New("node1", nil), func(c *sshui.Config) {
		c.IdleTimeout = 300 * time.Millisecond
		c.KeepaliveInterval = -1 // no probes: nothing but the client's silence
	})
	u := newSigner(t)
	cl := dial(t, ts.addr, "alice", u)
	s, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s.Output("rooms"); err != nil {
		t.Fatalf("rooms: %v (%q)", err, out)
	}
	closed := make(chan error, 1)
	go func() { closed <- cl.Wait() }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("an idle connection was not closed")
	}
}
