package state

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// Edits is the plugin of edits, deletions and reactions (kinds 27 to 29).
// A message's own entry is never rewritten: the log keeps every version
// (the audit trail), and Edits keeps a small overlay for each message that
// was edited, deleted or reacted to — never anything per plain message —
// which the reads (History, MessageAt, Thread) lay over the messages they
// read from the log (overlay.go). Threads are the chat's (threads.go).
//
// Who may change a message is decided at apply time, in Authorize
// (authorizeChange), from the log alone, so every node decides alike:
//
//   - Only its author edits a message, and deletes it unless an admin does.
//     The entry names the message's request id (TargetID); the exactly-once
//     table, which remembers every request of the once window with the
//     index of its entry, says whether By made the request that posted the
//     message. So an author may edit or delete their message for the once
//     window ([storage] dedupe_window, 24 h by default) after posting it;
//     later only an admin may delete it. Keeping the author of every
//     message in memory to lift that limit would grow with history.
//   - An admin deletes any message (Admin 1: the proposing session held an
//     admin key, as for moderation).
//   - A banned user may not edit, delete or react; a user muted in the
//     room may not edit or react there (they may still delete their own).
//   - Everyone changes only messages they may read (CanRead), that exist
//     in the conversation named, and that are not deleted.
//   - A reaction is one per (user, message, emoji): set twice, or taken
//     back when not set, it changes nothing and says nothing. A message
//     has at most MaxReactionKinds different emoji.
type Edits struct {
	mu   sync.RWMutex
	msgs map[uint64]*overlay // by the message's index: only messages changed
	out  [1]api.Event        // Apply's result buffer: valid until the next Apply
}

// overlay is what happened to one message. Its slices are replaced, never
// modified in place once a reader may hold them (Capture shares them).
type overlay struct {
	conv     string    // the message's conversation
	versions []version // its edits, oldest first (once deleted: their texts dropped)
	edits    int       // how many edits (kept when deleted)
	deleted  bool
	del      deletion
	reacts   []reaction // in the order each emoji was first used
}

// version is one edit: its entry, time and text.
type version struct {
	index uint64
	time  int64
	text  string
}

// deletion is who deleted a message, when and why.
type deletion struct {
	index  uint64
	time   int64
	by     string
	admin  bool
	reason string
}

// reaction is the users who reacted with one emoji, in order.
type reaction struct {
	emoji string
	users []string
}

// MaxReactionKinds bounds the different emoji of one message.
const MaxReactionKinds = 20

// MaxEmojiBytes bounds a reaction's emoji: one grapheme cluster (a flag, a
// family with joiners, a skin tone) fits; a sentence does not.
const MaxEmojiBytes = 32

// NewEdits returns an empty overlay.
func NewEdits() *Edits { return &Edits{msgs: map[uint64]*overlay{}} }

func (e *Edits) Name() string { return "edits" }
func (e *Edits) Kinds() []eventlog.Kind {
	return []eventlog.Kind{eventlog.KindMessageEdited, eventlog.KindMessageDeleted, eventlog.KindReactionSet}
}

func (e *Edits) Apply(index uint64, ev eventlog.Event) []api.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.applyLocked(index, ev)
}

func (e *Edits) locker() sync.Locker { return &e.mu }

