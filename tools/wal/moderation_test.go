package walcmd

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
)

// Regression: `wal replay` showed no moderation state, so an auditor could
// not tell who was banned or muted at a point. It lists the bans and mutes
// in force at the state's time: who, by whom, where, since which entry,
// until when, why. An expired one, a ban replaced by a later one on the
// same user, and bans and mutes lifted (unban, unmute) are not listed;
// names an admin released are, with whether someone claimed them again.
func TestReplayModeration(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node1", "wal")
	b := newBuilder(t, dir, 1<<20)
	b.newTerm(1, "node1")
	at := func(sec int64) int64 { return base + sec*int64(time.Second) }
	mod := func(target, room, reason string, until int64) eventlog.Moderation {
		return eventlog.Moderation{Target: target, By: "admin", Room: room, Reason: reason, Until: until}
	}
	b.msg("general", "alice", "hello", "a-1")                                                 // 2
	b.entry(&eventlog.UserBanned{Moderation: mod("mallory", "", "spam", 0)})                  // 3: for ever
	b.entry(&eventlog.UserBanned{Moderation: mod("trent", "", "first", 0)})                   // 4: replaced by 5
	b.entry(&eventlog.UserBanned{Moderation: mod("trent", "", "shortened", at(3600))})        // 5
	b.entry(&eventlog.UserBanned{Moderation: mod("oscar", "", "expired", at(1))})             // 6: over at once
	b.entry(&eventlog.UserMuted{Moderation: mod("bob", "general", "flood\x1b[2J", at(7200))}) // 7
	b.entry(&eventlog.UserMuted{Moderation: mod("carol", "", "everywhere", 0)})               // 8
	b.entry(&eventlog.UserKicked{Moderation: mod("dave", "general", "kicked only", 0)})       // 9
	b.entry(&eventlog.UserBanned{Moderation: mod("peggy", "", "lifted", 0)})                  // 10
	b.entry(&eventlog.UserMuted{Moderation: mod("victor", "general", "lifted", 0)})           // 11
	b.entry(&eventlog.UserMuted{Moderation: mod("victor", "ops", "lifted", 0)})               // 12
	b.entry(&eventlog.UserMuted{Moderation: mod("walter", "dev", "still", 0)})                // 13
	b.entry(&eventlog.UserMuted{Moderation: mod("walter", "ops", "lifted", 0)})               // 14
	b.entry(&eventlog.UserUnbanned{Moderation: mod("peggy", "", "", 0)})                      // 15
	b.entry(&eventlog.UserUnmuted{Moderation: mod("victor", "", "", 0)})                      // 16: every room
	b.entry(&eventlog.UserUnmuted{Moderation: mod("walter", "ops", "", 0)})                   // 17
	b.entry(&eventlog.UserRegistered{Name: "erin", KeyFingerprint: "SHA256:erin"})            // 18
	b.entry(&eventlog.NameReleased{Name: "erin", By: "admin"})                                // 19
	b.entry(&eventlog.UserRegistered{Name: "frank", KeyFingerprint: "SHA256:frank"})          // 20
	b.entry(&eventlog.NameReleased{Name: "frank", By: "admin"})                               // 21
	b.entry(&eventlog.UserRegistered{Name: "frank", KeyFingerprint: "SHA256:frank2"})         // 22
	b.commit()
	dir = b.close()

	r := wal(t, "replay", dir)
	if r.code != 0 {
		t.Fatalf("replay: %+v", r)
	}
	_, section, ok := strings.Cut(r.stdout, "\nmoderation in force at 2026-11-26T14:00:22Z")
	if !ok {
		t.Fatalf("replay prints no moderation section at the state's time:\n%s", r.stdout)
	}
	wantRows := [][]string{
		{"ban", "mallory", "admin", "every room", "3", "for ever", "spam"},
		{"ban", "trent", "admin", "every room", "5", "2026-11-26T15:00:00Z", "shortened"},
		{"mute", "bob", "admin", "#general", "7", "2026-11-26T16:00:00Z", `flood\x1b[2J`},
		{"mute", "carol", "admin", "every room", "8", "for ever", "everywhere"},
		{"mute", "walter", "admin", "#dev", "13", "for ever", "still"},
	}
	section, released, _ := strings.Cut(section, "\nreleased names: ")
	if want := "erin (by admin at index 19; free), frank (by admin at index 21; claimed again)\n"; released != want {
		t.Errorf("released names: %q, want %q", released, want)
	}
	lines := strings.Split(strings.TrimSpace(section), "\n")
	if len(lines) != len(wantRows)+2 { // a note and the header
		t.Fatalf("moderation section has %d lines, want %d:\n%s", len(lines), len(wantRows)+2, section)
	}
	for i, want := range wantRows {
		if got := strings.Join(strings.Fields(lines[i+2]), " "); got != strings.Join(want, " ") {
			t.Errorf("row %d: %q, want %q", i, lines[i+2], want)
		}
	}
	for _, gone := range []string{"oscar", "first", "dave", "peggy", "victor", "lifted"} {
		if strings.Contains(section, gone) {
			t.Errorf("moderation section lists %q (expired, replaced or a kick):\n%s", gone, section)
		}
	}

	r = wal(t, "replay", "--until", "2", dir)
	if !strings.Contains(r.stdout, "\nmoderation in force at 2026-11-26T14:00:02Z: none\n") {
		t.Errorf("replay --until 2 (before any ban): want no moderation in force:\n%s", r.stdout)
	}
}
