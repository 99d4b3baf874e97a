package walcmd

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/eventlog"
)

// wal replay --until shows the state before and after each entry of the
// private rooms, keys and settings kinds; dump describes them.
func TestReplayAccessUntil(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node1", "wal")
	b := newBuilder(t, dir, 1<<20)
	b.newTerm(1, "node1") // 1
	by := func(u string) eventlog.Authority { return eventlog.Authority{By: u} }
	b.entry(&eventlog.UserRegistered{Name: "alice", KeyFingerprint: "SHA256:alice"})                                                 // 2
	b.entry(&eventlog.UserRegistered{Name: "bob", KeyFingerprint: "SHA256:bob"})                                                     // 3
	b.entry(&eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "ops", User: "alice"}})                                 // 4
	b.entry(&eventlog.RoomAccessSet{Room: "ops", Private: 1, Authority: by("alice")})                                                // 5
	b.entry(&eventlog.RoomInvited{Room: "ops", User: "bob", Authority: by("alice")})                                                 // 6
	b.entry(&eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "ops", User: "bob"}})                                   // 7
	b.msg("ops", "alice", "the plan", "m1")                                                                                          // 8
	b.entry(&eventlog.RoomRemoved{Room: "ops", User: "bob", Reason: "rotation", Authority: by("alice")})                             // 9
	b.entry(&eventlog.KeyAdded{Name: "alice", KeyFingerprint: "SHA256:laptop", Label: "ssh-ed25519 laptop", Authority: by("alice")}) // 10
	b.entry(&eventlog.NotifySet{User: "alice", Conv: "ops", Level: "all"})                                                           // 11
	b.entry(&eventlog.PrefSet{User: "alice", Name: "highlight", Value: "deploy"})                                                    // 12
	b.entry(&eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "ops", User: "bob"}})                                   // 13: refused
	b.commit()
	dir = b.close()

	replay := func(until string) string {
		t.Helper()
		r := wal(t, "replay", "--until", until, dir)
		if r.code != 0 {
			t.Fatalf("replay --until %s: %+v", until, r)
		}
		return r.stdout
	}
	has := func(out, want string, yes bool) {
		t.Helper()
		if strings.Contains(out, want) != yes {
			t.Fatalf("%q in the replay: %v, want %v:\n%s", want, !yes, yes, out)
		}
	}
	out := replay("4")
	has(out, "private rooms: none", true)
	out = replay("5")
	has(out, "ops                  alice             alice", true)
	out = replay("7")
	has(out, "alice             alice, bob\n", true)
	has(out, "members: alice, bob", true)
	out = replay("9")
	has(out, "alice             alice\n", true)
	has(out, "keys added to names: none", true)
	out = replay("10")
	has(out, "alice: SHA256:alice, SHA256:laptop (ssh-ed25519 laptop)", true)
	has(out, "notification settings: none", true)
	out = replay("13")
	has(out, "alice: #ops all; highlights deploy", true)
	has(out, "members: alice\n", true) // bob's join after his removal was refused

	r := wal(t, "dump", dir)
	for _, want := range []string{`room_access_set`, `private=1 by="alice"`, `room_removed`, `reason="rotation"`, `key_added`, `pref_set`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dump lacks %q", want)
		}
	}
}
