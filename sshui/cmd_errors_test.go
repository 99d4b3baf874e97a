package sshui_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// TestExecHelpPrintedOnce: --help printed the usage on stdout and the flags
// block twice on stderr. Help goes once, to stdout, exit 0.
func TestExecHelpPrintedOnce(t *testing.T) {
	ts := startServer(t, sshuitest.New("node1", nil), nil)
	for _, c := range []string{"status", "post", "history", "tail", "rooms", "who", "help"} {
		for _, flag := range []string{"--help", "-h"} {
			r := run(t, ts.addr, "admin", ts.admin, c+" "+flag)
			if r.code != 0 || r.err != "" || strings.Count(r.out, "usage: "+c) != 1 || strings.Count(r.out, "flags:") > 1 {
				t.Errorf("%s %s: code %d\nstdout %q\nstderr %q", c, flag, r.code, r.out, r.err)
			}
		}
	}
	// A bad flag: the error and the usage once, on stderr, exit 2.
	r := run(t, ts.addr, "admin", ts.admin, "history general --bogus")
	if r.code != 2 || r.out != "" || strings.Count(r.err, "usage: history") != 1 || strings.Count(r.err, "flags:") != 1 ||
		!strings.Contains(r.err, "flag provided but not defined: -bogus") {
		t.Errorf("bad flag: %+v", r)
	}
}

// TestExecHistoryUnknownRoom: `history nosuchroom` printed nothing and
// exited 0, as if the room were empty.
func TestExecHistoryUnknownRoom(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	r := run(t, ts.addr, "alice", k, "history nosuchroom")
	if r.code != 1 || r.out != "" || !strings.Contains(r.err, `history: no room "nosuchroom"`) {
		t.Errorf("unknown room: %+v", r)
	}
	r = run(t, ts.addr, "alice", k, "history @nobody")
	if r.code != 1 || !strings.Contains(r.err, `no user "nobody"`) {
		t.Errorf("unknown user: %+v", r)
	}
	r = run(t, ts.addr, "alice", k, "who nosuchroom")
	if r.code != 1 || !strings.Contains(r.err, `who: no room "nosuchroom"`) {
		t.Errorf("who unknown room: %+v", r)
	}
	// Known but empty is not an error.
	if r := run(t, ts.addr, "alice", k, "history general"); r.code != 0 || r.err != "" {
		t.Errorf("empty general: %+v", r)
	}
	run(t, ts.addr, "bob", newSigner(t), "post #dev first") // bob exists: a first post claims the name
	if r := run(t, ts.addr, "alice", k, "history @bob"); r.code != 0 || r.err != "" {
		t.Errorf("no DMs with bob yet: %+v", r)
	}
	f.Append(api.Message{Room: "dev", From: "bob", Text: "hi"})
	if r := run(t, ts.addr, "alice", k, "history #dev"); r.code != 0 || !strings.Contains(r.out, "<bob> hi") {
		t.Errorf("dev: %+v", r)
	}
}

// TestExecPostNoQuorumPrintsID: without quorum, post said "retry with the
// same --id" but never said which id it had drawn; retrying with the
// printed id must post exactly once.
func TestExecPostNoQuorumPrintsID(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	run(t, ts.addr, "alice", k, "post general first") // bind while healthy: a first post claims the name
	f.SetQuorum(false)
	r := run(t, ts.addr, "alice", k, "post general hello")
	m := regexp.MustCompile(`retry with --id ([0-9a-f]+)\b`).FindStringSubmatch(r.err)
	if r.code != 1 || !strings.Contains(r.err, "no quorum") || m == nil {
		t.Fatalf("no quorum post: %+v", r)
	}
	f.SetQuorum(true)
	for range 2 {
		if r := run(t, ts.addr, "alice", k, "post --id "+m[1]+" general hello"); r.code != 0 {
			t.Fatalf("retry: %+v", r)
		}
	}
	if f.Posts() != 2 {
		t.Fatalf("posts = %d, want 2 (the first, then hello once)", f.Posts())
	}
	f.SetQuorum(false)
	if r := run(t, ts.addr, "alice", k, "post --id mine general hello"); !strings.Contains(r.err, "retry with --id mine") {
		t.Errorf("given id: %+v", r)
	}
}
