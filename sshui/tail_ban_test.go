package sshui_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui/sshuitest"
	gossh "golang.org/x/crypto/ssh"
)

// A banned syncnet chat user kept reading the room: a ban ended chat app
// sessions but not exec tails. It ends the tail too, exit 1, saying why.
func TestTailEndsOnBan(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	c := dial(t, ts.addr, "bob", newSigner(t))
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out, serr lockedBuffer
	sess.Stdout, sess.Stderr = &out, &serr
	if err := sess.Start("tail --join general"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, func() bool { return f.Presence("bob") == "online" },
		func() string { return "tail never started: " + serr.String() })
	until := time.Now().Add(time.Hour)
	if err := f.Moderate(context.Background(), api.Moderation{Action: "ban", Target: "bob", By: "admin", Reason: "spam", Until: until}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err := <-done:
		var ee *gossh.ExitError
		if !errors.As(err, &ee) || ee.ExitStatus() != 1 || !strings.Contains(serr.String(), "You were banned by admin until ") ||
			!strings.Contains(serr.String(), "spam.") {
			t.Fatalf("tail ended with %v, stderr %q", err, serr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a banned user's tail kept running")
	}
}
