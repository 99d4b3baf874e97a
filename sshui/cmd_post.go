package sshui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/syncnet/syncnet/node/api"
)

func cmdPost() command {
	c := command{name: "post", usage: "ROOM TEXT… [--id CLIENT_MSG_ID]",
		summary: "Post a message; prints its committed index. Exit 0 only once committed.\n" +
			"Retrying with the same --id never creates a second message. ROOM may be @NAME for a direct message."}
	c.run = func(e *execEnv) int { return runPost(e, c) }
	return c
}

func runPost(e *execEnv, c command) int {
	fs := newFlags(e, c)
	id := fs.String("id", "", "client message id (idempotency key); random if empty")
	pos, code, ok := parseArgs(e, fs, e.args)
	if !ok {
		return code
	}
	if len(pos) < 2 {
		return usageErr(e, fs, "need a room and some text")
	}
	to, dm, err := postTarget(pos[0])
	if err != nil {
		return usageErr(e, fs, "%v", err)
	}
	text := strings.TrimSpace(Clean(strings.Join(pos[1:], " "), 0))
	if text == "" {
		return usageErr(e, fs, "empty message")
	}
	if n := utf8.RuneCountInString(text); n > e.srv.cfg.MaxMessageLen {
		return e.errorf("post: message too long: %d runes (max %d)", n, e.srv.cfg.MaxMessageLen)
	}
	if *id == "" {
		*id = newClientID()
	}
	if len(*id) > 128 {
		return usageErr(e, fs, "--id longer than 128 bytes")
	}
	if ok, wait := e.srv.limit.Allow(e.id.Name); !ok {
		return e.errorf("post: rate limited: try again in %s", wait.Round(1e6))
	}
	idx, err := postTo(e, to, dm, text, *id)
	if errors.Is(err, api.ErrIDReused) {
		// Nothing was posted: the id names an earlier, different message.
		return e.errorf("post: --id %s was already used for a different message (index %d); nothing was posted; use a new id",
			Clean(*id, 128), idx)
	}
	if err != nil {
		return e.errorf("post: %s", explain(err, e.srv.cfg.PostTimeout.String()))
	}
	_, _ = fmt.Fprintln(e.out, idx)
	return exitOK
}

// postTarget resolves "general", "#general" or "@bob" (a direct message).
func postTarget(arg string) (name string, dm bool, err error) {
	if n, ok := strings.CutPrefix(arg, "@"); ok {
		name, err = NormalizeName(n)
		return name, true, err
	}
	name, err = NormalizeRoom(arg)
	return name, false, err
}

// postTo sends a room message or a direct message. Bans and mutes are the
// backend's to decide (at apply time, the same on every node): its refusal
// says until when and why.
func postTo(e *execEnv, to string, dm bool, text, id string) (uint64, error) {
	ctx, cancel := context.WithTimeout(e.ctx, e.srv.cfg.PostTimeout)
	defer cancel()
	if dm {
		return e.b.DirectMessage(ctx, e.id.Name, to, text, id)
	}
	return e.b.Post(ctx, e.id.Name, to, text, id, 0, false)
}

// explain turns a Backend error into one clear line.
func explain(err error, timeout string) string {
	var refusal *api.Refusal
	switch {
	case errors.Is(err, api.ErrNoQuorum), errors.Is(err, context.DeadlineExceeded):
		return "not committed: the cluster has no quorum (waited up to " + timeout + "); retry with the same --id"
	case errors.As(err, &refusal):
		return Clean(refusal.Error(), 300)
	case errors.Is(err, api.ErrIDReused):
		return "this request id was already used for a different request; nothing was changed"
	case errors.Is(err, api.ErrMuted):
		return "you are muted here"
	case errors.Is(err, api.ErrForbidden):
		return "permission denied"
	}
	return Clean(err.Error(), 300)
}