// applyLocked folds an admitted change: Authorize let it through, so its
// message exists in its conversation and is not deleted.
func (e *Edits) applyLocked(index uint64, ev eventlog.Event) []api.Event {
	ch := &api.MessageChange{}
	switch b := ev.Body.(type) {
	case *eventlog.MessageEdited:
		ov := e.at(b.Target, b.Conv)
		ov.versions = append(slices.Clip(ov.versions), version{index: index, time: ev.Time, text: strings.Clone(b.Text)})
		ov.edits++
		*ch = api.MessageChange{Target: b.Target, Conv: ov.conv, Op: api.ChangeEdit, By: b.By, Text: b.Text}
	case *eventlog.MessageDeleted:
		ov := e.at(b.Target, b.Conv)
		// The texts go from memory (an audit reads them in the log:
		// AllVersions); where the edits are stays.
		kept := make([]version, len(ov.versions))
		for i, v := range ov.versions {
			kept[i] = version{index: v.index, time: v.time}
		}
		ov.deleted, ov.versions, ov.reacts = true, kept, nil
		if len(kept) == 0 {
			ov.versions = nil
		}
		ov.del = deletion{index: index, time: ev.Time, by: strings.Clone(b.By), admin: b.Admin != 0, reason: strings.Clone(b.Reason)}
		*ch = api.MessageChange{Target: b.Target, Conv: ov.conv, Op: api.ChangeDelete, By: b.By, Admin: b.Admin != 0}
	case *eventlog.ReactionSet:
		ov := e.msgs[b.Target]
		if ov == nil && b.Remove != 0 {
			return nil
		}
		if ov == nil {
			ov = e.at(b.Target, b.Conv)
		}
		if !ov.react(b.By, b.Emoji, b.Remove != 0) {
			return nil // set already, or not set: nothing changes
		}
		if ov.empty() {
			delete(e.msgs, b.Target)
		}
		*ch = api.MessageChange{Target: b.Target, Conv: ov.conv, Op: api.ChangeReact, By: b.By, Reactions: ov.reactions()}
	default:
		return nil
	}
	out := &e.out[0]
	*out = api.Event{Kind: api.EventMessageChanged, Index: index, Room: ch.Conv, User: ch.By, Change: ch}
	return e.out[:]
}

// at returns the overlay of the message at index, making it.
func (e *Edits) at(index uint64, conv string) *overlay {
	ov := e.msgs[index]
	if ov == nil {
		ov = &overlay{conv: strings.Clone(conv)}
		e.msgs[index] = ov
	}
	return ov
}

func (ov *overlay) empty() bool { return ov.edits == 0 && !ov.deleted && len(ov.reacts) == 0 }

// react sets or takes back user's emoji; it reports whether that changed
// anything. The slices are copied, not changed: a Capture may share them.
func (ov *overlay) react(user, emoji string, remove bool) bool {
	i := slices.IndexFunc(ov.reacts, func(r reaction) bool { return r.emoji == emoji })
	if remove {
		if i < 0 {
			return false
		}
		j := slices.Index(ov.reacts[i].users, user)
		if j < 0 {
			return false
		}
		users := slices.Delete(slices.Clone(ov.reacts[i].users), j, j+1)
		reacts := slices.Clone(ov.reacts)
		if len(users) == 0 {
			reacts = slices.Delete(reacts, i, i+1)
		} else {
			reacts[i].users = users
		}
		ov.reacts = reacts
		return true
	}
	if i < 0 {
		ov.reacts = append(slices.Clip(ov.reacts), reaction{emoji: strings.Clone(emoji), users: []string{strings.Clone(user)}})
		return true
	}
	if slices.Contains(ov.reacts[i].users, user) {
		return false
	}
	reacts := slices.Clone(ov.reacts)
	reacts[i].users = append(slices.Clip(reacts[i].users), strings.Clone(user))
	ov.reacts = reacts
	return true
}

// reacted reports whether user reacted with emoji.
func (ov *overlay) reacted(user, emoji string) bool {
	for _, r := range ov.reacts {
		if r.emoji == emoji {
			return slices.Contains(r.users, user)
		}
	}
	return false
}

// reactions is the api form of the reactions (fresh slices).
func (ov *overlay) reactions() []api.Reaction {
	if len(ov.reacts) == 0 {
		return nil
	}
	out := make([]api.Reaction, len(ov.reacts))
	for i, r := range ov.reacts {
		out[i] = api.Reaction{Emoji: r.emoji, Count: len(r.users), Users: slices.Clone(r.users)}
	}
	return out
}

// Reacted reports whether user has reacted to the message at index with
// emoji (React's toggle asks it).
func (e *Edits) Reacted(index uint64, user, emoji string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ov := e.msgs[index]
	return ov != nil && ov.reacted(user, emoji)
}

