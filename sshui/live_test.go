package sshui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// TestSetAdminKeysAndCapsLive: a reload's new admin key admits that key as
// admin on its next session and removes the old one's role; lowered caps
// refuse new sessions; every refusal is counted by reason.
func TestSetAdminKeysAndCapsLive(t *testing.T) {
	ts := startServer(t, sshuitest.New("node1", time.Now), nil)
	other := newSigner(t)
	if r := run(t, ts.addr, "admin", other, "status"); r.code == 0 {
		t.Fatalf("a non-admin key ran status as admin: %+v", r)
	}
	if err := ts.SetAdminKeys([]string{"ssh-ed25519 garbage"}); err == nil {
		t.Fatal("a bad key was accepted")
	}
	if r := run(t, ts.addr, "admin", ts.admin, "status"); r.code != 0 {
		t.Fatalf("a refused SetAdminKeys changed the admin keys: %+v", r)
	}
	if err := ts.SetAdminKeys([]string{authorizedLine(other)}); err != nil {
		t.Fatal(err)
	}
	if r := run(t, ts.addr, "admin", other, "status"); r.code != 0 {
		t.Fatalf("the new admin key is refused: %+v", r)
	}
	if r := run(t, ts.addr, "admin", ts.admin, "status"); r.code == 0 {
		t.Fatalf("the removed admin key still works: %+v", r)
	}
	// The sessions above may still be closing on the server: counted, a
	// lingering one would take the one place and refuse bob's tail as
	// node_full (seen: node_full counted twice).
	waitUntil(t, 5*time.Second, func() bool { return ts.Sessions() == 0 }, func() string { return "earlier sessions never ended" })
	ts.SetSessionCaps(1, 1)
	// One session open; the next is over the cap.
	c := dial(t, ts.addr, "bob", other)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Start("tail general"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, func() bool { return ts.Sessions() == 1 }, func() string { return "the tail session never counted" })
	r := run(t, ts.addr, "carol", newSigner(t), "rooms")
	if r.code == 0 || !strings.Contains(r.err, "full") {
		t.Fatalf("a session over the lowered cap: %+v", r)
	}
	st := ts.Stats()
	if st.Refusals["not_admin"] != 2 || st.Refusals["node_full"] != 1 {
		t.Errorf("refusals by reason = %v, want not_admin 2, node_full 1", st.Refusals)
	}
	if st.Connects < 6 {
		t.Errorf("connects = %d, want at least 6", st.Connects)
	}
}
