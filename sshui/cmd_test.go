package sshui_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui/sshuitest"
	gossh "golang.org/x/crypto/ssh"
)

func TestExecHelpOnEveryCommand(t *testing.T) {
	ts := startServer(t, sshuitest.New("node1", nil), nil)
	for _, c := range []string{"status", "post", "history", "tail", "rooms", "who"} {
		r := run(t, ts.addr, "admin", ts.admin, c+" --help")
		if r.code != 0 || !strings.Contains(r.out, "usage: "+c) {
			t.Errorf("%s --help: %+v", c, r)
		}
	}
	r := run(t, ts.addr, "admin", ts.admin, "help")
	if r.code != 0 || !strings.Contains(r.out, "status") || !strings.Contains(r.out, "tail") {
		t.Errorf("help: %+v", r)
	}
}

func TestExecErrors(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	cases := []struct {
		cmd  string
		code int
		err  string
	}{
		{"nope", 2, `unknown command "nope"`},
		{"nope\x1b[31m", 2, `unknown command`},
		{"post", 2, "need a room"},
		{"post general", 2, "empty message"}, // no text: read from stdin, which is empty
		{"post 'bad room!' hi", 2, "quotes are not special"},
		{"post --bogus general hi", 2, "flag provided but not defined"},
		{"post --id general", 2, "need a room"},
		{"post --id", 2, "flag needs an argument"},
		{"history", 2, "need exactly one room"},
		{"history general --limit 0", 2, "--limit must be"},
		{"tail general --from x", 2, "not an index"},
		{"status", 1, "permission denied"},
		{"rooms extra", 2, "no arguments"},
	}
	for _, c := range cases {
		r := run(t, ts.addr, "alice", k, c.cmd)
		if r.code != c.code || !strings.Contains(r.err, c.err) {
			t.Errorf("%q: got code %d stderr %q, want %d %q", c.cmd, r.code, r.err, c.code, c.err)
		}
		if strings.ContainsRune(r.err, 0x1b) {
			t.Errorf("%q: escape byte echoed to stderr", c.cmd)
		}
	}
	long := strings.Repeat("x", 2001)
	if r := run(t, ts.addr, "alice", k, "post general "+long); r.code != 1 || !strings.Contains(r.err, "too long") {
		t.Errorf("long post: %+v", r)
	}
}

// Flags come before ROOM (they were once also taken from after it, out of
// the text: TestExecPostTextIsVerbatim).
func TestExecPostIdempotent(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	r1 := run(t, ts.addr, "alice", k, "post --id=m1 general hi there")
	r2 := run(t, ts.addr, "alice", k, "post --id m1 -- general hi there")
	if r1.code != 0 || r2.code != 0 || r1.out != r2.out || strings.TrimSpace(r1.out) == "" {
		t.Fatalf("posts: %+v %+v", r1, r2)
	}
	if f.Posts() != 1 {
		t.Fatalf("posts = %d, want 1 (same --id)", f.Posts())
	}
	h := hist(t, f, "general", 0, 10)
	if len(h) != 1 || h[0].Text != "hi there" || h[0].ID != "m1" || h[0].From != "alice" {
		t.Fatalf("history = %+v", h)
	}
	// Text may start with a dash: after ROOM nothing is a flag, "--" included.
	for cmd, want := range map[string]string{"post general -5 degrees": "-5 degrees", "post general -- x": "-- x"} {
		if r := run(t, ts.addr, "alice", k, cmd); r.code != 0 {
			t.Fatalf("%s: %+v", cmd, r)
		}
		if h := hist(t, f, "general", 0, 1); h[0].Text != want {
			t.Fatalf("%s: text = %q", cmd, h[0].Text)
		}
	}
}

func TestExecPostNoQuorum(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	run(t, ts.addr, "alice", k, "help") // bind while healthy
	f.SetQuorum(false)
	r := run(t, ts.addr, "alice", k, "post general hello --id q1")
	if r.code == 0 || !strings.Contains(r.err, "no quorum") || r.out != "" {
		t.Fatalf("no quorum post: %+v", r)
	}
	f.SetQuorum(true)
	if r := run(t, ts.addr, "alice", k, "post general hello --id q1"); r.code != 0 {
		t.Fatalf("retry: %+v", r)
	}
	if f.Posts() != 1 {
		t.Fatalf("posts = %d", f.Posts())
	}
}

func TestExecHistoryJSON(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	for i := range 5 {
		f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprintf("m%d \x1b[2J\u202e", i), ID: fmt.Sprint(i)})
	}
	r := run(t, ts.addr, "alice", k, "history general --limit 3 --json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 3 {
		t.Fatalf("lines = %d: %q", len(lines), r.out)
	}
	var prev uint64
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"index", "id", "room", "from", "text", "lamport", "time"} {
			if _, ok := m[key]; !ok {
				t.Errorf("missing %q in %s", key, l)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
			t.Errorf("time: %v", err)
		}
		idx := uint64(m["index"].(float64))
		if idx <= prev {
			t.Errorf("not in cluster order: %d after %d", idx, prev)
		}
		prev = idx
		if !strings.HasPrefix(m["text"].(string), "m") || !strings.Contains(m["text"].(string), "\u202e") {
			t.Errorf("JSON must keep the exact text: %q", m["text"])
		}
	}
	if strings.ContainsAny(r.out, "\x1b\u202e") {
		t.Errorf("raw control runes on the terminal: %q", r.out)
	}
	r = run(t, ts.addr, "alice", k, "history general")
	if r.code != 0 || strings.Count(r.out, "<bob>") != 5 || strings.ContainsAny(r.out, "\x1b\u202e") {
		t.Fatalf("text history: %+v", r)
	}
}

