package sshui

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/syncnet/syncnet/node/api"
)

// The exec commands of edits, deletions and reactions (edit, delete,
// react), and what history and tail print of them: the text as it is now,
// "(edited)", "(message deleted)", the message a reply answers, the
// reactions and replies, and with --versions every text an edited message
// had.

func cmdEdit() command {
	c := command{name: "edit", usage: "[--json] [--] INDEX TEXT",
		summary: "Replace the text of your message INDEX; prints the index of the edit. Exit 0 only once committed.\n" +
			"TEXT is the rest of the line, exactly (line breaks kept); with no TEXT, or \"-\", it is read from stdin.\n" +
			"You can edit your own messages for the cluster's once window (24h by default) after posting them;\n" +
			"every version stays in the log, and history --versions shows them."}
	c.run = func(e *execEnv) int { return runEdit(e, c) }
	return c
}

func cmdDelete() command {
	c := command{name: "delete", usage: "[--json] [--] INDEX [REASON]",
		summary: "Delete message INDEX: your own (within the once window, 24h by default), or any if you are an admin.\n" +
			"Prints the index of the deletion. Screens show \"message deleted\"; the log keeps the original."}
	c.run = func(e *execEnv) int { return runDelete(e, c) }
	return c
}

func cmdReact() command {
	c := command{name: "react", usage: "[--add | --remove] [--json] [--] INDEX EMOJI",
		summary: "React to message INDEX with EMOJI: sets it, or takes it back if you had set it (--add and\n" +
			"--remove only set or only take back). One reaction per user, message and emoji."}
	c.run = func(e *execEnv) int { return runReact(e, c) }
	return c
}

// changeDoc is the JSON line of edit, delete and react (a contract).
type changeDoc struct {
	Index  uint64 `json:"index,omitempty"` // the change's entry (edit, delete)
	Target uint64 `json:"target"`          // the message changed
	Op     string `json:"op"`              // edit | delete | react
	Emoji  string `json:"emoji,omitempty"`
	On     *bool  `json:"on,omitempty"` // react: whether it is set now
}

// parseIndex reads a message index argument.
func parseIndex(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("not a message index: %q (history prints them)", Clean(s, 40))
	}
	return n, nil
}

// changeErr explains why a change failed, in one line: the node's own
// sentences (whose message it is, that it was deleted, that there is none)
// are kept; the rest as every command says it.
func changeErr(err error, timeout string) string {
	switch {
	case errors.Is(err, api.ErrNotFound), errors.Is(err, api.ErrForbidden) && !isRefusal(err), errors.Is(err, api.ErrDeleted):
		return Clean(err.Error(), 300)
	}
	return explain(err, timeout)
}

func isRefusal(err error) bool {
	var r *api.Refusal
	return errors.As(err, &r)
}

func runEdit(e *execEnv, c command) int {
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, `one JSON line: {"index":EDIT,"target":INDEX,"op":"edit"}`)
	if code, ok := parseFlags(e, c, fs, e.line.leadingFlags(fs)); !ok {
		return code
	}
	arg, ok := e.line.next()
	if !ok {
		return usageErr(e, c, fs, "need the index of your message (and the new text, or pipe it on stdin)")
	}
	index, err := parseIndex(arg)
	if err != nil {
		return usageErr(e, c, fs, "%v", err)
	}
	raw := e.line.text()
	if t := strings.Trim(raw, " \t\r\n"); t == "" || t == "-" {
		if e.pty {
			return usageErr(e, c, fs, "no text: with ssh -t, give the text after INDEX (stdin is read only without -t)")
		}
		var code int
		if raw, code, ok = readText(e); !ok {
			return code
		}
	}
	text := CleanText(raw, 0)
	if strings.TrimSpace(text) == "" {
		return usageErr(e, c, fs, "empty text: to remove a message, use delete")
	}
	if n := utf8.RuneCountInString(text); n > e.srv.cfg.MaxMessageLen {
		return e.errorf("edit: text too long: %d runes (max %d); nothing was changed", n, e.srv.cfg.MaxMessageLen)
	}
	if code, ok := e.claim(); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.srv.cfg.PostTimeout)
	defer cancel()
	idx, err := e.b.Edit(ctx, e.id.Name, index, text)
	if err != nil {
		return e.errorf("edit: %s", changeErr(err, e.srv.cfg.PostTimeout.String()))
	}
	return printChange(e, *asJSON, changeDoc{Index: idx, Target: index, Op: api.ChangeEdit}, fmt.Sprint(idx))
}

