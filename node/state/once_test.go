package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// t0 is the wall time around which the generated logs live.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// at is an event with a request (author, id) at wall time t0+d.
func at(d time.Duration, author, id string, b eventlog.Body) eventlog.Event {
	return eventlog.Event{Header: eventlog.Header{Origin: "n1", Time: t0.Add(d).UnixNano(), Author: author, RequestID: id}, Body: b}
}

func post(room, from, text string) *eventlog.MessagePosted {
	return &eventlog.MessagePosted{Room: room, From: from, Text: text}
}

var (
	simUsers = []string{"ann", "bob", "cat", "dan"}
	simRooms = []string{GeneralRoom, "dev", "ops"}
	simNodes = []string{"n1", "n2"}
)

// randomBody draws a body of any replicated kind, by user u, around time t.
func randomBody(rng *rand.Rand, u string, t time.Time) eventlog.Body {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	mod := func() eventlog.Moderation {
		m := eventlog.Moderation{Target: pick(simUsers), By: u, Reason: fmt.Sprint("r", rng.IntN(3))}
		if rng.IntN(2) == 0 {
			m.Room = pick(simRooms)
		}
		if rng.IntN(4) != 0 { // mostly timed, so some expire within the log
			m.Until = t.Add(time.Duration(rng.IntN(120)) * time.Second).UnixNano()
		}
		return m
	}
	switch rng.IntN(16) {
	case 12:
		return &eventlog.ReadMarked{User: u, Conv: pick([]string{pick(simRooms), api.DMRoom(u, pick(simUsers))}), Index: uint64(rng.IntN(400))}
	case 13:
		return &eventlog.UserUnbanned{Moderation: eventlog.Moderation{Target: pick(simUsers), By: u}}
	case 14:
		return &eventlog.UserUnmuted{Moderation: eventlog.Moderation{Target: pick(simUsers), By: u, Room: pick(append([]string{""}, simRooms...))}}
	case 15:
		return &eventlog.NameReleased{Name: pick(simUsers), By: u}
	case 0, 1, 2:
		return &eventlog.MessagePosted{Room: pick(simRooms), From: u, Text: fmt.Sprint("t", rng.IntN(1000)),
			ReplyLamport: uint64(rng.IntN(5)), Action: uint64(rng.IntN(2))}
	case 3:
		return &eventlog.DirectMessage{From: u, To: pick(simUsers), Text: fmt.Sprint("d", rng.IntN(1000))}
	case 4:
		return &eventlog.RoomTopicSet{Room: pick(simRooms), Topic: fmt.Sprint("topic", rng.IntN(5)), By: u}
	case 5:
		return &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: pick(simRooms), User: u}}
	case 6:
		return &eventlog.MemberLeftRoom{RoomMember: eventlog.RoomMember{Room: pick(simRooms), User: u}}
	case 7:
		return &eventlog.PresenceChanged{User: u, Node: pick(simNodes), Status: pick([]string{"online", "away", "offline"})}
	case 8:
		return &eventlog.UserRegistered{Name: u, KeyFingerprint: fmt.Sprint("k", rng.IntN(3))}
	case 9:
		return &eventlog.UserBanned{Moderation: mod()}
	case 10:
		return &eventlog.UserMuted{Moderation: mod()}
	default:
		return &eventlog.UserKicked{Moderation: mod()}
	}
}

