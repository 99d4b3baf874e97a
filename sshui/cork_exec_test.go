package sshui_test

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"

	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// countingListener counts the writes on the connections it accepts.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// An exec post costs the server two writes: the channel's confirmation,
// and the exec request's reply with the post's output, exit status and
// close (each was a write of its own; the reply had its own until it was
// held for a post whose text is on its line).
func TestExecPostIsThreeWrites(t *testing.T) {
	var writes atomic.Int64
	ts := startServer(t, sshuitest.New("node1", nil), func(c *Config) {
		c.Listener = countingListener{c.Listener, &writes}
	})
	key := newSigner(t)
	c := dial(t, ts.addr, "alice", key)
	defer c.Close()
	post := func(text string) (string, int64) {
		t.Helper()
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		before := writes.Load()
		out, err := s.CombinedOutput("post general " + text)
		if err != nil {
			t.Fatalf("post: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out)), writes.Load() - before
	}
	post("first: claims the name")
	for i := range 3 {
		out, n := post("hello")
		if out == "" || strings.Trim(out, "0123456789") != "" {
			t.Fatalf("post printed %q, want its index", out)
		}
		if n > 2 {
			t.Errorf("post %d: %d writes, want 2", i, n)
		}
	}
	// An error ends the same way: the message, exit status and close in one.
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := writes.Load()
	out, err := s.CombinedOutput("post nosuch#room x")
	if err == nil || !strings.Contains(string(out), "post") {
		t.Fatalf("bad room: err %v, output %q", err, out)
	}
	if n := writes.Load() - before; n > 2 {
		t.Errorf("a refused post: %d writes, want 2", n)
	}
}
