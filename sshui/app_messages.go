package sshui

// Edits, deletions, replies and reactions in the chat app. The app has no
// selection of messages: commands name a message by its index (shown with
// /ids, and in history and tail) or by ^ (the last message of the
// conversation), ^2 (the one before it), and so on. ↑ on an empty input
// line edits your last message: its text goes into the input, Enter saves
// it as an edit, Esc cancels.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
)

// lineExtra is what a message line shows besides its text; nil for a
// plain message (most lines), so a buffer of them costs one pointer each.
type lineExtra struct {
	replyTo   uint64 // the message it answers
	quote     string // that message as "name: text", once known
	edited    bool
	deleted   bool
	deletedBy string
	reactions []api.Reaction
	replies   int
	lastReply uint64 // the newest reply counted
}

// editState is the message being edited in the input (↑, /edit).
type editState struct {
	index uint64
	conv  string
	orig  string // its text when the edit started
}

// quoteMsg is a quoted message read off the event loop (quoteCmd).
type quoteMsg struct {
	index uint64
	text  string
}

// extraOf is what m shows besides its text (nil: nothing).
func (a *App) extraOf(m api.Message) *lineExtra {
	if m.ReplyTo == 0 && m.Extra == nil {
		return nil
	}
	x := &lineExtra{replyTo: m.ReplyTo}
	if e := m.Extra; e != nil {
		x.edited, x.deleted, x.deletedBy, x.replies, x.lastReply = e.Edits > 0, e.Deleted, Clean(e.By, MaxNameLen), e.Replies, e.LastReply
		x.reactions = e.Reactions
	}
	if x.replyTo != 0 {
		x.quote = a.quotes[x.replyTo]
	}
	return x
}

// quoteOf is how a quoted message reads: "name: first line of text".
func quoteOf(m api.Message) string {
	if m.Deleted() {
		return Clean(m.From, MaxNameLen) + ": (message deleted)"
	}
	text, _, _ := strings.Cut(CleanText(m.Text, 0), "\n")
	return Clean(m.From, MaxNameLen) + ": " + Clean(text, 200)
}

// findLine returns the line of message index in buf, or nil.
func findLine(buf *convBuf, index uint64) *chatLine {
	if buf == nil || index == 0 || index < buf.first || index > buf.last {
		return nil
	}
	for i := len(buf.lines) - 1; i >= 0; i-- {
		if buf.lines[i].idx == index {
			return &buf.lines[i]
		}
	}
	return nil
}

// noteMessage runs for each message added to buf: a reply quotes its
// parent (from the buffer, or read after this update: needQuotes), and a
// loaded parent counts it unless its count (read with it) already did.
func (a *App) noteMessage(buf *convBuf, l *chatLine) {
	if l.x.replyTo == 0 {
		return
	}
	if p := findLine(buf, l.x.replyTo); p != nil && !p.system {
		if px := a.extra(p); l.idx > px.lastReply {
			px.replies, px.lastReply, p.cache = px.replies+1, l.idx, nil
		}
		if l.x.quote == "" {
			l.x.quote = p.from + ": " + firstLine(p)
			a.rememberQuote(l.x.replyTo, l.x.quote)
		}
		return
	}
	if l.x.quote == "" {
		a.needQuotes = append(a.needQuotes, l.x.replyTo)
	}
}

// quoteCmds reads the quoted messages noted since the last update.
func (a *App) quoteCmds() tea.Cmd {
	var cmds []tea.Cmd
	for _, x := range a.needQuotes {
		if q, ok := a.quotes[x]; ok {
			a.fillQuote(x, q)
			continue
		}
		if c := a.quoteCmd(x); c != nil {
			cmds = append(cmds, c)
		}
	}
	a.needQuotes = a.needQuotes[:0]
	return tea.Batch(cmds...)
}

func firstLine(l *chatLine) string {
	if l.x != nil && l.x.deleted {
		return "(message deleted)"
	}
	text, _, _ := strings.Cut(l.text, "\n")
	return Clean(text, 200)
}

