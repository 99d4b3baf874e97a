package sshui

// Committed events from the hub, applied to the chat model.

import (
	"slices"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
)

// resync reloads everything after the last seen index of loaded buffers
// (the hub dropped events for this session, or its subscription was cut).
// A buffer it cannot read keeps its position and is marked stale; a
// resyncRetry reads it again later (see catchUp).
func (a *App) resync() tea.Cmd {
	var failed error
	for c, buf := range a.bufs {
		if err := a.catchUp(c, buf); err != nil {
			failed = err
		}
	}
	a.refreshMembers()
	return a.afterResync(failed)
}

// resyncEvery is how long a failed resync waits before reading again.
const resyncEvery = 2 * time.Second

// retryResync reads the stale buffers again.
func (a *App) retryResync() tea.Cmd {
	a.resyncTicking = false
	var failed error
	for c, buf := range a.bufs {
		if buf.stale {
			if err := a.catchUp(c, buf); err != nil {
				failed = err
			}
		}
	}
	return a.afterResync(failed)
}

// catchUp appends everything of c after buf.last. If History fails, what
// was read stays, buf.last is where it stopped, and buf is stale until a
// later catchUp reads on from there: live messages for a stale buffer are
// not appended meanwhile (onMessage), or buf.last would skip the gap.
func (a *App) catchUp(c string, buf *convBuf) error {
	if buf.last == 0 && !buf.full {
		// Its first page could not be read and nothing came since: there is
		// no position to go on from, and all of it is older history, which
		// PgUp reads a page at a time (not the whole room from index 0).
		buf.stale = false
		return nil
	}
	for {
		page, err := a.d.b.HistoryAfter(a.historyKey(c), buf.last, 1000)
		if err != nil {
			buf.stale = true
			return err
		}
		for _, m := range page {
			if a.appendMsg(buf, m) && c != a.cur {
				a.unread[c]++
				a.roomsPane = nil
			}
		}
		if len(page) < 1000 {
			buf.stale = false
			return nil
		}
	}
}

// afterResync tells the user once that history could not be read, and
// schedules one retry.
func (a *App) afterResync(err error) tea.Cmd {
	if err == nil {
		a.resyncFailing = false
		return nil
	}
	if !a.resyncFailing {
		a.resyncFailing = true
		a.notice(historyUnavailable(err) + "; new messages will show once it can be read (retrying)")
	}
	if a.resyncTicking {
		return nil
	}
	a.resyncTicking = true
	return tea.Tick(resyncEvery, func(time.Time) tea.Msg { return resyncRetry{} })
}

// onEvent applies one committed event.
func (a *App) onEvent(ev api.Event) tea.Cmd {
	switch ev.Kind {
	case api.EventMessage:
		return a.onMessage(ev.Message)
	case api.EventJoin, api.EventLeave:
		return a.onMembership(ev)
	case api.EventTopic:
		if buf := a.bufs[ev.Room]; buf != nil {
			buf.topic = Clean(ev.Text, 300)
			buf.lines = append(buf.lines, chatLine{system: true,
				text: Clean(ev.User, MaxNameLen) + " set the topic: " + buf.topic})
		}
	case api.EventPresence: // the hub sends MembersMsg instead; tests may not
		if a.client == nil && a.hasMember(ev.User) {
			a.refreshMembers()
		}
	case api.EventModeration:
		a.onModeration(ev.Mod)
	case api.EventAccess, api.EventSettings, api.EventKeys:
		return a.onAccessEvent(ev) // app_access.go
	case api.EventMessageChanged:
		a.onChange(ev) // app_messages.go
	}
	return nil
}

func (a *App) onMessage(m api.Message) tea.Cmd {
	conv := m.Room
	if m.IsDM() {
		other := m.From
		if other == a.d.id.Name {
			other = m.To
		}
		conv = "@" + Clean(other, MaxNameLen)
		a.addConv(conv)
	}
	if !slices.Contains(a.convs, conv) {
		return nil
	}
	buf := a.bufs[conv]
	if buf == nil { // not shown yet: History will have it
		if m.From != a.d.id.Name {
			a.unread[conv]++
			a.roomsPane = nil
			mention := mentions(m.Text, a.d.id.Name) || a.highlighted(m.Text) // raw: no line is made of it
			if mention {
				a.countMention(conv)
			}
			if a.shouldRing(conv, m, mention) {
				return a.ring()
			}
		}
		return nil
	}
	if buf.stale { // after a gap: the resync retry reads it from History
		return nil
	}
	if !a.appendMsg(buf, m) {
		return nil
	}
	line := buf.lines[len(buf.lines)-1]
	if conv != a.cur {
		a.unread[conv]++
		a.roomsPane = nil
	}
	if line.mention {
		a.countMention(conv)
	}
	if a.shouldRing(conv, m, line.mention) {
		return a.ring()
	}
	return nil
}

func (a *App) ring() tea.Cmd {
	if a.d.bell == nil {
		return nil
	}
	bell := a.d.bell
	return func() tea.Msg { bell.Bell(); return nil }
}

