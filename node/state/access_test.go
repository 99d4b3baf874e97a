package state

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

func TestCanReadDirectConversations(t *testing.T) {
	s := NewWith(Options{})
	dm := api.DMRoom("alice", "bob")
	for _, c := range []struct {
		user, conv string
		want       bool
	}{
		{"alice", dm, true}, {"bob", dm, true}, {"carol", dm, false},
		{"carol", "general", true}, {"alice", "@alice", false},
	} {
		if got := s.CanRead(c.user, c.conv); got != c.want {
			t.Errorf("CanRead(%q, %q) = %v, want %v", c.user, c.conv, got, c.want)
		}
	}
}

// applier applies entries one after another and says what became of each.
type applier struct {
	t   *testing.T
	s   *State
	i   uint64
	evs []api.Event
}

func newApplier(t *testing.T) *applier {
	return &applier{t: t, s: NewWith(Options{Now: func() time.Time { return t0 }})}
}

// do applies b as a request of author and returns its refusal (nil: applied).
func (a *applier) do(author string, b eventlog.Body) *api.Refusal {
	a.t.Helper()
	a.i++
	id := fmt.Sprint("r", a.i)
	ev := eventlog.Event{Header: eventlog.Header{Author: author, RequestID: id, Time: t0.Add(time.Duration(a.i) * time.Second).UnixNano()}, Body: b}
	if early := a.s.Authorize(ev); early != nil {
		// The fast path and the apply decide alike.
		defer func() {
			if _, refused := a.s.RefusalAt(a.i); !refused {
				a.t.Errorf("entry %d: Authorize refused it (%v) but apply took it", a.i, early)
			}
		}()
	}
	a.evs = append(a.evs[:0], a.s.Apply(a.i, ev)...)
	o, _ := a.s.Lookup(author, id)
	return o.Refusal
}

// ok applies b and fails the test if it was refused.
func (a *applier) ok(author string, b eventlog.Body) {
	a.t.Helper()
	if r := a.do(author, b); r != nil {
		a.t.Fatalf("%s by %s refused: %v", b.Kind(), author, r)
	}
}

// refused applies b and fails the test unless it was refused with a
// reason containing want.
func (a *applier) refused(author string, b eventlog.Body, want string) {
	a.t.Helper()
	r := a.do(author, b)
	if r == nil {
		a.t.Fatalf("%s by %s applied; want refused (%s)", b.Kind(), author, want)
	}
	if !strings.Contains(r.Error(), want) || !errors.Is(r, api.ErrForbidden) {
		a.t.Fatalf("%s by %s refused with %q; want %q", b.Kind(), author, r.Error(), want)
	}
}

func join(room, user string) eventlog.Body {
	return &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: room, User: user}}
}

func leave(room, user string) eventlog.Body {
	return &eventlog.MemberLeftRoom{RoomMember: eventlog.RoomMember{Room: room, User: user}}
}

func by(user string) eventlog.Authority { return eventlog.Authority{By: user} }

func byAdmin(user string) eventlog.Authority { return eventlog.Authority{By: user, Admin: 1} }

func register(a *applier, names ...string) {
	for _, n := range names {
		a.ok(n, &eventlog.UserRegistered{Name: n, KeyFingerprint: "SHA256:" + n})
	}
}