// randomLog draws a log in which many requests reach the log more than
// once: the very same entry again, the same with a raised ReplyLamport, a
// reused id with other content, or a post written the old way (no header
// request fields, its ClientMsgID as id). It also returns which entries
// are first of their request.
func randomLog(rng *rand.Rand, n int) (log []eventlog.Event, first []bool) {
	var made []eventlog.Event
	t := t0
	for len(log) < n {
		t = t.Add(time.Duration(rng.IntN(20)) * time.Second)
		var ev eventlog.Event
		if len(made) > 0 && rng.IntN(3) == 0 {
			ev = made[rng.IntN(len(made))]
			switch rng.IntN(3) {
			case 1: // a retry that had seen more
				if b, ok := ev.Body.(*eventlog.MessagePosted); ok {
					c := *b
					c.ReplyLamport += 7
					ev.Body = &c
				}
			case 2: // the id reused for something else
				ev.Author, ev.RequestID = RequestKey(ev)
				ev.Body = randomBody(rng, ev.Author, t)
			}
		} else {
			u := simUsers[rng.IntN(len(simUsers))]
			id := fmt.Sprint("q", len(made))
			ev = eventlog.Event{Header: eventlog.Header{Origin: "n1", Author: u, RequestID: id}, Body: randomBody(rng, u, t)}
			if b, ok := ev.Body.(*eventlog.MessagePosted); ok && rng.IntN(3) == 0 {
				// written before the header had request fields
				b.ClientMsgID, ev.Author, ev.RequestID = id, "", ""
			}
			made = append(made, ev)
		}
		ev.Time = t.UnixNano()
		ev.Lamport = uint64(len(log) + 1)
		log = append(log, ev)
	}
	seen := map[[2]string]bool{}
	for _, ev := range log {
		a, id := RequestKey(ev)
		first = append(first, !seen[[2]string{a, id}])
		seen[[2]string{a, id}] = true
	}
	return log, first
}

// applied is everything observable of a State after a log: the events it
// produced and every read the node and the tools make.
type applied struct {
	Events   []api.Event
	Rooms    []api.RoomInfo
	History  map[string][]api.Message
	Members  map[string][]string
	RoomsOf  map[string][]string
	Presence []api.Presence
	OnNode   map[string][]string
	Owners   map[string]string
	Banned   map[string]bool
	Muted    map[string]bool
	Count    uint64
	Refused  uint64
	Refusals map[uint64]api.Refusal
	Outcomes map[string]Outcome
}

func applyAll(log []eventlog.Event, keep []bool, now time.Time) applied {
	s := New(func() time.Time { return now })
	var a applied
	for i, ev := range log {
		if keep != nil && !keep[i] {
			continue
		}
		a.Events = append(a.Events, s.Apply(uint64(i+1), ev)...) // copied: the buffer is reused
	}
	a.Rooms = s.Chat.Rooms()
	a.History, a.Members, a.RoomsOf = map[string][]api.Message{}, map[string][]string{}, map[string][]string{}
	a.OnNode, a.Owners = map[string][]string{}, map[string]string{}
	a.Banned, a.Muted = map[string]bool{}, map[string]bool{}
	for _, r := range simRooms {
		a.History[r] = msgs(s.Chat.History(r, 0, 1<<30))
		a.Members[r] = s.Chat.Members(r)
	}
	for _, u := range simUsers {
		for _, v := range simUsers {
			a.History[api.DMRoom(u, v)] = msgs(s.Chat.History(api.DMRoom(u, v), 0, 1<<30))
		}
		a.RoomsOf[u] = s.Chat.RoomsOf(u)
		a.Owners[u], _ = s.Identity.Lookup(u)
		a.Banned[u] = s.Moderation.Banned(u)
		for _, r := range simRooms {
			a.Muted[u+"/"+r] = s.Moderation.Muted(u, r)
		}
	}
	a.Presence = s.Presence.Of(simUsers)
	for _, n := range simNodes {
		a.OnNode[n] = s.Presence.OnNode(n)
	}
	a.Count, a.Refused = s.Chat.Count(), s.Refused()
	a.Refusals, a.Outcomes = map[uint64]api.Refusal{}, map[string]Outcome{}
	for i, ev := range log {
		if r, ok := s.RefusalAt(uint64(i + 1)); ok {
			a.Refusals[uint64(i+1)] = *r
		}
		author, id := RequestKey(ev)
		if o, ok := s.Lookup(author, id); ok {
			o.Refusal = nil // compared through Refusals
			a.Outcomes[author+"\x00"+id] = o
		}
	}
	return a
}

