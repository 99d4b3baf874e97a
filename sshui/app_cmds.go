package sshui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
)

// slashCmd is one chat command; the table is checked in one place (command).
type slashCmd struct {
	name    string
	args    string
	help    string
	minArgs int
	admin   bool
	run     func(a *App, args []string, rest string) tea.Cmd
}

func (a *App) slashCommands() []slashCmd {
	cs := []slashCmd{
		{name: "join", args: "#room", help: "join a room (or switch to it)", minArgs: 1, run: (*App).cmdJoin},
		{name: "leave", args: "[#room]", help: "leave a room, or close a direct conversation", run: (*App).cmdLeave},
		{name: "rooms", help: "list rooms", run: (*App).cmdRooms},
		{name: "topic", args: "[text]", help: "show or set the room's topic", run: (*App).cmdTopic},
		{name: "msg", args: "NAME [text]", help: "open a direct conversation (and send text, if given)", minArgs: 1, run: (*App).cmdMsg},
		{name: "me", args: "text", help: "send an action (* you text)", minArgs: 1, run: (*App).cmdMe},
		{name: "who", help: "list the members of this room", run: (*App).cmdWho},
		{name: "whois", args: "NAME", help: "show a user's key, presence and rooms", minArgs: 1, run: (*App).cmdWhois},
		{name: "away", args: "[reason]", help: "mark yourself away (again: back)", run: (*App).cmdAway},
		a.searchCommand(), // app_search.go
		{name: "tz", args: "[ZONE]", help: "show or set the time zone of the times shown (like Europe/Berlin)", run: (*App).cmdTz},
		{name: "help", help: "this list; keys: Tab complete, ↑ on an empty line edits your last message, ↑/↓ (Alt-↑/↓) history, PgUp/PgDn scroll, Ctrl-N/P switch, Alt-Enter new line", run: (*App).cmdHelp},
		{name: "quit", help: "leave the chat", run: func(*App, []string, string) tea.Cmd { return tea.Quit }},
		{name: "kick", args: "NAME [reason]", help: "disconnect a user", minArgs: 1, admin: true, run: modCmd("kick")},
		{name: "ban", args: "NAME [DURATION] [reason]", help: "ban a user (default: forever)", minArgs: 1, admin: true, run: modCmd("ban")},
		{name: "mute", args: "NAME [DURATION] [reason]", help: "mute a user everywhere", minArgs: 1, admin: true, run: modCmd("mute")},
		{name: "unban", args: "NAME", help: "lift a user's ban", minArgs: 1, admin: true, run: modCmd("unban")},
		{name: "unmute", args: "NAME", help: "lift a user's mutes", minArgs: 1, admin: true, run: modCmd("unmute")},
		{name: "bans", help: "list the bans and mutes in force: who, by whom, why, until when", admin: true, run: (*App).cmdBans},
		{name: "release", args: "NAME", help: "free a user name: the next key to use it owns it", minArgs: 1, admin: true, run: (*App).cmdRelease},
	}
	cs = slices.Insert(cs, slices.IndexFunc(cs, func(c slashCmd) bool { return c.admin }), a.accessCommands()...) // app_access.go, before the admins'
	// app_messages.go: edit, delete, reply, react, thread, ids, before who
	cs = slices.Insert(cs, slices.IndexFunc(cs, func(c slashCmd) bool { return c.name == "who" }), messageCommands()...)
	return slices.DeleteFunc(cs, func(c slashCmd) bool { return c.admin && !a.d.id.Admin })
}

// command parses and runs one /command line.
func (a *App) command(line string) tea.Cmd {
	name, rest, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
	rest = strings.TrimSpace(rest)
	args := strings.Fields(rest)
	for _, c := range a.slashCommands() {
		if c.name != strings.ToLower(name) {
			continue
		}
		if len(args) < c.minArgs {
			a.notice("usage: /" + c.name + " " + c.args)
			return nil
		}
		return c.run(a, args, rest)
	}
	a.notice("unknown command /" + Clean(name, 32) + "; try /help")
	return nil
}

// op runs a Backend write off the event loop and reports back.
func (a *App) op(ok string, f func(ctx context.Context) error, then func(*App) tea.Cmd) tea.Cmd {
	timeout := a.d.cfg.PostTimeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := f(ctx); err != nil {
			return opResult{err: err}
		}
		return opResult{ok: ok, then: then}
	}
}

