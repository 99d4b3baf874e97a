package sshui

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Layout: a title bar, the body (rooms | messages | members), the input
// line and the status bar. Panes appear only when the window is wide enough.
const (
	roomsPaneW   = 16
	membersPaneW = 18
	minRoomsW    = 56 // window width from which the rooms pane shows
	minMembersW  = 72 // … and the members pane
)

func (a *App) paneWidths() (rooms, members int) {
	if a.w >= minRoomsW {
		rooms = roomsPaneW
	}
	if a.w >= minMembersW {
		members = membersPaneW
	}
	return rooms, members
}

func (a *App) msgWidth() int {
	r, m := a.paneWidths()
	w := a.w
	if r > 0 {
		w -= r + 1
	}
	if m > 0 {
		w -= m + 1
	}
	return max(w, 1)
}

func (a *App) bodyHeight() int { return max(a.h-3, 0) }

// View renders the screen. Every line is exactly a.w columns or less, so
// wide characters and resizes never wrap the terminal.
func (a *App) View() string {
	rows := a.frame()
	lines := make([]string, len(rows))
	for i, r := range rows {
		var b strings.Builder
		for _, sp := range r {
			b.WriteString(sp.text)
		}
		lines[i] = b.String()
	}
	return strings.Join(lines, "\n")
}

// span is a run of one screen row starting at column col. A row of one
// span is the whole line; a row of several is the side panes and the
// message pane, each padded to its full width, so screen can redraw one
// pane of a row without touching the others.
type span struct {
	col  int
	text string
}

// frame is the screen row by row (what View joins and screen draws). The
// result is valid until the next call.
func (a *App) frame() [][]span {
	if a.w <= 0 || a.h <= 0 {
		return nil
	}
	if a.h < 4 {
		return [][]span{{{text: Fit(a.input.View(), a.w)}}}
	}
	body := a.bodyHeight()
	rw, mw := a.paneWidths()
	msgW := a.msgWidth()
	mid := a.messagePane(msgW, body)
	sep := a.st.sep.R("│")
	if rw > 0 && a.roomsPane == nil {
		a.roomsPane = padAll(a.renderRooms(rw, body), rw)
		for i := range a.roomsPane {
			a.roomsPane[i] += sep
		}
	}
	if mw > 0 && a.membersPane == nil {
		a.membersPane = padAll(a.renderMembers(mw, body), mw)
		for i := range a.membersPane {
			a.membersPane[i] = sep + a.membersPane[i]
		}
	}
	n := 1
	if rw > 0 {
		n++
	}
	if mw > 0 {
		n++
	}
	// Reused from the last frame: screen.draw copies what it keeps.
	rows := a.rowsBuf[:0]
	cells := a.cellsBuf[:0]
	if cap(cells) < body*n+3 {
		cells = make([]span, 0, body*n+3) // add's slices must not move
	}
	defer func() { a.rowsBuf, a.cellsBuf = rows, cells }()
	add := func(k int) []span { return cells[len(cells)-k:] }
	cells = append(cells, span{text: a.titleBar()})
	rows = append(rows, add(1))
	midCol := 0
	if rw > 0 {
		midCol = rw + 1
	}
	for i := 0; i < body; i++ {
		if rw > 0 {
			cells = append(cells, span{col: 0, text: a.roomsPane[i]})
		}
		cells = append(cells, span{col: midCol, text: mid[i]})
		if mw > 0 {
			cells = append(cells, span{col: midCol + msgW, text: a.membersPane[i]})
		}
		rows = append(rows, add(n))
	}
	cells = append(cells, span{text: a.inputLine()})
	rows = append(rows, add(1))
	cells = append(cells, span{text: a.statusBar()})
	rows = append(rows, add(1))
	return rows
}

// inputLine is the input's view, fitted; cached while it does not change.
func (a *App) inputLine() string {
	v := a.input.View()
	if v != a.inputView || a.inputW != a.w {
		a.inputView, a.inputW, a.inputFit = v, a.w, Fit(v, a.w)
	}
	return a.inputFit
}

// unseenLines counts lines added since the last frame was drawn.
func (a *App) unseenLines() int { return a.fresh }

// drawn records that the terminal shows the current state.
func (a *App) drawn() { a.fresh = 0 }

// titleBar is cached: it changes only with the conversation, topic or width.
func (a *App) titleBar() string {
	text := " " + a.convTitle(a.cur) + a.topicSuffix()
	if a.titleKey != text || a.titleW != a.w {
		a.titleKey, a.titleW = text, a.w
		a.title = a.st.title.R(Pad(text, a.w))
	}
	return a.title
}

func (a *App) convTitle(c string) string {
	if isDMConv(c) {
		return Clean(c, MaxNameLen+1) + " (direct)"
	}
	return "#" + Clean(c, MaxNameLen)
}

func (a *App) topicSuffix() string {
	if buf := a.bufs[a.cur]; buf != nil && buf.topic != "" {
		return " — " + buf.topic
	}
	return ""
}

