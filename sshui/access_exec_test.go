package sshui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui/sshuitest"
	gossh "golang.org/x/crypto/ssh"
)

// accessWorld is a fake node with alice (the owner of the private room
// #ops) and bob and carol, each with a key, named by a post.
type accessWorld struct {
	t                *testing.T
	f                *sshuitest.Fake
	ts               *testServer
	alice, bob, carl gossh.Signer
}

func newAccessWorld(t *testing.T) *accessWorld {
	f := sshuitest.New("node1", nil)
	w := &accessWorld{t: t, f: f, ts: startServer(t, f, nil), alice: newSigner(t), bob: newSigner(t), carl: newSigner(t)}
	for _, u := range []struct {
		name string
		key  gossh.Signer
	}{{"alice", w.alice}, {"bob", w.bob}, {"carol", w.carl}} {
		w.must(u.name, u.key, "post general hello from "+u.name)
	}
	if err := f.JoinRoom(context.Background(), "alice", "ops"); err != nil {
		t.Fatal(err)
	}
	return w
}

// must runs cmd as user and fails unless it exits 0.
func (w *accessWorld) must(user string, key gossh.Signer, cmd string) execResult {
	w.t.Helper()
	r := run(w.t, w.ts.addr, user, key, cmd)
	if r.code != 0 {
		w.t.Fatalf("%s: %q exited %d: %s", user, cmd, r.code, r.err)
	}
	return r
}

// refused runs cmd as user and fails unless it exits code with want on
// stderr.
func (w *accessWorld) refused(user string, key gossh.Signer, cmd string, code int, want string) {
	w.t.Helper()
	r := run(w.t, w.ts.addr, user, key, cmd)
	if r.code != code || !strings.Contains(r.err, want) {
		w.t.Fatalf("%s: %q = exit %d, stderr %q; want %d and %q", user, cmd, r.code, r.err, code, want)
	}
}

// Every exec read path refuses a private room to those it does not let
// in, through the real SSH path, and serves those it does.
func TestExecPrivateRoomRefusesNonMembers(t *testing.T) {
	w := newAccessWorld(t)
	w.must("alice", w.alice, "post ops the plan")
	w.refused("bob", w.bob, "room ops private", 1, "only an admin, or #ops's only member")
	r := w.must("alice", w.alice, "room ops private")
	if !strings.Contains(r.out, "#ops is private now") || !strings.Contains(r.out, "owner alice; let in: alice") {
		t.Fatalf("room ops private said %q", r.out)
	}
	w.must("alice", w.alice, "post ops the secret plan")

	denied := "permission denied: #ops is private"
	for _, cmd := range []string{"history ops", "tail ops", "tail --join ops", "tail --from 0 ops", "who ops", "room ops", "history ops --json"} {
		w.refused("bob", w.bob, cmd, 1, denied)
	}
	w.refused("bob", w.bob, "post ops let me in", 1, "#ops is private and you are not a member")
	if got := w.f.RoomsOf("bob"); len(got) != 0 {
		t.Fatalf("a refused tail --join joined: %v", got)
	}

	// rooms lists it, marked, without its members or topic.
	r = w.must("bob", w.bob, "rooms")
	if !strings.Contains(r.out, "#ops (private)") {
		t.Fatalf("rooms for bob:\n%s", r.out)
	}
	r = w.must("bob", w.bob, "rooms --json")
	found := false
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var doc struct {
			Name      string `json:"name"`
			Members   int    `json:"members"`
			LastIndex uint64 `json:"last_index"`
			Private   bool   `json:"private"`
		}
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Name == "ops" {
			found = true
			if !doc.Private || doc.Members != 0 || doc.LastIndex != 0 {
				t.Fatalf("ops as bob sees it: %+v", doc)
			}
		}
	}
	if !found {
		t.Fatalf("rooms --json lacks ops:\n%s", r.out)
	}

	// Invited, bob reads it all; carol still does not.
	w.refused("bob", w.bob, "room ops invite carol", 1, "only members of #ops may invite")
	w.must("alice", w.alice, "room ops invite bob")
	if r := w.must("bob", w.bob, "history ops"); !strings.Contains(r.out, "the secret plan") || !strings.Contains(r.out, "the plan") {
		t.Fatalf("bob's history of ops:\n%s", r.out)
	}
	w.refused("carol", w.carl, "history ops", 1, denied)
	r = w.must("bob", w.bob, "room ops --json")
	var acc api.RoomAccess
	if err := json.Unmarshal([]byte(r.out), &acc); err != nil || !acc.Private || acc.Owner != "alice" || strings.Join(acc.Allowed, ",") != "alice,bob" {
		t.Fatalf("room ops --json: %q (%v)", r.out, err)
	}

	// Removed, bob is refused again; the owner opens it, carol reads.
	w.refused("bob", w.bob, "room ops remove alice", 1, "only #ops's owner or an admin may remove")
	w.must("alice", w.alice, "room ops remove bob done here")
	w.refused("bob", w.bob, "history ops", 1, denied)
	w.must("alice", w.alice, "room ops public")
	w.must("carol", w.carl, "history ops")
	w.refused("alice", w.alice, "room general private", 1, "everyone's room")
}

