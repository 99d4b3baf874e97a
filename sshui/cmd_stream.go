package sshui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/syncnet/syncnet/node/api"
)

// This file: `post --stream`, the write path for bots and bridges. One
// session carries many posts: JSON lines in, one JSON ack line out per
// input line, pipelined.
//
// Three goroutines per session: the reader (this command's own: parses a
// line, waits for the user's allowance, submits it) hands each line's
// pending answer, in input order, to a queue of StreamInFlight; the writer
// waits for the head of the queue and writes its ack. A full queue stops
// the reader, so a slow leader or a cluster without quorum holds the
// session at StreamInFlight posts and the client's writes block (SSH
// flow control): memory stays flat. Requests are submitted in input order,
// so the leader places them in that order and acks (written in input
// order) follow the order of commit, except that a post retried after a
// leader change may commit after later ones; its ack still comes in its
// line's place.

// streamMaxLine bounds one input line: a message of MaxMessageLen runes
// in JSON escapes fits easily. A longer line is answered with an error
// and skipped, never cut into posts.
const streamMaxLine = 64 << 10

// streamLine is one input line.
type streamLine struct {
	Room   string `json:"room"`
	To     string `json:"to"`
	Text   string `json:"text"`
	ID     string `json:"id"`
	Action bool   `json:"action"`
}

// streamAck is one output line: {"id","index"} for a committed post, or
// the input line's number, its id if it had one, and the error. Retry says
// whether sending the line again (same id) may succeed.
type streamAck struct {
	ID         string `json:"id,omitempty"`
	Index      uint64 `json:"index,omitempty"`
	Line       int    `json:"line,omitempty"`
	Error      string `json:"error,omitempty"`
	Retry      bool   `json:"retry,omitempty"`
	RetryAfter int64  `json:"retry_after_ms,omitempty"`
}

// streamItem is one line's place in the ack queue.
type streamItem struct {
	line   int
	id     string
	p      api.Pending // nil: err is the answer
	err    error
	cancel context.CancelFunc
	ctx    context.Context
}

const streamHelp = "With --stream, reads JSON lines from stdin until its end, one post each:\n" +
	"  {\"room\": \"general\", \"text\": \"…\", \"id\": \"…\"}   (a direct message: \"room\": \"@bob\" or \"to\": \"bob\")\n" +
	"and writes one JSON line per input line, in input order, once it is committed:\n" +
	"  {\"id\": \"…\", \"index\": 123}   or   {\"id\": \"…\", \"line\": 7, \"error\": \"…\", \"retry\": true}\n" +
	"Posts are pipelined (at most a few hundred unacknowledged; then input is not read until acks go\n" +
	"out). Give every line an id: resending unacknowledged lines with the same ids after a reconnect\n" +
	"(to any node) never posts twice. A bad line gets its own error and the stream goes on. Your rate\n" +
	"limit applies per post (input waits for it); a [[bot]] key in cluster.toml has its own allowance.\n" +
	"Exit 0 when every line was committed, 1 if some line failed."

// runStream is `post --stream`.
func runStream(e *execEnv, c command) int {
	if e.pty {
		_, _ = fmt.Fprintf(e.err, "%s: --stream reads JSON lines from stdin: run it without ssh -t\n", c.name)
		return exitUsage
	}
	if rest := strings.TrimSpace(e.line.text()); rest != "" {
		_, _ = fmt.Fprintf(e.err, "%s: --stream takes no ROOM or TEXT (each JSON line names its room): %q\n", c.name, Clean(rest, 64))
		return exitUsage
	}
	if code, ok := e.claim(); !ok {
		return code
	}
	rate, burst := e.b.PostAllowance(e.id.Name)
	// slots holds one token per submitted post not yet acknowledged: the
	// in-flight cap. queue orders the acks (and bounds lines refused
	// before submission).
	slots := make(chan struct{}, e.srv.cfg.StreamInFlight)
	queue := make(chan *streamItem, e.srv.cfg.StreamInFlight)
	failed := make(chan bool, 1)
	go func() { failed <- streamWriter(e, queue, slots) }()

	in := bufio.NewReaderSize(e.in, 64<<10)
	for lineNo := 1; ; lineNo++ {
		raw, tooLong, err := readLine(in)
		if len(raw) == 0 && !tooLong && err != nil {
			break
		}
		it := e.streamOne(lineNo, raw, tooLong, rate, burst, slots)
		if it == nil { // an empty line, or the session ended
			if e.ctx.Err() != nil {
				break
			}
			continue
		}
		select {
		case queue <- it:
		case <-e.ctx.Done():
			if it.cancel != nil {
				it.cancel()
			}
		}
		if e.ctx.Err() != nil || err != nil {
			break
		}
	}
	close(queue)
	if <-failed {
		return exitError
	}
	return exitOK
}

// readLine reads one line without its end; a line over streamMaxLine is
// consumed to its end and reported too long, without its bytes.
func readLine(r *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > streamMaxLine+1 {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return nil, true, err
		}
		return bytes.TrimRight(line, "\r\n"), false, err
	}
}