// Changed counts the messages with an overlay (for tests and measurements).
func (e *Edits) Changed() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.msgs)
}

// ValidEmoji says why emoji cannot be a reaction, or "" if it can: one
// short token of printable runes, no spaces, no control or format runes
// other than the joiners and selectors emoji are made of.
func ValidEmoji(emoji string) string {
	switch {
	case emoji == "":
		return "a reaction needs an emoji"
	case len(emoji) > MaxEmojiBytes:
		return fmt.Sprintf("a reaction is one emoji or short word (at most %d bytes)", MaxEmojiBytes)
	case !utf8.ValidString(emoji):
		return "a reaction must be UTF-8"
	}
	for _, r := range emoji {
		switch {
		case r == 0x200D || (r >= 0xFE00 && r <= 0xFE0F) || (r >= 0xE0020 && r <= 0xE007F):
			// zero-width joiner, variation selectors, tag characters (flags)
		case unicode.IsSpace(r), unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return "a reaction is one emoji or short word, without spaces or control characters"
		}
	}
	return ""
}

// changeRefusal is a refusal of an edit, deletion, reaction or reply:
// its Error is the sentence (the access rules' form of a Refusal).
func changeRefusal(ev eventlog.Event, user, format string, a ...any) *api.Refusal {
	return &api.Refusal{Action: api.RefusedAccess, User: user, Reason: fmt.Sprintf(format, a...), At: time.Unix(0, ev.Time).UTC()}
}

// convName is how a refusal names a conversation.
func convName(conv string) string {
	if api.IsDMRoom(conv) {
		return "this direct conversation"
	}
	return "#" + conv
}

// authorizeChange decides an edit, a deletion, a reaction, or a reply's
// parent (the moderation of its author was decided before), from the
// state applied so far. locked: the caller holds every plugin's lock
// (ApplyRun); otherwise it takes the read locks it needs. The once table's
// lock is held by the caller (admit, Authorize).
func (s *State) authorizeChange(ev eventlog.Event, locked bool) *api.Refusal {
	switch b := ev.Body.(type) {
	case *eventlog.MessagePosted:
		return s.refusesParent(ev, b.From, b.Room, b.ReplyTo, locked)
	case *eventlog.DirectMessage:
		return s.refusesParent(ev, b.From, api.DMRoom(b.From, b.To), b.ReplyTo, locked)
	case *eventlog.MessageEdited:
		if r := s.refusesTarget(ev, b.By, b.Conv, b.Target, false, locked); r != nil {
			return r
		}
		if strings.TrimSpace(b.Text) == "" {
			return changeRefusal(ev, b.By, "an edit needs text: to remove a message, delete it")
		}
		if !s.wrote(b.By, b.TargetID, b.Target) {
			return changeRefusal(ev, b.By, "you can edit only your own messages, within %s of posting them (message %d)",
				windowText(s.opts.OnceWindow), b.Target)
		}
	case *eventlog.MessageDeleted:
		admin := b.Admin != 0
		if r := s.refusesTarget(ev, b.By, b.Conv, b.Target, admin, locked); r != nil {
			return r
		}
		if !admin && !s.wrote(b.By, b.TargetID, b.Target) {
			return changeRefusal(ev, b.By, "you can delete only your own messages, within %s of posting them (message %d); an admin can delete any",
				windowText(s.opts.OnceWindow), b.Target)
		}
	case *eventlog.ReactionSet:
		if why := ValidEmoji(b.Emoji); why != "" {
			return changeRefusal(ev, b.By, "%s", why)
		}
		if r := s.refusesTarget(ev, b.By, b.Conv, b.Target, false, locked); r != nil {
			return r
		}
		if b.Remove == 0 && s.newEmojiOverLimit(b.Target, b.Emoji, locked) {
			return changeRefusal(ev, b.By, "message %d has %d different reactions already: add to one of them", b.Target, MaxReactionKinds)
		}
	}
	return nil
}

