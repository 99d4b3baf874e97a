package chat

import (
	"slices"
	"testing"
	"time"
)

// People using syncnet chat were invisible: who listed them as offline or
// not at all, and they were no room's members. The client's tail makes
// them a member of its room and online while connected, through any node.
func TestClientUserIsPresentAndMember(t *testing.T) {
	f, nodes := startCluster(t, 2)
	_, rec, _ := startClient(t, "carol", nodes, func(c *Config) { c.Room = "ops" })
	waitUntil(t, 10*time.Second, "connected", func() bool { return rec.sawState(StateConnected, "") })
	waitUntil(t, 5*time.Second, "carol online and in #ops", func() bool {
		return f.Presence("carol") == "online" && slices.Contains(f.RoomsOf("carol"), "ops")
	})
	members := f.Members("ops")
	if len(members) != 1 || members[0].User != "carol" || members[0].Status != "online" {
		t.Fatalf("members of #ops: %+v", members)
	}
}