// Applying a log in which requests of every kind reach the log several
// times gives exactly what applying only the first entry of each request
// gives: same events, same state, same refusals, same outcomes.
func TestDuplicatesChangeNothing(t *testing.T) {
	dups, refused := 0, 0
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		log, first := randomLog(rng, 200)
		now := t0.Add(time.Duration(rng.IntN(3600)) * time.Second)
		all, dedup := applyAll(log, nil, now), applyAll(log, first, now)
		if !reflect.DeepEqual(all, dedup) {
			for i, ev := range log {
				t.Logf("%3d first=%v %s", i+1, first[i], ev.Describe())
			}
			t.Fatalf("seed %d: the log with duplicates differs from the log without them:\n all %+v\ndedup %+v", seed, all, dedup)
		}
		for _, f := range first {
			if !f {
				dups++
			}
		}
		refused += int(all.Refused)
	}
	if dups < 1000 || refused < 100 {
		t.Fatalf("the generator is too tame: %d duplicates, %d refusals", dups, refused)
	}
}

// The same request id used again, for any kind, changes nothing; Lookup
// names the first entry, and Matches tells a retry of the same request
// (even one that had seen more) from another request reusing the id.
func TestRetryOutcome(t *testing.T) {
	s := New(time.Now)
	first := at(0, "ann", "r1", &eventlog.MessagePosted{Room: "general", From: "ann", Text: "hi", ClientMsgID: "r1", ReplyLamport: 3})
	s.Apply(1, first)
	retry := first
	b := *first.Body.(*eventlog.MessagePosted)
	b.ReplyLamport = 9
	retry.Body = &b
	other := at(time.Second, "ann", "r1", &eventlog.MessagePosted{Room: "general", From: "ann", Text: "bye", ClientMsgID: "r1"})
	join := at(time.Second, "ann", "r1", &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "dev", User: "ann"}})
	for i, ev := range []eventlog.Event{retry, other, join} {
		if out := s.Apply(uint64(i+2), ev); len(out) != 0 {
			t.Fatalf("entry %d with a used id produced %+v", i+2, out)
		}
	}
	o, ok := s.Lookup("ann", "r1")
	if !ok || o.Index != 1 || o.Refusal != nil || o.Err() != nil {
		t.Fatalf("outcome %+v %v", o, ok)
	}
	if !o.Matches(first) || !o.Matches(retry) {
		t.Error("a retry of the same request does not match")
	}
	if o.Matches(other) || o.Matches(join) {
		t.Error("another request with the same id matches")
	}
	if h := msgs(s.Chat.History("general", 0, 10)); len(h) != 1 || h[0].Text != "hi" || h[0].ID != "r1" {
		t.Fatalf("history %+v", h)
	}
	if got := s.Chat.RoomsOf("ann"); len(got) != 0 {
		t.Fatalf("the join with a used id was applied: %v", got)
	}
	if _, ok := s.Lookup("bob", "r1"); ok {
		t.Fatal("ids are per author")
	}
}

