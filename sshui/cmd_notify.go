package sshui

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/syncnet/syncnet/node/api"
)

// cmdNotify shows and changes a user's notification settings, which the
// chat app follows on every node (they are replicated).
func cmdNotify() command {
	c := command{name: "notify", usage: "[ROOM|@ all|mentions|none|default | bell on|off | highlight add|remove WORD] [--json]",
		summary: "Show or change how the chat app tells you of new messages. Per room (ROOM) and for direct\n" +
			"messages (@): all (every message counts, the bell rings), mentions (the default for rooms:\n" +
			"unread counted; bell and a marker when you are named or a highlighted word comes), none\n" +
			"(nothing); direct messages default to all. bell off silences the terminal bell everywhere.\n" +
			"highlight add WORD makes WORD count as a mention. A room named bell or highlight: #bell."}
	c.run = func(e *execEnv) int { return runNotify(e, c) }
	return c
}

// notifyOp is one parsed notification command.
type notifyOp struct {
	kind   string // list, level, bell, highlight
	conv   string // level: a room, or api.NotifyDMs
	level  string // level: all, mentions, none, "" (the default)
	value  string // bell: on/off; highlight: the word
	remove bool   // highlight remove
}

// parseLevel reads a notification level; "default" (or "reset") is "".
func parseLevel(w string) (string, error) {
	switch l := strings.ToLower(w); l {
	case api.NotifyAll, api.NotifyMentions, api.NotifyNone:
		return l, nil
	case "default", "reset":
		return "", nil
	}
	return "", fmt.Errorf("%q is not a level: all, mentions, none or default", Clean(w, 32))
}

// parseConv reads the conversation a setting is for: "@" (or "dms") for
// direct messages, else a room ("#ops" or "ops").
func parseConv(w string) (string, error) {
	if w == api.NotifyDMs || strings.EqualFold(w, "dms") {
		return api.NotifyDMs, nil
	}
	room, err := NormalizeRoom(w)
	return room, quoteHint(w, err)
}

// parseBell reads on/off.
func parseBell(args []string) (string, error) {
	if len(args) != 1 || (strings.ToLower(args[0]) != "on" && strings.ToLower(args[0]) != "off") {
		return "", errors.New("bell takes on or off")
	}
	return strings.ToLower(args[0]), nil
}

// parseHighlight reads "add WORD", "remove WORD" or "list" (nothing: list).
func parseHighlight(args []string) (notifyOp, error) {
	op := notifyOp{kind: "highlight"}
	if len(args) == 0 || (len(args) == 1 && strings.EqualFold(args[0], "list")) {
		return notifyOp{kind: "list"}, nil
	}
	switch strings.ToLower(args[0]) {
	case "add":
	case "remove", "rm", "del":
		op.remove = true
	default:
		return notifyOp{}, fmt.Errorf("highlight %q: want add WORD, remove WORD or list", Clean(args[0], 32))
	}
	if len(args) != 2 {
		return notifyOp{}, errors.New("highlight add and remove take one word")
	}
	op.value = strings.ToLower(args[1])
	if len(op.value) > 64 {
		return notifyOp{}, errors.New("a highlighted word is at most 64 bytes")
	}
	if CleanText(op.value, 0) != op.value || strings.ContainsAny(op.value, "\n\t ") {
		return notifyOp{}, errors.New("a highlighted word has no spaces or control characters")
	}
	return op, nil
}

// parseNotifyOp reads the words after "notify" (flags taken out).
func parseNotifyOp(pos []string) (notifyOp, error) {
	if len(pos) == 0 {
		return notifyOp{kind: "list"}, nil
	}
	switch strings.ToLower(pos[0]) {
	case "bell":
		v, err := parseBell(pos[1:])
		return notifyOp{kind: "bell", value: v}, err
	case "highlight", "highlights":
		return parseHighlight(pos[1:])
	}
	if len(pos) != 2 {
		return notifyOp{}, errors.New("give a room (or @ for direct messages) and a level: notify #ops mentions")
	}
	conv, err := parseConv(pos[0])
	if err != nil {
		return notifyOp{}, err
	}
	level, err := parseLevel(pos[1])
	if err != nil {
		return notifyOp{}, err
	}
	return notifyOp{kind: "level", conv: conv, level: level}, nil
}

// applyNotifyOp carries out a change through the Backend.
func applyNotifyOp(ctx context.Context, b api.Backend, user string, op notifyOp) error {
	switch op.kind {
	case "level":
		return b.SetNotify(ctx, user, op.conv, op.level)
	case "bell":
		return b.SetPref(ctx, user, api.PrefBell, op.value, false)
	case "highlight":
		return b.SetPref(ctx, user, api.PrefHighlight, op.value, op.remove)
	}
	return nil
}

// notifyDone confirms a change.
func notifyDone(op notifyOp) string {
	switch op.kind {
	case "level":
		where := "direct messages"
		if op.conv != api.NotifyDMs {
			where = "#" + op.conv
		}
		if op.level == "" {
			return where + ": back to the default"
		}
		return where + ": " + op.level
	case "bell":
		return "the bell is " + op.value
	case "highlight":
		if op.remove {
			return "no longer highlighting " + op.value
		}
		return "highlighting " + op.value + ": it counts as a mention"
	}
	return ""
}

// notifyText describes a user's settings.
func notifyText(s api.NotifySettings) string {
	var b strings.Builder
	bell := "on"
	if !s.Bell {
		bell = "off"
	}
	fmt.Fprintf(&b, "bell: %s\n", bell)
	fmt.Fprintf(&b, "direct messages: %s\n", s.Level(api.NotifyDMs))
	for _, conv := range slices.Sorted(maps.Keys(s.Notify)) {
		if conv != api.NotifyDMs {
			fmt.Fprintf(&b, "#%s: %s\n", Clean(conv, MaxNameLen), Clean(s.Notify[conv], 16))
		}
	}
	b.WriteString("other rooms: mentions\n")
	words := make([]string, len(s.Highlights))
	for i, w := range s.Highlights {
		words[i] = Clean(w, 64)
	}
	if len(words) == 0 {
		words = []string{"(none)"}
	}
	fmt.Fprintf(&b, "highlights: %s\n", strings.Join(words, " "))
	return b.String()
}

func runNotify(e *execEnv, c command) int {
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, "the settings as one JSON object: notify, bell, highlights")
	pos, code, ok := parseArgs(e, c, fs)
	if !ok {
		return code
	}
	op, err := parseNotifyOp(pos)
	if err != nil {
		return usageErr(e, c, fs, "%v", err)
	}
	if op.kind != "list" {
		if code, ok := e.claim(); !ok {
			return code
		}
		ctx, cancel := context.WithTimeout(e.ctx, e.srv.cfg.PostTimeout)
		defer cancel()
		if err := applyNotifyOp(ctx, e.b, e.id.Name, op); err != nil {
			return e.errorf("notify: %s", explainChange(err, e.srv.cfg.PostTimeout.String()))
		}
	}
	e.finish()
	s := e.b.NotifySettings(e.id.Name)
	if *asJSON {
		if s.Highlights == nil {
			s.Highlights = []string{}
		}
		_ = writeJSON(e.out, s)
		return exitOK
	}
	if op.kind != "list" {
		_, _ = fmt.Fprintln(e.out, notifyDone(op))
	}
	_, _ = fmt.Fprint(e.out, notifyText(s))
	return exitOK
}
