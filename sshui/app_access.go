package sshui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
)

// The chat app's private rooms, notification settings and keys.
//
// Notification levels (api.NotifySettings, replicated: the same on every
// node, after restarts too): for each room and for direct messages, "all"
// counts every message as news and rings the bell on each one from
// someone else; "mentions" (a room's default) counts them and rings the
// bell only when the user is named or a highlighted word comes; "none"
// shows no count, no marker and never rings. Direct messages default to
// "all". The sidebar shows a conversation's unread count ("3") and, apart
// from it, how many of those named the user or a highlighted word ("3 @1",
// in the mention colour). /bell off silences the bell everywhere.
// Highlighted words count as mentions: their lines are marked like one.
// Mentions are counted as they arrive in this session (the unread count a
// login restores comes from read marks, which say nothing of mentions).

// appAccess is what the App keeps of this: its user's settings and the
// mentions counted per conversation since it was last shown.
type appAccess struct {
	settings  api.NotifySettings
	mentioned map[string]int
}

// loadSettings reads the user's notification settings (at start and when
// they change on any node).
func (a *App) loadSettings() {
	a.acc.settings = a.d.b.NotifySettings(a.d.id.Name)
	a.dirty()
}

// highlighted reports whether text holds one of the user's highlighted
// words (as a word, ignoring case).
func (a *App) highlighted(text string) bool {
	for _, w := range a.acc.settings.Highlights {
		if mentions(text, w) {
			return true
		}
	}
	return false
}

// level is the notification level of conversation c.
func (a *App) level(c string) string { return a.acc.settings.Level(c) }

// countMention counts a line naming the user in conversation c, unless it
// is on screen or its level is none.
func (a *App) countMention(c string) {
	if c == a.cur || a.level(c) == api.NotifyNone {
		return
	}
	if a.acc.mentioned == nil {
		a.acc.mentioned = map[string]int{}
	}
	a.acc.mentioned[c]++
	a.roomsPane = nil
}

// clearMentions forgets c's mentions (shown, or closed).
func (a *App) clearMentions(c string) { delete(a.acc.mentioned, c) }

// shouldRing says whether message m of conversation c (mention: it names
// the user or a highlighted word) rings the bell.
func (a *App) shouldRing(c string, m api.Message, mention bool) bool {
	if !a.acc.settings.Bell || m.From == a.d.id.Name {
		return false
	}
	switch a.level(c) {
	case api.NotifyAll:
		return true
	case api.NotifyMentions:
		return mention
	}
	return false
}

// sideCount is c's count in the rooms pane and whether it shows mentions:
// "", " 5", or " 5 @2".
func (a *App) sideCount(c string) (string, bool) {
	if c == a.cur || a.level(c) == api.NotifyNone {
		return "", false
	}
	n, m := a.unread[c], a.acc.mentioned[c]
	switch {
	case m > 0:
		return fmt.Sprintf(" %d @%d", min(max(n, m), 999), min(m, 99)), true
	case n > 0:
		return fmt.Sprintf(" %d", min(n, 999)), false
	}
	return "", false
}

// onAccessEvent applies an event of private rooms, settings or keys.
func (a *App) onAccessEvent(ev api.Event) tea.Cmd {
	me := a.d.id.Name
	switch ev.Kind {
	case api.EventSettings:
		a.loadSettings()
	case api.EventKeys:
		if ev.Mod.Action == "key_removed" && ev.Mod.Target == a.d.id.Fingerprint {
			a.exitMsg = "The key of this session (" + Clean(ev.Mod.Target, 100) + ") was removed from " +
				Clean(me, MaxNameLen) + " by " + Clean(ev.Mod.By, MaxNameLen) + ": log in with another of its keys."
			return tea.Quit
		}
		if ev.Mod.By != me {
			verb := "added to"
			if ev.Mod.Action == "key_removed" {
				verb = "removed from"
			}
			a.notice("A key (" + Clean(ev.Mod.Target, 100) + ") was " + verb + " your name by " + Clean(ev.Mod.By, MaxNameLen) + ".")
		}
	case api.EventAccess:
		a.onAccess(ev.Mod)
	}
	return nil
}

