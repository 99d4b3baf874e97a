package sshui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/syncnet/syncnet/node/api"
)

// cmdRoom shows or changes a room's access: private (invite-only) rooms.
func cmdRoom() command {
	c := command{name: "room", usage: "ROOM [private | public | invite NAME | remove NAME [REASON]] [--json]",
		summary: "Show who may read a room, or change it: private makes it invite-only (you must be its only\n" +
			"member, or an admin; its members keep their place and you become its owner), invite lets NAME in\n" +
			"(any member may), remove takes NAME out (its owner or an admin), public opens it to everyone again."}
	c.run = func(e *execEnv) int { return runRoom(e, c) }
	return c
}

// roomOp is one parsed room command.
type roomOp struct {
	room   string
	op     string // "" (show), private, public, invite, remove
	user   string // invite, remove
	reason string // remove
}

// parseRoomOp reads the words after "room" (flags already taken out).
// self names the session's user (for "@name" arguments).
func parseRoomOp(pos []string) (roomOp, error) {
	if len(pos) == 0 {
		return roomOp{}, errors.New("need a room")
	}
	room, err := NormalizeRoom(pos[0])
	if err != nil {
		return roomOp{}, quoteHint(pos[0], err)
	}
	op := roomOp{room: room}
	if len(pos) == 1 {
		return op, nil
	}
	op.op = strings.ToLower(pos[1])
	rest := pos[2:]
	switch op.op {
	case "private", "public":
		if len(rest) > 0 {
			return roomOp{}, fmt.Errorf("room %s %s takes no more arguments", room, op.op)
		}
	case "invite", "remove":
		if len(rest) == 0 {
			return roomOp{}, fmt.Errorf("room %s %s needs a user name", room, op.op)
		}
		if op.user, err = NormalizeName(strings.TrimPrefix(rest[0], "@")); err != nil {
			return roomOp{}, quoteHint(rest[0], err)
		}
		if op.op == "invite" && len(rest) > 1 {
			return roomOp{}, fmt.Errorf("room %s invite takes one name", room)
		}
		op.reason = Clean(strings.Join(rest[1:], " "), 200)
	default:
		return roomOp{}, fmt.Errorf("unknown room command %q (private, public, invite, remove)", Clean(pos[1], 32))
	}
	return op, nil
}

func runRoom(e *execEnv, c command) int {
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, "the room's access as one JSON object: room, private, owner, allowed")
	pos, code, ok := parseArgs(e, c, fs)
	if !ok {
		return code
	}
	op, err := parseRoomOp(pos)
	if err != nil {
		return usageErr(e, c, fs, "%v", err)
	}
	if op.op == "" {
		if code, ok := e.mayRead("room", op.room); !ok {
			return code
		}
		if why := missingRoom(e, op.room, op.room); why != "" {
			return e.errorf("room: %s", why)
		}
	} else {
		if code, ok := e.claim(); !ok { // a change is a deliberate use of the name
			return code
		}
		ctx, cancel := context.WithTimeout(e.ctx, e.srv.cfg.PostTimeout)
		defer cancel()
		if err := doRoomOp(ctx, e.b, e.id, op); err != nil {
			return e.errorf("room: %s", explainChange(err, e.srv.cfg.PostTimeout.String()))
		}
	}
	e.finish()
	info := e.b.RoomAccess(op.room)
	if *asJSON {
		_ = writeJSON(e.out, info)
		return exitOK
	}
	if op.op != "" {
		_, _ = fmt.Fprintln(e.out, roomOpDone(op, e.id.Name))
	}
	_, _ = fmt.Fprintln(e.out, accessText(info))
	return exitOK
}

// doRoomOp carries out a change of op through the Backend.
func doRoomOp(ctx context.Context, b api.Backend, id Identity, op roomOp) error {
	switch op.op {
	case "private", "public":
		return b.SetRoomPrivate(ctx, id.Name, op.room, op.op == "private", id.Admin)
	case "invite":
		return b.Invite(ctx, id.Name, op.room, op.user, id.Admin)
	case "remove":
		return b.RemoveFromRoom(ctx, id.Name, op.room, op.user, op.reason, id.Admin)
	}
	return fmt.Errorf("unknown room command %q", op.op)
}

// roomOpDone is the confirmation of a change.
func roomOpDone(op roomOp, self string) string {
	room := "#" + op.room
	switch op.op {
	case "private":
		return room + " is private now: only its members and whoever they invite may read it"
	case "public":
		return room + " is open to everyone now"
	case "invite":
		return op.user + " may join " + room + " now (/join " + room + ")"
	case "remove":
		if op.user == self {
			return "you left " + room + " and gave up your invitation"
		}
		return op.user + " was removed from " + room
	}
	return ""
}

// accessText describes a room's access in one or two lines.
func accessText(a api.RoomAccess) string {
	room := "#" + Clean(a.Room, MaxNameLen)
	if !a.Private {
		return room + " is open to everyone"
	}
	owner := "no owner (admins manage it)"
	if a.Owner != "" {
		owner = "owner " + Clean(a.Owner, MaxNameLen)
	}
	names := make([]string, len(a.Allowed))
	for i, u := range a.Allowed {
		names[i] = Clean(u, MaxNameLen)
	}
	return fmt.Sprintf("%s is private, %s; let in: %s", room, owner, strings.Join(names, ", "))
}
