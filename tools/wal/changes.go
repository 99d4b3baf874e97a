package walcmd

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// Edits, deletions, reactions and replies in replay and export. The WAL
// keeps every message as posted and every change after it; node/state
// lays the changes over the messages it reads (State.HistoryAfter), so a
// transcript shows each message as it stood at the state's point: the
// text of its last edit, a deletion, its reactions, the message a reply
// answers. export --versions adds every text an edited message had;
// export --include-deleted keeps the text of deleted messages (read back
// from the log: an audit), which is left out by default.

// changeCols are the fields export's jsonl rows gain for a message that
// was changed or answers another (all omitted for a plain message, so a
// transcript of plain messages is as it always was).
type changeCols struct {
	ReplyTo   uint64         `json:"reply_to,omitempty"`
	Edited    bool           `json:"edited,omitempty"`
	Edits     int            `json:"edits,omitempty"`
	Deleted   bool           `json:"deleted,omitempty"`
	DeletedBy string         `json:"deleted_by,omitempty"`
	Reactions []api.Reaction `json:"reactions,omitempty"`
	Replies   int            `json:"replies,omitempty"`
	Versions  []versionRow   `json:"versions,omitempty"`
}

type versionRow struct {
	Index uint64 `json:"index"`
	Time  string `json:"time"`
	Text  string `json:"text"`
}

func changeColsOf(m api.Message) changeCols {
	c := changeCols{ReplyTo: m.ReplyTo}
	x := m.Extra
	if x == nil {
		return c
	}
	c.Edited, c.Edits, c.Deleted, c.DeletedBy, c.Reactions, c.Replies = x.Edits > 0, x.Edits, x.Deleted, x.By, x.Reactions, x.Replies
	for _, v := range x.Versions {
		c.Versions = append(c.Versions, versionRow{Index: v.Index, Time: v.Time.UTC().Format(time.RFC3339Nano), Text: v.Text})
	}
	return c
}

// csvChangeHeader and csvChangeCols: the columns csv adds (versions: a
// JSON array, only with --versions).
var csvChangeHeader = []string{"reply_to", "edited", "deleted"}

func csvChangeCols(m api.Message, versions bool) []string {
	c := changeColsOf(m)
	reply := ""
	if c.ReplyTo != 0 {
		reply = strconv.FormatUint(c.ReplyTo, 10)
	}
	cols := []string{reply, strconv.FormatBool(c.Edited), strconv.FormatBool(c.Deleted)}
	if versions {
		v := ""
		if len(c.Versions) > 0 {
			b, _ := json.Marshal(c.Versions)
			v = cleanCSV(string(b))
		}
		cols = append(cols, v)
	}
	return cols
}

// changeText is a message's text for people, with what happened to it.
func changeText(m api.Message) string {
	text := clean(m.Text)
	x := m.Extra
	if m.ReplyTo != 0 {
		text = fmt.Sprintf("[re %d] %s", m.ReplyTo, text)
	}
	if x == nil {
		return text
	}
	switch {
	case x.Deleted && m.Text == "":
		text += fmt.Sprintf("(deleted by %s)", clean(x.By))
	case x.Deleted:
		text += fmt.Sprintf(" (deleted by %s)", clean(x.By))
	case x.Edits > 0:
		text += " (edited)"
	}
	if len(x.Reactions) > 0 {
		parts := make([]string, len(x.Reactions))
		for i, r := range x.Reactions {
			parts[i] = fmt.Sprintf("%s %d", clean(r.Emoji), r.Count)
		}
		text += " [" + strings.Join(parts, " ") + "]"
	}
	for i, v := range x.Versions {
		text += fmt.Sprintf("\n    v%d #%d %s %s", i+1, v.Index, v.Time.UTC().Format(time.RFC3339Nano), clean(v.Text))
	}
	return text
}

// withChanges wraps an export's messages: with versions, an edited
// message carries every text it had (Extra.Versions); with
// includeDeleted, a deleted message keeps the text it had when deleted
// (and its versions), read back from the log.
func (r *rebuilt) withChanges(msgs messages, versions, includeDeleted bool) messages {
	if !versions && !includeDeleted {
		return msgs
	}
	return func(fn func(api.Message) error) error {
		return msgs(func(m api.Message) error {
			x := m.Extra
			switch {
			case x == nil, x.Deleted && !includeDeleted, x.Edits == 0 && !x.Deleted:
				return fn(m)
			}
			vs, err := r.st.AllVersions(m)
			if err != nil {
				return fmt.Errorf("message %d: %w", m.Index, err)
			}
			if x.Deleted {
				m.Text = vs[len(vs)-1].Text
			}
			if versions && len(vs) > 1 {
				m.Extra = &api.MessageExtra{Edits: x.Edits, EditedAt: x.EditedAt, Deleted: x.Deleted, By: x.By,
					Reactions: x.Reactions, Replies: x.Replies, LastReply: x.LastReply, Versions: vs}
			}
			return fn(m)
		})
	}
}

// exportOpts is how an export writes: allRooms, the messages come from
// every room (txt then names each one's room: jsonl and csv always do);
// versions, the csv has a versions column.
type exportOpts struct{ allRooms, versions bool }
