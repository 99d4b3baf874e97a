package sshui_test

import (
	"strings"
	"testing"

	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// Any command, even who, used to claim the name it logged in with for
// ever (`who` run as root, system or a took those names). Reading claims
// nothing; a first post, tail --join or the chat app does. Reserved names
// are refused with a clear message; an admin can release a name.
func TestNamesClaimedOnlyByDeliberateUse(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k1, k2 := newSigner(t), newSigner(t)
	for _, cmd := range []string{"who", "rooms", "history general", "help"} {
		if r := run(t, ts.addr, "a", k1, cmd); r.code != 0 {
			t.Fatalf("%s as a: %+v", cmd, r)
		}
	}
	if fp, ok := f.NameOwner("a"); ok {
		t.Fatalf("reading commands claimed the name a for %s", fp)
	}
	if r := run(t, ts.addr, "a", k2, "post general mine now"); r.code != 0 {
		t.Fatalf("k2's first post as a: %+v", r)
	}
	if fp, _ := f.NameOwner("a"); fp != Fingerprint(k2.PublicKey()) {
		t.Fatalf("a is owned by %q, want the key that posted first", fp)
	}
	if r := run(t, ts.addr, "a", k1, "who"); r.code != 1 || !strings.Contains(r.err, "belongs to another key") {
		t.Fatalf("another key as a: %+v", r)
	}

	for _, name := range []string{"root", "system", "syncnet", "operator"} {
		r := run(t, ts.addr, name, k1, "who")
		if r.code != 1 || !strings.Contains(r.err, `the name "`+name+`" is reserved; pick another`) {
			t.Fatalf("%s: %+v", name, r)
		}
	}
	tm := openTerm(t, ts.addr, "server", k1, 80, 24)
	tm.waitFor(`the name "server" is reserved`)

	// The chat app claims.
	erin := openTerm(t, ts.addr, "erin", k1, 80, 24)
	erin.waitFor("#general")
	if fp, _ := f.NameOwner("erin"); fp != Fingerprint(k1.PublicKey()) {
		t.Fatalf("the chat app did not claim erin: %q", fp)
	}

	// An admin releases a: k1 can have it now.
	if r := run(t, ts.addr, "carol", k1, "release a"); r.code != 1 || !strings.Contains(r.err, "permission denied") {
		t.Fatalf("release by a non-admin: %+v", r)
	}
	r := run(t, ts.addr, "admin", ts.admin, "release a")
	if r.code != 0 || !strings.Contains(r.out, "The name a was released by admin") {
		t.Fatalf("release a: %+v", r)
	}
	if r := run(t, ts.addr, "a", k1, "post general k1 now"); r.code != 0 {
		t.Fatalf("k1 after the release: %+v", r)
	}
	if fp, _ := f.NameOwner("a"); fp != Fingerprint(k1.PublicKey()) {
		t.Fatalf("after the release a is owned by %q", fp)
	}
	if r := run(t, ts.addr, "admin", ts.admin, "release nobody-has-it"); r.code != 1 || !strings.Contains(r.err, "nobody owns") {
		t.Fatalf("release of a free name: %+v", r)
	}
	// /release in the app ends the sessions using the name.
	adm := openTerm(t, ts.addr, "admin", ts.admin, 100, 30)
	adm.waitFor("#general")
	adm.typ("/release erin\r")
	adm.waitFor("The name erin was released by admin")
	erin.waitFor("Your name was released by admin")
	if _, ok := f.NameOwner("erin"); ok {
		t.Fatal("erin still bound after /release")
	}
}