func TestPrivateRoomRules(t *testing.T) {
	a := newApplier(t)
	s := a.s
	register(a, "ann", "bob", "cat", "dan")
	a.ok("ann", join("ops", "ann"))
	a.ok("bob", join("dev", "bob"))
	a.ok("cat", join("dev", "cat"))

	// Who may make a room private.
	a.refused("ann", &eventlog.RoomAccessSet{Room: GeneralRoom, Private: 1, Authority: byAdmin("ann")}, "everyone's room")
	a.refused("bob", &eventlog.RoomAccessSet{Room: "dev", Private: 1, Authority: by("bob")}, "only an admin, or #dev's only member")
	a.refused("bob", &eventlog.RoomAccessSet{Room: "ops", Private: 1, Authority: by("bob")}, "only an admin")
	a.refused("dan", &eventlog.RoomAccessSet{Room: "nowhere", Private: 1, Authority: byAdmin("dan")}, "no room #nowhere")
	a.ok("ann", &eventlog.DirectMessage{From: "ann", To: "bob", Text: "hi"})
	a.refused("dan", &eventlog.RoomAccessSet{Room: api.DMRoom("ann", "bob"), Private: 1, Authority: byAdmin("dan")}, "private already")
	a.ok("ann", &eventlog.RoomAccessSet{Room: "ops", Private: 1, Authority: by("ann")})
	if len(a.evs) != 1 || a.evs[0].Kind != api.EventAccess || a.evs[0].Mod.Action != "private" {
		t.Fatalf("making ops private said %+v", a.evs)
	}
	a.ok("dan", &eventlog.RoomAccessSet{Room: "dev", Private: 1, Authority: byAdmin("dan")}) // an admin: members keep their place
	if got := s.Access.Room("dev"); got.Owner != "dan" || !slices.Equal(got.Allowed, []string{"bob", "cat", "dan"}) {
		t.Fatalf("dev's access = %+v", got)
	}

	// Reading, joining, posting.
	if !s.CanRead("ann", "ops") || s.CanRead("bob", "ops") || !s.CanRead("bob", GeneralRoom) {
		t.Fatal("CanRead of ops")
	}
	a.refused("bob", join("ops", "bob"), "#ops is private: ask one of its members to invite you")
	a.refused("bob", &eventlog.MessagePosted{Room: "ops", From: "bob", Text: "hi"}, "#ops is private and you are not a member")
	a.refused("bob", &eventlog.RoomTopicSet{Room: "ops", Topic: "mine", By: "bob"}, "not a member")
	a.ok("ann", &eventlog.MessagePosted{Room: "ops", From: "ann", Text: "secret"})

	// Inviting.
	a.refused("bob", &eventlog.RoomInvited{Room: "ops", User: "bob", Authority: by("bob")}, "only members of #ops may invite")
	a.refused("ann", &eventlog.RoomInvited{Room: "ops", User: "zed", Authority: by("ann")}, `no user "zed"`)
	a.refused("ann", &eventlog.RoomInvited{Room: "general", User: "bob", Authority: by("ann")}, "not private")
	a.ok("ann", &eventlog.RoomInvited{Room: "ops", User: "bob", Authority: by("ann")})
	if !s.CanRead("bob", "ops") {
		t.Fatal("an invited user cannot read")
	}
	a.ok("bob", join("ops", "bob"))
	a.ok("bob", &eventlog.RoomInvited{Room: "ops", User: "cat", Authority: by("bob")}) // any member invites
	a.ok("bob", leave("ops", "bob"))
	if !s.CanRead("bob", "ops") {
		t.Fatal("leaving ended the invitation")
	}

	// Removing.
	a.refused("bob", &eventlog.RoomRemoved{Room: "ops", User: "cat", Authority: by("bob")}, "only #ops's owner (ann) or an admin")
	a.refused("ann", &eventlog.RoomRemoved{Room: "ops", User: "dan", Authority: by("ann")}, "dan is not in #ops")
	a.refused("ann", &eventlog.RoomRemoved{Room: GeneralRoom, User: "dan", Authority: by("ann")}, "/remove takes people out of private rooms")
	a.ok("bob", join("ops", "bob"))
	a.ok("ann", &eventlog.RoomRemoved{Room: "ops", User: "bob", Reason: "done", Authority: by("ann")})
	if len(a.evs) != 2 || a.evs[0].Kind != api.EventLeave || a.evs[1].Mod.Action != "remove" || a.evs[1].Mod.Reason != "done" {
		t.Fatalf("removing a member said %+v", a.evs)
	}
	if s.CanRead("bob", "ops") || slices.Contains(s.Chat.Members("ops"), "bob") || slices.Contains(s.Chat.RoomsOf("bob"), "ops") {
		t.Fatal("a removed member can still read, or is still a member")
	}
	a.refused("bob", join("ops", "bob"), "private")
	a.ok("cat", &eventlog.RoomRemoved{Room: "ops", User: "cat", Authority: by("cat")}) // anyone removes themselves

	// Opening it again: the owner or an admin.
	a.refused("bob", &eventlog.RoomAccessSet{Room: "ops", Authority: by("bob")}, "only #ops's owner (ann) or an admin")
	a.ok("ann", &eventlog.RoomAccessSet{Room: "ops", Authority: by("ann")})
	a.refused("ann", &eventlog.RoomAccessSet{Room: "ops", Authority: by("ann")}, "#ops is not private")
	if !s.CanRead("bob", "ops") || s.Access.Private("ops") {
		t.Fatal("ops is still closed")
	}
	a.ok("bob", join("ops", "bob"))

	// An owner removed: admins manage the room.
	a.ok("dan", &eventlog.RoomRemoved{Room: "dev", User: "dan", Authority: by("dan")})
	if got := s.Access.Room("dev"); got.Owner != "" {
		t.Fatalf("dev's owner after removal: %+v", got)
	}
	a.refused("bob", &eventlog.RoomAccessSet{Room: "dev", Authority: by("bob")}, "only #dev's owner or an admin")
	a.ok("ann", &eventlog.RoomRemoved{Room: "dev", User: "cat", Authority: byAdmin("ann")})

	// Bans still come first.
	a.ok("dan", &eventlog.UserBanned{Moderation: eventlog.Moderation{Target: "bob", By: "dan"}})
	if r := a.do("bob", &eventlog.MessagePosted{Room: "dev", From: "bob", Text: "x"}); r == nil || r.Action != "ban" {
		t.Fatalf("a banned member's post: %v", r)
	}
}

