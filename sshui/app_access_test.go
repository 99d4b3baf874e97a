package sshui

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// bellCount counts the bell's rings.
type bellCount struct{ n atomic.Int64 }

func (b *bellCount) Bell() { b.n.Add(1) }

// accessApp is user's chat against f, with a bell that counts.
func accessApp(t *testing.T, f *sshuitest.Fake, user string) (*App, *bellCount) {
	t.Helper()
	cfg := Config{NodeID: "node1", HostKeyPath: "unused"}
	cfg.setDefaults()
	bell := &bellCount{}
	r := lipgloss.NewRenderer(io.Discard, termenv.WithProfile(termenv.Ascii))
	a := newApp(appDeps{b: f, cfg: &cfg, id: Identity{Name: user, Fingerprint: "SHA256:" + user}, r: r,
		limit: newRateLimiter(cfg.RateLimit, cfg.RateBurst, time.Now), bell: bell})
	drainCmd(t, a, a.Init())
	a.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	return a, bell
}

// drainCmd runs cmd and feeds what it returns back to a, as the program does.
func drainCmd(t *testing.T, a *App, cmd tea.Cmd) {
	t.Helper()
	for i := 0; cmd != nil && i < 50; i++ {
		msg := cmd()
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				drainCmd(t, a, c)
			}
			return
		}
		if msg == nil {
			return
		}
		_, cmd = a.Update(msg)
	}
}

// say types line and Enter into a.
func say(t *testing.T, a *App, line string) {
	t.Helper()
	a.input.SetValue(line)
	_, cmd := a.Update(tea.KeyMsg{Type: tea.KeyEnter})
	drainCmd(t, a, cmd)
}

// shown is the app's last lines of text, joined.
func shown(a *App) string { return a.View() }

// deliver gives a the events f published since the subscription began.
func deliver(t *testing.T, a *App, sub api.Subscription) {
	t.Helper()
	for {
		select {
		case ev := <-sub.C():
			_, cmd := a.Update(EventMsg{Event: ev})
			drainCmd(t, a, cmd)
		default:
			return
		}
	}
}

