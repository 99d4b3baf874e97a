package api

import (
	"context"
	"errors"
	"time"
)

// ErrDeleted: the message was deleted; nothing more may change it, and its
// text is not shown (Versions).
var ErrDeleted = errors.New("message deleted")

// Messages is the part of a Backend for edits, deletions, replies and
// reactions (issue 16). Each change is a replicated entry that names the
// message it changes by its index; the message's own entry is never
// rewritten. Whether a change may apply is decided when it is applied, on
// every node alike (only the author edits, within the node's once window
// of posting; the author or an admin deletes; a banned or muted user may
// not edit or react), and a refused change is a *Refusal whose Error is
// the sentence to show. The Backend checks the same first, on its own
// state, to answer at once.
//
// Reads take the user who reads and answer ErrNotFound for a message that
// user may not read (CanRead), as for one that does not exist.
type Messages interface {
	// Message returns the message at index as History shows it (edited
	// text, deletion, reactions, reply count).
	Message(user string, index uint64) (Message, error)
	// Edit replaces the text of user's own message at index and returns
	// the index of the edit's entry.
	Edit(ctx context.Context, user string, index uint64, text string) (uint64, error)
	// Delete hides the message at index: user's own, or any message when
	// admin (the caller checked that the session has an admin key).
	Delete(ctx context.Context, user string, index uint64, admin bool, reason string) (uint64, error)
	// React sets, takes back or toggles user's reaction emoji to the
	// message at index; on says whether it is set afterwards.
	React(ctx context.Context, user string, index uint64, emoji string, op ReactOp) (on bool, err error)
	// Thread returns the message root and then its replies, ascending: at
	// most limit replies, the newest. A reply to a reply belongs to the
	// thread of the first (Submit sends it there).
	Thread(user string, root uint64, limit int) ([]Message, error)
	// Versions returns every text the message at index had, oldest first:
	// the original, then each edit. A deleted message has none shown
	// (ErrDeleted): only the WAL keeps its text.
	Versions(user string, index uint64) ([]Version, error)
}

// ReactOp is what React does.
type ReactOp int

const (
	ReactToggle ReactOp = iota // set it if not set, else take it back
	ReactAdd
	ReactRemove
)

// EventMessageChanged: a message was edited, deleted or reacted to;
// Change says how (numbered apart from types.go's list, which grows on its
// own). Index is the index of the change's entry, Room the message's
// conversation (a room, or DMRoom for a direct message).
const EventMessageChanged EventKind = 27

// MessageChange is what an EventMessageChanged carries.
type MessageChange struct {
	Target uint64 // the message changed
	Conv   string // its conversation: a room, or DMRoom(a, b)
	Op     string // ChangeEdit, ChangeDelete or ChangeReact
	By     string // who changed it
	Text   string // ChangeEdit: the new text (untrusted)
	Admin  bool   // ChangeDelete: by an admin
	// Reactions is every reaction the message has now (ChangeReact).
	Reactions []Reaction
}

// The operations of a MessageChange.
const (
	ChangeEdit   = "edit"
	ChangeDelete = "delete"
	ChangeReact  = "react"
)

// MessageExtra is what happened to a message after it was posted. History
// and the other reads set Message.Extra only for a message that was
// edited, deleted, reacted to or answered.
type MessageExtra struct {
	Edits    int       `json:"edits,omitempty"`      // how many times it was edited
	EditedAt time.Time `json:"edited_at,omitzero"`   // of the last edit
	Deleted  bool      `json:"deleted,omitempty"`    // hidden: Text is ""
	By       string    `json:"deleted_by,omitempty"` // who deleted it
	// Reactions, in the order each emoji was first used.
	Reactions []Reaction `json:"reactions,omitempty"`
	Replies   int        `json:"replies,omitempty"`    // in its thread
	LastReply uint64     `json:"last_reply,omitempty"` // index of the newest
	// Versions is every text it had, oldest first, when a reader asked
	// for them (an audit's export); nil otherwise.
	Versions []Version `json:"versions,omitempty"`
}

// Edited reports whether m's text is not the one it was posted with.
func (m Message) Edited() bool { return m.Extra != nil && m.Extra.Edits > 0 }

// Deleted reports whether m was deleted (its Text is then empty).
func (m Message) Deleted() bool { return m.Extra != nil && m.Extra.Deleted }

// Reaction is the users who reacted to a message with one emoji.
type Reaction struct {
	Emoji string   `json:"emoji"`
	Count int      `json:"count"`
	Users []string `json:"users"` // in the order they reacted
}

// Version is one text a message had: the original (Index is the
// message's) or an edit (Index is the edit's entry).
type Version struct {
	Index uint64    `json:"index"`
	Time  time.Time `json:"time"`
	Text  string    `json:"text"`
}