// A live tail stops delivering a private room's messages to someone taken
// out of it: it ends, saying why, and prints nothing posted after.
func TestExecTailEndsOnRemoval(t *testing.T) {
	w := newAccessWorld(t)
	w.must("alice", w.alice, "room ops private")
	w.must("alice", w.alice, "room ops invite bob")

	tail := func(user string, key gossh.Signer, cmd string) (*bufio.Scanner, chan error, *lockedBuffer) {
		c := dial(t, w.ts.addr, user, key)
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out, err := sess.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		stderr := &lockedBuffer{}
		sess.Stderr = stderr
		if err := sess.Start(cmd); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- sess.Wait() }()
		return bufio.NewScanner(out), done, stderr
	}
	next := func(sc *bufio.Scanner, want string) {
		t.Helper()
		if !sc.Scan() || !strings.Contains(sc.Text(), want) {
			t.Fatalf("tail printed %q, want %q (%v)", sc.Text(), want, sc.Err())
		}
	}
	bobOut, bobDone, bobErr := tail("bob", w.bob, "tail --limit 0 ops")
	// carol follows the public room #dev; it then becomes private.
	if err := w.f.JoinRoom(context.Background(), "alice", "dev"); err != nil {
		t.Fatal(err)
	}
	carlOut, carlDone, carlErr := tail("carol", w.carl, "tail --limit 0 dev")
	waitUntil(t, 5*time.Second, func() bool { return w.f.Subscribers() >= 3 }, func() string { return "the tails never subscribed" })

	w.must("alice", w.alice, "post ops one")
	next(bobOut, "one")
	w.must("alice", w.alice, "post dev first")
	next(carlOut, "first")

	w.must("alice", w.alice, "room ops remove bob")
	w.must("alice", w.alice, "post ops after bob left")
	w.must("alice", w.alice, "room dev private")
	w.must("alice", w.alice, "post dev after carol was shut out")
	for _, c := range []struct {
		who  string
		sc   *bufio.Scanner
		done chan error
		err  *lockedBuffer
		want string
	}{{"bob", bobOut, bobDone, bobErr, "you were removed from #ops by alice"},
		{"carol", carlOut, carlDone, carlErr, "permission denied: #dev is private"}} {
		select {
		case err := <-c.done:
			var ee *gossh.ExitError
			if !asExit(err, &ee) || ee.ExitStatus() != 1 || !strings.Contains(c.err.String(), c.want) {
				t.Fatalf("%s's tail ended with %v, stderr %q; want exit 1 and %q", c.who, err, c.err.String(), c.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s's tail did not end", c.who)
		}
		for c.sc.Scan() {
			if strings.Contains(c.sc.Text(), "after") {
				t.Fatalf("%s's tail printed %q after being shut out", c.who, c.sc.Text())
			}
		}
	}
}

func asExit(err error, ee **gossh.ExitError) bool {
	e, ok := err.(*gossh.ExitError)
	*ee = e
	return ok
}

// The same name from another key: added by the user, or by an admin for a
// lost key; a key of another name refused; the last key never removed.
func TestExecKeys(t *testing.T) {
	w := newAccessWorld(t)
	laptop := newSigner(t)
	fpAlice := gossh.FingerprintSHA256(w.alice.PublicKey())
	fpLaptop := gossh.FingerprintSHA256(laptop.PublicKey())

	w.refused("alice", laptop, "post general hi", 1, "belongs to another key")
	w.refused("alice", w.alice, "keys add "+authorizedLine(w.bob), 1, "belongs to another name")
	w.refused("alice", w.alice, "keys add ssh-ed25519 notbase64", 2, "not a public key line")
	w.refused("alice", w.alice, "keys add", 2, "needs a public key line")
	w.refused("alice", w.alice, "keys remove "+fpAlice, 1, "is alice's only key: add another first")
	w.refused("alice", w.alice, "keys remove nope", 2, "not a key fingerprint")
	r := w.must("alice", w.alice, "keys add "+authorizedLine(laptop)+" my laptop")
	if !strings.Contains(r.out, "added "+fpLaptop+" (ssh-ed25519 my laptop)") {
		t.Fatalf("keys add said %q", r.out)
	}
	w.must("alice", laptop, "post general from the laptop")
	r = w.must("alice", laptop, "keys --json")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], fpAlice) || !strings.Contains(lines[1], `"current":true`) {
		t.Fatalf("keys --json from the laptop:\n%s", r.out)
	}
	// From stdin.
	desk := newSigner(t)
	if r := runIn(t, w.ts.addr, "alice", laptop, "keys add", authorizedLine(desk)+" desk\n"); r.code != 0 {
		t.Fatalf("keys add from stdin: %+v", r)
	}
	w.must("alice", desk, "keys list")

	// The first key removed: it no longer logs in, and its running tail ends.
	c := dial(t, w.ts.addr, "alice", w.alice)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	tailErr := &lockedBuffer{}
	sess.Stderr = tailErr
	if err := sess.Start("tail --limit 0 general"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	waitUntil(t, 5*time.Second, func() bool { return w.f.Subscribers() >= 1 }, func() string { return "the tail never subscribed" })
	w.must("alice", laptop, "keys remove "+fpAlice)
	select {
	case err := <-done:
		var ee *gossh.ExitError
		if !asExit(err, &ee) || ee.ExitStatus() != 1 || !strings.Contains(tailErr.String(), "the key of this session was removed") {
			t.Fatalf("the tail of a removed key ended with %v, %q", err, tailErr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the tail of a removed key went on")
	}
	w.refused("alice", w.alice, "keys", 1, "belongs to another key")

	// An admin replaces a lost key; a user may not touch another's.
	w.refused("bob", w.bob, "keys --user alice", 1, "--user is for admins")
	lost := newSigner(t)
	w.must("admin", w.ts.admin, "keys add --user bob "+authorizedLine(lost))
	w.must("admin", w.ts.admin, "keys remove --user bob "+gossh.FingerprintSHA256(w.bob.PublicKey()))
	w.refused("bob", w.bob, "keys", 1, "belongs to another key")
	if r := w.must("bob", lost, "keys"); !strings.Contains(r.out, "(this session)") {
		t.Fatalf("bob's keys:\n%s", r.out)
	}
	w.refused("admin", w.ts.admin, "keys --user nobody", 1, `no user "nobody"`)
}

func TestExecNotify(t *testing.T) {
	w := newAccessWorld(t)
	w.must("alice", w.alice, "notify ops none")
	w.must("alice", w.alice, "notify @ mentions")
	w.must("alice", w.alice, "notify bell off")
	w.must("alice", w.alice, "notify highlight add Deploy")
	r := w.must("alice", w.alice, "notify")
	for _, want := range []string{"bell: off", "direct messages: mentions", "#ops: none", "highlights: deploy"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("notify lacks %q:\n%s", want, r.out)
		}
	}
	r = w.must("alice", w.alice, "notify --json")
	var s api.NotifySettings
	if err := json.Unmarshal([]byte(r.out), &s); err != nil || s.Bell || s.Notify["ops"] != "none" || len(s.Highlights) != 1 {
		t.Fatalf("notify --json: %q %v", r.out, err)
	}
	w.must("alice", w.alice, "notify ops default")
	w.must("alice", w.alice, "notify highlight remove deploy")
	if s := w.f.NotifySettings("alice"); len(s.Notify) != 1 || len(s.Highlights) != 0 {
		t.Fatalf("after resetting: %+v", s)
	}
	for _, c := range []struct{ cmd, want string }{
		{"notify ops loud", `"loud" is not a level`},
		{"notify bell maybe", "bell takes on or off"},
		{"notify highlight add two words", "one word"},
		{"notify ops", "give a room"},
		{"notify 'ops' all", "quotes are not special"},
		{"room", "need a room"},
		{"room ops dance", `unknown room command "dance"`},
		{"room ops invite", "needs a user name"},
		{"keys frob", `unknown keys command "frob"`},
	} {
		w.refused("alice", w.alice, c.cmd, 2, c.want)
	}
	for _, c := range []string{"room", "keys", "notify"} {
		if r := w.must("alice", w.alice, c+" --help"); !strings.Contains(r.out, "usage: "+c) {
			t.Errorf("%s --help: %q", c, r.out)
		}
	}
}
