package sshui_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
	gossh "golang.org/x/crypto/ssh"
)

// A dropped connection leaves nothing behind: no hub entry, no session
// count, no goroutine (winch readers, pumps, keepalives, tails).
func TestDroppedConnectionsLeaveNothing(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, func(c *Config) { c.KeepaliveInterval = 50 * time.Millisecond })
	k := newSigner(t)
	run(t, ts.addr, "alice", k, "help") // warm up lazily started goroutines
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()

	for i := range 5 {
		tm := openTerm(t, ts.addr, "alice", k, 80, 24)
		tm.waitFor("#general")
		_ = tm.sess.WindowChange(30+i, 100)
		_ = tm.sess.WindowChange(31+i, 101)
		_ = tm.c.Close() // abrupt: no /quit
		c := dial(t, ts.addr, "alice", k)
		s, _ := c.NewSession()
		_ = s.Start("tail general")
		s2, _ := c.NewSession()
		_ = s2.RequestPty("xterm", 24, 80, gossh.TerminalModes{})
		_ = s2.Start("status")
		_ = c.Close()
	}
	waitUntil(t, 10*time.Second, func() bool {
		return ts.Hub().Len() == 0 && ts.Sessions() == 0 && runtime.NumGoroutine() <= base
	}, func() string {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		return fmt.Sprintf("hub=%d sessions=%d goroutines=%d base=%d\n%s", ts.Hub().Len(), ts.Sessions(),
			runtime.NumGoroutine(), base, buf[:n])
	})
}

func TestShutdownEndsChatPrograms(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	tm := openTerm(t, ts.addr, "alice", newSigner(t), 80, 24)
	tm.waitFor("#general")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v (after %v)", err, time.Since(start))
	}
	tm.waitFor("shutting down")
	if _, err := dialErr(ts.addr, "alice", newSigner(t)); err == nil {
		t.Fatalf("dial after shutdown succeeded")
	}
}

func TestKickEndsSession(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	tm := openTerm(t, ts.addr, "bob", newSigner(t), 80, 24)
	tm.waitFor("#general")
	adm := openTerm(t, ts.addr, "admin", ts.admin, 80, 24)
	adm.waitFor("#general")
	adm.typ("/kick bob behave\r")
	tm.waitFor("You were kicked by admin: behave.") // a sentence now
	done := make(chan error, 1)
	go func() { done <- tm.sess.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("kicked session did not end")
	}
}

func TestSessionLimits(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, func(c *Config) { c.MaxSessionsPerKey = 1; c.MaxSessions = 2 })
	k := newSigner(t)
	tm := openTerm(t, ts.addr, "alice", k, 80, 24)
	tm.waitFor("#general")
	if r := run(t, ts.addr, "alice", k, "help"); r.code != 1 || !strings.Contains(r.err, "too many sessions for your key") {
		t.Fatalf("per key: %+v", r)
	}
	tm2 := openTerm(t, ts.addr, "bob", newSigner(t), 80, 24)
	tm2.waitFor("#general")
	if r := run(t, ts.addr, "carol", newSigner(t), "help"); r.code != 1 || !strings.Contains(r.err, "full") {
		t.Fatalf("per node: %+v", r)
	}
}

func TestKeyboardInteractiveGetsHint(t *testing.T) {
	ts := startServer(t, sshuitest.New("node1", nil), nil)
	var shown string
	_, err := gossh.Dial("tcp", ts.addr, &gossh.ClientConfig{User: "alice",
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
		Auth: []gossh.AuthMethod{
			gossh.Password("hunter2"),
			gossh.KeyboardInteractive(func(name, instr string, q []string, echo []bool) ([]string, error) {
				shown += instr
				return make([]string, len(q)), nil
			}),
		}})
	if err == nil {
		t.Fatal("login without a key succeeded")
	}
	if !strings.Contains(shown, "ssh-keygen -t ed25519") {
		t.Fatalf("hint not shown: %q (err %v)", shown, err)
	}
}

// panicky makes Status panic, to prove a panic ends only that session, with
// an error and a non-zero exit.
type panicky struct{ *sshuitest.Fake }

func (panicky) Status() api.ClusterStatus { panic("boom") }

func TestPanicInCommandExitsNonZero(t *testing.T) {
	p := panicky{sshuitest.New("node1", nil)}
	ts := startServer(t, p, func(c *Config) { c.StatusPoll = time.Hour })
	r := run(t, ts.addr, "admin", ts.admin, "status")
	if r.code != 1 || !strings.Contains(r.err, "internal error") {
		t.Fatalf("panic: %+v", r)
	}
	if r := run(t, ts.addr, "admin", ts.admin, "help"); r.code != 0 {
		t.Fatalf("server did not survive: %+v", r)
	}
}

var _ = errors.New