func TestExecRoomsWho(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	run(t, ts.addr, "alice", k, "help")
	ctx := t.Context()
	if err := f.JoinRoom(ctx, "alice", "general"); err != nil {
		t.Fatal(err)
	}
	_ = f.SetTopic(ctx, "alice", "general", "welcome \x1b]0;pwned\x07here")
	_ = f.SetPresence(ctx, "alice", "online")
	r := run(t, ts.addr, "alice", k, "rooms")
	if r.code != 0 || !strings.Contains(r.out, "#general") || !strings.Contains(r.out, "welcome here") {
		t.Fatalf("rooms: %+v", r)
	}
	r = run(t, ts.addr, "alice", k, "who")
	if r.code != 0 || !strings.Contains(r.out, "alice") || !strings.Contains(r.out, "online") {
		t.Fatalf("who: %+v", r)
	}
	r = run(t, ts.addr, "alice", k, "who general --json")
	if r.code != 0 || !strings.Contains(r.out, `"user":"alice"`) {
		t.Fatalf("who json: %+v", r)
	}
}

func TestExecStatusVariants(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	r := run(t, ts.addr, "admin", ts.admin, "status simple")
	if r.code != 0 || strings.Count(r.out, "\n") != 3 || !strings.Contains(r.out, "node1 leader") {
		t.Fatalf("simple: %+v", r)
	}
	r = run(t, ts.addr, "admin", ts.admin, "status bogus")
	if r.code != 2 {
		t.Fatalf("bogus: %+v", r)
	}
	f.SetQuorum(false) // the fake then shows only itself online: 1 of 3 (was DEGRADED)
	r = run(t, ts.addr, "admin", ts.admin, "status")
	if !strings.Contains(r.out, "Summary: 1/3 nodes online, 1 leader") || !strings.Contains(r.out, "NO QUORUM") {
		t.Fatalf("no quorum: %+v", r)
	}
}

func TestExecTailFollowsAndResumes(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	var idx []uint64
	for i := range 3 {
		idx = append(idx, f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprint("old", i)}).Index)
	}
	c := dial(t, ts.addr, "alice", k)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	sess.Stdout = pw
	if err := sess.Start(fmt.Sprintf("tail general --json --from %d", idx[0])); err != nil {
		t.Fatal(err)
	}
	got := make(chan uint64, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var m struct{ Index uint64 }
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				got <- m.Index
			}
		}
		close(got)
	}()
	want := []uint64{idx[1], idx[2]}
	waitUntil(t, 10*time.Second, func() bool { return f.Subscribers() >= 2 }, func() string { return "tail never subscribed" })
	for i := range 3 {
		want = append(want, f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprint("new", i)}).Index)
		f.Append(api.Message{Room: "other", From: "bob", Text: "elsewhere"})
	}
	for i, w := range want {
		select {
		case g := <-got:
			if g != w {
				t.Fatalf("line %d: index %d, want %d (gap or duplicate)", i, g, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("line %d: timeout waiting for %d", i, w)
		}
	}
	_ = c.Close()
	_ = pw.Close()
}

func TestExecTailResyncsAfterDrop(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	c := dial(t, ts.addr, "alice", k)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe() // unread until later: tail blocks writing, its subscription overflows
	sess.Stdout = pw
	if err := sess.Start("tail general --json --from 0"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() bool { return f.Subscribers() >= 2 }, func() string { return "no subscription" })
	const n = 3000 // > the tail's 1024 buffer and the SSH window
	var want []uint64
	for i := range n {
		want = append(want, f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprintf("msg %d %s", i, strings.Repeat("z", 100))}).Index)
	}
	sc := bufio.NewScanner(pr)
	for i, w := range want {
		if !sc.Scan() {
			t.Fatalf("stream ended at %d", i)
		}
		var m struct{ Index uint64 }
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m.Index != w {
			t.Fatalf("line %d: index %d, want %d", i, m.Index, w)
		}
	}
	_ = c.Close()
	_ = pw.Close()
}

func TestNoPtyNoCommand(t *testing.T) {
	ts := startServer(t, sshuitest.New("node1", nil), nil)
	c := dial(t, ts.addr, "alice", newSigner(t))
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var serr bytes.Buffer
	sess.Stderr = &serr
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	err = sess.Wait()
	if err == nil || !strings.Contains(serr.String(), "no terminal") {
		t.Fatalf("err %v stderr %q", err, serr.String())
	}
}

// TestExecOnPtyGetsCRLF: the server accepts PTYs without charmbracelet/ssh's
// emulation (its writer copied every chat frame twice), so exec commands
// run with ssh -t must still get "\r\n" line ends, and a second,
// PTY-less session on the same connection must not be taken for a PTY.
func TestExecOnPtyGetsCRLF(t *testing.T) {
	ts := startServer(t, sshuitest.New("node1", nil), nil)
	key := newSigner(t)
	c := dial(t, ts.addr, "alice", key)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput("rooms")
	if err != nil {
		t.Fatalf("rooms on a pty: %v: %q", err, out)
	}
	if !strings.Contains(string(out), "TOPIC\r\n") {
		t.Errorf("rooms on a pty = %q, want \\r\\n line ends", out)
	}
	plain, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	out, err = plain.CombinedOutput("rooms")
	if err != nil || !strings.Contains(string(out), "TOPIC\n") || strings.Contains(string(out), "\r") {
		t.Errorf("rooms without a pty = %q, %v; want bare \\n line ends", out, err)
	}
}