func TestKeys(t *testing.T) {
	a := newApplier(t)
	id := a.s.Identity
	register(a, "ann", "bob")
	add := func(name, fp string, auth eventlog.Authority) eventlog.Body {
		return &eventlog.KeyAdded{Name: name, KeyFingerprint: fp, Label: "ssh-ed25519 " + fp, Authority: auth}
	}
	remove := func(name, fp string, auth eventlog.Authority) eventlog.Body {
		return &eventlog.KeyRemoved{Name: name, KeyFingerprint: fp, Authority: auth}
	}
	a.refused("ann", remove("ann", "SHA256:ann", by("ann")), "only key")
	a.refused("ann", add("bob", "SHA256:x", by("ann")), "your own name only")
	a.refused("ann", add("zed", "SHA256:x", byAdmin("ann")), `no user "zed"`)
	a.refused("ann", add("ann", "md5:x", by("ann")), "not a key fingerprint")
	a.refused("ann", add("ann", "SHA256:bob", by("ann")), "belongs to another name")
	a.refused("ann", add("ann", "SHA256:ann", by("ann")), "already one of ann's keys")
	a.ok("ann", add("ann", "SHA256:laptop", by("ann")))
	if len(a.evs) != 1 || a.evs[0].Kind != api.EventKeys || a.evs[0].Mod.Target != "SHA256:laptop" {
		t.Fatalf("adding a key said %+v", a.evs)
	}
	if !id.HasKey("ann", "SHA256:ann") || !id.HasKey("ann", "SHA256:laptop") || id.HasKey("bob", "SHA256:laptop") {
		t.Fatal("HasKey after adding")
	}
	a.refused("bob", add("bob", "SHA256:laptop", by("bob")), "belongs to another name")

	// The first key removed: the next one is the name's key.
	a.ok("ann", remove("ann", "SHA256:ann", by("ann")))
	if fp, _ := id.Lookup("ann"); fp != "SHA256:laptop" || id.HasKey("ann", "SHA256:ann") {
		t.Fatalf("after removing the first key: owner %q", fp)
	}
	a.refused("ann", remove("ann", "SHA256:laptop", by("ann")), "SHA256:laptop is ann's only key: add another first")
	a.refused("ann", remove("ann", "SHA256:nope", by("ann")), "not one of ann's keys")

	// An admin replaces a lost key.
	a.ok("root", add("ann", "SHA256:desk", byAdmin("root")))
	a.ok("root", remove("ann", "SHA256:laptop", byAdmin("root")))
	if got := id.Keys("ann"); len(got) != 1 || got[0].Fingerprint != "SHA256:desk" || got[0].Label != "ssh-ed25519 SHA256:desk" {
		t.Fatalf("ann's keys: %+v", got)
	}
	for i := range MaxKeys - 1 {
		a.ok("ann", add("ann", fmt.Sprint("SHA256:k", i), by("ann")))
	}
	a.refused("ann", add("ann", "SHA256:one-more", by("ann")), "the most a name may have")

	// Releasing the name unbinds every key.
	a.ok("root", &eventlog.NameReleased{Name: "ann", By: "root"})
	if id.HasKey("ann", "SHA256:desk") || id.HasKey("ann", "SHA256:k1") || len(id.Keys("ann")) != 0 {
		t.Fatal("a released name kept keys")
	}
	a.ok("ann", &eventlog.UserRegistered{Name: "ann", KeyFingerprint: "SHA256:k1"})
	if got := id.Keys("ann"); len(got) != 1 {
		t.Fatalf("a claimed name's keys: %+v", got)
	}
}

