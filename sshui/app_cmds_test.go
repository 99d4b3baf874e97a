package sshui_test

// Chat commands that did something else than they said.

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
)

// /me in a direct conversation used to be sent as the plain text
// "* alice waves" and shown as "alice: * alice waves"; it is an action on
// both sides.
func TestChatMeInDirectMessage(t *testing.T) {
	c := newChat(t, 100, 30, false)
	a := c.app
	typeLine(t, a, "/msg bob hi")
	typeLine(t, a, "/me waves")
	committed(t, a, c.f, api.DMRoom("alice", "bob"))
	// Stored as an action, so history, tail and the audit tools see one.
	if m := hist(t, c.f, api.DMRoom("alice", "bob"), 0, 1)[0]; !m.Action || m.Text != "waves" {
		t.Fatalf("the direct message stored: %+v", m)
	}
	v := a.View()
	if !strings.Contains(v, "* alice waves") || strings.Contains(v, "alice: * alice") {
		t.Fatalf("sender's pane:\n%s", v)
	}
	bob := NewTestApp(c.f, Identity{Name: "bob"}, Config{NodeID: "node1"}, asciiRenderer())
	drive(t, bob, bob.Init())
	bob.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	typeLine(t, bob, "/msg alice hello")
	v = bob.View()
	if !strings.Contains(v, "* alice waves") || strings.Contains(v, "alice: * alice") {
		t.Fatalf("recipient's pane:\n%s", v)
	}
}

// "/join #Ops Team" used to join #ops silently: names with spaces are
// refused with the reason, and folding to lower case is said.
func TestChatJoinRoomNames(t *testing.T) {
	c := newChat(t, 100, 30, false)
	a := c.app
	typeLine(t, a, "/join #Ops Team")
	if got := c.f.RoomsOf("alice"); contains(got, "ops") || contains(got, "ops-team") {
		t.Fatalf("joined %v", got)
	}
	if v := a.View(); !strings.Contains(v, "no spaces") || !strings.Contains(v, "#ops-team") {
		t.Fatalf("no reason given:\n%s", v)
	}
	typeLine(t, a, "/join #Ops")
	if got := c.f.RoomsOf("alice"); !contains(got, "ops") {
		t.Fatalf("rooms = %v", got)
	}
	if v := a.View(); !strings.Contains(v, "lower case") {
		t.Fatalf("folding not said:\n%s", v)
	}
	typeLine(t, a, "/leave #Ops Team")
	if got := c.f.RoomsOf("alice"); !contains(got, "ops") {
		t.Fatalf("/leave with a space left #ops: %v", got)
	}
}

// /msg to yourself used to open a pane listing you twice: it is refused,
// and a pane of old notes to self lists you once.
func TestChatMsgToYourself(t *testing.T) {
	c := newChat(t, 100, 30, false)
	before := c.f.Posts()
	typeLine(t, c.app, "/msg alice note to self")
	if c.f.Posts() != before {
		t.Fatalf("a direct message to yourself was sent")
	}
	if v := c.app.View(); !strings.Contains(v, "that is you") || strings.Contains(v, "@alice (direct)") {
		t.Fatalf("not refused:\n%s", v)
	}
	m := c.f.Append(api.Message{From: "alice", To: "alice", Text: "an old note"})
	c.app.Update(EventMsg{Event: api.Event{Kind: api.EventMessage, Index: m.Index, Message: m}})
	c.app.Update(key("ctrl+n"))
	for range 5 {
		if strings.Contains(c.app.View(), "@alice (direct)") {
			break
		}
		c.app.Update(key("ctrl+n"))
	}
	v := c.app.View()
	if !strings.Contains(v, "@alice (direct)") || !strings.Contains(v, "MEMBERS 1") {
		t.Fatalf("notes pane:\n%s", v)
	}
}
