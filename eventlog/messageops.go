package eventlog

import "fmt"

// Edits, deletions and reactions (issue 16). Each names the message it
// changes by its cluster index (Target) and its conversation (Conv: a room,
// or the direct conversation's key, "@a,b"); the message's own entry is
// never rewritten, so the log keeps every version (the audit trail). Apply
// decides whether one may change anything (node/state, edits.go). All are
// above the baseline kind: a leader proposes them only once every member
// announces it can apply them (the upgrade rule, docs/ARCHITECTURE.md
// "Rolling upgrades"). A build that knows these kinds also knows the
// ReplyTo field of posts and direct messages.
const (
	// KindMessageEdited replaces the text of a message, by its author.
	KindMessageEdited Kind = 27
	// KindMessageDeleted hides a message, by its author or an admin.
	KindMessageDeleted Kind = 28
	// KindReactionSet adds (or, with Remove, takes back) one user's
	// reaction to a message.
	KindReactionSet Kind = 29
)

// MessageEdited replaces the text of the message Target in Conv with Text.
// TargetID is that message's request id (its client message id): with By
// it names the request that posted it, which is how apply knows By wrote
// it (node/state, edits.go).
type MessageEdited struct {
	Conv     string `json:"conv"`
	Target   uint64 `json:"target"`
	TargetID string `json:"target_id"`
	By       string `json:"by"`
	Text     string `json:"text"`
}

func (*MessageEdited) Kind() Kind { return KindMessageEdited }
func (m *MessageEdited) Describe() string {
	return fmt.Sprintf("conv=%q target=%d target_id=%q by=%q text=%q", m.Conv, m.Target, m.TargetID, m.By, m.Text)
}
func (m *MessageEdited) Wire(w Wire) {
	w.String(1, &m.Conv)
	w.Uint(2, &m.Target)
	w.String(3, &m.TargetID)
	w.String(4, &m.By)
	w.String(5, &m.Text)
}

// MessageDeleted hides the message Target in Conv: its author's request
// (TargetID as in MessageEdited), or an admin's (Admin 1: the session that
// asked had an admin key, checked by the node that proposed it, as for
// moderation; admin keys are each node's configuration, not the log's).
type MessageDeleted struct {
	Conv     string `json:"conv"`
	Target   uint64 `json:"target"`
	TargetID string `json:"target_id"`
	By       string `json:"by"`
	Admin    uint64 `json:"admin,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func (*MessageDeleted) Kind() Kind { return KindMessageDeleted }
func (m *MessageDeleted) Describe() string {
	s := fmt.Sprintf("conv=%q target=%d target_id=%q by=%q", m.Conv, m.Target, m.TargetID, m.By)
	if m.Admin != 0 {
		s += " admin"
	}
	if m.Reason != "" {
		s += fmt.Sprintf(" reason=%q", m.Reason)
	}
	return s
}
func (m *MessageDeleted) Wire(w Wire) {
	w.String(1, &m.Conv)
	w.Uint(2, &m.Target)
	w.String(3, &m.TargetID)
	w.String(4, &m.By)
	w.Uint(5, &m.Admin)
	w.String(6, &m.Reason)
}

// ReactionSet is By's reaction Emoji to the message Target in Conv; with
// Remove 1 it takes that reaction back. A user reacts to a message with an
// emoji at most once: setting it again, or removing one not set, changes
// nothing.
type ReactionSet struct {
	Conv   string `json:"conv"`
	Target uint64 `json:"target"`
	By     string `json:"by"`
	Emoji  string `json:"emoji"`
	Remove uint64 `json:"remove,omitempty"`
}

func (*ReactionSet) Kind() Kind { return KindReactionSet }
func (m *ReactionSet) Describe() string {
	s := fmt.Sprintf("conv=%q target=%d by=%q emoji=%q", m.Conv, m.Target, m.By, m.Emoji)
	if m.Remove != 0 {
		s += " remove"
	}
	return s
}
func (m *ReactionSet) Wire(w Wire) {
	w.String(1, &m.Conv)
	w.Uint(2, &m.Target)
	w.String(3, &m.By)
	w.String(4, &m.Emoji)
	w.Uint(5, &m.Remove)
}

func init() {
	RegisterKind(KindMessageEdited, "message_edited", func() Body { return &MessageEdited{} })
	RegisterKind(KindMessageDeleted, "message_deleted", func() Body { return &MessageDeleted{} })
	RegisterKind(KindReactionSet, "reaction_set", func() Body { return &ReactionSet{} })
}
