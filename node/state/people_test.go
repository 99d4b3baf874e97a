package state

import (
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
)

// There was no way to lift a ban or a mute, or to free a name: a name
// taken by `who` run as "a" was taken for ever. UserUnbanned, UserUnmuted
// and NameReleased undo them at one point of the log, on every node alike
// (and through a snapshot).
func TestUnbanUnmuteRelease(t *testing.T) {
	s := New(time.Now)
	mod := func(target, room string) eventlog.Moderation {
		return eventlog.Moderation{Target: target, By: "admin", Room: room, Reason: "r"}
	}
	log := []eventlog.Body{
		&eventlog.UserRegistered{Name: "a", KeyFingerprint: "SHA256:old"},
		&eventlog.UserBanned{Moderation: mod("bob", "")},
		&eventlog.UserMuted{Moderation: mod("carol", "dev")},
		&eventlog.UserMuted{Moderation: mod("carol", "")},
		&eventlog.UserMuted{Moderation: mod("dave", "dev")},
		&eventlog.UserMuted{Moderation: mod("dave", "ops")},
	}
	for i, b := range log {
		s.Apply(uint64(i+1), ev(b, uint64(i+1)))
	}
	if !s.Moderation.Banned("bob") || !s.Moderation.Muted("carol", "general") || len(s.Moderation.Active()) != 5 {
		t.Fatalf("before: bob banned %v, carol muted %v, active %+v", s.Moderation.Banned("bob"),
			s.Moderation.Muted("carol", "general"), s.Moderation.Active())
	}
	later := []eventlog.Body{
		&eventlog.UserUnbanned{Moderation: mod("bob", "")},
		&eventlog.UserUnmuted{Moderation: mod("carol", "")},   // every mute of carol
		&eventlog.UserUnmuted{Moderation: mod("dave", "dev")}, // only #dev
		&eventlog.NameReleased{Name: "a", By: "admin"},
		&eventlog.UserRegistered{Name: "a", KeyFingerprint: "SHA256:new"},
	}
	var events int
	for i, b := range later {
		events += len(s.Apply(uint64(len(log)+i+1), ev(b, uint64(len(log)+i+1))))
	}
	if s.Moderation.Banned("bob") || s.Moderation.Muted("carol", "dev") || s.Moderation.Muted("carol", "general") {
		t.Fatal("a lifted ban or mute still holds")
	}
	if s.Moderation.Muted("dave", "dev") || !s.Moderation.Muted("dave", "ops") {
		t.Fatal("unmute in #dev lifted the wrong mutes")
	}
	if fp, _ := s.Identity.Lookup("a"); fp != "SHA256:new" {
		t.Fatalf("released name a is owned by %q, want the key that claimed it after", fp)
	}
	if events != 4 { // unban, unmute, unmute, release; the registration says nothing
		t.Fatalf("%d events, want 4", events)
	}
	act := s.Moderation.Active()
	if len(act) != 1 || act[0].Target != "dave" || act[0].Room != "ops" || act[0].Action != "mute" {
		t.Fatalf("active after: %+v", act)
	}
}