// refusesParent refuses a reply whose parent is not a message of its own
// conversation. Posts that answer nothing pass at once.
func (s *State) refusesParent(ev eventlog.Event, user, conv string, parent uint64, locked bool) *api.Refusal {
	if parent == 0 {
		return nil
	}
	ok, err := s.Chat.holds(conv, parent, locked)
	if err != nil {
		return s.indexFailed(ev, user, conv, err)
	}
	if !ok {
		return changeRefusal(ev, user, "there is no message %d in %s to reply to", parent, convName(conv))
	}
	return nil
}

// refusesTarget refuses a change of a message that is not in conv, that
// user may not read (an admin reads everything), or that was deleted.
func (s *State) refusesTarget(ev eventlog.Event, user, conv string, target uint64, admin, locked bool) *api.Refusal {
	if !admin {
		if r := s.refusesReader(ev, user, conv, locked); r != nil {
			return r
		}
	}
	ok, err := s.Chat.holds(conv, target, locked)
	if err != nil {
		return s.indexFailed(ev, user, conv, err)
	}
	if !ok || (ev.Index != 0 && target >= ev.Index) {
		return changeRefusal(ev, user, "there is no message %d in %s", target, convName(conv))
	}
	if !locked {
		s.Edits.mu.RLock()
		defer s.Edits.mu.RUnlock()
	}
	if ov := s.Edits.msgs[target]; ov != nil && ov.deleted {
		return changeRefusal(ev, user, "message %d was deleted", target)
	}
	return nil
}

// refusesReader refuses user a conversation they may not read: a direct
// conversation of others, or a private room that does not let them in.
func (s *State) refusesReader(ev eventlog.Event, user, conv string, locked bool) *api.Refusal {
	if api.IsDMRoom(conv) {
		if !api.InDMRoom(conv, user) {
			return changeRefusal(ev, user, "there is no such message in a conversation of yours")
		}
		return nil
	}
	return s.refusesMember(ev, user, conv, locked)
}

// indexFailed is the answer when the room's message index could not be
// read (its chunk file). On the apply goroutine that would make this node
// decide otherwise than the others: it stops instead, as for any entry it
// cannot apply. On a local check it is an error to show.
func (s *State) indexFailed(ev eventlog.Event, user, conv string, err error) *api.Refusal {
	if ev.Index != 0 {
		panic(fmt.Sprintf("state: entry %d: cannot read the message index of %q: %v", ev.Index, conv, err))
	}
	return changeRefusal(ev, user, "this node cannot read the message index of %s: %v", convName(conv), err)
}

// wrote reports whether user made the request id that posted the message
// at index: the once table holds it with that entry, applied, within the
// window. The caller holds the once table's lock.
func (s *State) wrote(user, id string, index uint64) bool {
	if id == "" {
		return false
	}
	t := s.once
	it := t.item(keyOf(user, id))
	return it != nil && !t.expired(it.time) && it.index == index && !it.refused
}

// newEmojiOverLimit reports whether emoji would be one kind too many on
// the message at index.
func (s *State) newEmojiOverLimit(index uint64, emoji string, locked bool) bool {
	if !locked {
		s.Edits.mu.RLock()
		defer s.Edits.mu.RUnlock()
	}
	ov := s.Edits.msgs[index]
	if ov == nil || len(ov.reacts) < MaxReactionKinds {
		return false
	}
	return !slices.ContainsFunc(ov.reacts, func(r reaction) bool { return r.emoji == emoji })
}

// windowText is the once window as people say it: "24h", "90m", "1h30m".
func windowText(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	if s == "" {
		return d.String()
	}
	return s
}

// changedConv is the room an edit or reaction is in, for its mutes.
func changedConv(ev eventlog.Event) string {
	switch b := ev.Body.(type) {
	case *eventlog.MessageEdited:
		return b.Conv
	case *eventlog.ReactionSet:
		return b.Conv
	}
	return ""
}
