package sshui_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// A connection that posts once per exec session logs its first session,
// and then only what is not a one-shot post; its end counts the posts it
// did not log. (A bot's line per post was a tenth of an exec post's CPU
// on the node, and the log grew at the post rate.)
func TestExecPostsAfterTheFirstAreCountedNotLogged(t *testing.T) {
	var logs lockedBuffer
	ts := startServer(t, sshuitest.New("node1", nil), func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	key := newSigner(t)
	c := dial(t, ts.addr, "alice", key)
	exec := func(cmd string) {
		t.Helper()
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if out, err := s.CombinedOutput(cmd); err != nil {
			t.Fatalf("%s: %v: %s", cmd, err, out)
		}
	}
	exec("post general one")
	exec("post general two")
	exec("post --id x3 general three")
	exec("rooms")
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	s.Stdin = strings.NewReader(`{"room":"general","text":"four","id":"s4"}` + "\n")
	if out, err := s.CombinedOutput("post --stream"); err != nil {
		t.Fatalf("stream: %v: %s", err, out)
	}
	connects := func() []string {
		var out []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `msg="ssh connect"`) {
				out = append(out, l)
			}
		}
		return out
	}
	got := connects()
	if len(got) != 3 || !strings.Contains(got[0], "general one") || !strings.Contains(got[1], "cmd=rooms") ||
		!strings.Contains(got[2], "--stream") {
		t.Fatalf("connect lines:\n%s\nwant the first post, rooms and the stream", strings.Join(got, "\n"))
	}
	_ = c.Close()
	waitUntil(t, 5*time.Second, func() bool { return strings.Contains(logs.String(), "ssh connection closed") },
		func() string { return "no line at the connection's end:\n" + logs.String() })
	if !strings.Contains(logs.String(), "posts_not_logged=2") || !strings.Contains(logs.String(), "sessions=5") {
		t.Fatalf("the end's line does not count 2 unlogged posts of 5 sessions:\n%s", logs.String())
	}
	// A connection with nothing unlogged ends without that line.
	c2 := dial(t, ts.addr, "bob", newSigner(t))
	s2, err := c2.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s2.CombinedOutput("post general hi")
	_ = c2.Close()
	time.Sleep(100 * time.Millisecond)
	if n := strings.Count(logs.String(), "ssh connection closed"); n != 1 {
		t.Fatalf("%d connection-end lines, want 1 (bob's connection logged everything)", n)
	}
}
