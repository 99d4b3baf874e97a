package sshui_test

import (
	"strings"
	"testing"

	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
)

// Summaries of joins and leaves that follow one another with nothing said
// in between are one line that counts up: a connect storm used to leave a
// line a second in every session's buffer.
func TestChurnSummariesMergeUntilSomethingIsSaid(t *testing.T) {
	c := newChat(t, 80, 24, false)
	count := func(sub string) int { return strings.Count(c.app.View(), sub) }
	c.app.Update(ChurnMsg("general", 12, 0)) // the hub's counts so far
	c.app.Update(ChurnMsg("general", 20, 1))
	c.app.Update(ChurnMsg("general", 20, 1)) // no news
	c.app.Update(ChurnMsg("general", 21, 1))
	if n := count("21 people joined, 1 person left"); n != 1 {
		t.Fatalf("merged summary shown %d times, want 1:\n%s", n, c.app.View())
	}
	if n := count("joined"); n != 1 {
		t.Fatalf("%d summary lines, want 1:\n%s", n, c.app.View())
	}
	c.f.Append(api.Message{Room: "general", From: "bob", Text: "welcome everyone"})
	c.app.Update(EventMsg{Event: api.Event{Kind: api.EventMessage, Message: hist(t, c.f, "general", 0, 1)[0]}})
	c.app.Update(ChurnMsg("general", 21, 4))
	v := c.app.View()
	if !strings.Contains(v, "21 people joined, 1 person left") || !strings.Contains(v, "3 people left") {
		t.Fatalf("a line said after a summary must start a new one:\n%s", v)
	}
	if strings.Index(v, "welcome everyone") > strings.Index(v, "3 people left") {
		t.Fatalf("the new summary must come after the message:\n%s", v)
	}
}