// statusKey is what the status bar shows; the bar is redrawn only when it
// changes (Width is a grapheme walk, too slow for every frame).
type statusBarKey struct {
	node, leader string
	term         uint64
	quorum       bool
	queued       int
	away         bool
	w            int
}

// statusBar: this node, the leader, the term, the quorum, queued lines.
func (a *App) statusBar() string {
	st := a.status
	k := statusBarKey{node: st.Node, leader: st.Leader, term: st.Term, quorum: st.Quorum, away: a.away, w: a.w}
	if n := len(a.outbox); n > 0 && (!st.Quorum || a.outbox[0].queued) {
		k.queued = n
	}
	if a.statusBarOK && k == a.statusBarKey {
		return a.statusBarText
	}
	a.statusBarKey, a.statusBarOK, a.statusBarText = k, true, a.renderStatusBar(k)
	return a.statusBarText
}

func (a *App) renderStatusBar(k statusBarKey) string {
	leader := k.leader
	if leader == "" {
		leader = "none"
	}
	left := fmt.Sprintf(" %s │ leader %s │ term %d │ ", Clean(k.node, 32), Clean(leader, 32), k.term)
	var q string
	if k.quorum {
		q = "quorum ok"
	} else {
		q = "NO QUORUM"
	}
	if k.queued > 0 {
		q += fmt.Sprintf(" — %d queued", k.queued)
	}
	right := a.d.id.Name
	if a.d.id.Admin {
		right += " [admin]"
	}
	if k.away {
		right += " (away)"
	}
	right += " "
	space := a.w - Width(left) - Width(q) - Width(right)
	if !k.quorum {
		q = a.st.warn.R(q)
	}
	if space < 1 {
		return a.st.status.R(Pad(left, a.w-Width(q))) + Fit(q, a.w)
	}
	return a.st.status.R(left) + q + a.st.status.R(strings.Repeat(" ", space)+right)
}

func padAll(lines []string, w int) []string {
	for i, l := range lines {
		lines[i] = Pad(l, w)
	}
	return lines
}

func (a *App) renderRooms(w, h int) []string {
	lines := make([]string, h)
	if h == 0 {
		return lines
	}
	lines[0] = a.st.unread.R(Pad("ROOMS", w))
	for i, c := range a.convs {
		if i+1 >= h {
			break
		}
		name := Clean(c, MaxNameLen+1)
		if !isDMConv(c) {
			name = "#" + name
		}
		if c == a.cur { // marked in text too, for terminals without colour
			name = ">" + name
		} else {
			name = " " + name
		}
		count, mentioned := a.sideCount(c) // app_access.go
		text := Pad(Fit(name, w-Width(count))+strings.Repeat(" ", max(w-Width(Fit(name, w-Width(count)))-Width(count), 0))+count, w)
		switch {
		case c == a.cur:
			text = a.st.current.R(text)
		case mentioned:
			text = a.st.mention.R(text)
		case count != "":
			text = a.st.unread.R(text)
		}
		lines[i+1] = text
	}
	return lines
}

func (a *App) renderMembers(w, h int) []string {
	lines := make([]string, h)
	if h == 0 {
		return lines
	}
	lines[0] = a.st.unread.R(Pad(fmt.Sprintf("MEMBERS %d", len(a.members)), w))
	for i, p := range a.members {
		if i+1 >= h {
			break
		}
		if i+2 == h && len(a.members) > h-1 {
			lines[i+1] = Pad(fmt.Sprintf("+%d more", len(a.members)-i), w)
			break
		}
		mark, style := "*", a.st.sender(p.User)
		switch p.Status {
		case "away":
			mark, style = "~", a.st.away
		case "online":
		default:
			mark, style = "-", a.st.away
		}
		text := mark + " " + Clean(p.User, MaxNameLen)
		if p.Node != "" && p.Status != "offline" && p.Status != "" {
			text += " " + Clean(p.Node, 16)
		}
		lines[i+1] = style.R(Fit(text, w))
	}
	return lines
}

// messagePane returns h lines: the bottom of the current conversation,
// shifted up by its scroll offset. The slice is reused by the next call.
func (a *App) messagePane(w, h int) []string {
	out := a.paneBuf[:0]
	if h == 0 {
		return out
	}
	if a.search != nil {
		return a.searchPane(w, h) // app_search.go
	}
	scroll := 0
	if buf := a.bufs[a.cur]; buf != nil {
		scroll = buf.scroll
	}
	lines := a.renderTail(a.cur, w, h+scroll)
	end := max(len(lines)-scroll, 0)
	start := max(end-h, 0)
	blank := spaces(w)
	for range h - (end - start) {
		out = append(out, blank)
	}
	out = append(out, lines[start:end]...)
	if scroll > 0 {
		out[h-1] = a.st.system.R(Pad(fmt.Sprintf("-- scrolled back %d lines: PgDn or Esc --", scroll), w))
	}
	if buf := a.bufs[a.cur]; buf != nil && (buf.loading || buf.loadErr != "") {
		hint := "-- loading older messages… --"
		if !buf.loading {
			hint = "-- " + buf.loadErr + " --"
		}
		out[0] = a.st.system.R(Pad(Fit(hint, w), w))
	}
	a.paneBuf = out
	return out
}

