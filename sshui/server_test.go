package sshui_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

func TestChatTypingReachesOtherSession(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	alice, bob := newSigner(t), newSigner(t)
	a := openTerm(t, ts.addr, "alice", alice, 80, 24)
	a.waitFor("#general")
	b := openTerm(t, ts.addr, "bob", bob, 80, 24)
	b.waitFor("#general")
	a.typ("hello from alice\r")
	b.waitFor("alice: hello from alice")
	a.waitFor("alice: hello from alice")
	// A mention is highlighted and rings the bell; a DM opens its own pane.
	b.typ("hey alice look\r")
	a.waitFor("bob: hey alice look")
	waitUntil(t, 10*time.Second, func() bool { return strings.Contains(a.out.String(), "\a") },
		func() string { return "no bell on mention" })
	b.typ("/msg alice psst\r")
	a.waitFor("@bob")
	b.typ("/quit\r")
	if err := b.sess.Wait(); err != nil {
		t.Logf("bob wait: %v", err)
	}
}

func TestMiddlewareOrder(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	alice := newSigner(t)

	r := run(t, ts.addr, "alice", alice, "help")
	if r.code != 0 {
		t.Fatalf("help: code %d, stderr %q", r.code, r.err)
	}
	if got, want := ts.stages(), []string{"logging", "limits", "identity", "router"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("exec stages = %v, want %v", got, want)
	}

	ts.resetStages()
	tm := openTerm(t, ts.addr, "alice", alice, 80, 24)
	tm.waitFor("#general")
	if got, want := ts.stages(), []string{"logging", "limits", "identity", "router", "chat"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pty stages = %v, want %v", got, want)
	}
}

func TestWrongKeyNeverReachesCommandOrApp(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	alice, mallory := newSigner(t), newSigner(t)
	tm0 := openTerm(t, ts.addr, "alice", alice, 80, 24) // the chat app claims her name
	tm0.waitFor("#general")
	if _, ok := f.NameOwner("alice"); !ok {
		t.Fatal("alice's name is not bound after she opened the chat")
	}
	ts.resetStages()
	r := run(t, ts.addr, "alice", mallory, "post general hi")
	if r.code != 1 || !strings.Contains(r.err, "belongs to another key") {
		t.Fatalf("mallory as alice: %+v", r)
	}
	if got := ts.stages(); !reflect.DeepEqual(got, []string{"logging", "limits", "identity"}) {
		t.Fatalf("stages = %v: a wrong key got past identity", got)
	}
	ts.resetStages()
	tm := openTerm(t, ts.addr, "alice", mallory, 80, 24)
	tm.waitFor("belongs to another key")
	_ = tm.sess.Wait()
	for _, s := range ts.stages() {
		if s == "router" || s == "chat" {
			t.Fatalf("wrong key reached %s", s)
		}
	}
	if f.Posts() != 0 {
		t.Fatalf("posts = %d", f.Posts())
	}
	// The key that authenticated decides: a client holding both keys that
	// authenticates with mallory's (offered first) is mallory, not alice.
	c := dial(t, ts.addr, "alice", mallory, alice)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput("help")
	if err == nil || !strings.Contains(string(out), "belongs to another key") {
		t.Fatalf("two keys, mallory first: err %v out %q", err, out)
	}
}

func TestAdminReservedForAdminKeys(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	other := newSigner(t)
	ts.resetStages()
	r := run(t, ts.addr, "admin", other, "status")
	if r.code != 1 || !strings.Contains(r.err, "only admin keys") {
		t.Fatalf("non-admin key as admin: %+v", r)
	}
	if got := ts.stages(); !reflect.DeepEqual(got, []string{"logging", "limits", "identity"}) {
		t.Fatalf("stages = %v", got)
	}
	r = run(t, ts.addr, "admin", ts.admin, "status")
	if r.code != 0 || !strings.Contains(r.out, "Cluster Status: HEALTHY") {
		t.Fatalf("admin status: %+v", r)
	}
	// A normal user may not run status.
	r = run(t, ts.addr, "carol", other, "status")
	if r.code != 1 || !strings.Contains(r.err, "permission denied") || r.out != "" {
		t.Fatalf("carol status: %+v", r)
	}
}

func TestNameBinding(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k1, k2 := newSigner(t), newSigner(t)
	if r := run(t, ts.addr, "Dave", k1, "post general hi"); r.code != 0 {
		t.Fatalf("first claim: %+v", r)
	}
	if fp, ok := f.NameOwner("dave"); !ok || fp != Fingerprint(k1.PublicKey()) {
		t.Fatalf("owner = %q %v", fp, ok)
	}
	if r := run(t, ts.addr, "dave", k1, "help"); r.code != 0 {
		t.Fatalf("same key again: %+v", r)
	}
	if r := run(t, ts.addr, "dave", k2, "help"); r.code != 1 {
		t.Fatalf("other key: %+v", r)
	}
	if r := run(t, ts.addr, "bad\x1bname", k2, "help"); r.code != 1 || strings.ContainsRune(r.err, 0x1b) {
		t.Fatalf("bad name: %+v", r)
	}
	// Binding needs quorum; a bound name does not.
	f.SetQuorum(false)
	if r := run(t, ts.addr, "erin", k2, "post general hi"); r.code != 1 || !strings.Contains(r.err, "no quorum") {
		t.Fatalf("bind without quorum: %+v", r)
	}
	if r := run(t, ts.addr, "dave", k1, "help"); r.code != 0 {
		t.Fatalf("bound name without quorum: %+v", r)
	}
}

func TestStatusJSONShape(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	r := run(t, ts.addr, "admin", ts.admin, "status --json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, r.out)
	}
	for _, k := range []string{"node", "term", "leader", "healthy", "members"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("missing top-level %q", k)
		}
	}
	members, _ := doc["members"].([]any)
	if len(members) != 3 {
		t.Fatalf("members = %v", doc["members"])
	}
	for _, m := range members {
		mm := m.(map[string]any)
		for _, k := range []string{"id", "online", "leader", "term", "clients", "messages", "commit_index"} {
			if _, ok := mm[k]; !ok {
				t.Errorf("member missing %q: %v", k, mm)
			}
		}
	}
	if doc["healthy"] != true {
		t.Errorf("healthy = %v", doc["healthy"])
	}
}