// maxQuotes bounds the quotes a session remembers.
const maxQuotes = 256

func (a *App) rememberQuote(index uint64, q string) {
	if a.quotes == nil {
		a.quotes = map[uint64]string{}
	}
	if len(a.quotes) >= maxQuotes {
		clear(a.quotes)
	}
	a.quotes[index] = q
}

// quoteCmd reads message index (History may read the disk: never on the
// event loop) for the lines that quote it.
func (a *App) quoteCmd(index uint64) tea.Cmd {
	if a.quoting == nil {
		a.quoting = map[uint64]bool{}
	}
	if a.quoting[index] {
		return nil
	}
	a.quoting[index] = true
	b, user := a.d.b, a.d.id.Name
	return func() tea.Msg {
		m, err := b.Message(user, index)
		if err != nil {
			return quoteMsg{index: index, text: "(message " + strconv.FormatUint(index, 10) + " is not available)"}
		}
		return quoteMsg{index: index, text: quoteOf(m)}
	}
}

// onQuote fills in the quote of every loaded line answering r.index; an
// update that changes nothing on screen is quiet.
func (a *App) onQuote(r quoteMsg) {
	delete(a.quoting, r.index)
	a.quiet = !a.fillQuote(r.index, r.text)
}

// fillQuote sets the quote of every loaded line answering index and
// reports whether the current conversation shows one.
func (a *App) fillQuote(index uint64, text string) (shown bool) {
	a.rememberQuote(index, text)
	for c, buf := range a.bufs {
		for i := range buf.lines {
			if x := buf.lines[i].x; x != nil && x.replyTo == index && x.quote != text {
				x.quote, buf.lines[i].cache = text, nil
				shown = shown || c == a.cur
			}
		}
	}
	return shown
}

func (a *App) extra(l *chatLine) *lineExtra {
	if l.x == nil {
		l.x = &lineExtra{}
	}
	return l.x
}

// convOfRoom is the app's name of a message's conversation: the room, or
// "@other" for a direct conversation (api.DMRoom) this user is in.
func (a *App) convOfRoom(room string) string {
	if parties, ok := strings.CutPrefix(room, "@"); ok {
		x, y, _ := strings.Cut(parties, ",")
		if x == a.d.id.Name {
			return "@" + y
		}
		return "@" + x
	}
	return room
}

// onChange applies an edit, deletion or reaction to the line it changes,
// if loaded; quotes of an edited or deleted message follow.
func (a *App) onChange(ev api.Event) {
	ch := ev.Change
	if ch == nil {
		return
	}
	conv := a.convOfRoom(ch.Conv)
	buf := a.bufs[conv]
	l := findLine(buf, ch.Target)
	if l == nil {
		a.quiet = true // not loaded: History shows it as it is now
		return
	}
	a.quiet = conv != a.cur
	x := a.extra(l)
	switch ch.Op {
	case api.ChangeEdit:
		l.text, x.edited = CleanText(ch.Text, a.d.cfg.MaxMessageLen), true
		l.mention = l.from != a.d.id.Name && (mentions(l.text, a.d.id.Name) || a.highlighted(l.text))
	case api.ChangeDelete:
		l.text, x.deleted, x.reactions = "", true, nil
		x.deletedBy = Clean(ch.By, MaxNameLen)
		if a.editing != nil && a.editing.index == ch.Target {
			a.cancelEdit("the message you were editing was deleted")
		}
	case api.ChangeReact:
		x.reactions = ch.Reactions
	}
	l.cache = nil
	if ch.Op != api.ChangeReact {
		q := l.from + ": " + firstLine(l)
		if _, ok := a.quotes[ch.Target]; ok {
			a.rememberQuote(ch.Target, q)
		}
		for i := range buf.lines {
			if y := buf.lines[i].x; y != nil && y.replyTo == ch.Target {
				y.quote, buf.lines[i].cache = q, nil
			}
		}
	}
}

