package sshui

import (
	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
)

// deliverAccess fans out the events of private rooms, notification
// settings and keys, and reports whether ev was one of them (Deliver's
// hook). A user taken out of a private room stops receiving it at once:
// the room leaves their sessions' sets here, on the hub's goroutine, before
// any later event is offered, not when their app gets round to it. So
// does a room that turned private under a session it does not let in.
// Settings and keys concern their user's sessions only.
func (h *Hub) deliverAccess(ev api.Event) bool {
	switch ev.Kind {
	case api.EventAccess:
	case api.EventSettings, api.EventKeys:
		msg := tea.Msg(EventMsg{Event: ev})
		h.mu.RLock()
		defer h.mu.RUnlock()
		for _, c := range h.byUser[ev.User] {
			c.offer(msg)
		}
		return true
	default:
		return false
	}
	msg := tea.Msg(EventMsg{Event: ev})
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		target := c.user == ev.Mod.Target
		in := (*c.rooms.Load())[ev.Room]
		switch {
		case target && ev.Mod.Action == "remove":
			c.dropRoom(ev.Room)
			c.offer(msg)
		case in:
			if ev.Mod.Action == "private" && !h.b.CanRead(c.user, ev.Room) {
				c.dropRoom(ev.Room)
			}
			c.offer(msg)
		case target: // an invitation
			c.offer(msg)
		}
	}
	return true
}

// dropRoom stops the session's events of room.
func (c *Client) dropRoom(room string) {
	old := *c.rooms.Load()
	if !old[room] {
		return
	}
	m := make(map[string]bool, len(old))
	for r := range old {
		if r != room {
			m[r] = true
		}
	}
	c.rooms.Store(&m)
}
