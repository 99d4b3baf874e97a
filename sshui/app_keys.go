package sshui

import (
	"slices"
	"sort"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
)

const maxInputHistory = 100

// completion is the state of repeated Tab presses.
type completion struct {
	active bool
	base   string // input before the word being completed
	cands  []string
	i      int
}

func (a *App) onKey(k tea.KeyMsg) tea.Cmd {
	if k.Type != tea.KeyTab {
		a.comp = completion{}
	}
	if a.search != nil { // the search pane's keys (app_search.go)
		if cmd, done := a.searchKey(k); done {
			return cmd
		}
	}
	switch k.Type {
	case tea.KeyCtrlC:
		return tea.Quit
	case tea.KeyCtrlD:
		if a.input.Value() == "" {
			return tea.Quit
		}
	case tea.KeyEnter:
		if k.Alt { // Alt-Enter: a line break in the message
			a.input.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'\n'}})
			return nil
		}
		return a.submit()
	case tea.KeyUp:
		if !k.Alt && a.input.Value() == "" && a.editing == nil && a.editUp() {
			return nil // edits your last message (app_messages.go)
		}
		a.historyMove(-1)
		return nil
	case tea.KeyDown:
		a.historyMove(1)
		return nil
	case tea.KeyTab:
		a.complete()
		return nil
	case tea.KeyPgUp:
		return a.scroll(1)
	case tea.KeyPgDown:
		return a.scroll(-1)
	case tea.KeyEsc:
		if a.editing != nil {
			a.cancelEdit("")
			return nil
		}
		if buf := a.bufs[a.cur]; buf != nil {
			buf.scroll, buf.loadErr = 0, ""
		}
		return nil
	case tea.KeyCtrlN, tea.KeyCtrlRight:
		a.cycle(1)
		return nil
	case tea.KeyCtrlP, tea.KeyCtrlLeft:
		a.cycle(-1)
		return nil
	}
	if n := a.input.Update(k); n > 0 && k.Paste {
		a.notice("paste not inserted: it is " + itoa(n) + " characters and the input holds at most " +
			itoa(a.input.CharLimit) + " (a message at most " + itoa(a.d.cfg.MaxMessageLen) + ")")
	}
	return nil
}

// submit sends the input line: a /command or a message to the current
// conversation ("//text" sends "/text"). A message that is not sent as it
// is goes back into the input (restoreInput).
func (a *App) submit() tea.Cmd {
	if a.editing != nil {
		return a.submitEdit() // app_messages.go
	}
	line := strings.TrimSpace(a.input.Value())
	a.input.SetValue("")
	if line == "" {
		return nil
	}
	a.submitting = line
	defer func() { a.submitting = "" }()
	// Lines far beyond a message's length (a refused paste, which stays in
	// the input anyway) are not kept: the history is bounded in bytes too.
	if len(line) <= 4*a.d.cfg.MaxMessageLen && (len(a.hist) == 0 || a.hist[len(a.hist)-1] != line) {
		a.hist = append(a.hist, line)
		if len(a.hist) > maxInputHistory {
			a.hist = a.hist[1:]
		}
	}
	a.histPos = len(a.hist)
	if buf := a.bufs[a.cur]; buf != nil {
		buf.scroll = 0
	}
	if strings.HasPrefix(line, "/") && !strings.HasPrefix(line, "//") {
		return a.command(line)
	}
	return a.enqueue(a.cur, strings.TrimPrefix(line, "/"), false)
}

// historyMove walks the input history (↑ = -1).
func (a *App) historyMove(d int) {
	if len(a.hist) == 0 {
		return
	}
	if a.histPos == len(a.hist) {
		a.draft = a.input.Value()
	}
	a.histPos = min(max(a.histPos+d, 0), len(a.hist))
	if a.histPos == len(a.hist) {
		a.input.SetValue(a.draft)
	} else {
		a.input.SetValue(a.hist[a.histPos])
	}
	a.input.CursorEnd()
}

// scroll moves the message pane by a page (+1 = back in time). When it
// reaches the top of what is loaded it asks for the older page (loadOlder)
// and stays at the top until the page arrives.
func (a *App) scroll(pages int) tea.Cmd {
	buf := a.bufs[a.cur]
	if buf == nil {
		return nil
	}
	page := max(a.bodyHeight()-1, 1)
	buf.scroll = max(buf.scroll+pages*page, 0)
	total := len(a.renderLines(a.cur, a.msgWidth()))
	var cmd tea.Cmd
	if buf.scroll > total-a.bodyHeight() {
		cmd = a.loadOlder(a.cur, buf)
	}
	buf.scroll = min(buf.scroll, max(total-a.bodyHeight(), 0))
	return cmd
}

