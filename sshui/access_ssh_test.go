package sshui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// Two users in the chat app over real SSH: bob cannot join alice's private
// room until invited, reads it once he is, and sees nothing of it once
// removed; the same name works from a second key.
func TestChatPrivateRoomOverSSH(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	ka, kb := newSigner(t), newSigner(t)
	alice := openTerm(t, ts.addr, "alice", ka, 100, 30)
	alice.waitFor("#general")
	bob := openTerm(t, ts.addr, "bob", kb, 100, 30)
	bob.waitFor("#general")

	alice.typ("/join #ops\r")
	alice.waitFor(">#ops")
	alice.typ("/private\r")
	alice.waitFor("#ops is private now")
	alice.typ("first secret\r")
	alice.waitFor("first secret")

	bob.typ("/join #ops\r")
	bob.waitFor("#ops is private: ask one of its members to invite you")
	alice.typ("/invite bob\r")
	bob.waitFor("alice invited you to #ops")
	bob.typ("/join #ops\r")
	bob.waitFor("first secret")

	alice.typ("/remove bob\r")
	bob.waitFor("You were removed from #ops by alice")
	alice.typ("second secret\r")
	alice.waitFor("second secret")
	alice.typ("/join #general\r")
	alice.typ("barrier\r")
	bob.waitFor("barrier")
	if s := ansi.Strip(bob.out.String()); strings.Contains(s, "second secret") {
		t.Fatalf("bob's screen showed a private room's message after his removal:\n%s", s)
	}

	// alice adds a second key; it opens the chat as alice.
	laptop := newSigner(t)
	alice.typ("/keys add " + authorizedLine(laptop) + " laptop\r")
	alice.waitFor("it logs in as alice now")
	again := openTerm(t, ts.addr, "alice", laptop, 100, 30)
	again.waitFor("barrier")
	again.typ("/keys\r")
	again.waitFor("laptop (this session)")
}

// Presence shows one user however many sessions and keys they use: two
// chat sessions of alice with two keys are one alice in who, online until
// the last of them ends.
func TestPresenceOneUserManyKeys(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k1, k2 := newSigner(t), newSigner(t)
	first := openTerm(t, ts.addr, "alice", k1, 100, 30)
	first.waitFor("#general")
	if r := run(t, ts.addr, "alice", k1, "keys add "+authorizedLine(k2)); r.code != 0 {
		t.Fatalf("keys add: %+v", r)
	}
	second := openTerm(t, ts.addr, "alice", k2, 100, 30)
	second.waitFor("#general")
	who := run(t, ts.addr, "admin", ts.admin, "who --json")
	if n := strings.Count(who.out, `"user":"alice"`); n != 1 {
		t.Fatalf("who lists alice %d times:\n%s", n, who.out)
	}
	_ = first.sess.Close()
	_ = first.c.Close()
	waitUntil(t, 10*time.Second, func() bool { return ts.Hub().Len() == 1 }, func() string { return "the first session never ended" })
	if p := f.Presence("alice"); p != "online" {
		t.Fatalf("alice is %q with one session left", p)
	}
}
