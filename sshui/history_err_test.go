package sshui_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui/sshuitest"
	gossh "golang.org/x/crypto/ssh"
)

var errDisk = errors.New("read wal segment 7: input/output error")

// TestExecHistoryUnreadable: when the node cannot read its log, history and
// tail say so on stderr, print nothing on stdout and exit 1.
func TestExecHistoryUnreadable(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	for i := range 3 {
		f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprint("m", i)})
	}
	f.SetHistoryErr(errDisk)
	for _, c := range []struct{ cmd, err string }{
		{"history general", "history: history unavailable"},
		{"history general --json", "input/output error"},
		{"tail general", "tail: history unavailable"},
		{"tail general --from 0", "resume with --from 0"},
	} {
		r := run(t, ts.addr, "alice", k, c.cmd)
		if r.code != 1 || r.out != "" || !strings.Contains(r.err, c.err) {
			t.Errorf("%q: code %d stdout %q stderr %q; want 1, nothing, %q", c.cmd, r.code, r.out, r.err, c.err)
		}
	}
	f.SetHistoryErr(nil)
	if r := run(t, ts.addr, "alice", k, "history general"); r.code != 0 || strings.Count(r.out, "\n") != 3 {
		t.Errorf("history once readable again: %+v", r)
	}
}

// TestExecTailUnreadableAfterDrop: a tail whose subscription was dropped
// cannot fill the gap from an unreadable log: it exits 1 and names the
// index to resume from, which is the last one it printed (no gap).
func TestExecTailUnreadableAfterDrop(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	c := dial(t, ts.addr, "alice", k)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	// Unread until later: once the session's window (2 MiB) is full, tail
	// blocks writing and its subscription (1,024) overflows. The lines are
	// long enough that it must: with short ones a tail that kept up under
	// load never dropped, and the test waited for ever.
	pr, pw := io.Pipe()
	sess.Stdout = pw
	var serr lockedBuffer
	sess.Stderr = &serr
	if err := sess.Start("tail general --json --from 0"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() bool { return f.Subscribers() >= 2 }, func() string { return "no subscription" })
	var want []uint64
	for i := range 4000 {
		want = append(want, f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprintf("msg %d %s", i, strings.Repeat("z", 1000))}).Index)
	}
	f.SetHistoryErr(errDisk) // before the tail drains its queue and sees the drop
	done := make(chan error, 1)
	go func() { done <- sess.Wait(); _ = pw.Close() }()
	sc := bufio.NewScanner(pr)
	var last uint64
	n := 0
	for sc.Scan() {
		var m struct{ Index uint64 }
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if n >= len(want) || m.Index != want[n] {
			t.Fatalf("line %d: index %d, want the next of %v…", n, m.Index, want[n:min(n+1, len(want))])
		}
		last = m.Index
		n++
	}
	err = <-done
	var ee *gossh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 1 {
		t.Fatalf("tail ended with %v, want exit 1", err)
	}
	if n == 0 || n == len(want) {
		t.Fatalf("printed %d of %d lines: the drop never happened or the gap was filled", n, len(want))
	}
	if want := fmt.Sprintf("resume with --from %d", last); !strings.Contains(serr.String(), want) {
		t.Fatalf("stderr %q lacks %q", serr.String(), want)
	}
}
