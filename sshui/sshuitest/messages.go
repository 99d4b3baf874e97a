package sshuitest

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/syncnet/syncnet/node/api"
)

// The fake's api.Messages: edits, deletions, reactions and threads, with
// node/state's rules (edits.go) decided at once under the fake's lock. The
// messages stay as posted; what happened to them since is kept beside them
// and laid over every read, as the node does.

type fakeEdits struct {
	chg     map[uint64]*fakeChange
	threads map[uint64][]uint64
}

type fakeChange struct {
	versions  []api.Version // edits, oldest first
	deleted   bool
	by        string
	reactions []api.Reaction
}

// editsLocked is the fake's overlay state, made on first use. Holds f.mu.
func (f *Fake) editsLocked() *fakeEdits {
	if f.ed == nil {
		f.ed = &fakeEdits{chg: map[uint64]*fakeChange{}, threads: map[uint64][]uint64{}}
	}
	return f.ed
}

// findLocked returns the message at index as posted. Holds f.mu.
func (f *Fake) findLocked(index uint64) (api.Message, bool) {
	for _, msgs := range f.msgs {
		i, ok := slices.BinarySearchFunc(msgs, index, func(m api.Message, x uint64) int {
			switch {
			case m.Index < x:
				return -1
			case m.Index > x:
				return 1
			}
			return 0
		})
		if ok {
			return msgs[i], true
		}
	}
	return api.Message{}, false
}

// overlayLocked lays edits, deletions, reactions and replies over msgs,
// in place. Holds f.mu.
func (f *Fake) overlayLocked(msgs []api.Message) {
	if f.ed == nil {
		return
	}
	for i := range msgs {
		m := &msgs[i]
		m.Extra = nil
		if c := f.ed.chg[m.Index]; c != nil {
			x := &api.MessageExtra{Edits: len(c.versions), Deleted: c.deleted}
			if n := len(c.versions); n > 0 && !c.deleted {
				m.Text, x.EditedAt = c.versions[n-1].Text, c.versions[n-1].Time
			}
			if c.deleted {
				m.Text, x.By = "", c.by
			} else {
				for _, r := range c.reactions {
					x.Reactions = append(x.Reactions, api.Reaction{Emoji: r.Emoji, Count: len(r.Users), Users: slices.Clone(r.Users)})
				}
			}
			m.Extra = x
		}
		if r := f.ed.threads[m.Index]; len(r) > 0 {
			if m.Extra == nil {
				m.Extra = &api.MessageExtra{}
			}
			m.Extra.Replies, m.Extra.LastReply = len(r), r[len(r)-1]
		}
	}
}

// messageLocked is Message. Holds f.mu.
func (f *Fake) messageLocked(user string, index uint64) (api.Message, error) {
	m, ok := f.findLocked(index)
	if !ok || !f.canReadLocked(user, m.Room) {
		return api.Message{}, fmt.Errorf("fake: %w: no message %d", api.ErrNotFound, index)
	}
	ms := []api.Message{m}
	f.overlayLocked(ms)
	return ms[0], nil
}

func (f *Fake) Message(user string, index uint64) (api.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.messageLocked(user, index)
}

// changeLocked records a change of m and tells the subscribers. Holds f.mu.
func (f *Fake) changeLocked(m api.Message, ch api.MessageChange) uint64 {
	ch.Target, ch.Conv = m.Index, m.Room
	f.publishLocked(api.Event{Kind: api.EventMessageChanged, Index: f.index, Room: m.Room, User: ch.By, Change: &ch})
	return f.index
}

func (f *Fake) change(index uint64) *fakeChange {
	ed := f.editsLocked()
	c := ed.chg[index]
	if c == nil {
		c = &fakeChange{}
		ed.chg[index] = c
	}
	return c
}

func (f *Fake) Edit(ctx context.Context, user string, index uint64, text string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.messageLocked(user, index)
	switch {
	case err != nil:
		return 0, err
	case m.Deleted():
		return 0, fmt.Errorf("fake: message %d: %w", index, api.ErrDeleted)
	case m.From != user:
		return 0, fmt.Errorf("fake: %w: you can edit only your own messages", api.ErrForbidden)
	case !m.IsDM() && f.muted(user, m.Room):
		return 0, api.ErrMuted
	}
	if err := f.write(ctx); err != nil {
		return 0, err
	}
	c := f.change(index)
	c.versions = append(c.versions, api.Version{Index: f.index, Time: f.now(), Text: text})
	return f.changeLocked(m, api.MessageChange{Op: api.ChangeEdit, By: user, Text: text}), nil
}

