package sshui

import (
	"context"
	"slices"
	"time"
)

// Read marks (api.Backend.Conversations, MarkRead) are replicated, so what
// a user has read follows them to any node: at login the app opens their
// direct conversations, shows each conversation's unread count, and marks
// where the new messages start; as they leave a conversation, and when the
// session ends, it records how far they have seen it.

// newSinceMark is the line above the first message the user has not seen.
const newSinceMark = "── new since you left ──"

// markTimeout bounds one MarkRead (it needs a quorum; a mark that cannot
// be written is not worth holding a session for).
const markTimeout = 5 * time.Second

// restoreConversations opens user's direct conversations and sets every
// conversation's unread count and read mark, before the first one is
// shown.
func (a *App) restoreConversations() {
	for _, cv := range a.d.b.Conversations(a.d.id.Name) {
		key := cv.Name
		if cv.With != "" {
			key = "@" + cv.With
			a.addConv(key)
		}
		if !slices.Contains(a.convs, key) {
			continue
		}
		a.readMark[key] = cv.Read
		if cv.Unread > 0 {
			a.unread[key] = cv.Unread
		}
	}
}

// readUpTo is how far the user has seen c: its newest loaded message.
func (a *App) readUpTo(c string) (uint64, bool) {
	buf := a.bufs[c]
	if buf == nil || buf.last <= a.readMark[c] {
		return 0, false
	}
	return buf.last, true
}

// markRead records, off the event loop, that the user has seen c as far
// as it is loaded.
func (a *App) markRead(c string) {
	index, ok := a.readUpTo(c)
	if !ok {
		return
	}
	a.readMark[c] = index
	b, user, conv := a.d.b, a.d.id.Name, a.historyKey(c)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), markTimeout)
		defer cancel()
		_ = b.MarkRead(ctx, user, conv, index) // best effort: the next visit marks again
	}()
}

// MarkCurrentRead records, before the session ends, that the user has seen
// the conversation on screen. Call it after the program has stopped.
func (a *App) MarkCurrentRead() {
	index, ok := a.readUpTo(a.cur)
	if !ok {
		return
	}
	a.readMark[a.cur] = index
	ctx, cancel := context.WithTimeout(context.Background(), markTimeout)
	defer cancel()
	_ = a.d.b.MarkRead(ctx, a.d.id.Name, a.historyKey(a.cur), index)
}
