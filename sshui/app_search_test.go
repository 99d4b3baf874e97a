package sshui_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// The search pane over real SSH: /search lists the hits alice may read,
// Enter shows one in its room with the messages around it, Enter again
// goes to that room (joining it), Esc closes the pane.
func TestChatSearchPaneOverSSH(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	ctx := context.Background()
	post := func(user, room, text string) {
		if _, err := f.Post(ctx, user, room, text, "", 0, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.JoinRoom(ctx, "bob", "ops"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		post("bob", "ops", fmt.Sprintf("ops chatter %d", i))
		if i == 5 {
			post("bob", "ops", "we deploy the build at noon")
		}
	}
	for i := 0; i < 80; i++ { // pushes the next hit out of general's first page
		post("carol", "general", fmt.Sprintf("filler %d", i))
	}
	post("carol", "general", "deploy again?")
	if _, err := f.DirectMessage(ctx, "bob", "carol", "secret deploy plan", "", false); err != nil {
		t.Fatal(err)
	}

	tm := openTerm(t, ts.addr, "alice", newSigner(t), 110, 30)
	tm.waitFor("#general")
	tm.typ("/search deploy\r")
	tm.waitFor("search deploy: 2 hits")
	tm.waitFor("#ops <bob> we deploy the build at noon")
	tm.typ("\x1b[B\r") // the older hit, in #ops
	tm.waitFor("#ops — Enter: go there")
	tm.waitFor("ops chatter 0") // the messages around it
	tm.waitFor("ops chatter 11")
	tm.typ("\r")
	waitUntil(t, 5*time.Second, func() bool { return slices.Contains(f.RoomsOf("alice"), "ops") },
		func() string { return fmt.Sprintf("alice's rooms: %v", f.RoomsOf("alice")) })
	tm.waitFor(">#ops")

	tm.typ("/search secret\r")
	tm.waitFor("search secret: 0 hits")
	// Esc closes the pane: #ops is drawn again (a second time on screen).
	tm.typ("\x1b")
	waitUntil(t, 10*time.Second, func() bool { return strings.Count(ansi.Strip(tm.out.String()), "bob: ops chatter 11") >= 2 },
		func() string { return "the pane did not close:\n" + ansi.Strip(tm.out.String()) })
	tm.typ("/search !!\r")
	tm.waitFor("search: nothing to search for")
}
