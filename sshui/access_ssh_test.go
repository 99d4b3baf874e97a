package sshui_test

import (
	"strings"
	"testing"

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
	bob.waitFor("#ops is private: a member must invite you")
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