func accessFake(t *testing.T) *sshuitest.Fake {
	f := sshuitest.New("node1", nil)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := f.BindName(ctx, u, "SHA256:"+u); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestAppPrivateRoomCommands(t *testing.T) {
	f := accessFake(t)
	alice, _ := accessApp(t, f, "alice")
	bob, _ := accessApp(t, f, "bob")
	bobSub := f.Subscribe(api.Filter{}, 256)
	defer bobSub.Close()

	say(t, alice, "/join #ops")
	say(t, alice, "/private")
	if !f.RoomAccess("ops").Private || !strings.Contains(shown(alice), "#ops is private now") {
		t.Fatalf("/private:\n%s", shown(alice))
	}
	say(t, alice, "/access")
	if !strings.Contains(shown(alice), "#ops is private, owner alice; let in: alice") {
		t.Fatalf("/access:\n%s", shown(alice))
	}
	say(t, bob, "/rooms")
	if !strings.Contains(shown(bob), "#ops (private) ") {
		t.Fatalf("bob's /rooms:\n%s", shown(bob))
	}
	say(t, bob, "/join #ops")
	if !strings.Contains(shown(bob), "#ops is private: ask one of its members to invite you") || contains(f.RoomsOf("bob"), "ops") {
		t.Fatalf("bob joined a private room:\n%s", shown(bob))
	}
	say(t, alice, "/invite bob")
	deliver(t, bob, bobSub)
	if !strings.Contains(shown(bob), "alice invited you to #ops: /join #ops") {
		t.Fatalf("bob was not told of the invitation:\n%s", shown(bob))
	}
	say(t, bob, "/join #ops")
	if !contains(f.RoomsOf("bob"), "ops") || bob.cur != "ops" {
		t.Fatalf("bob could not join after an invitation: %v", f.RoomsOf("bob"))
	}
	deliver(t, bob, bobSub)
	say(t, bob, "/remove alice")
	if !strings.Contains(shown(bob), "only #ops's owner or an admin may remove") {
		t.Fatalf("bob removed the owner:\n%s", shown(bob))
	}
	say(t, alice, "/remove bob not needed")
	deliver(t, bob, bobSub)
	if contains(bob.convs, "ops") || bob.cur != "general" || !strings.Contains(shown(bob), "You were removed from #ops by alice: not needed.") {
		t.Fatalf("bob's screen after his removal (convs %v):\n%s", bob.convs, shown(bob))
	}
	say(t, alice, "/public")
	if f.RoomAccess("ops").Private {
		t.Fatal("/public left it private")
	}
	say(t, alice, "/join #general")
	say(t, alice, "/private")
	if !strings.Contains(shown(alice), "everyone's room") {
		t.Fatalf("/private in general:\n%s", shown(alice))
	}
}

func TestAppNotifyLevels(t *testing.T) {
	f := accessFake(t)
	alice, bell := accessApp(t, f, "alice")
	sub := f.Subscribe(api.Filter{}, 256)
	defer sub.Close()
	say(t, alice, "/join #dev")
	say(t, alice, "/join #general") // dev is in the sidebar, not on screen
	post := func(room, from, text string) {
		t.Helper()
		if room[0] == '@' {
			f.Append(api.Message{To: "alice", From: from, Text: text})
		} else {
			f.Append(api.Message{Room: room, From: from, Text: text})
		}
		deliver(t, alice, sub)
	}
	rooms := func() string { return strings.Join(alice.renderRooms(20, 6), "\n") }
	dev := func() string { // the count after #dev in the sidebar
		for _, l := range alice.renderRooms(20, 6) {
			if strings.Contains(l, "#dev") {
				return strings.TrimSpace(strings.TrimSpace(l)[len("#dev"):])
			}
		}
		return "(no #dev)"
	}

	// Defaults: a room counts and rings on mentions; a DM rings always.
	post("dev", "bob", "plain")
	post("dev", "bob", "hey alice")
	if n := bell.n.Load(); n != 1 || dev() != "2 @1" {
		t.Fatalf("defaults: %d rings, rooms:\n%s", n, rooms())
	}
	post("@bob", "bob", "psst")
	if n := bell.n.Load(); n != 2 {
		t.Fatalf("a DM rang %d times in all", n)
	}

	// none: nothing at all.
	say(t, alice, "/notify #dev none")
	deliver(t, alice, sub)
	post("dev", "bob", "alice again")
	if n := bell.n.Load(); n != 2 || dev() != "" {
		t.Fatalf("none: %d rings, rooms:\n%s", n, rooms())
	}

	// all: every message rings; highlights count as mentions.
	say(t, alice, "/notify #dev all")
	say(t, alice, "/highlight add Deploy")
	deliver(t, alice, sub)
	if got := f.NotifySettings("alice"); got.Notify["dev"] != "all" || len(got.Highlights) != 1 {
		t.Fatalf("settings %+v", got)
	}
	before := bell.n.Load()
	post("dev", "bob", "anything")
	post("dev", "bob", "the deploy is done")
	if n := bell.n.Load() - before; n != 2 {
		t.Fatalf("all: %d rings for two messages", n)
	}
	if !strings.HasSuffix(dev(), " @2") { // "hey alice" and the deploy

		t.Fatalf("a highlight is no mention:\n%s", rooms())
	}

	// The bell off silences everything; DMs can be set apart.
	say(t, alice, "/bell off")
	deliver(t, alice, sub)
	before = bell.n.Load()
	post("@bob", "bob", "ring?")
	post("dev", "bob", "alice?")
	if n := bell.n.Load() - before; n != 0 {
		t.Fatalf("the bell is off and rang %d times", n)
	}
	say(t, alice, "/bell on")
	say(t, alice, "/notify @ none")
	deliver(t, alice, sub)
	before = bell.n.Load()
	post("@bob", "bob", "quiet")
	if n := bell.n.Load() - before; n != 0 || f.NotifySettings("alice").Notify["@"] != "none" {
		t.Fatalf("DMs none: %d rings", n)
	}

	// Switching to dev clears its count and mentions.
	say(t, alice, "/join #dev")
	if _, m := alice.sideCount("dev"); m || alice.acc.mentioned["dev"] != 0 {
		t.Fatal("mentions kept after the room was shown")
	}
	for _, bad := range []string{"/notify loud", "/bell maybe", "/highlight add two words"} {
		say(t, alice, bad)
	}
	if s := shown(alice); !strings.Contains(s, "usage: /notify") || !strings.Contains(s, "usage: /bell on|off") || !strings.Contains(s, "one word") {
		t.Fatalf("bad settings:\n%s", s)
	}
}

func TestAppKeysCommandAndRemovedKeyEndsSession(t *testing.T) {
	f := accessFake(t)
	alice, _ := accessApp(t, f, "alice")
	sub := f.Subscribe(api.Filter{}, 256)
	defer sub.Close()
	say(t, alice, "/keys remove SHA256:alice")
	if !strings.Contains(shown(alice), "only key") {
		t.Fatalf("removing the last key:\n%s", shown(alice))
	}
	say(t, alice, "/keys add ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl my laptop")
	if ks := f.Keys("alice"); len(ks) != 2 || ks[1].Label != "ssh-ed25519 my laptop" {
		t.Fatalf("keys after /keys add: %+v\n%s", ks, shown(alice))
	}
	say(t, alice, "/keys")
	if !strings.Contains(shown(alice), "SHA256:alice  (this session)") {
		t.Fatalf("/keys:\n%s", shown(alice))
	}
	deliver(t, alice, sub)
	// Another session removes this session's key: this one ends.
	if err := f.RemoveKey(context.Background(), "alice", "alice", "SHA256:alice", false); err != nil {
		t.Fatal(err)
	}
	var quit bool
	for {
		select {
		case ev := <-sub.C():
			if _, cmd := alice.Update(EventMsg{Event: ev}); cmd != nil {
				_, quit = cmd().(tea.QuitMsg)
			}
			continue
		default:
		}
		break
	}
	if !quit || !strings.Contains(alice.ExitMessage(), "was removed from alice by alice") {
		t.Fatalf("the session of a removed key goes on (quit %v, %q)", quit, alice.ExitMessage())
	}
}

// The hub stops a removed user's events of the room at once, before the
// user's app has caught up, and a room that turns private under a session
// it does not let in stops too.
func TestHubDropsRoomOnRemoval(t *testing.T) {
	f := accessFake(t)
	ctx := context.Background()
	_ = f.JoinRoom(ctx, "alice", "ops")
	_ = f.JoinRoom(ctx, "bob", "ops")
	h := NewHub(f, HubConfig{})
	rb, rc := &countSender{}, &countSender{}
	cb, cc := h.Register("bob", rb), h.Register("carol", rc)
	defer h.Unregister(cb)
	defer h.Unregister(cc)
	cb.SetRooms([]string{"ops"})
	cc.SetRooms([]string{"ops"}) // following without being a member
	msg := func(i uint64) api.Event {
		return api.Event{Kind: api.EventMessage, Index: i, Message: api.Message{Index: i, Room: "ops", From: "alice", Text: fmt.Sprint(i)}}
	}
	if err := f.SetRoomPrivate(ctx, "alice", "ops", true, true); err != nil {
		t.Fatal(err)
	}
	h.Deliver(api.Event{Kind: api.EventAccess, Index: 1, Room: "ops", User: "alice", Mod: api.Moderation{Action: "private", By: "alice", Room: "ops"}})
	h.Deliver(msg(2))
	h.Deliver(api.Event{Kind: api.EventAccess, Index: 3, Room: "ops", User: "bob", Mod: api.Moderation{Action: "remove", Target: "bob", By: "alice", Room: "ops"}})
	h.Deliver(msg(4))
	// A barrier every session gets: what came before it has been sent.
	h.Deliver(api.Event{Kind: api.EventModeration, Index: 5, Mod: api.Moderation{Action: "mute", Target: "dave", By: "alice"}})
	deadline := time.Now().Add(5 * time.Second)
	for rb.last() != 5 || rc.last() != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("bob got %v, carol %v", rb.indexes(), rc.indexes())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := rb.indexes(); fmt.Sprint(got) != "[1 2 3 5]" {
		t.Fatalf("bob got events %v, want [1 2 3 5] (nothing after his removal)", got)
	}
	if got := rc.indexes(); fmt.Sprint(got) != "[1 5]" {
		t.Fatalf("carol got events %v, want [1 5] (nothing after the room closed on her)", got)
	}
}

// countSender records the indexes of the events it is sent.
type countSender struct {
	n   atomic.Int64
	got atomic.Pointer[[]uint64]
}

func (s *countSender) Send(m tea.Msg) {
	if ev, ok := m.(EventMsg); ok {
		old := s.got.Load()
		var l []uint64
		if old != nil {
			l = append(l, *old...)
		}
		l = append(l, ev.Event.Index)
		s.got.Store(&l)
		s.n.Add(1)
	}
}

func (s *countSender) last() uint64 {
	l := s.indexes()
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

func (s *countSender) indexes() []uint64 {
	if p := s.got.Load(); p != nil {
		return *p
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
