package state

import (
	"errors"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// nodeClocks are the clocks of three nodes applying the same log: one far
// behind, one in the middle, one a day ahead. Applying never reads them.
var nodeClocks = []time.Time{t0.Add(-time.Hour), t0.Add(3 * time.Minute), t0.Add(24 * time.Hour)}

func ban(d time.Duration, target, reason string, until time.Duration) eventlog.Event {
	m := eventlog.Moderation{Target: target, By: "admin", Reason: reason}
	if until != 0 {
		m.Until = t0.Add(until).UnixNano()
	}
	return at(d, "admin", "ban-"+target+d.String(), &eventlog.UserBanned{Moderation: m})
}

func mute(d time.Duration, target, room string, until time.Duration) eventlog.Event {
	m := eventlog.Moderation{Target: target, By: "admin", Room: room, Until: t0.Add(until).UnixNano()}
	return at(d, "admin", "mute-"+target+room+d.String(), &eventlog.UserMuted{Moderation: m})
}

// A ban committed at index i refuses a post at index i+1 stamped inside the
// ban, identically on every node whatever its clock, and a post stamped after
// the ban's end passes everywhere.
func TestBanRefusesTheNextEntryOnEveryNode(t *testing.T) {
	log := []eventlog.Event{
		ban(0, "bob", "spam", 10*time.Minute),
		at(time.Minute, "bob", "p1", post("general", "bob", "inside the ban")),
		at(time.Minute, "bob", "d1", &eventlog.DirectMessage{From: "bob", To: "ann", Text: "psst"}),
		at(time.Minute, "bob", "j1", &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "dev", User: "bob"}}),
		at(2*time.Minute, "bob", "l1", &eventlog.MemberLeftRoom{RoomMember: eventlog.RoomMember{Room: "general", User: "bob"}}),
		at(2*time.Minute, "bob", "o1", &eventlog.PresenceChanged{User: "bob", Node: "n1", Status: "offline"}),
		at(11*time.Minute, "bob", "p2", post("general", "bob", "after the ban")),
	}
	var first []api.Message
	for i, clock := range nodeClocks {
		s := New(func() time.Time { return clock })
		for j, ev := range log {
			out := s.Apply(uint64(j+1), ev)
			if refused := j >= 1 && j <= 3; refused && len(out) != 0 {
				t.Fatalf("node %d: refused entry %d produced %+v", i, j+1, out)
			}
		}
		h := msgs(s.Chat.History("general", 0, 10))
		if len(h) != 1 || h[0].Text != "after the ban" || h[0].Index != 7 {
			t.Fatalf("node %d: history %+v", i, h)
		}
		if i == 0 {
			first = h
		} else if h[0] != first[0] {
			t.Fatalf("node %d disagrees: %+v vs %+v", i, h, first)
		}
		if s.Refused() != 3 || len(msgs(s.Chat.History(api.DMRoom("ann", "bob"), 0, 10))) != 0 || len(s.Chat.RoomsOf("bob")) != 0 {
			t.Fatalf("node %d: refused %d", i, s.Refused())
		}
		o, ok := s.Lookup("bob", "p1")
		if !ok || o.Index != 2 || o.Refusal == nil {
			t.Fatalf("node %d: outcome %+v %v", i, o, ok)
		}
		want := api.Refusal{Action: "ban", User: "bob", By: "admin", Reason: "spam",
			Until: t0.Add(10 * time.Minute), At: t0.Add(time.Minute)}
		if *o.Refusal != want {
			t.Fatalf("node %d: refusal %+v, want %+v", i, *o.Refusal, want)
		}
		if got := o.Err().Error(); got != "you are banned until 12:10 UTC (spam)" {
			t.Fatalf("node %d: message %q", i, got)
		}
		if !errors.Is(o.Err(), api.ErrForbidden) {
			t.Fatalf("node %d: a ban's refusal is not ErrForbidden", i)
		}
		if r, ok := s.RefusalAt(3); !ok || r.Action != "ban" {
			t.Fatalf("node %d: refusal at 3: %+v", i, r)
		}
		if _, ok := s.RefusalAt(5); ok {
			t.Fatalf("node %d: leaving a room was refused", i)
		}
	}
}

