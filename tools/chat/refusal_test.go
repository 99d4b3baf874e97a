package chat

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// A banned syncnet chat user kept reading the room. The ban ends the
// client's tail, and the client stops, saying why (no other node would
// answer differently).
func TestBannedClientStops(t *testing.T) {
	f, nodes := startCluster(t, 2)
	_, rec, res := startClient(t, "carol", nodes, nil)
	waitUntil(t, 10*time.Second, "connected", func() bool { return rec.sawState(StateConnected, "") })
	waitUntil(t, 5*time.Second, "carol online", func() bool { return f.Presence("carol") == "online" })
	if err := f.Moderate(context.Background(), api.Moderation{Action: "ban", Target: "carol", By: "admin", Reason: "spam"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-res.done:
		var fe *FatalError
		if !errors.As(res.err, &fe) || !strings.Contains(res.err.Error(), "banned") {
			t.Fatalf("Run = %v, want a fatal ban", res.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a banned client kept reading the room")
	}
}

// A refused line was pinned under the input as "not sent: refused: post:
// …" for ever, without saying which line. It is said once, in the flow,
// with the line and why, and the chat carries on.
func TestUIDropSaysWhichLineOnce(t *testing.T) {
	m := newUIModel("alice", "general", asciiRenderer())
	m.send = func(s string) string { return "id1" }
	m.Update(windowSize(80, 8))
	typeText(m, "buy cheap pills")
	m.Update(dropMsg{id: "id1", text: "buy cheap pills", err: refusal{"you are muted everywhere until 16:04 UTC (spam)"}})
	v := m.View()
	want := "not sent: “buy cheap pills”: you are muted everywhere until 16:04 UTC (spam)"
	if strings.Count(v, want) != 1 || strings.Contains(v, "refused: post:") {
		t.Fatalf("view:\n%s", v)
	}
	for i := range 10 {
		m.Update(recvMsg{Message{Index: uint64(i + 1), From: "bob", Text: "later", Time: "2026-01-02T15:04:05Z"}})
	}
	if v := m.View(); strings.Contains(v, "not sent") {
		t.Fatalf("the refusal stays pinned after 10 new lines:\n%s", v)
	}
}
