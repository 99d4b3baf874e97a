package sshui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// login starts user's chat app against f, as a new session does.
func login(t *testing.T, f *sshuitest.Fake, user string) *App {
	t.Helper()
	a := NewTestApp(f, Identity{Name: user}, Config{NodeID: "node1"}, asciiRenderer())
	drive(t, a, a.Init())
	a.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	return a
}

// roomsRow is the rooms-pane row naming conv (">" marks the current one).
func roomsRow(v, conv string) string {
	for _, r := range strings.Split(v, "\n") {
		if strings.Contains(r, " "+conv+" ") || strings.Contains(r, ">"+conv+" ") {
			return r
		}
	}
	return ""
}

// Direct messages sent while bob was away used to be invisible: no pane,
// no unread count, and "/msg alice" without text was refused. Now the
// conversation is there at login with its count; what bob has read
// follows him to his next session, where a line marks the first message
// he has not seen.
func TestChatDirectMessagesWhileAway(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		_ = f.BindName(ctx, u, "SHA256:"+u)
		_ = f.JoinRoom(ctx, u, "general")
	}
	for _, text := range []string{"are you there?", "the deploy is blocked"} {
		if _, err := f.DirectMessage(ctx, "alice", "bob", text, "", false); err != nil {
			t.Fatal(err)
		}
	}

	bob := login(t, f, "bob")
	v := bob.View()
	if row := roomsRow(v, "@alice"); row == "" || !strings.Contains(row, " 2") {
		t.Fatalf("bob's conversation with alice, with 2 unread, at login; rooms pane row %q in\n%s", row, v)
	}
	typeLine(t, bob, "/msg alice")
	v = bob.View()
	if !strings.Contains(v, "the deploy is blocked") || strings.Contains(v, "needs") {
		t.Fatalf("/msg alice without text opens the conversation:\n%s", v)
	}
	typeLine(t, bob, "/join general") // leaves @alice: read up to its newest
	waitFor(t, func() bool {
		cs := f.Conversations("bob")
		return len(cs) == 2 && cs[0].Name == api.DMRoom("alice", "bob") && cs[0].Unread == 0
	}, "bob's read mark in @alice")

	if _, err := f.DirectMessage(ctx, "alice", "bob", "never mind, fixed", "", false); err != nil {
		t.Fatal(err)
	}
	bob2 := login(t, f, "bob") // a new session, as after a reconnect
	v = bob2.View()
	if row := roomsRow(v, "@alice"); !strings.Contains(row, " 1") {
		t.Fatalf("after a reconnect, 1 unread in @alice; row %q in\n%s", row, v)
	}
	typeLine(t, bob2, "/msg alice")
	v = bob2.View()
	_, mark := rowWith(v, "new since you left")
	_, old := rowWith(v, "the deploy is blocked")
	_, newer := rowWith(v, "never mind, fixed")
	if mark < 0 || !(old < mark && mark < newer) {
		t.Fatalf("the new-since line between what bob read (row %d) and what he did not (row %d): row %d in\n%s", old, newer, mark, v)
	}
	bob2.MarkCurrentRead() // the session ends on @alice
	if cs := f.Conversations("bob"); cs[0].Unread != 0 {
		t.Fatalf("after the session ended on @alice: %+v", cs)
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