// msgRef resolves a message reference of the current conversation: an
// index, or ^ / ^N (the last / N-th last message loaded).
func (a *App) msgRef(ref string) (uint64, string) {
	if n, ok := strings.CutPrefix(ref, "^"); ok {
		back := 1
		if n != "" {
			v, err := strconv.Atoi(n)
			if err != nil || v < 1 {
				return 0, "not a message: " + Clean(ref, 20) + " (^ is the last message, ^2 the one before)"
			}
			back = v
		}
		if buf := a.bufs[a.cur]; buf != nil {
			for i := len(buf.lines) - 1; i >= 0; i-- {
				if l := buf.lines[i]; l.idx != 0 && !l.system {
					if back--; back == 0 {
						return l.idx, ""
					}
				}
			}
		}
		return 0, "there is no such message here: " + Clean(ref, 20)
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(ref, "#"), 10, 64)
	if err != nil || v == 0 {
		return 0, "not a message: " + Clean(ref, 20) + " (give its index, shown by /ids, or ^ for the last message)"
	}
	return v, ""
}

// lastOwn is the newest message of the user in the current conversation
// that may be edited (loaded, not deleted).
func (a *App) lastOwn() *chatLine {
	buf := a.bufs[a.cur]
	if buf == nil {
		return nil
	}
	for i := len(buf.lines) - 1; i >= 0; i-- {
		l := &buf.lines[i]
		if !l.system && l.idx != 0 && l.from == a.d.id.Name && (l.x == nil || !l.x.deleted) {
			return l
		}
	}
	return nil
}

// startEdit puts the text of message l into the input to be edited. The
// prompt says so ("edit 12> "); how to save or cancel is said once a
// session, not at every edit.
func (a *App) startEdit(l *chatLine) {
	a.editing = &editState{index: l.idx, conv: a.cur, orig: l.text}
	a.input.SetValue(l.text)
	a.input.CursorEnd()
	a.input.Prompt = "edit " + strconv.FormatUint(l.idx, 10) + "> "
	a.input.Width = max(a.w-len(a.input.Prompt)-1, 1)
	if !a.editHinted {
		a.editHinted = true
		a.notice("editing your message: Enter saves it, Esc cancels")
	}
}

// cancelEdit leaves the edit mode, the input emptied; why, if any, is said.
func (a *App) cancelEdit(why string) {
	a.editing = nil
	a.input.SetValue("")
	a.input.Prompt = "> "
	a.input.Width = max(a.w-len(a.input.Prompt)-1, 1)
	if why != "" {
		a.notice(why)
	}
}

// editUp is ↑ on an empty input line: edit the last own message here. It
// reports false when there is none (↑ then walks the input history).
func (a *App) editUp() bool {
	l := a.lastOwn()
	if l == nil {
		return false
	}
	a.startEdit(l)
	return true
}

// submitEdit saves the input as the edit being made.
func (a *App) submitEdit() tea.Cmd {
	ed := a.editing
	text := CleanText(strings.TrimSpace(a.input.Value()), 0)
	switch {
	case text == "":
		a.notice("an edit needs text: Esc cancels, /delete " + strconv.FormatUint(ed.index, 10) + " deletes the message")
		return nil
	case text == ed.orig:
		a.cancelEdit("unchanged")
		return nil
	case utf8.RuneCountInString(text) > a.d.cfg.MaxMessageLen:
		a.notice("too long: an edit is at most " + itoa(a.d.cfg.MaxMessageLen) + " characters")
		return nil
	}
	a.cancelEdit("")
	return a.editCmd(ed.index, text)
}

func (a *App) editCmd(index uint64, text string) tea.Cmd {
	b, user := a.d.b, a.d.id.Name
	return a.op("", func(ctx context.Context) error { _, err := b.Edit(ctx, user, index, text); return err }, nil)
}