// streamOne checks one input line and submits it, after waiting for the
// user's allowance. It returns nil for a blank line.
func (e *execEnv) streamOne(lineNo int, raw []byte, tooLong bool, rate float64, burst int, slots chan struct{}) *streamItem {
	bad := func(id, format string, a ...any) *streamItem {
		return &streamItem{line: lineNo, id: id, err: &lineError{msg: fmt.Sprintf(format, a...)}}
	}
	if tooLong {
		return bad("", "line longer than %d bytes; nothing was posted", streamMaxLine)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var l streamLine
	if !parseStreamLine(raw, &l) { // anything but the plain form: encoding/json decides
		l = streamLine{}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return bad("", "not a JSON object with room, text and id: %s", Clean(err.Error(), 200))
		}
		if dec.More() {
			return bad(l.ID, "one JSON object per line")
		}
	}
	switch {
	case len(l.ID) > 128:
		return bad("", "id longer than 128 bytes")
	case Clean(l.ID, 0) != l.ID:
		return bad("", "id must be printable text")
	}
	id := l.ID
	if id == "" {
		id = newClientID()
	}
	var req api.PostRequest
	switch {
	case l.To != "" && l.Room != "":
		return bad(l.ID, "give room or to, not both")
	case l.To != "":
		name, err := NormalizeName(strings.TrimPrefix(l.To, "@"))
		if err != nil {
			return bad(l.ID, "to: %v", err)
		}
		req.To = name
	case l.Room == "":
		return bad(l.ID, "room is missing")
	default:
		to, dm, err := postTarget(l.Room)
		if err != nil {
			return bad(l.ID, "room: %v", err)
		}
		if dm {
			req.To = to
		} else {
			req.Room = to
		}
	}
	text := CleanText(l.Text, 0)
	if text == "" {
		return bad(l.ID, "empty message")
	}
	if n := utf8.RuneCountInString(text); n > e.srv.cfg.MaxMessageLen {
		return bad(l.ID, "message too long: %d runes (max %d); nothing was posted", n, e.srv.cfg.MaxMessageLen)
	}
	if !e.waitAllowance(rate, burst) {
		return nil
	}
	select {
	case slots <- struct{}{}: // released by the writer once acked
	case <-e.ctx.Done():
		return nil
	}
	req.User, req.Text, req.ID, req.Action = e.id.Name, text, id, l.Action
	ctx, cancel := context.WithTimeout(e.ctx, e.srv.cfg.PostTimeout)
	return &streamItem{line: lineNo, id: id, p: e.b.Submit(ctx, req), ctx: ctx, cancel: cancel}
}

// waitAllowance takes one of the user's tokens on this node, waiting for
// it: a stream is paced, not refused. False if the session ended.
func (e *execEnv) waitAllowance(rate float64, burst int) bool {
	for {
		ok, wait := e.srv.limit.AllowAt(e.id.Name, rate, burst)
		if ok {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-e.ctx.Done():
			t.Stop()
			return false
		}
	}
}

// lineError is a line refused before it was submitted.
type lineError struct{ msg string }

func (l *lineError) Error() string { return l.msg }

// streamWriter writes one ack per queued line, in queue order, flushing
// whenever it has caught up. It reports whether any line failed.
func streamWriter(e *execEnv, queue <-chan *streamItem, slots <-chan struct{}) (failed bool) {
	w := bufio.NewWriterSize(e.out, 16<<10)
	var line []byte
	broken := false
	for it := range queue {
		a := e.ackOf(it)
		if it.cancel != nil {
			it.cancel()
		}
		if it.p != nil {
			<-slots
		}
		failed = failed || a.Error != ""
		if broken {
			continue // the client is gone; drain what is queued
		}
		line = appendAck(line[:0], a)
		if _, err := w.Write(line); err != nil {
			broken = true
			continue
		}
		if len(queue) == 0 {
			if w.Flush() != nil {
				broken = true
			}
		}
	}
	if !broken {
		_ = w.Flush()
	}
	return failed
}

// ackOf waits for one line's answer and turns it into its ack.
func (e *execEnv) ackOf(it *streamItem) streamAck {
	err := it.err
	var idx uint64
	if it.p != nil {
		idx, err = it.p.Wait(it.ctx)
	}
	if err == nil {
		return streamAck{ID: it.id, Index: idx}
	}
	a := streamAck{ID: it.id, Line: it.line}
	var le *lineError
	var rl *api.RateLimited
	switch {
	case errors.As(err, &le):
		a.Error = le.msg
	case errors.Is(err, api.ErrIDReused):
		a.Error = fmt.Sprintf("id %s was already used for a different message (index %d); nothing was posted", it.id, idx)
	case errors.As(err, &rl):
		a.Error, a.Retry, a.RetryAfter = Clean(rl.Error(), 200), true, max(1, rl.Wait.Milliseconds())
	case noQuorum(err) || errors.Is(err, context.Canceled):
		a.Error, a.Retry = "not committed: the cluster has no quorum (waited up to "+e.srv.cfg.PostTimeout.String()+"); resend with the same id", true
	default:
		a.Error = explain(err, e.srv.cfg.PostTimeout.String())
	}
	return a
}

var _ io.Writer = (*bufio.Writer)(nil)
