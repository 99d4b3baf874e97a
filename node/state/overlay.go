package state

import (
	"fmt"
	"slices"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// The reads of messages as people see them: the messages as posted, read
// from the log (Chat), with what happened to them since laid over them —
// edits, deletion, reactions (Edits) and replies (the chat's threads).
// Overlays are kept only for messages that were changed, so a page of
// plain messages costs two map lookups a message more than Chat.History.

// History is Chat.History with the overlays laid over the messages.
func (s *State) History(room string, before uint64, limit int) ([]api.Message, error) {
	msgs, err := s.Chat.History(room, before, limit)
	if err != nil {
		return nil, err
	}
	s.Overlay(msgs)
	return msgs, nil
}

// HistoryAfter is Chat.HistoryAfter with the overlays laid over the
// messages.
func (s *State) HistoryAfter(room string, after uint64, limit int) ([]api.Message, error) {
	msgs, err := s.Chat.HistoryAfter(room, after, limit)
	if err != nil {
		return nil, err
	}
	s.Overlay(msgs)
	return msgs, nil
}

// Overlay lays what happened to each message over it, in place: the text
// of the last edit, a deletion (the text emptied), reactions, replies.
// Messages nothing happened to are left as they are (Extra nil).
func (s *State) Overlay(msgs []api.Message) {
	if len(msgs) == 0 {
		return
	}
	e := s.Edits
	e.mu.RLock()
	if len(e.msgs) > 0 {
		for i := range msgs {
			if ov := e.msgs[msgs[i].Index]; ov != nil && ov.conv == msgs[i].Room {
				ov.lay(&msgs[i])
			}
		}
	}
	e.mu.RUnlock()
	c := s.Chat
	c.mu.RLock()
	if len(c.threads) > 0 {
		for i := range msgs {
			if r := c.threads[msgs[i].Index]; len(r) > 0 {
				x := extra(&msgs[i])
				x.Replies, x.LastReply = len(r), r[len(r)-1]
			}
		}
	}
	c.mu.RUnlock()
}

// extra returns m.Extra, making a fresh one (a message from the cache may
// share nothing with another).
func extra(m *api.Message) *api.MessageExtra {
	if m.Extra == nil {
		m.Extra = &api.MessageExtra{}
	}
	return m.Extra
}

// lay applies ov to m. Holds Edits.mu's read lock.
func (ov *overlay) lay(m *api.Message) {
	x := extra(m)
	x.Edits = ov.edits
	if n := len(ov.versions); n > 0 {
		m.Text = ov.versions[n-1].text
		x.EditedAt = time.Unix(0, ov.versions[n-1].time).UTC()
	}
	if ov.deleted {
		m.Text = ""
		x.Deleted, x.By = true, ov.del.by
	}
	x.Reactions = ov.reactions()
}

// MessageAt returns the message at index as History shows it; ok is false
// when no room or direct conversation holds one there (another kind of
// entry, a refused post, an index beyond the log).
func (s *State) MessageAt(index uint64) (m api.Message, ok bool, err error) {
	if index == 0 {
		return m, false, nil
	}
	room, ok, err := s.Chat.roomOf(index)
	if err != nil || !ok {
		return m, false, err
	}
	msgs, err := s.Chat.messagesAt(room, []uint64{index})
	if err != nil {
		return m, false, err
	}
	s.Overlay(msgs)
	return msgs[0], true, nil
}

// Thread returns the message root of room and then its replies,
// ascending: at most limit replies, the newest.
func (s *State) Thread(room string, root uint64, limit int) ([]api.Message, error) {
	replies := s.Chat.Replies(root)
	if limit >= 0 && len(replies) > limit {
		replies = replies[len(replies)-limit:]
	}
	msgs, err := s.Chat.messagesAt(room, append([]uint64{root}, replies...))
	if err != nil {
		return nil, err
	}
	s.Overlay(msgs)
	return msgs, nil
}

// Versions returns the texts the message m (as read, Extra laid over it)
// had: the original, then each edit. The original is read again from the
// log. A deleted message has none: api.ErrDeleted.
func (s *State) Versions(m api.Message) ([]api.Version, error) {
	if m.Deleted() {
		return nil, fmt.Errorf("message %d: %w", m.Index, api.ErrDeleted)
	}
	orig, err := s.Chat.messagesAt(m.Room, []uint64{m.Index})
	if err != nil {
		return nil, err
	}
	out := []api.Version{{Index: m.Index, Time: orig[0].Time, Text: orig[0].Text}}
	s.Edits.mu.RLock()
	defer s.Edits.mu.RUnlock()
	if ov := s.Edits.msgs[m.Index]; ov != nil && ov.conv == m.Room {
		out = slices.Grow(out, len(ov.versions))
		for _, v := range ov.versions {
			out = append(out, api.Version{Index: v.index, Time: time.Unix(0, v.time).UTC(), Text: v.text})
		}
	}
	return out, nil
}

// AllVersions is Versions for an audit: also of a deleted message, whose
// texts it reads back from the log (the overlay keeps only where its
// edits are). The message at index must be one (MessageAt).
func (s *State) AllVersions(m api.Message) ([]api.Version, error) {
	orig, err := s.Chat.messagesAt(m.Room, []uint64{m.Index})
	if err != nil {
		return nil, err
	}
	out := []api.Version{{Index: m.Index, Time: orig[0].Time, Text: orig[0].Text}}
	s.Edits.mu.RLock()
	var vs []version
	if ov := s.Edits.msgs[m.Index]; ov != nil && ov.conv == m.Room {
		vs = ov.versions
	}
	s.Edits.mu.RUnlock()
	var missing []uint64
	for _, v := range vs {
		out = append(out, api.Version{Index: v.index, Time: time.Unix(0, v.time).UTC(), Text: v.text})
		if v.text == "" {
			missing = append(missing, v.index)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	if s.Chat.src == nil {
		return nil, fmt.Errorf("message %d: the texts of its edits were deleted: %w", m.Index, ErrNoSource)
	}
	evs, err := s.Chat.src.Messages(missing)
	if err != nil {
		return nil, fmt.Errorf("message %d: reading its edits: %w", m.Index, err)
	}
	texts := make(map[uint64]string, len(evs))
	for i, ev := range evs {
		if b, ok := ev.Body.(*eventlog.MessageEdited); ok && b.Target == m.Index {
			texts[missing[i]] = b.Text
		}
	}
	for i := range out[1:] {
		if v := &out[i+1]; v.Text == "" {
			t, ok := texts[v.Index]
			if !ok {
				return nil, fmt.Errorf("message %d: entry %d is not its edit", m.Index, v.Index)
			}
			v.Text = t
		}
	}
	return out, nil
}