func (f *Fake) Delete(ctx context.Context, user string, index uint64, admin bool, reason string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.findLocked(index)
	if !ok || (!admin && !f.canReadLocked(user, m.Room)) {
		return 0, fmt.Errorf("fake: %w: no message %d", api.ErrNotFound, index)
	}
	c := f.editsLocked().chg[index]
	switch {
	case c != nil && c.deleted:
		return 0, fmt.Errorf("fake: message %d: %w", index, api.ErrDeleted)
	case !admin && m.From != user:
		return 0, fmt.Errorf("fake: %w: you can delete only your own messages", api.ErrForbidden)
	}
	if err := f.write(ctx); err != nil {
		return 0, err
	}
	c = f.change(index)
	c.deleted, c.by, c.versions, c.reactions = true, user, nil, nil
	return f.changeLocked(m, api.MessageChange{Op: api.ChangeDelete, By: user, Admin: admin}), nil
}

func (f *Fake) React(ctx context.Context, user string, index uint64, emoji string, op api.ReactOp) (bool, error) {
	if emoji == "" {
		return false, errors.New("a reaction needs an emoji")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.messageLocked(user, index)
	switch {
	case err != nil:
		return false, err
	case m.Deleted():
		return false, fmt.Errorf("fake: message %d: %w", index, api.ErrDeleted)
	case !m.IsDM() && f.muted(user, m.Room):
		return false, api.ErrMuted
	}
	c := f.change(index)
	i := slices.IndexFunc(c.reactions, func(r api.Reaction) bool { return r.Emoji == emoji })
	has := i >= 0 && slices.Contains(c.reactions[i].Users, user)
	on := op == api.ReactAdd || (op == api.ReactToggle && !has)
	if on == has {
		return on, nil // nothing changes
	}
	if err := f.write(ctx); err != nil {
		return has, err
	}
	switch {
	case on && i < 0:
		c.reactions = append(c.reactions, api.Reaction{Emoji: emoji, Users: []string{user}})
	case on:
		c.reactions[i].Users = append(c.reactions[i].Users, user)
	default:
		c.reactions[i].Users = slices.DeleteFunc(c.reactions[i].Users, func(u string) bool { return u == user })
		if len(c.reactions[i].Users) == 0 {
			c.reactions = slices.Delete(c.reactions, i, i+1)
		}
	}
	ms := []api.Message{m}
	f.overlayLocked(ms)
	var rs []api.Reaction
	if ms[0].Extra != nil {
		rs = ms[0].Extra.Reactions
	}
	f.changeLocked(m, api.MessageChange{Op: api.ChangeReact, By: user, Reactions: rs})
	return on, nil
}

func (f *Fake) Thread(user string, root uint64, limit int) ([]api.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.messageLocked(user, root)
	if err != nil {
		return nil, err
	}
	out := []api.Message{m}
	replies := f.editsLocked().threads[root]
	if limit >= 0 && len(replies) > limit {
		replies = replies[len(replies)-limit:]
	}
	for _, x := range replies {
		r, _ := f.findLocked(x)
		out = append(out, r)
	}
	f.overlayLocked(out[1:])
	return out, nil
}

func (f *Fake) Versions(user string, index uint64) ([]api.Version, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.findLocked(index)
	if !ok || !f.canReadLocked(user, m.Room) {
		return nil, fmt.Errorf("fake: %w: no message %d", api.ErrNotFound, index)
	}
	c := f.editsLocked().chg[index]
	if c != nil && c.deleted {
		return nil, fmt.Errorf("fake: message %d: %w", index, api.ErrDeleted)
	}
	out := []api.Version{{Index: m.Index, Time: m.Time, Text: m.Text}}
	if c != nil {
		out = append(out, c.versions...)
	}
	return out, nil
}

// replyParentLocked checks a reply's parent as the node does, and returns
// the index the reply names (the thread's first message). Holds f.mu.
func (f *Fake) replyParentLocked(user, conv string, parent uint64) (uint64, error) {
	m, err := f.messageLocked(user, parent)
	if err != nil {
		return 0, err
	}
	if m.Room != conv {
		return 0, fmt.Errorf("fake: %w: message %d is not in this conversation", api.ErrNotFound, parent)
	}
	if m.ReplyTo != 0 {
		return m.ReplyTo, nil
	}
	return parent, nil
}

// noteReplyLocked records a reply in its thread. Holds f.mu.
func (f *Fake) noteReplyLocked(m api.Message) {
	if m.ReplyTo != 0 {
		ed := f.editsLocked()
		ed.threads[m.ReplyTo] = append(ed.threads[m.ReplyTo], m.Index)
	}
}
