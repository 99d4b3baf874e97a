package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

func ev(b eventlog.Body, lamport uint64) eventlog.Event {
	return eventlog.Event{Header: eventlog.Header{Origin: "n1", Lamport: lamport, Time: 1}, Body: b}
}

func TestChatDedupKeepsFirstEntry(t *testing.T) {
	s := New(time.Now)
	s.Plugins.Apply(1, ev(&eventlog.MessagePosted{Room: "general", From: "a", Text: "x", ClientMsgID: "m1"}, 1))
	// A retry that reached the log twice (a leader change in between).
	if out := s.Plugins.Apply(2, ev(&eventlog.MessagePosted{Room: "general", From: "a", Text: "x", ClientMsgID: "m1"}, 2)); len(out) != 0 {
		t.Fatalf("duplicate produced events: %+v", out)
	}
	// Another author may reuse the id.
	s.Plugins.Apply(3, ev(&eventlog.MessagePosted{Room: "general", From: "b", Text: "y", ClientMsgID: "m1"}, 3))
	h := msgs(s.Chat.History("general", 0, 10))
	if len(h) != 2 || h[0].Index != 1 || h[1].Index != 3 {
		t.Fatalf("history %+v", h)
	}
	if o, ok := s.Lookup("a", "m1"); !ok || o.Index != 1 {
		t.Fatalf("lookup = %d %v", o.Index, ok)
	}
	if s.Chat.Count() != 2 {
		t.Fatalf("count %d", s.Chat.Count())
	}
}

func TestHistoryWindows(t *testing.T) {
	s := New(time.Now)
	for i := uint64(1); i <= 10; i++ {
		s.Plugins.Apply(i*2, ev(&eventlog.MessagePosted{Room: "r", From: "a", Text: fmt.Sprint(i), ClientMsgID: fmt.Sprint(i)}, i))
	}
	last := msgs(s.Chat.History("r", 0, 3))
	if len(last) != 3 || last[2].Index != 20 || last[0].Index != 16 {
		t.Fatalf("newest 3: %+v", last)
	}
	before := msgs(s.Chat.History("r", 16, 2))
	if len(before) != 2 || before[1].Index != 14 {
		t.Fatalf("before 16: %+v", before)
	}
	after := msgs(s.Chat.HistoryAfter("r", 15, 100))
	if len(after) != 3 || after[0].Index != 16 {
		t.Fatalf("after 15: %+v", after)
	}
	if got := msgs(s.Chat.History("nope", 0, 5)); got != nil {
		t.Fatalf("unknown room: %+v", got)
	}
}

func TestPresenceMergesNodes(t *testing.T) {
	s := New(time.Now)
	s.Plugins.Apply(1, ev(&eventlog.PresenceChanged{User: "a", Node: "n1", Status: "online"}, 1))
	s.Plugins.Apply(2, ev(&eventlog.PresenceChanged{User: "a", Node: "n2", Status: "away"}, 2))
	if p := s.Presence.Of([]string{"a"})[0]; p.Status != "online" || p.Node != "n1" {
		t.Fatalf("merged %+v", p)
	}
	s.Plugins.Apply(3, ev(&eventlog.PresenceChanged{User: "a", Node: "n1", Status: "offline"}, 3))
	if p := s.Presence.Of([]string{"a"})[0]; p.Status != "away" || p.Node != "n2" {
		t.Fatalf("after n1 offline %+v", p)
	}
	if got := s.Presence.OnNode("n2"); len(got) != 1 || got[0] != "a" {
		t.Fatalf("on n2: %v", got)
	}
	if p := s.Presence.Of([]string{"ghost"})[0]; p.Status != "offline" {
		t.Fatalf("unknown user %+v", p)
	}
}

func TestModerationExpires(t *testing.T) {
	now := time.Unix(1000, 0)
	s := New(func() time.Time { return now })
	until := now.Add(time.Minute).UnixNano()
	s.Plugins.Apply(1, ev(&eventlog.UserMuted{Moderation: eventlog.Moderation{Target: "m", By: "admin", Room: "general", Until: until}}, 1))
	s.Plugins.Apply(2, ev(&eventlog.UserBanned{Moderation: eventlog.Moderation{Target: "b", By: "admin"}}, 2))
	if !s.Moderation.Muted("m", "general") || s.Moderation.Muted("m", "other") {
		t.Fatal("mute scope wrong")
	}
	if !s.Moderation.Banned("b") || s.Moderation.Banned("m") {
		t.Fatal("ban wrong")
	}
	now = now.Add(2 * time.Minute)
	if s.Moderation.Muted("m", "general") {
		t.Fatal("mute did not expire")
	}
}

func TestIdentityFirstClaimWins(t *testing.T) {
	s := New(time.Now)
	s.Plugins.Apply(1, ev(&eventlog.UserRegistered{Name: "alice", KeyFingerprint: "k1"}, 1))
	s.Plugins.Apply(2, ev(&eventlog.UserRegistered{Name: "alice", KeyFingerprint: "k2"}, 2))
	if fp, _ := s.Identity.Lookup("alice"); fp != "k1" {
		t.Fatalf("owner %q", fp)
	}
}

func TestReplicatedLogHonoursDiscards(t *testing.T) {
	var r ReplicatedLog
	add := func(seq, idx, term uint64, text string) error {
		e := ev(&eventlog.MessagePosted{Room: "r", From: "a", Text: text}, seq)
		e.Index, e.Term = idx, term
		return r.Add(seq, e)
	}
	for i := uint64(1); i <= 3; i++ {
		if err := add(i, i, 1, "old"); err != nil {
			t.Fatal(err)
		}
	}
	r.Add(4, ev(&eventlog.CommittedUpTo{Index: 1}, 0))
	if err := r.Add(5, ev(&eventlog.SuffixDiscarded{FromIndex: 2, Term: 2}, 0)); err != nil {
		t.Fatal(err)
	}
	if err := add(6, 2, 2, "new"); err != nil {
		t.Fatal(err)
	}
	if r.LastIndex() != 2 || r.Discarded != 2 || r.Entries[1].Event.Term != 2 {
		t.Fatalf("log %+v", r)
	}
	// A rewrite without a discard record, a gap, a discard below commit and a
	// falling term are all refused.
	if err := add(7, 2, 2, "again"); err == nil {
		t.Fatal("rewrite accepted")
	}
	if err := add(8, 9, 2, "gap"); err == nil {
		t.Fatal("gap accepted")
	}
	if err := r.Add(9, ev(&eventlog.SuffixDiscarded{FromIndex: 1}, 0)); err == nil {
		t.Fatal("discard of a committed entry accepted")
	}
	if err := add(10, 3, 1, "older term"); err == nil {
		t.Fatal("falling term accepted")
	}
}

// msgs is History's messages; a read error fails the test by panicking.
func msgs(m []api.Message, err error) []api.Message {
	if err != nil {
		panic(err)
	}
	return m
}