func TestNotifySettings(t *testing.T) {
	a := newApplier(t)
	p := a.s.Prefs
	if got := p.Of("ann"); !got.Bell || len(got.Notify) != 0 || got.Level("ops") != api.NotifyMentions || got.Level("@bob") != api.NotifyAll {
		t.Fatalf("defaults: %+v", got)
	}
	a.ok("ann", &eventlog.NotifySet{User: "ann", Conv: "ops", Level: "none"})
	a.ok("ann", &eventlog.NotifySet{User: "ann", Conv: "@", Level: "mentions"})
	a.refused("ann", &eventlog.NotifySet{User: "ann", Conv: "ops", Level: "loud"}, `notify level "loud"`)
	a.refused("ann", &eventlog.NotifySet{User: "ann", Conv: "", Level: "all"}, "name a room")
	a.ok("ann", &eventlog.PrefSet{User: "ann", Name: "bell", Value: "off"})
	a.refused("ann", &eventlog.PrefSet{User: "ann", Name: "bell", Value: "maybe"}, "want on or off")
	a.ok("ann", &eventlog.PrefSet{User: "ann", Name: "highlight", Value: "Deploy"})
	a.ok("ann", &eventlog.PrefSet{User: "ann", Name: "highlight", Value: "outage"})
	a.ok("ann", &eventlog.PrefSet{User: "ann", Name: "highlight", Value: "deploy"}) // twice: once
	a.refused("ann", &eventlog.PrefSet{User: "ann", Name: "highlight", Value: "two words"}, "not one word")
	a.refused("ann", &eventlog.PrefSet{User: "ann", Name: "volume", Value: "11"}, `no setting "volume"`)
	if len(a.evs) != 0 {
		t.Fatalf("a refused setting said %+v", a.evs)
	}
	got := p.Of("ann")
	want := api.NotifySettings{Notify: map[string]string{"ops": "none", "@": "mentions"}, Bell: false, Highlights: []string{"deploy", "outage"}}
	if !reflect.DeepEqual(got, want) || got.Level("ops") != "none" || got.Level("@bob") != "mentions" {
		t.Fatalf("settings %+v, want %+v", got, want)
	}
	a.ok("ann", &eventlog.PrefSet{User: "ann", Name: "highlight", Value: "DEPLOY", Remove: 1})
	a.ok("ann", &eventlog.PrefSet{User: "ann", Name: "highlight", Value: "outage", Remove: 1})
	a.ok("ann", &eventlog.PrefSet{User: "ann", Name: "bell", Value: "on"})
	a.ok("ann", &eventlog.NotifySet{User: "ann", Conv: "ops"})
	a.ok("ann", &eventlog.NotifySet{User: "ann", Conv: "@"})
	if len(a.evs) != 1 || a.evs[0].Kind != api.EventSettings || a.evs[0].User != "ann" {
		t.Fatalf("a setting said %+v", a.evs)
	}
	if len(p.users) != 0 {
		t.Fatalf("a user back to the defaults holds %+v", p.users["ann"])
	}
	for i := range MaxHighlights {
		a.ok("bob", &eventlog.PrefSet{User: "bob", Name: "highlight", Value: fmt.Sprint("w", i)})
	}
	a.refused("bob", &eventlog.PrefSet{User: "bob", Name: "highlight", Value: "more"}, "remove one first")
	a.ok("bob", &eventlog.PrefSet{User: "bob", Name: "highlight", Value: "w3"}) // already there
	for i := range MaxNotifySettings {
		a.ok("bob", &eventlog.NotifySet{User: "bob", Conv: fmt.Sprint("r", i), Level: "all"})
	}
	a.refused("bob", &eventlog.NotifySet{User: "bob", Conv: "more", Level: "all"}, "the most there may be")
	a.ok("bob", &eventlog.NotifySet{User: "bob", Conv: "r7", Level: "none"})
}