// renderLines wraps the whole conversation (used only to clamp scrolling).
func (a *App) renderLines(c string, w int) []string {
	return a.renderTail(c, w, -1)
}

// renderTail wraps the last lines of conversation c until it has need
// screen lines (need < 0: all), then appends the unsent outbox lines. The
// result is valid until the next call.
func (a *App) renderTail(c string, w, need int) []string {
	var tail []string
	for _, p := range a.outbox {
		if p.conv == c {
			state := "sending"
			switch {
			case p.queued:
				state = "queued"
			case !p.charged && a.rateTicking:
				state = "waiting"
			}
			tail = append(tail, a.wrap(a.st.pending, "("+state+") "+p.text, w)...)
		}
	}
	n := len(tail)
	first := 0 // oldest line needed
	buf := a.bufs[c]
	if buf != nil {
		first = len(buf.lines)
		prev := -1 // the line with a time before first, once looked for
		for first > 0 && (need < 0 || n < need) {
			first--
			l := &buf.lines[first]
			sep := false
			if day := a.dayOf(l); day != 0 {
				// A day's first line gets a separator: the first loaded line,
				// or one whose day differs from the line with a time before
				// it. Each line is looked at once for this (prev only moves
				// down), so a run of system lines costs nothing extra.
				if prev < 0 || prev >= first {
					prev = first - 1
					for prev >= 0 && a.dayOf(&buf.lines[prev]) == 0 {
						prev--
					}
				}
				sep = prev < 0 || a.dayOf(&buf.lines[prev]) != day
			}
			if l.cacheW != w || l.cache == nil || l.cacheSep != sep || l.cacheGen != a.zoneGen {
				rows := a.renderLine(*l, w)
				if sep {
					rows = append([]string{a.daySeparator(l.t, w)}, rows...)
				}
				l.cache, l.cacheW, l.cacheSep, l.cacheGen = padAll(rows, w), w, sep, a.zoneGen
			}
			n += len(l.cache)
		}
	}
	out := a.tailBuf[:0]
	if buf != nil {
		for i := first; i < len(buf.lines); i++ {
			out = append(out, buf.lines[i].cache...)
		}
	}
	out = append(out, tail...)
	a.tailBuf = out
	return out
}

// renderLine formats one chat line: a gutter (">" own, "!" mention),
// the time, the sender in its colour, the text, wrapped to w columns. The
// message's further lines and wrapped rows hang under the sender.
func (a *App) renderLine(l chatLine, w int) []string {
	if l.system {
		return a.wrap(a.st.system, "  "+l.text, w)
	}
	if l.x != nil {
		return a.renderChanged(l, w) // app_messages.go: a quote, edits, reactions
	}
	gutter := " "
	own := l.from == a.d.id.Name
	switch {
	case own:
		gutter = ">"
	case l.mention:
		gutter = "!"
	}
	ts := hhmm(l.t.In(a.loc))
	if a.showIDs { // /ids (app_messages.go)
		ts += " " + strconv.FormatUint(l.idx, 10)
	}
	header := ts + " " + l.from + ": "
	if l.action {
		header = ts + " * " + l.from + " "
	}
	cw := w - 1
	indent := len(ts) + 1
	if cw < Width(header)+4 { // too narrow for styling: plain wrap
		return a.wrap(a.st.plain, gutter+header+l.text, w)
	}
	wrapped := wrapHanging(header+l.text, cw, cw-indent)
	body := a.st.plain
	if l.mention {
		body = a.st.mention
	}
	nameStyle := a.st.sender(l.from)
	if own {
		nameStyle = a.st.ownName[colorIndex(l.from)]
	}
	out := make([]string, len(wrapped))
	for i, s := range wrapped {
		if i == 0 && strings.HasPrefix(s, header) {
			name := strings.TrimPrefix(strings.TrimSuffix(strings.TrimSuffix(header, " "), ":"), ts+" ")
			out[i] = gutter + a.st.time.R(ts) + " " + nameStyle.R(name) + ":"[:boolInt(!l.action)] + " " +
				body.R(strings.TrimPrefix(s, header))
			continue
		}
		if i == 0 {
			out[i] = gutter + body.R(s)
		} else {
			out[i] = gutter + spaces(indent) + body.R(s)
		}
	}
	return out
}

// hhmm is t.Format("15:04") without the formatter (a line is rendered once
// per session that shows it).
func hhmm(t time.Time) string {
	h, m, _ := t.Clock()
	return string([]byte{byte('0' + h/10), byte('0' + h%10), ':', byte('0' + m/10), byte('0' + m%10)})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (a *App) wrap(style paint, text string, w int) []string {
	parts := wrapPlain(text, w)
	for i, p := range parts {
		parts[i] = style.R(Pad(p, w))
	}
	return parts
}