// A post written before the header had request fields is deduplicated on
// (From, ClientMsgID), and the same request in the new form is the same
// request.
// (The entries are stamped at t0, inside one once window of the renewed one.)
func TestOldPostsKeepTheirID(t *testing.T) {
	s := New(time.Now)
	old := eventlog.Event{Header: eventlog.Header{Time: t0.UnixNano()}, Body: &eventlog.MessagePosted{Room: "general", From: "ann", Text: "x", ClientMsgID: "m1"}}
	if a, id := RequestKey(old); a != "ann" || id != "m1" {
		t.Fatalf("key of an old post: %q %q", a, id)
	}
	s.Apply(1, old)
	dm := eventlog.Event{Header: eventlog.Header{Time: t0.UnixNano()}, Body: &eventlog.DirectMessage{From: "ann", To: "bob", Text: "y", ClientMsgID: "m1"}}
	s.Apply(2, dm) // an old DM with an id ann already used for a post
	renewed := at(0, "ann", "m1", &eventlog.MessagePosted{Room: "general", From: "ann", Text: "x", ClientMsgID: "m1"})
	s.Apply(3, renewed)
	if s.Chat.Count() != 1 {
		t.Fatalf("count %d", s.Chat.Count())
	}
	if o, _ := s.Lookup("ann", "m1"); o.Index != 1 || !o.Matches(renewed) || o.Matches(dm) {
		t.Fatalf("outcome %+v", o)
	}
	// Entries that name no request are applied every time.
	noID := eventlog.Event{Header: eventlog.Header{Time: t0.UnixNano()}, Body: &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "dev", User: "cat"}}}
	if a, id := RequestKey(noID); a != "" || id != "" {
		t.Fatalf("key of an entry without request: %q %q", a, id)
	}
	if len(s.Apply(4, noID)) != 1 || len(s.Apply(5, noID)) != 1 {
		t.Fatal("an entry without a request id was deduplicated")
	}
}

// A presence change re-forwarded after a lost reply lands twice; the second
// copy must not turn "offline" back into "online".
func TestPresenceRetryIsNotStale(t *testing.T) {
	s := New(time.Now)
	online := at(0, "ann", "p1", &eventlog.PresenceChanged{User: "ann", Node: "n1", Status: "online"})
	s.Apply(1, online)
	s.Apply(2, at(time.Second, "ann", "p2", &eventlog.PresenceChanged{User: "ann", Node: "n1", Status: "offline"}))
	s.Apply(3, online) // the late copy of p1
	if p := s.Presence.Of([]string{"ann"})[0]; p.Status != "offline" {
		t.Fatalf("presence %+v", p)
	}
	// And a topic set twice does not revert a later one.
	s.Apply(4, at(0, "bob", "t1", &eventlog.RoomTopicSet{Room: "general", Topic: "old", By: "bob"}))
	s.Apply(5, at(0, "cat", "t2", &eventlog.RoomTopicSet{Room: "general", Topic: "new", By: "cat"}))
	s.Apply(6, at(0, "bob", "t1", &eventlog.RoomTopicSet{Room: "general", Topic: "old", By: "bob"}))
	if r := s.Chat.Rooms(); r[0].Topic != "new" {
		t.Fatalf("rooms %+v", r)
	}
}

// The word digest sees every byte of every string, whatever its length
// (the last word is padded with zeros: the length tells "ab" from
// "ab\x00"), and every field by its number.
func TestDigestSeesEveryByte(t *testing.T) {
	digest := func(b eventlog.Body) uint64 {
		var d digester
		return d.sum(eventlog.Event{Body: b})
	}
	seen := map[uint64]string{}
	note := func(what string, b eventlog.Body) {
		h := digest(b)
		if other, dup := seen[h]; dup {
			t.Fatalf("%s digests like %s", what, other)
		}
		seen[h] = what
	}
	for n := 0; n <= 24; n++ {
		text := []byte(strings.Repeat("x", n))
		note(fmt.Sprintf("text of %d", n), post("general", "ann", string(text)))
		for i := range text {
			c := bytes.Clone(text)
			c[i] ^= 1
			note(fmt.Sprintf("text of %d, byte %d changed", n, i), post("general", "ann", string(c)))
		}
		note(fmt.Sprintf("text of %d and a zero byte", n), post("general", "ann", string(text)+"\x00"))
	}
	note("the text as the room", post("ann", "general", ""))
	note("a topic", &eventlog.RoomTopicSet{Room: "general", By: "ann"})
	a := &eventlog.MessagePosted{Room: "general", From: "ann", Text: "hi", ReplyLamport: 1}
	b := &eventlog.MessagePosted{Room: "general", From: "ann", Text: "hi", ReplyLamport: 2}
	if digest(a) != digest(b) {
		t.Fatal("ReplyLamport changes a post's digest")
	}
}
