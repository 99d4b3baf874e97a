package sshui

// The outbox: lines are posted one at a time, in order, queued while the
// cluster has no quorum.

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
)

// maxOutbox bounds the lines waiting to be sent (no quorum, rate limit).
const maxOutbox = 100

// enqueue queues a message for conv and starts sending if idle. A message
// that cannot be sent as it is — too long, or too many already waiting —
// is not sent at all: it goes back into the input (restoreInput), and the
// notice says why. Lines beyond the rate limit wait in the outbox, each
// its own message, and go out in order (sendNext).
func (a *App) enqueue(conv, text string, action bool) tea.Cmd {
	return a.enqueueLine(pending{conv: conv, text: text, action: action})
}

// enqueueReply is enqueue of a reply to message replyTo (/reply).
func (a *App) enqueueReply(conv, text string, replyTo uint64) tea.Cmd {
	return a.enqueueLine(pending{conv: conv, text: text, replyTo: replyTo})
}

// enqueueLine is enqueue of the line p (its id drawn here).
func (a *App) enqueueLine(p pending) tea.Cmd {
	text := CleanText(p.text, 0)
	if text == "" {
		return nil
	}
	if n := utf8.RuneCountInString(text); n > a.d.cfg.MaxMessageLen {
		a.notice("not sent: your message is " + itoa(n) + " characters and the limit is " + itoa(a.d.cfg.MaxMessageLen) +
			"; it is still in the input: shorten it, or send it in parts")
		a.restoreInput()
		return nil
	}
	if len(a.outbox) >= maxOutbox {
		a.notice("not sent: " + itoa(len(a.outbox)) + " lines are already waiting to be sent; it is still in the input")
		a.restoreInput()
		return nil
	}
	if len(a.outbox) == 0 {
		a.rateSaid = false // a new run of lines: say the rate limit again
	}
	p.id, p.text = newClientID(), text
	a.outbox = append(a.outbox, p)
	if !a.status.Quorum && a.status.Node != "" {
		a.outbox[len(a.outbox)-1].queued = true
		a.notice("no quorum: your message is queued and will be sent when the cluster recovers")
	}
	return a.sendNext()
}

// sendNext posts the head of the outbox if nothing is in flight. Lines are
// sent one at a time, in order, each with its own client message id, so a
// retry after no quorum never duplicates (I5). Each takes a rate-limit
// token when it is first sent; without one it waits, and so does
// everything behind it, until a rateTick.
func (a *App) sendNext() tea.Cmd {
	if a.inflight || len(a.outbox) == 0 {
		return nil
	}
	p := &a.outbox[0]
	if !p.charged {
		if a.rateTicking {
			return nil
		}
		ok, wait := a.d.limit.Allow(a.d.id.Name)
		if !ok {
			return a.rateWait(wait)
		}
		p.charged = true
	}
	a.inflight = true
	b, user, seen, msg := a.d.b, a.d.id.Name, a.lamport, *p
	timeout := a.d.cfg.PostTimeout
	room := msg.conv
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		var idx uint64
		var err error
		switch {
		case msg.replyTo != 0: // through Submit, which carries it
			r := api.PostRequest{User: user, Room: room, Text: msg.text, ID: msg.id, Action: msg.action, ReplyTo: msg.replyTo}
			if isDMConv(room) {
				r.Room, r.To = "", room[1:]
			}
			idx, err = b.Submit(ctx, r).Wait(ctx)
		case isDMConv(room):
			idx, err = b.DirectMessage(ctx, user, room[1:], msg.text, msg.id, msg.action)
		default:
			idx, err = b.Post(ctx, user, room, msg.text, msg.id, seen, msg.action)
		}
		return postResult{id: msg.id, idx: idx, err: err}
	}
}

// rateWait says once that lines wait for the rate limit, and schedules
// the next try. Until it comes, the uncharged lines show as waiting.
func (a *App) rateWait(wait time.Duration) tea.Cmd {
	if !a.rateSaid {
		a.rateSaid = true
		a.notice("rate limit: you are sending too fast; your lines wait and are sent in order, the next in " +
			roundUp(wait).String())
	}
	a.rateTicking = true
	return tea.Tick(max(wait, time.Millisecond), func(time.Time) tea.Msg { return rateTick{} })
}

// roundUp is d rounded up to a tenth of a second, at least that: a wait
// shown must never read 0s.
func roundUp(d time.Duration) time.Duration {
	const step = 100 * time.Millisecond
	return max((d+step-1)/step*step, step)
}

// restoreInput puts the line being submitted back into the input, when
// it was not sent as it is.
func (a *App) restoreInput() {
	if a.submitting != "" {
		a.input.SetValue(a.submitting)
		a.input.CursorEnd()
	}
}

func (a *App) onPostResult(r postResult) tea.Cmd {
	a.inflight = false
	if len(a.outbox) == 0 || a.outbox[0].id != r.id {
		return a.sendNext()
	}
	var limited *api.RateLimited
	switch {
	case r.err == nil:
		a.outbox = a.outbox[1:]
		return a.sendNext()
	case errors.As(r.err, &limited):
		// The cluster's allowance, kept by the leader (posting through
		// other nodes spends it too): the line waits its turn again and
		// takes a token here again when it goes.
		a.outbox[0].charged = false
		return a.rateWait(limited.Wait)
	case errors.Is(r.err, api.ErrNoQuorum), errors.Is(r.err, context.DeadlineExceeded):
		if !a.outbox[0].queued {
			a.notice("no quorum: your message is queued and will be sent when the cluster recovers")
		}
		for i := range a.outbox {
			a.outbox[i].queued = true
		}
		if a.retrying {
			return nil
		}
		a.retrying = true
		return tea.Tick(2*time.Second, func(time.Time) tea.Msg { return retryTick{} })
	}
	a.notice("not sent: " + explain(r.err, a.d.cfg.PostTimeout.String()) + ": " + a.outbox[0].text)
	a.outbox = a.outbox[1:]
	return a.sendNext()
}