func (a *App) onMembership(ev api.Event) tea.Cmd {
	me := ev.User == a.d.id.Name
	switch {
	case me && ev.Kind == api.EventJoin:
		a.addConv(ev.Room)
	case me && ev.Kind == api.EventLeave && ev.Room != "general":
		a.removeConv(ev.Room)
		return nil
	}
	if buf := a.bufs[ev.Room]; buf != nil && !me {
		verb := " joined"
		if ev.Kind == api.EventLeave {
			verb = " left"
		}
		buf.lines = append(buf.lines, chatLine{system: true, text: Clean(ev.User, MaxNameLen) + verb})
		a.fresh++
	}
	if ev.Room == a.cur && (me || a.client == nil) { // others: the hub's next MembersMsg
		a.refreshMembers()
	}
	return nil
}

// onMembers applies the hub's membership news, counters compared with the
// last news this session had: one summary line per large room that had
// joins or leaves since, and the members pane reloaded if presence or the
// current room's members changed. Nothing visible: a quiet update.
func (a *App) onMembers(m MembersMsg) {
	visible := false
	now := time.Now()
	for room, total := range m.Churn {
		buf := a.bufs[room]
		if buf == nil {
			continue
		}
		ch := roomChurn{Joined: total.Joined - buf.churnSeen.Joined, Left: total.Left - buf.churnSeen.Left}
		buf.churnSeen = total
		if ch.Joined <= 0 && ch.Left <= 0 {
			continue
		}
		ch.Joined, ch.Left = max(ch.Joined, 0), max(ch.Left, 0)
		visible = visible || room == a.cur
		if n := len(buf.lines); n > 0 && buf.lines[n-1].summary && now.Sub(buf.churnSince) < churnMerge {
			// Nothing was said since the last summary: it counts these too.
			buf.churn.Joined += ch.Joined
			buf.churn.Left += ch.Left
			l := &buf.lines[n-1]
			l.text, l.cache = churnText(buf.churn), nil
			continue
		}
		buf.churn, buf.churnSince = ch, now
		buf.lines = append(buf.lines, chatLine{system: true, summary: true, text: churnText(ch)})
		a.fresh++
		buf.trim()
	}
	if m.Presence != a.news.Presence || m.Rooms[a.cur] != a.news.Rooms[a.cur] {
		a.refreshMembers()
		visible = true
	}
	a.news = m
	a.quiet = !visible
}

// churnMerge: joins and leaves summarised within this long of a summary
// line that is still the conversation's last line are added to it, so a
// connect storm is one line that counts up, not a line a second in every
// session (a thousand sessions' buffers held 4 KiB each of them).
const churnMerge = time.Minute

// churnText is a summary line: "12 people joined, 1 person left".
func churnText(ch roomChurn) string {
	switch {
	case ch.Left == 0:
		return peopleCount(ch.Joined) + " joined"
	case ch.Joined == 0:
		return peopleCount(ch.Left) + " left"
	}
	return peopleCount(ch.Joined) + " joined, " + peopleCount(ch.Left) + " left"
}

func peopleCount(n int) string {
	if n == 1 {
		return "1 person"
	}
	return itoa(n) + " people"
}

// onModeration says what happened, with where, until when and why. The
// moderator's own session says it as the command's confirmation instead.
func (a *App) onModeration(m api.Moderation) {
	if m.By == a.d.id.Name {
		return
	}
	text := modSentence(m, time.Now(), a.loc)
	if m.Target == a.d.id.Name {
		switch m.Action {
		case "mute":
			text = "You were muted " + scopeText(m.Room) + " by " + Clean(m.By, MaxNameLen) + " " +
				untilText(m.Until, time.Now(), a.loc) + reasonText(m.Reason)
		case "unmute":
			text = "You are no longer muted " + scopeText(m.Room) + "."
		}
	}
	a.notice(text)
}

func (a *App) hasMember(user string) bool {
	for _, p := range a.members {
		if p.User == user {
			return true
		}
	}
	return false
}

// kickText is printed when a kick, ban or name release ends the session.
func kickText(m api.Moderation) string {
	by := Clean(m.By, MaxNameLen)
	switch m.Action {
	case "ban":
		return "You were banned by " + by + " " + untilText(m.Until, time.Now(), time.UTC) + reasonText(m.Reason)
	case "release":
		return "Your name was released by " + by + ": connect again with another name, or claim it again if it is still free."
	}
	return "You were kicked by " + by + reasonText(m.Reason)
}

func (a *App) onOpResult(r opResult) tea.Cmd {
	if r.err != nil {
		a.notice("error: " + explain(r.err, a.d.cfg.PostTimeout.String()))
		return nil
	}
	// then first: it may switch panes (join, leave), and the notice belongs
	// where the user is after it.
	var cmd tea.Cmd
	if r.then != nil {
		cmd = r.then(a)
	}
	if r.ok != "" {
		a.notice(r.ok)
	}
	return cmd
}