// /edit [INDEX [TEXT]]: with TEXT, the edit; without, the message's text
// goes into the input (your last message without INDEX).
func (a *App) cmdEdit(args []string, rest string) tea.Cmd {
	if len(args) == 0 {
		if !a.editUp() {
			a.notice("you have no message here to edit")
		}
		return nil
	}
	index, why := a.msgRef(args[0])
	if why != "" {
		a.notice(why)
		return nil
	}
	text := strings.TrimSpace(strings.TrimPrefix(rest, args[0]))
	if text == "" {
		l := findLine(a.bufs[a.cur], index)
		switch {
		case l == nil:
			a.notice("message " + args[0] + " is not loaded here: /edit " + args[0] + " TEXT replaces its text")
		case l.from != a.d.id.Name:
			a.notice("you can edit only your own messages")
		case l.x != nil && l.x.deleted:
			a.notice("that message was deleted")
		default:
			a.startEdit(l)
		}
		return nil
	}
	text = CleanText(text, 0)
	if utf8.RuneCountInString(text) > a.d.cfg.MaxMessageLen {
		a.notice("too long: an edit is at most " + itoa(a.d.cfg.MaxMessageLen) + " characters")
		return nil
	}
	return a.editCmd(index, text)
}

// /delete [INDEX] [reason]: message INDEX (an admin's session may delete
// anyone's), or your last message here, which a second /delete confirms.
func (a *App) cmdDelete(args []string, rest string) tea.Cmd {
	var index uint64
	reason := ""
	if len(args) == 0 {
		l := a.lastOwn()
		if l == nil {
			a.notice("you have no message here to delete")
			return nil
		}
		if a.confirmDelete != l.idx {
			a.confirmDelete = l.idx
			a.notice(fmt.Sprintf("delete your message %d (%s)? /delete again to confirm", l.idx, Fit(firstLine(l), 40)))
			return nil
		}
		index = l.idx
	} else {
		var why string
		if index, why = a.msgRef(args[0]); why != "" {
			a.notice(why)
			return nil
		}
		reason = Clean(strings.TrimSpace(strings.TrimPrefix(rest, args[0])), 200)
	}
	a.confirmDelete = 0
	b, user, admin := a.d.b, a.d.id.Name, a.d.id.Admin
	return a.op("deleted message "+strconv.FormatUint(index, 10), func(ctx context.Context) error {
		_, err := b.Delete(ctx, user, index, admin, reason)
		return err
	}, nil)
}

// /react INDEX EMOJI: toggle a reaction.
func (a *App) cmdReact(args []string, _ string) tea.Cmd {
	if len(args) != 2 {
		a.notice("usage: /react INDEX EMOJI (INDEX: a message's index, /ids shows them, or ^ for the last message)")
		return nil
	}
	index, why := a.msgRef(args[0])
	if why != "" {
		a.notice(why)
		return nil
	}
	emoji := args[1]
	if why := validReaction(emoji); why != "" {
		a.notice(why)
		return nil
	}
	b, user := a.d.b, a.d.id.Name
	return a.op("", func(ctx context.Context) error {
		_, err := b.React(ctx, user, index, emoji, api.ReactToggle)
		return err
	}, nil)
}

// /reply INDEX TEXT: a message answering message INDEX, sent like any
// other (the outbox: in order, exactly once, queued without quorum).
func (a *App) cmdReply(args []string, rest string) tea.Cmd {
	index, why := a.msgRef(args[0])
	if why != "" {
		a.notice(why)
		return nil
	}
	text := strings.TrimSpace(strings.TrimPrefix(rest, args[0]))
	if text == "" {
		a.notice("usage: /reply INDEX TEXT")
		return nil
	}
	return a.enqueueReply(a.cur, text, index)
}

// /thread [INDEX]: the message and its replies, as notice lines.
func (a *App) cmdThread(args []string, _ string) tea.Cmd {
	ref := "^"
	if len(args) > 0 {
		ref = args[0]
	}
	index, why := a.msgRef(ref)
	if why != "" {
		a.notice(why)
		return nil
	}
	if l := findLine(a.bufs[a.cur], index); l != nil && l.x != nil && l.x.replyTo != 0 {
		index = l.x.replyTo // a reply: its thread
	}
	b, user := a.d.b, a.d.id.Name
	return func() tea.Msg {
		msgs, err := b.Thread(user, index, historyPage)
		if err != nil {
			return opResult{err: err}
		}
		return opResult{ok: threadText(msgs)}
	}
}