func runDelete(e *execEnv, c command) int {
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, `one JSON line: {"index":DELETION,"target":INDEX,"op":"delete"}`)
	if code, ok := parseFlags(e, c, fs, e.line.leadingFlags(fs)); !ok {
		return code
	}
	arg, ok := e.line.next()
	if !ok {
		return usageErr(e, c, fs, "need the index of the message")
	}
	index, err := parseIndex(arg)
	if err != nil {
		return usageErr(e, c, fs, "%v", err)
	}
	reason := Clean(strings.TrimSpace(e.line.text()), 200)
	if code, ok := e.claim(); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.srv.cfg.PostTimeout)
	defer cancel()
	idx, err := e.b.Delete(ctx, e.id.Name, index, e.id.Admin, reason)
	if err != nil {
		return e.errorf("delete: %s", changeErr(err, e.srv.cfg.PostTimeout.String()))
	}
	return printChange(e, *asJSON, changeDoc{Index: idx, Target: index, Op: api.ChangeDelete}, fmt.Sprint(idx))
}

func runReact(e *execEnv, c command) int {
	fs := newFlags(c)
	add := fs.Bool("add", false, "only set the reaction (nothing if it is set)")
	remove := fs.Bool("remove", false, "only take the reaction back (nothing if it is not set)")
	asJSON := fs.Bool("json", false, `one JSON line: {"target":INDEX,"op":"react","emoji":EMOJI,"on":true|false}`)
	pos, code, ok := parseArgs(e, c, fs)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		return usageErr(e, c, fs, "need the message's index and one emoji")
	}
	if *add && *remove {
		return usageErr(e, c, fs, "--add and --remove exclude each other")
	}
	index, err := parseIndex(pos[0])
	if err != nil {
		return usageErr(e, c, fs, "%v", err)
	}
	emoji := pos[1]
	if why := validReaction(emoji); why != "" {
		return usageErr(e, c, fs, "%s", why)
	}
	op := api.ReactToggle
	switch {
	case *add:
		op = api.ReactAdd
	case *remove:
		op = api.ReactRemove
	}
	if code, ok := e.claim(); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.srv.cfg.PostTimeout)
	defer cancel()
	on, err := e.b.React(ctx, e.id.Name, index, emoji, op)
	if err != nil {
		return e.errorf("react: %s", changeErr(err, e.srv.cfg.PostTimeout.String()))
	}
	text := "reacted " + emoji + " to " + fmt.Sprint(index)
	if !on {
		text = "took back " + emoji + " from " + fmt.Sprint(index)
	}
	return printChange(e, *asJSON, changeDoc{Target: index, Op: api.ChangeReact, Emoji: emoji, On: &on}, text)
}

func printChange(e *execEnv, asJSON bool, d changeDoc, text string) int {
	e.finish()
	if asJSON {
		_ = writeJSON(e.out, d)
		return exitOK
	}
	_, _ = fmt.Fprintln(e.out, text)
	return exitOK
}

// validReaction says why emoji cannot be a reaction ("" if it can): the
// node's rule (state.ValidEmoji), checked here first for a clear usage
// error: one short word without spaces or control characters.
func validReaction(emoji string) string {
	switch {
	case emoji == "":
		return "a reaction needs an emoji"
	case len(emoji) > 32:
		return "a reaction is one emoji or short word (at most 32 bytes)"
	case Clean(emoji, 0) != emoji || strings.ContainsAny(emoji, " \t\r\n"):
		return "a reaction is one emoji or short word, without spaces or control characters"
	}
	return ""
}

// reactionDoc, versionDoc: parts of a message's JSON line.
type reactionDoc struct {
	Emoji string   `json:"emoji"`
	Count int      `json:"count"`
	Users []string `json:"users"`
}

type versionDoc struct {
	Index uint64 `json:"index"`
	Time  string `json:"time"`
	Text  string `json:"text"`
}

// withExtra fills the fields of d that say what happened to m since it
// was posted, and its versions (history --versions).
func (d *messageDoc) withExtra(m api.Message, versions []api.Version) {
	d.ReplyTo = m.ReplyTo
	if x := m.Extra; x != nil {
		d.Edited, d.Edits, d.Deleted, d.DeletedBy, d.Replies, d.LastReply = x.Edits > 0, x.Edits, x.Deleted, x.By, x.Replies, x.LastReply
		if !x.EditedAt.IsZero() && !x.Deleted {
			d.EditedAt = x.EditedAt.UTC().Format(time.RFC3339Nano)
		}
		for _, r := range x.Reactions {
			d.Reactions = append(d.Reactions, reactionDoc{Emoji: r.Emoji, Count: r.Count, Users: r.Users})
		}
	}
	for _, v := range versions {
		d.Versions = append(d.Versions, versionDoc{Index: v.Index, Time: v.Time.UTC().Format(time.RFC3339Nano), Text: v.Text})
	}
}

