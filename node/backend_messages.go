package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/state"
)

// The Backend's api.Messages: edits, deletions, reactions, threads. Every
// change is a request through the log (mutate), exactly once and decided
// at apply time (node/state, edits.go); the checks here read the message
// first to answer the usual mistakes at once and clearly, and to fill in
// what the entry must name (the message's conversation and request id).

var _ api.Messages = (*Node)(nil)

// Message returns the message at index as History shows it, if user may
// read it.
func (n *Node) Message(user string, index uint64) (api.Message, error) {
	m, ok, err := n.state.MessageAt(index)
	if err != nil {
		n.log.Error("read a message from the WAL", "index", index, "err", err)
		return api.Message{}, err
	}
	if !ok || !n.state.CanRead(user, m.Room) {
		return api.Message{}, fmt.Errorf("%w: no message %d", api.ErrNotFound, index)
	}
	return m, nil
}

// Edit replaces the text of user's own message at index.
func (n *Node) Edit(ctx context.Context, user string, index uint64, text string) (uint64, error) {
	m, err := n.Message(user, index)
	if err != nil {
		return 0, err
	}
	switch {
	case m.Deleted():
		return 0, fmt.Errorf("message %d: %w", index, api.ErrDeleted)
	case m.From != user:
		return 0, fmt.Errorf("%w: message %d is %s's: you can edit only your own messages", api.ErrForbidden, index, m.From)
	case m.Text == text:
		return 0, fmt.Errorf("message %d already says that: nothing to change", index)
	}
	return n.mutate(ctx, &eventlog.MessageEdited{Conv: m.Room, Target: index, TargetID: m.ID, By: user, Text: text}, user, "", 0)
}

// Delete hides the message at index: user's own, or any when admin.
func (n *Node) Delete(ctx context.Context, user string, index uint64, admin bool, reason string) (uint64, error) {
	m, ok, err := n.state.MessageAt(index)
	switch {
	case err != nil:
		return 0, err
	case !ok || (!admin && !n.state.CanRead(user, m.Room)):
		return 0, fmt.Errorf("%w: no message %d", api.ErrNotFound, index)
	case m.Deleted():
		return 0, fmt.Errorf("message %d: %w already", index, api.ErrDeleted)
	case !admin && m.From != user:
		return 0, fmt.Errorf("%w: message %d is %s's: you can delete only your own messages (an admin can delete any)",
			api.ErrForbidden, index, m.From)
	}
	b := &eventlog.MessageDeleted{Conv: m.Room, Target: index, TargetID: m.ID, By: user, Reason: reason}
	if admin {
		b.Admin = 1
	}
	return n.mutate(ctx, b, user, "", 0)
}

// React sets, takes back or toggles user's reaction to the message at
// index.
func (n *Node) React(ctx context.Context, user string, index uint64, emoji string, op api.ReactOp) (bool, error) {
	if why := state.ValidEmoji(emoji); why != "" {
		return false, errors.New(why)
	}
	m, err := n.Message(user, index)
	if err != nil {
		return false, err
	}
	if m.Deleted() {
		return false, fmt.Errorf("message %d: %w", index, api.ErrDeleted)
	}
	on := op == api.ReactAdd || (op == api.ReactToggle && !n.state.Edits.Reacted(index, user, emoji))
	b := &eventlog.ReactionSet{Conv: m.Room, Target: index, By: user, Emoji: emoji}
	if !on {
		b.Remove = 1
	}
	_, err = n.mutate(ctx, b, user, "", 0)
	return on, err
}

// Thread returns the message root and its replies.
func (n *Node) Thread(user string, root uint64, limit int) ([]api.Message, error) {
	m, err := n.Message(user, root)
	if err != nil {
		return nil, err
	}
	return n.state.Thread(m.Room, root, limit)
}

// Versions returns the texts of the message at index.
func (n *Node) Versions(user string, index uint64) ([]api.Version, error) {
	m, err := n.Message(user, index)
	if err != nil {
		return nil, err
	}
	return n.state.Versions(m)
}

// replyParent checks the message a post or direct message of user to conv
// answers, and returns the index the entry names: the thread's first
// message when parent is itself a reply, so threads stay one level deep.
func (n *Node) replyParent(user, conv string, parent uint64) (uint64, error) {
	m, err := n.Message(user, parent)
	if err != nil {
		return 0, err
	}
	if m.Room != conv {
		return 0, fmt.Errorf("%w: message %d is not in %s", api.ErrNotFound, parent, convText(conv))
	}
	if m.ReplyTo != 0 {
		return m.ReplyTo, nil
	}
	return parent, nil
}

func convText(conv string) string {
	if api.IsDMRoom(conv) {
		return "this direct conversation"
	}
	return "#" + conv
}

// requiredKind is the kind an entry needs every member to apply before a
// leader proposes it (supportedByAll): its own, or for a reply, the kinds
// the ReplyTo field came with (a build without them would apply a reply as
// a plain post and keep no thread).
func requiredKind(ev eventlog.Event) eventlog.Kind {
	switch b := ev.Body.(type) {
	case *eventlog.MessagePosted:
		if b.ReplyTo != 0 {
			return eventlog.KindReactionSet
		}
	case *eventlog.DirectMessage:
		if b.ReplyTo != 0 {
			return eventlog.KindReactionSet
		}
	}
	return ev.Kind()
}
