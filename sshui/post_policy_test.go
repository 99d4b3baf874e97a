package sshui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// refusingBackend answers every post and direct message with a fixed
// result, as a node does for an entry refused at apply time or an id
// already used by another request.
type refusingBackend struct {
	*sshuitest.Fake
	idx uint64
	err error
}

func (b *refusingBackend) Post(context.Context, string, string, string, string, uint64, bool) (uint64, error) {
	return b.idx, b.err
}

func (b *refusingBackend) DirectMessage(context.Context, string, string, string, string, bool) (uint64, error) {
	return b.idx, b.err
}

var policyT0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestExecPostRefusedAtApply(t *testing.T) {
	b := &refusingBackend{Fake: sshuitest.New("node1", nil), err: &api.Refusal{Action: "ban", User: "alice", By: "admin",
		Reason: "spam \x1b[31mred", Until: policyT0.Add(10 * time.Minute), At: policyT0.Add(time.Minute)}}
	ts := startServer(t, b, nil)
	k := newSigner(t)
	for _, cmd := range []string{"post general hello", "post @bob hello"} {
		r := run(t, ts.addr, "alice", k, cmd)
		if r.code != 1 || r.out != "" || !strings.Contains(r.err, "post: you are banned until 12:10 UTC (spam") {
			t.Errorf("%s: %+v", cmd, r)
		}
		if strings.ContainsRune(r.err, 0x1b) {
			t.Errorf("%s: escape byte from the reason echoed: %q", cmd, r.err)
		}
	}
}

func TestExecPostIDReused(t *testing.T) {
	b := &refusingBackend{Fake: sshuitest.New("node1", nil), idx: 42,
		err: fmt.Errorf("%w: %q is entry 42", api.ErrIDReused, "m1")}
	ts := startServer(t, b, nil)
	r := run(t, ts.addr, "alice", newSigner(t), "post --id m1 general other text")
	if r.code != 1 || r.out != "" || !strings.Contains(r.err, "--id m1 was already used for a different message (index 42)") ||
		!strings.Contains(r.err, "nothing was posted") {
		t.Fatalf("%+v", r)
	}
}

// Mutes are the backend's to decide: the exec command no longer checks
// them itself, and explains the backend's answer.
func TestExecPostMuted(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	run(t, ts.addr, "alice", k, "help") // bind the name
	if err := f.Moderate(context.Background(), api.Moderation{Action: "mute", Target: "alice", By: "admin", Room: "general"}); err != nil {
		t.Fatal(err)
	}
	r := run(t, ts.addr, "alice", k, "post general hi")
	if r.code != 1 || !strings.Contains(r.err, "muted") || f.Posts() != 0 {
		t.Fatalf("%+v, posts %d", r, f.Posts())
	}
	if r := run(t, ts.addr, "alice", k, "post dev hi"); r.code != 0 {
		t.Fatalf("other room: %+v", r)
	}
}

// A post the log refused comes back to the chat as a notice saying why.
func TestChatShowsRefusal(t *testing.T) {
	b := &refusingBackend{Fake: sshuitest.New("node1", nil), err: &api.Refusal{Action: "mute", User: "alice", By: "admin",
		Room: "general", Until: policyT0.Add(5 * time.Minute), At: policyT0}}
	_ = b.BindName(context.Background(), "alice", "SHA256:alice")
	_ = b.JoinRoom(context.Background(), "alice", "general")
	app := NewTestApp(b, Identity{Name: "alice"}, Config{NodeID: "node1"}, asciiRenderer())
	drive(t, app, app.Init())
	app.Update(tea.WindowSizeMsg{Width: 120, Height: 20})
	typeLine(t, app, "hello")
	if v := app.View(); !strings.Contains(v, "not sent: you are muted in #general until 12:05 UTC: hello") {
		t.Fatalf("view:\n%s", v)
	}
}
