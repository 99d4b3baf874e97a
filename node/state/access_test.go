package state

import (
	"testing"

	"github.com/syncnet/syncnet/node/api"
)

func TestCanReadDirectConversations(t *testing.T) {
	s := NewWith(Options{})
	dm := api.DMRoom("alice", "bob")
	for _, c := range []struct {
		user, conv string
		want       bool
	}{
		{"alice", dm, true}, {"bob", dm, true}, {"carol", dm, false},
		{"carol", "general", true}, {"alice", "@alice", false},
	} {
		if got := s.CanRead(c.user, c.conv); got != c.want {
			t.Errorf("CanRead(%q, %q) = %v, want %v", c.user, c.conv, got, c.want)
		}
	}
}