// threadText is a thread as notice lines: the message, then its replies.
func threadText(msgs []api.Message) string {
	var b strings.Builder
	root := msgs[0]
	fmt.Fprintf(&b, "thread of %d (%s):", root.Index, repliesText(len(msgs)-1))
	for i, m := range msgs {
		mark := "  "
		if i > 0 {
			mark = "  ↳ "
		}
		text := CleanText(m.Text, 0)
		if m.Deleted() {
			text = "(message deleted)"
		}
		text = strings.ReplaceAll(text, "\n", " ")
		fmt.Fprintf(&b, "\n%s%d %s: %s", mark, m.Index, Clean(m.From, MaxNameLen), Clean(text, 300))
		if m.Edited() && !m.Deleted() {
			b.WriteString(" (edited)")
		}
	}
	return b.String()
}

func repliesText(n int) string {
	if n == 1 {
		return "1 reply"
	}
	return itoa(n) + " replies"
}

// /ids: show or hide message indexes.
func (a *App) cmdIDs([]string, string) tea.Cmd {
	a.showIDs = !a.showIDs
	for _, buf := range a.bufs {
		for i := range buf.lines {
			buf.lines[i].cache = nil
		}
	}
	if a.showIDs {
		a.notice("message indexes shown (for /react, /reply, /edit, /delete, /thread); /ids hides them")
	} else {
		a.notice("message indexes hidden")
	}
	return nil
}

// messageCommands are the slash commands of this file.
func messageCommands() []slashCmd {
	return []slashCmd{
		{name: "edit", args: "[INDEX [text]]", help: "edit your message (↑ on an empty line: your last one)", run: (*App).cmdEdit},
		{name: "delete", args: "[INDEX] [reason]", help: "delete your message (your last one without INDEX)", run: (*App).cmdDelete},
		{name: "reply", args: "INDEX text", help: "answer message INDEX (^: the last message)", minArgs: 1, run: (*App).cmdReply},
		{name: "react", args: "INDEX EMOJI", help: "add or take back a reaction, like /react ^ 👍", minArgs: 2, run: (*App).cmdReact},
		{name: "thread", args: "[INDEX]", help: "show a message and its replies", run: (*App).cmdThread},
		{name: "ids", help: "show or hide the messages' indexes", run: (*App).cmdIDs},
	}
}

// renderChanged renders a message line that has more than its text: the
// message it answers above it (dim), its text as it is now ("message
// deleted", "(edited)"), and its reactions and replies below it.
func (a *App) renderChanged(l chatLine, w int) []string {
	x := l.x
	plain := l
	plain.x = nil
	switch {
	case x.deleted && x.deletedBy != "" && x.deletedBy != l.from:
		plain.text = "message deleted by " + x.deletedBy
	case x.deleted:
		plain.text = "message deleted"
	case x.edited:
		plain.text += " (edited)"
	}
	var out []string
	if x.replyTo != 0 {
		q := x.quote
		if q == "" {
			q = "message " + strconv.FormatUint(x.replyTo, 10)
		}
		if a.showIDs {
			q = strconv.FormatUint(x.replyTo, 10) + " " + q
		}
		out = append(out, a.st.system.R(Pad(Fit("  ┌ "+q, w), w)))
	}
	out = append(out, a.renderLine(plain, w)...)
	var under []string
	for _, r := range x.reactions {
		under = append(under, Clean(r.Emoji, 32)+" "+itoa(r.Count))
	}
	if x.replies > 0 {
		under = append(under, "↳ "+repliesText(x.replies)+" (/thread "+strconv.FormatUint(l.idx, 10)+")")
	}
	if len(under) > 0 {
		out = append(out, a.wrap(a.st.system, "        "+strings.Join(under, "  "), w)...)
	}
	return out
}
