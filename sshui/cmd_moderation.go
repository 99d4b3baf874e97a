package sshui

import (
	"context"
	"fmt"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// The admin's exec equivalents of /bans, /unban, /unmute and /release.

func cmdBans() command {
	c := command{name: "bans", usage: "[--json]", admin: true,
		summary: "List the bans and mutes in force: who, by whom, why, until when."}
	c.run = func(e *execEnv) int {
		fs := newFlags(c)
		asJSON := fs.Bool("json", false, "one JSON object per ban or mute: action, target, by, room, reason, until")
		if code, ok := parseNoArgs(e, c, fs); !ok {
			return code
		}
		ms := e.b.Sanctions()
		e.finish()
		if *asJSON {
			for _, m := range ms {
				row := sanctionJSON{Action: m.Action, Target: m.Target, By: m.By, Room: m.Room, Reason: m.Reason, Until: m.Until}
				if writeJSON(e.out, row) != nil {
					break
				}
			}
			return exitOK
		}
		_, _ = fmt.Fprintln(e.out, sanctionsText(ms, e.now(), time.UTC))
		return exitOK
	}
	return c
}

// sanctionJSON is one line of bans --json (docs/CONTRACTS.md §3.3).
type sanctionJSON struct {
	Action string    `json:"action"`
	Target string    `json:"target"`
	By     string    `json:"by"`
	Room   string    `json:"room,omitempty"`
	Reason string    `json:"reason"`
	Until  time.Time `json:"until,omitzero"`
}

// cmdLift builds unban and unmute: NAME [reason].
func cmdLift(action string) command {
	c := command{name: action, usage: "NAME", admin: true,
		summary: map[string]string{"unban": "Lift a user's ban.", "unmute": "Lift a user's mutes, everywhere."}[action]}
	c.run = func(e *execEnv) int {
		fs := newFlags(c)
		pos, code, ok := parseArgs(e, c, fs)
		if !ok {
			return code
		}
		if len(pos) != 1 {
			return usageErr(e, c, fs, "need exactly one NAME")
		}
		name, err := NormalizeName(pos[0])
		if err != nil {
			return usageErr(e, c, fs, "%v", quoteHint(pos[0], err))
		}
		m := api.Moderation{Action: action, Target: name, By: e.id.Name}
		return runWrite(e, func(ctx context.Context) error { return e.b.Moderate(ctx, m) },
			modSentence(m, e.now(), time.UTC))
	}
	return c
}

func cmdRelease() command {
	c := command{name: "release", usage: "NAME", admin: true,
		summary: "Free a user name: the next key to use it owns it; sessions using it end."}
	c.run = func(e *execEnv) int {
		fs := newFlags(c)
		pos, code, ok := parseArgs(e, c, fs)
		if !ok {
			return code
		}
		if len(pos) != 1 {
			return usageErr(e, c, fs, "need exactly one NAME")
		}
		name, err := NormalizeName(pos[0])
		if err != nil {
			return usageErr(e, c, fs, "%v", quoteHint(pos[0], err))
		}
		m := api.Moderation{Action: "release", Target: name, By: e.id.Name}
		return runWrite(e, func(ctx context.Context) error { return e.b.ReleaseName(ctx, name, e.id.Name) },
			modSentence(m, e.now(), time.UTC))
	}
	return c
}

// runWrite runs one replicated write and prints ok, or why not.
func runWrite(e *execEnv, write func(ctx context.Context) error, ok string) int {
	ctx, cancel := context.WithTimeout(e.ctx, e.srv.cfg.PostTimeout)
	defer cancel()
	if err := write(ctx); err != nil {
		return e.errorf("%s", explain(err, e.srv.cfg.PostTimeout.String()))
	}
	e.finish()
	_, _ = fmt.Fprintln(e.out, ok)
	return exitOK
}