// joinCmd joins room; ok is the notice once joined ("": none).
func (a *App) joinCmd(room string, switchAfter bool, ok string) tea.Cmd {
	b, user := a.d.b, a.d.id.Name
	return a.op(ok, func(ctx context.Context) error { return b.JoinRoom(ctx, user, room) },
		func(a *App) tea.Cmd {
			a.addConv(room)
			if switchAfter {
				a.switchTo(room)
			}
			return nil
		})
}

func (a *App) cmdJoin(args []string, rest string) tea.Cmd {
	room, ok := a.roomArg(args, rest)
	if !ok {
		return nil
	}
	folded := ""
	if strings.TrimPrefix(args[0], "#") != room {
		folded = "#" + room + ": room names are lower case"
	}
	if slices.Contains(a.convs, room) {
		a.switchTo(room)
		if folded != "" {
			a.notice(folded)
		}
		return nil
	}
	return a.joinCmd(room, true, folded)
}

// roomArg is the one room name a command takes. A name with spaces is
// refused, not cut at the first word ("/join #Dev Ops" must not join
// #dev); the notice says why and what would do.
func (a *App) roomArg(args []string, rest string) (string, bool) {
	if len(args) > 1 {
		msg := "room names have no spaces: " + Clean(strings.Join(strings.Fields(rest), " "), 80)
		if r, err := NormalizeRoom(strings.Join(args, "-")); err == nil {
			msg += " (try #" + r + ")"
		}
		a.notice(msg)
		return "", false
	}
	room, err := NormalizeRoom(args[0])
	if err != nil {
		a.notice(err.Error())
		return "", false
	}
	return room, true
}

func (a *App) cmdLeave(args []string, rest string) tea.Cmd {
	conv := a.cur
	if len(args) > 0 {
		conv = args[0]
		if !strings.HasPrefix(conv, "@") {
			r, ok := a.roomArg(args, rest)
			if !ok {
				return nil
			}
			conv = r
		}
	}
	switch {
	case isDMConv(conv):
		a.removeConv(conv)
		return nil
	case conv == "general":
		a.notice("#general is home: you cannot leave it")
		return nil
	case !slices.Contains(a.convs, conv):
		a.notice("you are not in #" + conv)
		return nil
	}
	b, user := a.d.b, a.d.id.Name
	return a.op("left #"+conv, func(ctx context.Context) error { return b.LeaveRoom(ctx, user, conv) },
		func(a *App) tea.Cmd { a.removeConv(conv); return nil })
}

func (a *App) cmdRooms([]string, string) tea.Cmd {
	var b strings.Builder
	b.WriteString("rooms:")
	for _, r := range visibleRooms(a.d.b, a.d.id.Name) {
		b.WriteString("\n  " + roomLine(r)) // app_access.go
	}
	a.notice(b.String())
	return nil
}

func (a *App) cmdTopic(_ []string, rest string) tea.Cmd {
	if isDMConv(a.cur) {
		a.notice("direct conversations have no topic")
		return nil
	}
	if rest == "" {
		t := a.bufs[a.cur].topic
		if t == "" {
			t = "(none)"
		}
		a.notice("topic of #" + a.cur + ": " + t)
		return nil
	}
	topic := Clean(rest, 300)
	b, user, room := a.d.b, a.d.id.Name, a.cur
	return a.op("", func(ctx context.Context) error { return b.SetTopic(ctx, user, room, topic) }, nil)
}

func (a *App) cmdMsg(args []string, rest string) tea.Cmd {
	to, err := NormalizeName(strings.TrimPrefix(args[0], "@"))
	if err != nil {
		a.notice(err.Error())
		return nil
	}
	if to == a.d.id.Name {
		a.notice("that is you: /msg sends a direct message to someone else")
		return nil
	}
	if _, ok := a.d.b.NameOwner(to); !ok && to != AdminName {
		a.notice("no such user: " + to)
		return nil
	}
	text := strings.TrimSpace(strings.TrimPrefix(rest, args[0]))
	conv := "@" + to
	a.switchTo(conv)
	if text == "" {
		return nil // the conversation is open: what is typed next goes there
	}
	return a.enqueue(conv, text, false)
}