// decorations are what a text line shows around a message's text: the
// message it answers before it, and after it "(edited)", the reactions and
// the replies.
func decorations(m api.Message) (before, after string) {
	if m.ReplyTo != 0 {
		before = fmt.Sprintf("[re %d] ", m.ReplyTo)
	}
	x := m.Extra
	if x == nil {
		return before, ""
	}
	var b strings.Builder
	if x.Edits > 0 && !x.Deleted {
		b.WriteString(" (edited)")
	}
	if len(x.Reactions) > 0 {
		b.WriteString(" [")
		for i, r := range x.Reactions {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s %d", Clean(r.Emoji, 32), r.Count)
		}
		b.WriteString("]")
	}
	if x.Replies == 1 {
		b.WriteString(" [1 reply]")
	} else if x.Replies > 1 {
		fmt.Fprintf(&b, " [%d replies]", x.Replies)
	}
	return before, b.String()
}

// deletedText is what stands for a deleted message's text.
func deletedText(m api.Message) string {
	if m.Extra != nil && m.Extra.By != "" && m.Extra.By != m.From {
		return "(message deleted by " + Clean(m.Extra.By, MaxNameLen) + ")"
	}
	return "(message deleted)"
}

// printVersions writes the versions of an edited message as indented
// lines under it (text form).
func printVersions(w io.Writer, versions []api.Version) error {
	for i, v := range versions {
		text := strings.ReplaceAll(CleanText(v.Text, 0), "\n", "\n      ")
		if _, err := fmt.Fprintf(w, "    v%d %s %d %s\n", i+1, v.Time.UTC().Format(time.RFC3339), v.Index, text); err != nil {
			return err
		}
	}
	return nil
}

// versionsOf reads the versions of an edited message for --versions (nil
// for one never edited or deleted: its text is its only version).
func versionsOf(e *execEnv, m api.Message) ([]api.Version, error) {
	if !m.Edited() || m.Deleted() {
		return nil, nil
	}
	vs, err := e.b.Versions(e.id.Name, m.Index)
	if errors.Is(err, api.ErrDeleted) || errors.Is(err, api.ErrNotFound) {
		return nil, nil // deleted (or hidden) since it was read
	}
	return vs, err
}

// printMessages prints msgs (history, history --thread), each with its
// versions when asked.
func printMessages(e *execEnv, msgs []api.Message, asJSON, versions bool) int {
	var vs [][]api.Version
	if versions { // read before the output starts: an error is the last line
		vs = make([][]api.Version, len(msgs))
		for i, m := range msgs {
			v, err := versionsOf(e, m)
			if err != nil {
				return e.errorf("history: %s", historyErr(err))
			}
			vs[i] = v
		}
	}
	e.finish()
	for i, m := range msgs {
		var v []api.Version
		if vs != nil {
			v = vs[i]
		}
		if err := printMessageVersions(e.out, m, asJSON, v); err != nil {
			return exitOK
		}
	}
	return exitOK
}

// runThread is history --thread INDEX [ROOM]: the message and its replies.
func runThread(e *execEnv, c command, fs *flag.FlagSet, pos []string, arg string, limit int, asJSON, versions bool) int {
	index, err := parseIndex(arg)
	if err != nil {
		return usageErr(e, c, fs, "--thread: %v", err)
	}
	if len(pos) > 1 {
		return usageErr(e, c, fs, "--thread takes at most one room")
	}
	if limit < 1 || limit > 10000 {
		return usageErr(e, c, fs, "--limit must be 1..10000")
	}
	msgs, err := e.b.Thread(e.id.Name, index, limit)
	switch {
	case errors.Is(err, api.ErrNotFound):
		return e.errorf("history: no message %d (or not one you may read)", index)
	case err != nil:
		return e.errorf("history: %s", historyErr(err))
	}
	if len(pos) == 1 {
		room, err := roomArg(e, pos[0])
		if err != nil {
			return usageErr(e, c, fs, "%v", err)
		}
		if msgs[0].Room != room {
			return e.errorf("history: message %d is not in %s", index, Clean(pos[0], MaxNameLen+1))
		}
	}
	return printMessages(e, msgs, asJSON, versions)
}
