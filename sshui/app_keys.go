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
	switch k.Type {
	case tea.KeyCtrlC:
		return tea.Quit
	case tea.KeyCtrlD:
		if a.input.Value() == "" {
			return tea.Quit
		}
	case tea.KeyEnter:
		return a.submit()
	case tea.KeyUp:
		a.historyMove(-1)
		return nil
	case tea.KeyDown:
		a.historyMove(1)
		return nil
	case tea.KeyTab:
		a.complete()
		return nil
	case tea.KeyPgUp:
		a.scroll(1)
		return nil
	case tea.KeyPgDown:
		a.scroll(-1)
		return nil
	case tea.KeyEsc:
		if buf := a.bufs[a.cur]; buf != nil {
			buf.scroll = 0
		}
		return nil
	case tea.KeyCtrlN, tea.KeyCtrlRight:
		a.cycle(1)
		return nil
	case tea.KeyCtrlP, tea.KeyCtrlLeft:
		a.cycle(-1)
		return nil
	}
	a.input.Update(k)
	return nil
}

// submit sends the input line: a /command or a message to the current
// conversation ("//text" sends "/text").
func (a *App) submit() tea.Cmd {
	line := strings.TrimSpace(a.input.Value())
	a.input.SetValue("")
	if line == "" {
		return nil
	}
	if len(a.hist) == 0 || a.hist[len(a.hist)-1] != line {
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

// scroll moves the message pane by a page (+1 = back in time), loading
// older history when it reaches the top of what is loaded.
func (a *App) scroll(pages int) {
	buf := a.bufs[a.cur]
	if buf == nil {
		return
	}
	page := max(a.bodyHeight()-1, 1)
	buf.scroll = max(buf.scroll+pages*page, 0)
	total := len(a.renderLines(a.cur, a.msgWidth()))
	if buf.scroll > total-a.bodyHeight() && !buf.full && buf.first > 1 {
		a.loadOlder(buf)
		total = len(a.renderLines(a.cur, a.msgWidth()))
	}
	buf.scroll = min(buf.scroll, max(total-a.bodyHeight(), 0))
}

func (a *App) loadOlder(buf *convBuf) {
	older := a.d.b.History(a.historyKey(a.cur), buf.first, historyPage)
	if len(older) < historyPage {
		buf.full = true
	}
	if len(older) == 0 {
		return
	}
	lines := make([]chatLine, 0, len(older)+len(buf.lines))
	for _, m := range older {
		lines = append(lines, a.lineOf(m))
	}
	buf.lines = append(lines, buf.lines...)
	buf.first = older[0].Index
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
	cut := strings.LastIndexByte(v, ' ') + 1
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