// loadOlder returns a command that reads the page before buf's first
// loaded message (History may read the disk: never on the event loop), or
// nil if there is none or one is already being read for buf. The result,
// an olderPage, is merged by onOlderPage.
func (a *App) loadOlder(conv string, buf *convBuf) tea.Cmd {
	if buf.full || buf.loading || buf.first == 1 {
		return nil
	}
	buf.loading, buf.loadErr = true, ""
	b, key, before, trims := a.d.b, a.historyKey(conv), buf.first, buf.trims
	return func() tea.Msg {
		msgs, err := b.History(key, before, historyPage)
		return olderPage{conv: conv, buf: buf, before: before, trims: trims, msgs: msgs, err: err}
	}
}

// onOlderPage puts an older page above the loaded lines of its own
// conversation (whichever is current now), keeping the view where it is.
// It drops the page if the conversation was closed meanwhile (its buffer
// is gone or new) or trimmed (the page would leave a gap); the next PgUp
// asks again. Messages already loaded are not added twice.
func (a *App) onOlderPage(r olderPage) {
	buf := r.buf
	if a.bufs[r.conv] != buf {
		a.quiet = true
		return
	}
	buf.loading = false
	if r.conv != a.cur {
		a.quiet = true // nothing on screen changes
	}
	if r.err != nil {
		buf.loadErr = historyUnavailable(r.err) + " (PgUp to retry)"
		return
	}
	if buf.trims != r.trims {
		return
	}
	if len(r.msgs) < historyPage {
		buf.full = true
	}
	older := r.msgs
	if buf.first > 0 { // before == first, or 0 with live messages since
		older = older[:sort.Search(len(older), func(i int) bool { return older[i].Index >= buf.first })]
	}
	if len(older) == 0 {
		return
	}
	lines := make([]chatLine, 0, len(older)+len(buf.lines))
	for _, m := range older {
		lines = append(lines, a.lineOf(m))
		a.lamport = max(a.lamport, m.Lamport)
	}
	// The day separator above the old first line goes when the page ends
	// on the same day; take its row out of the offset, so PgUp pages on
	// from the row that was at the top.
	if len(buf.lines) > 0 && buf.scroll > 0 && buf.lines[0].cacheSep &&
		a.dayOf(&buf.lines[0]) == a.dayOf(&lines[len(lines)-1]) {
		buf.scroll--
	}
	buf.lines = append(lines, buf.lines...)
	buf.first = older[0].Index
	buf.last = max(buf.last, older[len(older)-1].Index)
}

// cycle switches to the next (+1) or previous conversation.
func (a *App) cycle(d int) {
	if len(a.convs) == 0 {
		return
	}
	i := slices.Index(a.convs, a.cur)
	i = (i + d + len(a.convs)) % len(a.convs)
	a.switchTo(a.convs[i])
}

// complete completes the word before the cursor: commands after a leading
// "/", rooms after "#", names otherwise. Repeated Tab cycles.
func (a *App) complete() {
	if a.comp.active && len(a.comp.cands) > 0 {
		a.comp.i = (a.comp.i + 1) % len(a.comp.cands)
		a.input.SetValue(a.comp.base + a.comp.cands[a.comp.i])
		a.input.CursorEnd()
		return
	}
	v := a.input.BeforeCursor()
	cut := strings.LastIndexAny(v, " \n") + 1
	base, word := v[:cut], v[cut:]
	cands := a.candidates(word, cut == 0)
	if len(cands) == 0 {
		return
	}
	a.comp = completion{active: true, base: base, cands: cands}
	a.input.SetValue(base + cands[0])
	a.input.CursorEnd()
}

func (a *App) candidates(word string, first bool) []string {
	var pool []string
	switch {
	case first && strings.HasPrefix(word, "/"):
		for _, c := range a.slashCommands() {
			pool = append(pool, "/"+c.name+" ")
		}
	case strings.HasPrefix(word, "#"):
		for _, r := range a.d.b.Rooms() {
			pool = append(pool, "#"+Clean(r.Name, MaxNameLen)+" ")
		}
	default:
		at := strings.HasPrefix(word, "@")
		seen := map[string]bool{}
		add := func(u string) {
			if u == "" || seen[u] {
				return
			}
			seen[u] = true
			if at {
				u = "@" + u
			}
			suffix := " "
			if first && !at {
				suffix = ": "
			}
			pool = append(pool, u+suffix)
		}
		for _, p := range a.members {
			add(Clean(p.User, MaxNameLen))
		}
		for _, p := range everyone(a.d.b) {
			add(Clean(p.User, MaxNameLen))
		}
	}
	var out []string
	for _, c := range pool {
		if strings.HasPrefix(c, word) && strings.TrimRight(c, " :") != word {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}
