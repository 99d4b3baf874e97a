package sshui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/syncnet/syncnet/node/api"
)

func cmdTail() command {
	c := command{name: "tail", usage: "ROOM [--json] [--from INDEX] [--limit N] [--join]",
		summary: "Print recent messages, then follow new ones until the session closes.\n" +
			"With --from, print exactly the messages after INDEX (no gaps, no duplicates): resume after a failover.\n" +
			"With --join, follow as a member (syncnet chat does): join ROOM and be shown online while it runs."}
	c.run = func(e *execEnv) int { return runTail(e, c) }
	return c
}

// tailPage is how many messages one catch-up read fetches.
const tailPage = 1000

func runTail(e *execEnv, c command) int {
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, "JSON lines, as history --json")
	versions := fs.Bool("versions", false, "also every text an edited message had, as history --versions")
	from := fs.String("from", "", "resume strictly after this index")
	limit := fs.Int("limit", 20, "recent messages to print first (without --from)")
	join := fs.Bool("join", false, "follow as a member: join ROOM, shown online while tail runs")
	pos, code, ok := parseArgs(e, c, fs)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageErr(e, c, fs, "need exactly one room")
	}
	room, err := roomArg(e, pos[0])
	if err != nil {
		return usageErr(e, c, fs, "%v", err)
	}
	if code, ok := e.mayRead("tail", room); !ok {
		return code
	}
	t := &tailer{e: e, room: room, json: *asJSON, versions: *versions}
	if *from != "" {
		n, err := strconv.ParseUint(*from, 10, 64)
		if err != nil {
			return usageErr(e, c, fs, "--from: not an index: %q", Clean(*from, 40))
		}
		t.last, t.resume = n, true
	}
	if *limit < 0 || *limit > 10000 {
		return usageErr(e, c, fs, "--limit must be 0..10000")
	}
	if *join {
		if room[0] == '@' {
			return usageErr(e, c, fs, "--join is for rooms, not direct conversations")
		}
		// Follow from the start, before the join commits: what is posted
		// while it does (syncnet chat posts at once) is shown too.
		t.sub = t.subscribe()
		if code, ok := e.claim(); !ok { // following as a member claims the name
			t.sub.Close()
			return code
		}
		if code, ok := t.attend(); !ok {
			t.sub.Close()
			return code
		}
		defer e.srv.hub.Attend(e.id.Name)()
	}
	return t.run(*limit)
}

// attend makes the user a member of t.room unless they are one: a
// failover-client user is a user, in who and in the room's members. A
// refusal (a ban) ends the tail; without a quorum it follows the room
// anyway and says so (the next tail joins).
func (t *tailer) attend() (int, bool) {
	e := t.e
	if slices.Contains(e.b.RoomsOf(e.id.Name), t.room) {
		return exitOK, true
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.srv.cfg.PostTimeout)
	defer cancel()
	err := e.b.JoinRoom(ctx, e.id.Name, t.room)
	var refusal *api.Refusal
	switch {
	case err == nil:
	case errors.As(err, &refusal):
		return e.errorf("tail: %s", Clean(refusal.Error(), 300)), false
	case noQuorum(err):
		_, _ = fmt.Fprintf(e.err, "tail: not joined #%s yet: the cluster has no quorum; following it anyway\n", t.room)
	default:
		return e.errorf("tail: join #%s: %s", t.room, explain(err, e.srv.cfg.PostTimeout.String())), false
	}
	return exitOK, true
}

// tailer follows one room. It subscribes BEFORE reading history so nothing
// committed in between is missed, and drops anything at or below the last
// printed index, so nothing is printed twice (also after a resync).
type tailer struct {
	e        *execEnv
	room     string
	json     bool
	versions bool // print the versions of edited messages (cmd_messages.go)
	last     uint64
	resume   bool
	sub      api.Subscription // taken before a join (run subscribes otherwise)
}

// subscribe follows the room's messages and the moderation that may end
// this session (a ban, kick or name release of the user, as in the chat
// app: the filter lets through events of no room, among them bans).
func (t *tailer) subscribe() api.Subscription {
	f := api.Filter{Rooms: []string{t.room}, Reader: t.e.id.Name}
	if t.room[0] == '@' {
		f = api.Filter{DMsFor: t.e.id.Name, Reader: t.e.id.Name}
	}
	return t.e.b.Subscribe(f, 1024)
}

// ended reports whether ev ends this user's sessions, and says why on
// stderr: a banned syncnet chat user must not keep reading the room.
func (t *tailer) ended(ev api.Event) bool {
	if why := t.shutOut(ev); why != "" {
		_, _ = fmt.Fprintf(t.e.err, "tail: %s\n", why)
		return true
	}
	if ev.Kind != api.EventModeration || ev.Mod.Target != t.e.id.Name || !endsSession(ev.Mod.Action) {
		return false
	}
	_, _ = fmt.Fprintf(t.e.err, "tail: %s\n", kickText(ev.Mod))
	return true
}

func (t *tailer) run(limit int) int {
	sub := t.sub
	if sub == nil {
		sub = t.subscribe()
	}
	defer func() { sub.Close() }()
	if t.resume {
		if code, ok := t.catchUp(); !ok {
			return code
		}
	} else if limit > 0 {
		msgs, err := t.e.b.History(t.room, 0, limit)
		if err != nil {
			return t.e.errorf("tail: %s", historyErr(err))
		}
		for _, m := range msgs {
			if !t.print(m) {
				return exitOK
			}
		}
	}
	for {
		select {
		case <-t.e.ctx.Done():
			return exitOK
		case ev, ok := <-sub.C():
			if ok {
				if t.ended(ev) {
					return exitError
				}
				if ev.Kind == api.EventMessage && ev.Message.Room == t.room && !t.print(ev.Message) {
					return exitOK
				}
				continue
			}
			if !sub.Dropped() {
				return t.e.errorf("tail: the node closed the stream")
			}
			sub = t.subscribe() // resubscribe first, then fill the gap
			if code, ok := t.catchUp(); !ok {
				return code
			}
		}
	}
}

// catchUp prints everything after t.last from History. When it cannot go
// on it reports false and the exit code: exitOK when the client left,
// exitError (with the index to resume from on stderr) when the node could
// not read its log.
func (t *tailer) catchUp() (int, bool) {
	for {
		page, err := t.e.b.HistoryAfter(t.room, t.last, tailPage)
		if err != nil {
			return t.e.errorf("tail: %s; resume with --from %d", historyErr(err), t.last), false
		}
		for _, m := range page {
			if !t.print(m) {
				return exitOK, false
			}
		}
		if len(page) < tailPage {
			return exitOK, true
		}
	}
}

// print writes m unless it was already printed; false when the client left.
func (t *tailer) print(m api.Message) bool {
	if m.Index <= t.last {
		return true
	}
	t.last = m.Index
	var vs []api.Version
	if t.versions {
		vs, _ = versionsOf(t.e, m) // none shown if it cannot be read: the message still is
	}
	return printMessageVersions(t.e.out, m, t.json, vs) == nil
}
