package sshui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// feed hands the app every event the fake published since the last call,
// as the hub would.
func feed(t *testing.T, a *App, sub api.Subscription) {
	t.Helper()
	for {
		select {
		case ev := <-sub.C():
			_, cmd := a.Update(EventMsg{Event: ev})
			drive(t, a, cmd)
		default:
			return
		}
	}
}

func press(t *testing.T, a *App, k tea.KeyMsg) {
	t.Helper()
	_, cmd := a.Update(k)
	drive(t, a, cmd)
}

// The chat app: ↑ on an empty line edits your last message (Enter saves,
// Esc cancels), /delete, /react, /reply with the quoted parent, /thread,
// /ids, and changes made by others shown live.
func TestAppEditReplyReact(t *testing.T) {
	c := newChat(t, 100, 30, false)
	a, f := c.app, c.f
	sub := f.Subscribe(api.Filter{}, 256)
	defer sub.Close()
	mine := uint64(0)
	for _, m := range hist(t, f, "general", 0, 50) {
		if m.From == "alice" {
			mine = m.Index
		}
	}

	// ↑ on an empty line: the text of "my own line" in the input.
	press(t, a, tea.KeyMsg{Type: tea.KeyUp})
	if v := InputValue(a); v != "my own line" {
		t.Fatalf("↑ on an empty line put %q in the input", v)
	}
	if !strings.Contains(a.View(), "edit "+fmt.Sprint(mine)+"> my own line") {
		t.Fatalf("the input does not say it edits:\n%s", a.View())
	}
	press(t, a, tea.KeyMsg{Type: tea.KeyEsc})
	if v := InputValue(a); v != "" || strings.Contains(a.View(), "edit "+fmt.Sprint(mine)+">") {
		t.Fatalf("Esc left %q in the input", v)
	}
	// Again, and save it.
	press(t, a, tea.KeyMsg{Type: tea.KeyUp})
	press(t, a, key(", edited"))
	press(t, a, key("enter"))
	feed(t, a, sub)
	if m := hist(t, f, "general", 0, 50); !strings.Contains(fmt.Sprint(m), "my own line, edited") {
		t.Fatalf("the edit did not reach the backend: %+v", m)
	}
	if v := ansi.Strip(a.View()); !strings.Contains(v, "alice: my own line, edited (edited)") {
		t.Fatalf("the edited line:\n%s", v)
	}
	// ↑ on a line with text walks the input history, as before.
	press(t, a, key("x"))
	press(t, a, tea.KeyMsg{Type: tea.KeyUp})
	if strings.Contains(a.View(), "edit "+fmt.Sprint(mine)+">") {
		t.Fatal("↑ on a line with text started an edit")
	}
	press(t, a, tea.KeyMsg{Type: tea.KeyBackspace})

	// Reactions toggle, shown under the message.
	typeLine(t, a, "/react "+fmt.Sprint(mine)+" 👍")
	feed(t, a, sub)
	if v := ansi.Strip(a.View()); !strings.Contains(v, "👍 1") {
		t.Fatalf("no reaction under the message:\n%s", v)
	}
	typeLine(t, a, "/react "+fmt.Sprint(mine)+" 👍")
	feed(t, a, sub)
	if v := ansi.Strip(a.View()); strings.Contains(v, "👍 1") {
		t.Fatalf("the reaction was not taken back:\n%s", v)
	}

	// A reply quotes what it answers; the parent counts it.
	typeLine(t, a, "/reply ^ sure, on it")
	feed(t, a, sub)
	last := hist(t, f, "general", 0, 1)[0]
	if last.ReplyTo == 0 || last.Text != "sure, on it" {
		t.Fatalf("the reply: %+v", last)
	}
	v := ansi.Strip(a.View())
	if !strings.Contains(v, "┌ carol: a long line that wraps") || !strings.Contains(v, "↳ 1 reply (/thread "+fmt.Sprint(last.ReplyTo)+")") {
		t.Fatalf("the reply's quote and the parent's count:\n%s", v)
	}
	typeLine(t, a, "/thread "+fmt.Sprint(last.ReplyTo))
	if v := ansi.Strip(a.View()); !strings.Contains(v, "thread of "+fmt.Sprint(last.ReplyTo)+" (1 reply)") || !strings.Contains(v, "↳ "+fmt.Sprint(last.Index)+" alice: sure, on it") {
		t.Fatalf("/thread:\n%s", v)
	}

	// Another user's edit and deletion show live.
	ctx := context.Background()
	bobs := hist(t, f, "general", 0, 50)[0]
	if _, err := f.Edit(ctx, "bob", bobs.Index, "hi all, the deploy is DONE"); err != nil {
		t.Fatal(err)
	}
	feed(t, a, sub)
	if v := ansi.Strip(a.View()); !strings.Contains(v, "bob: hi all, the deploy is DONE (edited)") {
		t.Fatalf("bob's edit is not shown live:\n%s", v)
	}
	typeLine(t, a, "/delete")
	if v := ansi.Strip(a.View()); !strings.Contains(v, "/delete again to confirm") || strings.Contains(v, "message deleted") {
		t.Fatalf("a bare /delete did not ask first:\n%s", v)
	}
	typeLine(t, a, "/delete")
	feed(t, a, sub)
	if v := ansi.Strip(a.View()); !strings.Contains(v, "alice: message deleted") {
		t.Fatalf("/delete of the last own message:\n%s", v)
	}
	// /ids shows the indexes.
	typeLine(t, a, "/ids")
	if v := ansi.Strip(a.View()); !strings.Contains(v, fmt.Sprint(last.Index)+" alice: sure, on it") {
		t.Fatalf("/ids:\n%s", v)
	}
	for line, want := range map[string]string{
		"/react ^9 👍":        "no such message here",
		"/react x 👍":         "not a message",
		"/react ^ two words": "usage: /react",
		"/edit 99999 x":      "no message 99999",
		"/reply ^":           "usage: /reply",
	} {
		typeLine(t, a, line)
		if v := ansi.Strip(a.View()); !strings.Contains(v, want) {
			t.Errorf("%s: the screen does not say %q:\n%s", line, want, v)
		}
	}
}

// Two users through real SSH: alice edits her message with ↑ in her chat,
// reacts and deletes; bob's chat shows each live.
func TestChatEditSeenLiveOverSSH(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	alice := openTerm(t, ts.addr, "alice", newSigner(t), 100, 30)
	bob := openTerm(t, ts.addr, "bob", newSigner(t), 100, 30)
	alice.waitFor("#general")
	bob.waitFor("#general")
	alice.typ("helo everyone\r")
	bob.waitFor("alice: helo everyone")
	alice.typ("\x1b[A")              // ↑ on the empty line: edit the last message
	alice.waitFor("> helo everyone") // the prompt is "edit N> "
	alice.typ("\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f" + "hello everyone\r")
	bob.waitFor("alice: hello everyone (edited)")
	bob.typ("/react ^ 🎉\r")
	alice.waitFor("🎉 1")
	bob.typ("/reply ^ hi!\r")
	alice.waitFor("┌ alice: hello everyone")
	alice.waitFor("↳ 1 reply")
	alice.typ("/delete ^2\r") // her own message, the one before bob's reply
	bob.waitFor("alice: message deleted")
	if m := hist(t, f, "general", 0, 10); len(m) != 2 || !m[0].Deleted() || m[1].ReplyTo != m[0].Index {
		t.Fatalf("history: %+v", m)
	}
}
