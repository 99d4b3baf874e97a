package sshui

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/syncnet/syncnet/node/api"
)

func cmdPost() command {
	c := command{name: "post", usage: "[--id CLIENT_MSG_ID] [--reply INDEX] [--] ROOM TEXT   |   post --stream",
		summary: "Post a message; prints its committed index. Exit 0 only once committed.\n" +
			"Flags come before ROOM. TEXT is the rest of the line, exactly (line breaks kept, control\n" +
			"characters removed); with no TEXT, or TEXT \"-\", it is read from stdin.\n" +
			"Retrying with the same --id never creates a second message. ROOM may be @NAME for a direct message.\n" +
			"With --reply INDEX the message answers message INDEX of ROOM (a reply to a reply joins the first's thread).\n\n" +
			streamHelp}
	c.run = func(e *execEnv) int { return runPost(e, c) }
	return c
}

// postFlags are post's flags. A line whose only flag is --id (what bots
// send with every message) is read without the flag package (quickID):
// a FlagSet and its maps per post were 3% of a leader's CPU at 64 exec
// writers. The FlagSet is then made only for a usage error's text.
type postFlags struct {
	fs        *flag.FlagSet
	id, reply *string
	streamOn  *bool
}

func newPostFlags(c command) *postFlags {
	fs := newFlags(c)
	return &postFlags{fs: fs,
		id:       fs.String("id", "", "client message id (idempotency key); random if empty"),
		streamOn: fs.Bool("stream", false, "read JSON lines from stdin, post each, write one JSON ack line per post"),
		reply:    fs.String("reply", "", "the index of the message this one answers (history prints them)"),
	}
}

// quickID reads the leading flags of line when each is an --id (-id, --id=V,
// -id=V) and returns the last one's value, as the flag package would; ok is
// false (and line untouched) for anything else, which goes through the
// flag package.
func quickID(line *cmdLine) (id string, ok bool) {
	l := *line
	for {
		w, more := l.peek()
		if !more || len(w) < 2 || w[0] != '-' {
			*line = l
			return id, true
		}
		l.next()
		name := w[1:]
		if name[0] == '-' {
			name = name[1:]
		}
		switch {
		case name == "id":
			if id, more = l.next(); !more {
				return "", false // the flag package's error
			}
		case strings.HasPrefix(name, "id="):
			id = name[len("id="):]
		default:
			return "", false
		}
	}
}

func runPost(e *execEnv, c command) int {
	var pf *postFlags // nil unless needed
	id, reply, stream := "", "", false
	if v, ok := quickID(&e.line); ok {
		id = v
	} else {
		pf = newPostFlags(c)
		if code, ok := parseFlags(e, c, pf.fs, e.line.leadingFlags(pf.fs)); !ok {
			return code
		}
		id, reply, stream = *pf.id, *pf.reply, *pf.streamOn
	}
	usage := func(format string, a ...any) int {
		if pf == nil {
			pf = newPostFlags(c)
		}
		return usageErr(e, c, pf.fs, format, a...)
	}
	if stream {
		if id != "" || reply != "" {
			return usage("--id and --reply are for one post; with --stream each line has its own \"id\"")
		}
		return runStream(e, c)
	}
	var replyTo uint64
	if reply != "" {
		var err error
		if replyTo, err = parseIndex(reply); err != nil {
			return usage("--reply: %v", err)
		}
	}
	arg, ok := e.line.next()
	if !ok {
		return usage("need a room (and the text, or pipe it on stdin)")
	}
	to, dm, err := postTarget(arg)
	if err != nil {
		return usage("%v", quoteHint(arg, err))
	}
	switch {
	case len(id) > 128:
		return usage("--id longer than 128 bytes")
	case Clean(id, 0) != id:
		return usage("--id must be printable text")
	case id == "":
		id = newClientID()
	}
	raw := e.line.text()
	if t := strings.Trim(raw, " \t\r\n"); t == "" || t == "-" {
		if e.pty { // ssh -t: the terminal is raw, so Ctrl-D is a byte, never an end of input
			return usage("no text: with ssh -t, give the text after ROOM (stdin is read only without -t)")
		}
		var code int
		if raw, code, ok = readText(e); !ok {
			return code
		}
	}
	text := CleanText(raw, 0)
	if text == "" {
		return usage("empty message")
	}
	if n := utf8.RuneCountInString(text); n > e.srv.cfg.MaxMessageLen {
		return e.errorf("post: message too long: %d runes (max %d); nothing was posted", n, e.srv.cfg.MaxMessageLen)
	}
	rate, burst := e.b.PostAllowance(e.id.Name)
	if ok, wait := e.srv.limit.AllowAt(e.id.Name, rate, burst); !ok {
		return e.errorf("post: rate limited: try again in %s", wait.Round(1e6))
	}
	if code, ok := e.claim(); !ok { // a first post claims the name
		return code
	}
	idx, err := postTo(e, to, dm, text, id, replyTo)
	switch {
	case errors.Is(err, api.ErrIDReused):
		// Nothing was posted: the id names an earlier, different message.
		return e.errorf("post: --id %s was already used for a different message (index %d); nothing was posted; use a new id",
			id, idx)
	case noQuorum(err):
		// The id is the only way to retry without a second message.
		return e.errorf("post: not committed: the cluster has no quorum (waited up to %s); retry with --id %s",
			e.srv.cfg.PostTimeout, id)
	case err != nil:
		return e.errorf("post: %s", explain(err, e.srv.cfg.PostTimeout.String()))
	}
	e.finish()
	_, _ = fmt.Fprintln(e.out, idx)
	return exitOK
}

// readText reads a post's text from stdin, at most the bytes of a longest
// message: more is refused, never cut. It gives up when the session ends.
func readText(e *execEnv) (string, int, bool) {
	limit := int64(e.srv.cfg.MaxMessageLen) * utf8.UTFMax
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() { // ends when the session's channel closes, at the latest
		b, err := io.ReadAll(io.LimitReader(e.in, limit+1))
		done <- result{b, err}
	}()
	select {
	case <-e.ctx.Done():
		return "", e.errorf("post: ended before the text was read; nothing was posted"), false
	case r := <-done:
		switch {
		case r.err != nil:
			return "", e.errorf("post: reading the text from stdin: %s", Clean(r.err.Error(), 200)), false
		case int64(len(r.b)) > limit:
			return "", e.errorf("post: message too long: over %d bytes on stdin (max %d runes); nothing was posted",
				limit, e.srv.cfg.MaxMessageLen), false
		}
		return string(r.b), exitOK, true
	}
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
func postTo(e *execEnv, to string, dm bool, text, id string, replyTo uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(e.ctx, e.srv.cfg.PostTimeout)
	defer cancel()
	if replyTo != 0 { // a reply goes through Submit, which carries it
		r := api.PostRequest{User: e.id.Name, Room: to, Text: text, ID: id, ReplyTo: replyTo}
		if dm {
			r.Room, r.To = "", to
		}
		return e.b.Submit(ctx, r).Wait(ctx)
	}
	if dm {
		return e.b.DirectMessage(ctx, e.id.Name, to, text, id, false)
	}
	return e.b.Post(ctx, e.id.Name, to, text, id, 0, false)
}

func noQuorum(err error) bool {
	return errors.Is(err, api.ErrNoQuorum) || errors.Is(err, context.DeadlineExceeded)
}

// explain turns a Backend error into one clear line.
func explain(err error, timeout string) string {
	var refusal *api.Refusal
	switch {
	case noQuorum(err):
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
