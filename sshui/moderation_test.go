package sshui_test

import (
	"strings"
	"testing"

	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// There was no /unban, /unmute or list of bans; ban and mute messages gave
// no duration or end, and a mute said "muted in #general" when it held
// everywhere. Now: who, by whom, why, until when, everywhere or where, in
// sentences; /unban, /unmute, /bans, and the exec bans command.
func TestModerationSaysWhoWhyUntilAndLifts(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	carol := openTerm(t, ts.addr, "carol", newSigner(t), 120, 30)
	carol.waitFor("#general")
	adm := openTerm(t, ts.addr, "admin", ts.admin, 120, 40)
	adm.waitFor("#general")

	adm.typ("/ban bob 2h spam links\r")
	adm.waitFor("bob was banned by admin until ")
	adm.waitFor("(in 2h): spam links.")
	carol.waitFor("bob was banned by admin until ")
	adm.typ("/mute carol 30m shouting\r")
	adm.waitFor("carol was muted everywhere by admin until ")
	carol.waitFor("You were muted everywhere by admin until ")
	carol.waitFor("(in 30m): shouting.")
	if !f.IsBanned("bob") || !f.IsMuted("carol", "dev") {
		t.Fatal("ban or mute not applied")
	}

	adm.typ("/bans\r")
	adm.waitFor("Bans and mutes in force (2):")
	adm.waitFor("bob: banned by admin until ")
	adm.waitFor("carol: muted everywhere by admin until ")
	r := run(t, ts.addr, "admin", ts.admin, "bans")
	if r.code != 0 || !strings.Contains(r.out, "bob: banned by admin until ") || !strings.Contains(r.out, ": spam links.") ||
		!strings.Contains(r.out, "carol: muted everywhere by admin") {
		t.Fatalf("exec bans: %+v", r)
	}
	r = run(t, ts.addr, "admin", ts.admin, "bans --json")
	if r.code != 0 || strings.Count(r.out, "\n") != 2 || !strings.Contains(r.out, `"action":"ban","target":"bob","by":"admin","reason":"spam links","until":"`) {
		t.Fatalf("exec bans --json: %+v", r)
	}
	if r := run(t, ts.addr, "dave", newSigner(t), "bans"); r.code != 1 {
		t.Fatalf("bans by a non-admin: %+v", r)
	}

	adm.typ("/unban bob\r")
	adm.waitFor("bob is no longer banned (lifted by admin).")
	adm.typ("/unmute carol\r")
	carol.waitFor("You are no longer muted everywhere.")
	if f.IsBanned("bob") || f.IsMuted("carol", "dev") {
		t.Fatal("unban or unmute not applied")
	}
	if r := run(t, ts.addr, "admin", ts.admin, "bans"); r.code != 0 || !strings.Contains(r.out, "Nobody is banned or muted.") {
		t.Fatalf("bans after lifting: %+v", r)
	}
	if r := run(t, ts.addr, "admin", ts.admin, "unban bob"); r.code != 0 || !strings.Contains(r.out, "bob is no longer banned") {
		t.Fatalf("exec unban: %+v", r)
	}
}
