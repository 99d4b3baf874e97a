package sshui_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// People using syncnet chat (which follows a room with an exec tail) were
// invisible: who listed them as offline or not at all, and they were no
// room's members. tail --join makes the user a member of the room and
// online while it runs, like a chat session; closing it makes them offline.
func TestTailJoinIsPresentAndMember(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	dora, other := newSigner(t), newSigner(t)

	c := dial(t, ts.addr, "dora", dora)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out, serr lockedBuffer
	sess.Stdout, sess.Stderr = &out, &serr
	if err := sess.Start("tail --join --json -- dev"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, func() bool {
		return f.Presence("dora") == "online" && slices.Contains(f.RoomsOf("dora"), "dev")
	}, func() string {
		return "dora is " + f.Presence("dora") + ", rooms " + strings.Join(f.RoomsOf("dora"), ",") + "; stderr " + serr.String()
	})
	r := run(t, ts.addr, "eve", other, "who")
	if r.code != 0 || !strings.Contains(r.out, "dora") || !strings.Contains(r.out, "online") {
		t.Fatalf("who while dora follows #dev with syncnet chat: %+v", r)
	}
	r = run(t, ts.addr, "eve", other, "who dev")
	if !strings.Contains(r.out, "dora") {
		t.Fatalf("who dev: dora is not a member: %+v", r)
	}

	_ = sess.Close()
	_ = c.Close()
	waitUntil(t, 5*time.Second, func() bool { return f.Presence("dora") == "offline" },
		func() string { return "dora still " + f.Presence("dora") + " after her tail ended" })
}

// --join is for rooms; a plain tail stays a reader: no membership, no
// presence.
func TestTailWithoutJoinIsAReader(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	if r := run(t, ts.addr, "dora", k, "tail --join @eve"); r.code != 2 || !strings.Contains(r.err, "--join is for rooms") {
		t.Fatalf("tail --join @eve: %+v", r)
	}
	c := dial(t, ts.addr, "dora", k)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sess.Stdout = &out
	if err := sess.Start("tail general"); err != nil {
		t.Fatal(err)
	}
	// Subscribed means past the point where --join would have joined.
	waitUntil(t, 5*time.Second, func() bool { return f.Subscribers() > 1 }, // the hub's and the tail's
		func() string { return "tail never subscribed" })
	if p, rooms := f.Presence("dora"), f.RoomsOf("dora"); p != "" || len(rooms) != 0 {
		t.Fatalf("a plain tail changed presence (%q) or rooms (%v)", p, rooms)
	}
	_ = sess.Close()
}