// A mute holds in its room (or in every room) until its end, judged at each
// entry's time: posts and topics inside it are refused, a post at or after
// its end passes, other rooms and direct messages are not muted.
func TestMuteExpires(t *testing.T) {
	for i, clock := range nodeClocks {
		s := New(func() time.Time { return clock })
		apply := func(idx uint64, ev eventlog.Event) bool { return len(s.Apply(idx, ev)) != 0 }
		s.Apply(1, mute(0, "bob", "general", 5*time.Minute))
		if apply(2, at(4*time.Minute, "bob", "a", post("general", "bob", "muted"))) {
			t.Fatalf("node %d: a post inside the mute passed", i)
		}
		if apply(3, at(4*time.Minute, "bob", "b", &eventlog.RoomTopicSet{Room: "general", Topic: "x", By: "bob"})) {
			t.Fatalf("node %d: a topic inside the mute passed", i)
		}
		if !apply(4, at(4*time.Minute, "bob", "c", post("dev", "bob", "other room"))) {
			t.Fatalf("node %d: a post in another room was refused", i)
		}
		if !apply(5, at(4*time.Minute, "bob", "d", &eventlog.DirectMessage{From: "bob", To: "ann", Text: "dm"})) {
			t.Fatalf("node %d: a direct message was refused", i)
		}
		if !apply(6, at(5*time.Minute, "bob", "e", post("general", "bob", "at the end"))) {
			t.Fatalf("node %d: a post at the mute's end was refused", i)
		}
		o, _ := s.Lookup("bob", "a")
		if got := o.Err().Error(); got != "you are muted in #general until 12:05 UTC" || !errors.Is(o.Err(), api.ErrMuted) {
			t.Fatalf("node %d: refusal %q", i, got)
		}
		// A mute in every room, and a longer one that ends on another day:
		// the refusal names the longest.
		s.Apply(7, mute(6*time.Minute, "cat", "", 30*time.Minute))
		s.Apply(8, mute(6*time.Minute, "cat", "dev", 48*time.Hour))
		if apply(9, at(7*time.Minute, "cat", "f", post("dev", "cat", "x"))) || apply(10, at(7*time.Minute, "cat", "g", post("ops", "cat", "y"))) {
			t.Fatalf("node %d: a post inside a mute of every room passed", i)
		}
		o, _ = s.Lookup("cat", "f")
		if got := o.Err().Error(); got != "you are muted in #dev until 2025-06-03 12:00 UTC" {
			t.Fatalf("node %d: refusal %q", i, got)
		}
		if !apply(11, at(31*time.Minute, "cat", "h", post("ops", "cat", "free"))) {
			t.Fatalf("node %d: a post after the mute of every room was refused", i)
		}
		if h := msgs(s.Chat.History("general", 0, 10)); len(h) != 1 || h[0].Index != 6 {
			t.Fatalf("node %d: history %+v", i, h)
		}
	}
}

// The node that proposed a post had not applied the ban yet, so its own
// check let the post through; the ban is ordered first in the log, so the
// post is refused at apply, on the proposer as everywhere, and the
// proposer's lookup finds the refusal to give its user.
func TestPostUnawareOfBanIsRefusedAtApply(t *testing.T) {
	proposer := New(func() time.Time { return t0.Add(time.Minute) })
	other := New(func() time.Time { return t0.Add(time.Hour) })
	banEv := ban(0, "bob", "", 0) // for ever
	p := at(30*time.Second, "bob", "p1", post("general", "bob", "hello"))
	if r := proposer.Authorize(p); r != nil {
		t.Fatalf("the proposer already refuses: %v", r)
	}
	for _, s := range []*State{proposer, other} {
		s.Apply(1, banEv)
		if out := s.Apply(2, p); len(out) != 0 {
			t.Fatalf("refused post produced %+v", out)
		}
		o, ok := s.Lookup("bob", "p1")
		if !ok || o.Index != 2 || o.Refusal == nil || !o.Matches(p) {
			t.Fatalf("outcome %+v %v", o, ok)
		}
		if got := o.Err().Error(); got != "you are banned" {
			t.Fatalf("message %q", got)
		}
		if s.Chat.Count() != 0 {
			t.Fatal("the refused post is in history")
		}
		// The retry of a refused request is a duplicate: still refused,
		// still the same entry, even once the ban is lifted by a shorter one.
		s.Apply(3, ban(time.Minute, "bob", "", 2*time.Minute))
		s.Apply(4, at(5*time.Minute, "bob", "p1", post("general", "bob", "hello")))
		if o, _ := s.Lookup("bob", "p1"); o.Index != 2 || o.Refusal == nil || s.Chat.Count() != 0 {
			t.Fatalf("retry of a refused request: %+v", o)
		}
		s.Apply(5, at(5*time.Minute, "bob", "p2", post("general", "bob", "again")))
		if s.Chat.Count() != 1 {
			t.Fatal("a new post after the ban was refused")
		}
	}
}
