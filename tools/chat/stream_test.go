package chat

import (
	"fmt"
	"testing"
	"time"
)

// Many lines in flight through a `post --stream` session when the node
// dies (some held uncommitted by the backend, some committed with their
// acks lost): every line ends up in the room exactly once, every ack names
// the index the line has, and nothing is dropped.
func TestStreamFailoverMidStreamPostsEachLineOnce(t *testing.T) {
	f, nodes := startCluster(t, 3)
	f.SetAllowance("bridge", 1e6, 1e6)
	gate := make(chan struct{})
	f.SetSubmitGate(gate) // node1's posts wait, as without a quorum
	c, rec, _ := startClient(t, "bridge", nodes, func(cfg *Config) { cfg.Stream, cfg.History = true, -1 })
	const lines = 3000
	for i := range lines {
		c.Send(fmt.Sprintf("line %d", i))
	}
	waitUntil(t, 10*time.Second, "posts in flight on node1", func() bool { return f.Submitted() >= streamWindow })
	// Let the held posts commit while node1 dies: some acks arrive, some
	// are lost with the connection after their commit.
	f.SetSubmitGate(nil)
	close(gate)
	nodes[0].setUp(false)
	waitUntil(t, 30*time.Second, "every line acknowledged", func() bool { return c.Queued() == 0 })

	room := historyAfter(t, f, 2*lines)
	seen := map[string]uint64{}
	for _, m := range room {
		if _, dup := seen[m.Text]; dup {
			t.Fatalf("%q posted twice", m.Text)
		}
		seen[m.Text] = m.Index
	}
	if len(seen) != lines {
		t.Fatalf("%d lines in the room, want %d", len(seen), lines)
	}
	if !rec.sawState(StateConnected, "node2") && !rec.sawState(StateConnected, "node3") {
		t.Fatal("never moved off node1")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.drops) != 0 || len(rec.acks) != lines {
		t.Fatalf("%d acks, drops %v", len(rec.acks), rec.drops)
	}
	byID := map[string]uint64{}
	for _, m := range room {
		byID[m.ID] = m.Index
	}
	for id, idx := range rec.acks {
		if byID[id] != idx {
			t.Fatalf("ack %s says %d, the room has it at %d", id, idx, byID[id])
		}
	}
}