func (a *App) onAccess(m api.Moderation) {
	me := a.d.id.Name
	room, by, who := "#"+Clean(m.Room, MaxNameLen), Clean(m.By, MaxNameLen), Clean(m.Target, MaxNameLen)
	inRoom := slices.Contains(a.convs, m.Room)
	line := func(text string) {
		if buf := a.bufs[m.Room]; buf != nil && m.By != me { // one's own change is confirmed by its command
			a.systemLine(buf, text)
		}
	}
	switch m.Action {
	case "remove":
		if m.Target == me {
			if inRoom {
				a.removeConv(m.Room)
			}
			if m.By != me {
				a.notice(capitalize(removedText(m)))
			}
			return
		}
		line(who + " was removed from " + room + " by " + by + reasonText(m.Reason))
	case "invite":
		if m.Target == me && !inRoom {
			a.notice(by + " invited you to " + room + ": /join " + room)
			return
		}
		line(by + " invited " + who + " to " + room)
	case "private":
		if inRoom && !a.d.b.CanRead(me, m.Room) {
			a.removeConv(m.Room)
			a.notice(by + " made " + room + " private, and you are not let in.")
			return
		}
		line(by + " made " + room + " private: only its members and whoever they invite may read it")
	case "public":
		line(by + " opened " + room + " to everyone")
	}
	a.quiet = false
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// accessCommands are the chat's commands of this file.
func (a *App) accessCommands() []slashCmd {
	return []slashCmd{
		{name: "private", help: "make this room invite-only (you must be its only member, or an admin)", run: roomOpCmd("private")},
		{name: "public", help: "open this private room to everyone (its owner or an admin)", run: roomOpCmd("public")},
		{name: "invite", args: "NAME", help: "let NAME into this private room", minArgs: 1, run: roomOpCmd("invite")},
		{name: "remove", args: "NAME [reason]", help: "take NAME out of this private room (its owner or an admin; /kick disconnects)", minArgs: 1, run: roomOpCmd("remove")},
		{name: "access", help: "who may read this room", run: (*App).cmdAccess},
		{name: "notify", args: "[#room|@] [all|mentions|none|default]", help: "show or set how this conversation (or #room, @: direct messages) notifies you", run: (*App).cmdNotify},
		{name: "bell", args: "[on|off]", help: "show, or turn on or off, the terminal bell", run: (*App).cmdBell},
		{name: "highlight", args: "[add WORD|remove WORD|list]", help: "words that count as mentions", run: (*App).cmdHighlight},
		{name: "keys", args: "[list|add PUBLIC-KEY|remove FINGERPRINT]", help: "the keys that log in as you", run: (*App).cmdKeys},
	}
}

// roomOpCmd builds /private, /public, /invite and /remove on the current
// room.
func roomOpCmd(verb string) func(a *App, args []string, rest string) tea.Cmd {
	return func(a *App, args []string, _ string) tea.Cmd {
		if isDMConv(a.cur) {
			a.notice("/" + verb + " is for rooms; a direct conversation is private already")
			return nil
		}
		op, err := parseRoomOp(append([]string{a.cur, verb}, args...))
		if err != nil {
			a.notice(err.Error())
			return nil
		}
		b, id := a.d.b, a.d.id
		return a.op(roomOpDone(op, id.Name), func(ctx context.Context) error { return doRoomOp(ctx, b, id, op) }, nil)
	}
}

func (a *App) cmdAccess([]string, string) tea.Cmd {
	if isDMConv(a.cur) {
		a.notice("a direct conversation is read by its two people only")
		return nil
	}
	a.notice(accessText(a.d.b.RoomAccess(a.cur)))
	return nil
}

// setting runs a change of the user's settings off the event loop.
func (a *App) setting(op notifyOp) tea.Cmd {
	b, user := a.d.b, a.d.id.Name
	return a.op(notifyDone(op), func(ctx context.Context) error { return applyNotifyOp(ctx, b, user, op) },
		func(a *App) tea.Cmd { a.loadSettings(); return nil })
}

func (a *App) cmdNotify(args []string, _ string) tea.Cmd {
	conv := a.cur
	if isDMConv(conv) {
		conv = api.NotifyDMs
	}
	if len(args) == 0 {
		where := "#" + a.cur
		if conv == api.NotifyDMs {
			where = "direct messages"
		}
		a.notice("here (" + where + "): " + a.level(a.cur) + "; all your settings:\n" + strings.TrimSuffix(notifyText(a.acc.settings), "\n"))
		return nil
	}
	if len(args) == 1 {
		args = []string{conv, args[0]}
	}
	op, err := parseNotifyOp(args)
	if err != nil || op.kind != "level" {
		a.notice("usage: /notify [#room|@] all|mentions|none|default")
		return nil
	}
	return a.setting(op)
}

func (a *App) cmdBell(args []string, _ string) tea.Cmd {
	if len(args) == 0 {
		state := "on"
		if !a.acc.settings.Bell {
			state = "off"
		}
		a.notice("the bell is " + state + " (/bell on|off)")
		return nil
	}
	v, err := parseBell(args)
	if err != nil {
		a.notice("usage: /bell on|off")
		return nil
	}
	return a.setting(notifyOp{kind: "bell", value: v})
}

func (a *App) cmdHighlight(args []string, _ string) tea.Cmd {
	op, err := parseHighlight(args)
	if err != nil {
		a.notice(err.Error() + " (usage: /highlight add WORD, /highlight remove WORD, /highlight)")
		return nil
	}
	if op.kind == "list" {
		words := a.acc.settings.Highlights
		if len(words) == 0 {
			a.notice("no highlighted words (/highlight add WORD)")
			return nil
		}
		clean := make([]string, len(words))
		for i, w := range words {
			clean[i] = Clean(w, 64)
		}
		a.notice("highlighted: " + strings.Join(clean, " "))
		return nil
	}
	return a.setting(op)
}

func (a *App) cmdKeys(args []string, rest string) tea.Cmd {
	words := args
	if len(args) > 0 && strings.EqualFold(args[0], "add") {
		words = []string{"add", strings.TrimSpace(rest[len(args[0]):])}
	}
	op, err := parseKeysOp(words, nil)
	if err != nil {
		a.notice(err.Error())
		return nil
	}
	b, id := a.d.b, a.d.id
	switch op.op {
	case "list":
		var s strings.Builder
		s.WriteString("your keys:")
		for _, k := range b.Keys(id.Name) {
			fmt.Fprintf(&s, "\n  %s %s", Clean(k.Fingerprint, 100), Clean(k.Label, 80))
			if k.Fingerprint == id.Fingerprint {
				s.WriteString(" (this session)")
			}
		}
		a.notice(s.String())
		return nil
	case "add":
		return a.op("added "+op.fp+" ("+op.label+"): it logs in as "+id.Name+" now",
			func(ctx context.Context) error { return b.AddKey(ctx, id.Name, id.Name, op.fp, op.label, false) }, nil)
	}
	ok := "removed " + op.fp + " from your keys"
	if op.fp == id.Fingerprint {
		ok += "; it was this session's: log in with another next time"
	}
	return a.op(ok, func(ctx context.Context) error { return b.RemoveKey(ctx, id.Name, id.Name, op.fp, false) }, nil)
}

// roomLine is one room of /rooms: "#ops (3) — topic", "#ops (private, 3)",
// or "#ops (private)" for a private room that does not let the user in.
func roomLine(r roomDoc) string {
	s := "#" + Clean(r.Name, MaxNameLen)
	switch {
	case r.hidden:
		return s + " (private)"
	case r.Private:
		s += fmt.Sprintf(" (private, %d)", r.Members)
	default:
		s += fmt.Sprintf(" (%d)", r.Members)
	}
	if r.Topic != "" {
		s += " — " + Clean(r.Topic, 120)
	}
	return s
}
