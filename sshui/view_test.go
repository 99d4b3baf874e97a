package sshui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// drive runs cmd and feeds its messages back into the model, like the
// program's event loop; commands that do not return quickly (ticks) are
// dropped.
func drive(t testing.TB, m tea.Model, cmd tea.Cmd) {
	t.Helper()
	for depth := 0; cmd != nil && depth < 50; depth++ {
		done := make(chan tea.Msg, 1)
		go func() { done <- cmd() }()
		var msg tea.Msg
		select {
		case msg = <-done:
		case <-time.After(300 * time.Millisecond):
			return
		}
		switch msg := msg.(type) {
		case nil:
			return
		case tea.BatchMsg:
			for _, c := range msg {
				drive(t, m, c)
			}
			return
		default:
			_, cmd = m.Update(msg)
		}
	}
}

func key(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "pgup":
		return tea.KeyMsg{Type: tea.KeyPgUp}
	case "ctrl+n":
		return tea.KeyMsg{Type: tea.KeyCtrlN}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// typeLine types s and Enter.
func typeLine(t testing.TB, a *App, s string) {
	_, cmd := a.Update(key(s))
	drive(t, a, cmd)
	_, cmd = a.Update(key("enter"))
	drive(t, a, cmd)
}

type chatFixture struct {
	f   *sshuitest.Fake
	app *App
}

// newChat builds alice's chat at w×h against a fake with some history.
func newChat(t testing.TB, w, h int, admin bool) chatFixture {
	f := sshuitest.New("node1", nil)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		_ = f.BindName(ctx, u, "SHA256:"+u)
		_ = f.JoinRoom(ctx, u, "general")
	}
	_ = f.JoinRoom(ctx, "alice", "dev")
	_ = f.SetPresence(ctx, "alice", "online")
	_ = f.SetPresence(ctx, "bob", "online")
	_ = f.SetPresence(ctx, "carol", "away")
	_ = f.SetTopic(ctx, "bob", "general", "welcome \x1b[31mto\x1b[0m SyncNet")
	f.Append(api.Message{Room: "general", From: "bob", Text: "hi all, the deploy is done"})
	f.Append(api.Message{Room: "general", From: "carol", Text: "漢字 and emoji 👍🏽 and e\u0301 combining"})
	f.Append(api.Message{Room: "general", From: "alice", Text: "my own line"})
	f.Append(api.Message{Room: "general", From: "dave", Text: "hey alice, can you look? \u202eevil\x1b]0;title\x07"})
	f.Append(api.Message{Room: "general", From: "bob", Text: "waves", Action: true})
	f.Append(api.Message{Room: "general", From: "carol", Text: strings.Repeat("a long line that wraps ", 6)})
	f.Append(api.Message{Room: "dev", From: "bob", Text: "unread in dev"})
	app := NewTestApp(f, Identity{Name: "alice", Admin: admin}, Config{NodeID: "node1"}, asciiRenderer())
	drive(t, app, app.Init())
	app.Update(tea.WindowSizeMsg{Width: w, Height: h})
	app.Update(EventMsg{Event: api.Event{Kind: api.EventMessage, Message: hist(t, f, "dev", 0, 1)[0]}})
	return chatFixture{f: f, app: app}
}

func checkView(t *testing.T, v string, w, h int) {
	t.Helper()
	lines := strings.Split(v, "\n")
	if len(lines) > h {
		t.Errorf("view has %d lines, window %d", len(lines), h)
	}
	for i, l := range lines {
		if wd := Width(l); wd > w {
			t.Errorf("line %d is %d columns wide (window %d): %q", i, wd, w, l)
		}
		if strings.ContainsAny(l, "\x1b\u202e\x07") {
			t.Errorf("line %d has a control or escape: %q", i, l)
		}
	}
}

func TestViewGolden(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{80, 24}, {120, 30}, {60, 16}, {40, 10}, {20, 5}} {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			c := newChat(t, sz.w, sz.h, false)
			v := c.app.View()
			checkView(t, v, sz.w, sz.h)
			golden.RequireEqual(t, []byte(v))
		})
	}
}

func TestViewZeroAndHuge(t *testing.T) {
	c := newChat(t, 0, 0, false)
	if v := c.app.View(); v != "" {
		t.Fatalf("0x0 view = %q", v)
	}
	c.app.Update(tea.WindowSizeMsg{Width: 1 << 30, Height: 1 << 30})
	if v := c.app.View(); len(v) > 4<<20 {
		t.Fatalf("huge window view is %d bytes", len(v))
	}
	c.app.Update(tea.WindowSizeMsg{Width: 3, Height: 2})
	checkView(t, c.app.View(), 3, 2)
}

func TestViewResizeKeepsWidths(t *testing.T) {
	c := newChat(t, 80, 24, false)
	for w := 1; w <= 130; w += 7 {
		for _, h := range []int{1, 3, 4, 9, 24} {
			c.app.Update(tea.WindowSizeMsg{Width: w, Height: h})
			checkView(t, c.app.View(), w, h)
		}
	}
}

func TestViewNoQuorumQueues(t *testing.T) {
	c := newChat(t, 80, 24, false)
	c.f.SetQuorum(false)
	c.app.Update(StatusMsg{Status: c.f.Status()})
	typeLine(t, c.app, "are we there yet")
	v := c.app.View()
	checkView(t, v, 80, 24)
	golden.RequireEqual(t, []byte(v))
	if c.f.Posts() != 0 {
		t.Fatalf("posted without quorum")
	}
	c.f.SetQuorum(true)
	_, cmd := c.app.Update(StatusMsg{Status: c.f.Status()})
	drive(t, c.app, cmd)
	if c.f.Posts() != 1 {
		t.Fatalf("queued line not sent after quorum returned: posts=%d", c.f.Posts())
	}
	h := hist(t, c.f, "general", 0, 1)
	if h[0].Text != "are we there yet" || h[0].From != "alice" {
		t.Fatalf("last = %+v", h[0])
	}
}

