package sshui_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// TestExecSearch runs search through a real SSH session: words, phrases,
// prefixes, filters, JSON, and never a direct message of others.
func TestExecSearch(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	alice, bob, carol := newSigner(t), newSigner(t), newSigner(t)
	if r := run(t, ts.addr, "alice", alice, "post general we deploy the build today"); r.code != 0 {
		t.Fatal(r)
	}
	if r := run(t, ts.addr, "bob", bob, "post general Deploy again, the build broke"); r.code != 0 {
		t.Fatal(r)
	}
	if r := run(t, ts.addr, "carol", carol, "post general nothing to see"); r.code != 0 {
		t.Fatal(r)
	}
	if r := run(t, ts.addr, "alice", alice, "post @bob the secret deploy plan"); r.code != 0 {
		t.Fatal(r)
	}
	if r := run(t, ts.addr, "bob", bob, "post general building a deployment \x1b[31mred"); r.code != 0 {
		t.Fatal(r)
	}
	lines := func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

	r := run(t, ts.addr, "carol", carol, "search deploy")
	if r.code != 0 || len(lines(r.out)) != 2 || !strings.Contains(r.out, "#general <bob> Deploy again") || strings.Contains(r.out, "secret") {
		t.Fatalf("carol searches deploy: %+v", r)
	}
	if !strings.Contains(lines(r.out)[0], "<bob>") {
		t.Fatalf("not newest first: %q", r.out)
	}
	r = run(t, ts.addr, "alice", alice, "search deploy")
	if r.code != 0 || len(lines(r.out)) != 3 || !strings.Contains(lines(r.out)[0], "@bob <alice> the secret deploy plan") {
		t.Fatalf("alice searches deploy: %+v", r)
	}
	r = run(t, ts.addr, "bob", bob, `search "the build"`)
	if r.code != 0 || len(lines(r.out)) != 2 {
		t.Fatalf("phrase: %+v", r)
	}
	r = run(t, ts.addr, "bob", bob, "search deploy*")
	if r.code != 0 || len(lines(r.out)) != 4 || strings.ContainsRune(r.out, 0x1b) {
		t.Fatalf("prefix (bob reads his DM too; no escape bytes): %+v", r)
	}
	r = run(t, ts.addr, "bob", bob, "search --from alice --room general deploy --limit 1")
	if r.code != 0 || len(lines(r.out)) != 1 || !strings.Contains(r.out, "<alice> we deploy") {
		t.Fatalf("filters: %+v", r)
	}
	r = run(t, ts.addr, "bob", bob, "search --limit 1 deploy")
	if r.code != 0 || len(lines(r.out)) != 1 || !strings.Contains(r.err, "more hits than --limit 1") {
		t.Fatalf("limit: %+v", r)
	}
	r = run(t, ts.addr, "bob", bob, "search --json --room @alice deploy")
	var doc map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.out), &doc) != nil || doc["room"] != api.DMRoom("alice", "bob") || doc["text"] != "the secret deploy plan" {
		t.Fatalf("json: %+v %v", r, doc)
	}
	r = run(t, ts.addr, "carol", carol, "search nomatch")
	if r.code != 0 || r.out != "" || !strings.Contains(r.err, "no messages match") {
		t.Fatalf("no hits: %+v", r)
	}
	r = run(t, ts.addr, "carol", carol, "search --status")
	if r.code != 0 || !strings.Contains(r.out, "search index: ready") {
		t.Fatalf("status: %+v", r)
	}
	r = run(t, ts.addr, "carol", carol, "search --help")
	if r.code != 0 || !strings.Contains(r.out, "usage: search") || !strings.Contains(r.out, "quoted phrases") {
		t.Fatalf("help: %+v", r)
	}
	// A private room carol is not in is refused by name.
	if err := f.JoinRoom(context.Background(), "alice", "vault"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetRoomPrivate(context.Background(), "alice", "vault", true, false); err != nil {
		t.Fatal(err)
	}
	r = run(t, ts.addr, "carol", carol, "search --room vault deploy")
	if r.code != 1 || !strings.Contains(r.err, "you may not read vault") {
		t.Fatalf("private room: %+v", r)
	}
	for _, c := range []struct{ cmd, err string }{
		{"search", "need TEXT"},
		{"search !!!", "nothing to search for"},
		{"search --limit 0 x", "--limit must be"},
		{"search --since yesterday x", "not a time"},
		{"search --room 'bad!' x", "--room"},
		{"search --from 'x y' x", "--from"},
		{"search --status x", "--status takes no TEXT"},
		{"search --bogus x", "flag provided but not defined"},
	} {
		if r := run(t, ts.addr, "carol", carol, c.cmd); r.code != 2 || !strings.Contains(r.err, c.err) || !strings.Contains(r.err, "usage: search") {
			t.Errorf("%q: %+v, want exit 2 with %q and the usage", c.cmd, r, c.err)
		}
	}
}