// randomAccessBody draws a body of the access, key and settings kinds, by
// user u (a fifth of them with admin authority), for the property tests.
func randomAccessBody(rng *rand.Rand, u string) eventlog.Body {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	auth := eventlog.Authority{By: u}
	if rng.IntN(5) == 0 {
		auth.Admin = 1
	}
	rooms := append([]string{"new0", "new1"}, simRooms...)
	fp := fmt.Sprint("SHA256:k", rng.IntN(5))
	switch rng.IntN(9) {
	case 0, 1:
		return &eventlog.RoomAccessSet{Room: pick(rooms), Private: uint64(rng.IntN(3) % 2), Authority: auth}
	case 2:
		return &eventlog.RoomInvited{Room: pick(rooms), User: pick(simUsers), Authority: auth}
	case 3:
		return &eventlog.RoomRemoved{Room: pick(rooms), User: pick(simUsers), Reason: pick([]string{"", "bye"}), Authority: auth}
	case 4:
		return &eventlog.KeyAdded{Name: pick(append([]string{u}, simUsers...)), KeyFingerprint: fp, Label: pick([]string{"", "laptop"}), Authority: auth}
	case 5:
		return &eventlog.KeyRemoved{Name: pick(append([]string{u}, simUsers...)), KeyFingerprint: fp, Authority: auth}
	case 6:
		return &eventlog.NotifySet{User: u, Conv: pick(append([]string{"@"}, rooms...)), Level: pick(notifyLevels)}
	case 7:
		return &eventlog.PrefSet{User: u, Name: "bell", Value: pick([]string{"on", "off"})}
	default:
		return &eventlog.PrefSet{User: u, Name: "highlight", Value: pick([]string{"deploy", "Outage", "x"}), Remove: uint64(rng.IntN(2))}
	}
}

// dumpAccess reads everything the access, key and settings state answers,
// for the property tests' stateDump.
func dumpAccess(s *State, users, rooms map[string]bool) map[string]any {
	out := map[string]any{}
	for r := range rooms {
		out["room "+r] = s.Access.Room(r)
		for u := range users {
			out["read "+u+" "+r] = s.CanRead(u, r)
		}
	}
	for u := range users {
		out["keys "+u] = s.Identity.Keys(u)
		for i := range 5 {
			fp := fmt.Sprint("SHA256:k", i)
			out["has "+u+" "+fp] = s.Identity.HasKey(u, fp)
		}
		out["prefs "+u] = s.Prefs.Of(u)
	}
	return out
}