func TestViewHelpAndCommands(t *testing.T) {
	c := newChat(t, 80, 30, true)
	typeLine(t, c.app, "/help")
	v := c.app.View()
	checkView(t, v, 80, 30)
	golden.RequireEqual(t, []byte(v))
	if !strings.Contains(v, "/kick") {
		t.Fatalf("admin help lacks /kick")
	}
}

func TestChatCommands(t *testing.T) {
	c := newChat(t, 100, 30, false)
	a, f := c.app, c.f
	typeLine(t, a, "/join #ops")
	if got := f.RoomsOf("alice"); !contains(got, "ops") {
		t.Fatalf("rooms = %v", got)
	}
	typeLine(t, a, "/topic deploys here")
	if r := roomInfo(f, "ops"); r.Topic != "deploys here" {
		t.Fatalf("topic = %q", r.Topic)
	}
	typeLine(t, a, "/me ships it")
	if m := hist(t, f, "ops", 0, 1); len(m) != 1 || !m[0].Action || m[0].Text != "ships it" {
		t.Fatalf("me = %+v", m)
	}
	typeLine(t, a, "/msg bob psst")
	if m := hist(t, f, api.DMRoom("alice", "bob"), 0, 1); len(m) != 1 || m[0].To != "bob" {
		t.Fatalf("dm = %+v", m)
	}
	if !strings.Contains(a.View(), "@bob (direct)") {
		t.Fatalf("DM pane not shown:\n%s", a.View())
	}
	typeLine(t, a, "/leave")
	typeLine(t, a, "/leave #ops")
	if got := f.RoomsOf("alice"); contains(got, "ops") {
		t.Fatalf("still in ops: %v", got)
	}
	typeLine(t, a, "/away lunch")
	if f.Presence("alice") != "away" {
		t.Fatalf("presence = %q", f.Presence("alice"))
	}
	typeLine(t, a, "/whois bob")
	if !strings.Contains(a.View(), "SHA256:bob") {
		t.Fatalf("whois:\n%s", a.View())
	}
	typeLine(t, a, "/kick bob")
	if !strings.Contains(a.View(), "unknown command /kick") {
		t.Fatalf("non-admin kick:\n%s", a.View())
	}
	typeLine(t, a, "//not a command")
	if m := hist(t, f, "general", 0, 1); m[0].Text != "/not a command" {
		t.Fatalf("// = %+v", m)
	}
	// Input history (Alt-↑: ↑ on an empty line edits the last message) and
	// tab completion.
	a.Update(tea.KeyMsg{Type: tea.KeyUp, Alt: true})
	_, cmd := a.Update(key("enter"))
	drive(t, a, cmd)
	if m := hist(t, f, "general", 0, 1); m[0].Text != "/not a command" || f.Posts() != 4 {
		t.Fatalf("history recall: posts %d", f.Posts())
	}
	a.Update(key("/jo"))
	a.Update(key("tab"))
	a.Update(key("#de"))
	a.Update(key("tab"))
	_, cmd = a.Update(key("enter"))
	drive(t, a, cmd)
	if !strings.Contains(a.View(), "#dev") {
		t.Fatalf("completion did not join #dev:\n%s", a.View())
	}
}

func TestChatAdminModeration(t *testing.T) {
	c := newChat(t, 100, 30, true)
	typeLine(t, c.app, "/mute bob 10m spam")
	if !c.f.IsMuted("bob", "general") {
		t.Fatalf("bob not muted")
	}
	typeLine(t, c.app, "/ban dave flooding")
	if !c.f.IsBanned("dave") {
		t.Fatalf("dave not banned")
	}
}

// Beyond the burst of 40 lines wait for the rate limit, which says so, and
// then go out in order, each its own message (the burst's exact size is
// TestChatRateLimitKeepsLinesApart's, on a clock of its own).
func TestChatRateLimitNotice(t *testing.T) {
	c := newChat(t, 100, 30, false)
	var want []string
	for i := range 45 {
		typeLine(t, c.app, fmt.Sprint("burst ", i))
		want = append(want, fmt.Sprint("burst ", i))
	}
	if !strings.Contains(c.app.View(), "rate limit") {
		t.Fatalf("no rate limit notice:\n%s", c.app.View())
	}
	waitUntil(t, 5*time.Second, func() bool { return c.f.Posts() == 45 }, func() string {
		return fmt.Sprintf("posts = %d, want all 45", c.f.Posts())
	})
	var got []string
	for _, m := range hist(t, c.f, "general", 0, 45) {
		got = append(got, m.Text)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("posted %q", got)
	}
}

func TestChatScrollback(t *testing.T) {
	c := newChat(t, 80, 12, false)
	for i := range 300 {
		c.f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprint("line ", i)})
	}
	c.app.Update(ResyncMsg{})
	if !strings.Contains(c.app.View(), "line 299") {
		t.Fatalf("resync did not load:\n%s", c.app.View())
	}
	for range 40 {
		c.app.Update(key("pgup"))
	}
	v := c.app.View()
	checkView(t, v, 80, 12)
	if !strings.Contains(v, "scrolled back") || strings.Contains(v, "line 299") {
		t.Fatalf("pgup:\n%s", v)
	}
	if !strings.Contains(v, "hi all, the deploy is done") {
		t.Fatalf("pgup never reached the oldest message:\n%s", v)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func roomInfo(f *sshuitest.Fake, name string) api.RoomInfo {
	for _, r := range f.Rooms() {
		if r.Name == name {
			return r
		}
	}
	return api.RoomInfo{}
}
