package sshui

// The outbox: lines are posted one at a time, in order, queued while the
// cluster has no quorum.

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
)

// enqueue queues a line for conv and starts sending if idle.
func (a *App) enqueue(conv, text string, action bool) tea.Cmd {
	text = strings.TrimSpace(Clean(text, 0))
	if text == "" {
		return nil
	}
	if n := utf8.RuneCountInString(text); n > a.d.cfg.MaxMessageLen {
		a.notice("message too long: " + itoa(n) + " runes (max " + itoa(a.d.cfg.MaxMessageLen) + ")")
		return nil
	}
	if ok, wait := a.d.limit.Allow(a.d.id.Name); !ok {
		a.notice("rate limit: you are sending too fast; try again in " + wait.Round(100*time.Millisecond).String())
		a.input.SetValue(text)
		a.input.CursorEnd()
		return nil
	}
	a.outbox = append(a.outbox, pending{id: newClientID(), conv: conv, text: text, action: action})
	if !a.status.Quorum && a.status.Node != "" {
		a.outbox[len(a.outbox)-1].queued = true
		a.notice("no quorum: your message is queued and will be sent when the cluster recovers")
	}
	return a.sendNext()
}

// sendNext posts the head of the outbox if nothing is in flight. Lines are
// sent one at a time, in order, each with its own client message id, so a
// retry after no quorum never duplicates (I5).
func (a *App) sendNext() tea.Cmd {
	if a.inflight || len(a.outbox) == 0 {
		return nil
	}
	a.inflight = true
	p := a.outbox[0]
	b, user, seen := a.d.b, a.d.id.Name, a.lamport
	timeout := a.d.cfg.PostTimeout
	room := p.conv
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		var idx uint64
		var err error
		if isDMConv(room) {
			idx, err = b.DirectMessage(ctx, user, room[1:], p.text, p.id)
		} else {
			idx, err = b.Post(ctx, user, room, p.text, p.id, seen, p.action)
		}
		return postResult{id: p.id, idx: idx, err: err}
	}
}

func (a *App) onPostResult(r postResult) tea.Cmd {
	a.inflight = false
	if len(a.outbox) == 0 || a.outbox[0].id != r.id {
		return a.sendNext()
	}
	switch {
	case r.err == nil:
		a.outbox = a.outbox[1:]
		return a.sendNext()
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
