package chat

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// syncnet chat follows a room with tail --join: a private room that does
// not let its user in is refused on every node, so the client stops,
// saying why, instead of trying node after node; one removed while it runs
// stops too, and has printed nothing of the room since.
func TestPrivateRoomClient(t *testing.T) {
	f, nodes := startCluster(t, 2)
	ctx := context.Background()
	keys := map[string]ssh.Signer{}
	for _, u := range []string{"alice", "bob", "carol"} {
		keys[u] = newSigner(t)
		if err := f.BindName(ctx, u, ssh.FingerprintSHA256(keys[u].PublicKey())); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.JoinRoom(ctx, "alice", "ops"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetRoomPrivate(ctx, "alice", "ops", true, false); err != nil {
		t.Fatal(err)
	}
	if err := f.Invite(ctx, "alice", "ops", "bob", false); err != nil {
		t.Fatal(err)
	}
	post := func(text string) {
		if _, err := f.Post(ctx, "alice", "ops", text, "", 0, false); err != nil {
			t.Fatal(err)
		}
	}
	post("before")
	inOps := func(user string) func(cfg *Config) {
		return func(cfg *Config) { cfg.Room, cfg.Auth = "ops", []ssh.AuthMethod{ssh.PublicKeys(keys[user])} }
	}

	_, _, carol := startClient(t, "carol", nodes, inOps("carol"))
	select {
	case <-carol.done:
		var fe *FatalError
		if !errors.As(carol.err, &fe) || !strings.Contains(carol.err.Error(), "#ops is private") {
			t.Fatalf("carol's Run = %v, want a fatal refusal naming the private room", carol.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a client not let into a private room kept running")
	}
	if got := f.RoomsOf("carol"); len(got) != 0 {
		t.Fatalf("carol joined %v", got)
	}

	_, rec, bob := startClient(t, "bob", nodes, inOps("bob"))
	waitUntil(t, 10*time.Second, "bob reads ops", func() bool { return rec.hasText("before") })
	if err := f.RemoveFromRoom(ctx, "alice", "ops", "bob", "", false); err != nil {
		t.Fatal(err)
	}
	post("after")
	select {
	case <-bob.done:
		var fe *FatalError
		if !errors.As(bob.err, &fe) {
			t.Fatalf("bob's Run = %v, want a fatal refusal", bob.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a removed client kept reading the private room")
	}
	if rec.hasText("after") {
		t.Fatal("the removed client printed a message posted after its removal")
	}
}