func (a *App) cmdMe(_ []string, rest string) tea.Cmd {
	return a.enqueue(a.cur, rest, true)
}

func (a *App) cmdWho([]string, string) tea.Cmd {
	a.refreshMembers()
	var b strings.Builder
	fmt.Fprintf(&b, "%d in %s:", len(a.members), a.convTitle(a.cur))
	for _, p := range a.members {
		fmt.Fprintf(&b, "\n  %s %s", Clean(p.User, MaxNameLen), presenceText(p))
	}
	a.notice(b.String())
	return nil
}

func presenceText(p api.Presence) string {
	s := Clean(p.Status, 16)
	if s == "" {
		s = "offline"
	}
	if p.Node != "" && s != "offline" {
		s += " on " + Clean(p.Node, 32)
	}
	return s
}

func (a *App) cmdWhois(args []string, _ string) tea.Cmd {
	name, err := NormalizeName(strings.TrimPrefix(args[0], "@"))
	if err != nil {
		a.notice(err.Error())
		return nil
	}
	fp, ok := a.d.b.NameOwner(name)
	if !ok && name != AdminName {
		a.notice("no such user: " + name)
		return nil
	}
	status := "offline"
	for _, p := range everyone(a.d.b) {
		if p.User == name {
			status = presenceText(p)
		}
	}
	rooms := slices.DeleteFunc(a.d.b.RoomsOf(name), func(r string) bool { return !a.d.b.CanRead(a.d.id.Name, r) })
	for i := range rooms {
		rooms[i] = "#" + Clean(rooms[i], MaxNameLen)
	}
	if fp == "" {
		fp = "(admin keys)"
	}
	a.notice(fmt.Sprintf("%s: key %s, %s, rooms: %s", name, Clean(fp, 80), status, strings.Join(rooms, " ")))
	return nil
}

func (a *App) cmdAway(_ []string, rest string) tea.Cmd {
	a.away = !a.away
	status, ok := "online", "you are back"
	if a.away {
		status, ok = "away", "you are away"
		if rest != "" {
			ok += ": " + Clean(rest, 100)
		}
	}
	b, user := a.d.b, a.d.id.Name
	return a.op(ok, func(ctx context.Context) error { return b.SetPresence(ctx, user, status) }, nil)
}

func (a *App) cmdHelp([]string, string) tea.Cmd {
	var b strings.Builder
	b.WriteString("commands:")
	for _, c := range a.slashCommands() {
		fmt.Fprintf(&b, "\n  /%s %s — %s", c.name, c.args, c.help)
	}
	a.notice(b.String())
	return nil
}

// modCmd builds /kick, /ban, /mute (NAME [DURATION] [reason]) and
// /unban, /unmute (NAME). The confirmation is the sentence everyone else
// sees: who, what, until when and why.
func modCmd(action string) func(a *App, args []string, rest string) tea.Cmd {
	return func(a *App, args []string, _ string) tea.Cmd {
		target, err := NormalizeName(strings.TrimPrefix(args[0], "@"))
		if err != nil {
			a.notice(err.Error())
			return nil
		}
		m := api.Moderation{Action: action, Target: target, By: a.d.id.Name}
		rest := args[1:]
		if (action == "ban" || action == "mute") && len(rest) > 0 {
			if d, err := time.ParseDuration(rest[0]); err == nil && d > 0 {
				m.Until = time.Now().Add(d)
				rest = rest[1:]
			}
		}
		m.Reason = Clean(strings.Join(rest, " "), 200)
		b := a.d.b
		ok := modSentence(m, time.Now(), a.loc)
		return a.op(ok, func(ctx context.Context) error { return b.Moderate(ctx, m) }, nil)
	}
}

func (a *App) cmdBans([]string, string) tea.Cmd {
	a.notice(sanctionsText(a.d.b.Sanctions(), time.Now(), a.loc))
	return nil
}

func (a *App) cmdRelease(args []string, _ string) tea.Cmd {
	name, err := NormalizeName(strings.TrimPrefix(args[0], "@"))
	if err != nil {
		a.notice(err.Error())
		return nil
	}
	b, by := a.d.b, a.d.id.Name
	ok := modSentence(api.Moderation{Action: "release", Target: name, By: by}, time.Now(), a.loc)
	return a.op(ok, func(ctx context.Context) error { return b.ReleaseName(ctx, name, by) }, nil)
}
