package sshui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
)

// The search pane (/search TEXT): the hits take the message pane's place,
// newest first; ↑/↓ (and PgUp/PgDn) select one, Enter shows it in its
// conversation with the messages around it, Enter again goes to that
// conversation, Esc steps back (context → list → closed). Typing goes on
// in the input as usual: a new /search replaces the list, and Enter with
// text in the input submits it.

// searchContextLines is how many messages around a hit its context shows
// on each side.
const searchContextLines = 8

// searchView is the open search pane.
type searchView struct {
	query   string
	res     api.SearchResult
	sel     int
	top     int           // first hit shown
	ctx     *searchAround // showing hit sel in its conversation
	loading bool
}

// searchAround is a hit with the messages around it.
type searchAround struct {
	hit  api.Message
	msgs []api.Message
	err  string
}

func (a *App) searchCommand() slashCmd {
	return slashCmd{name: "search", args: "TEXT", help: `search what you may read: words, "phrases", prefix* (Enter: show in context, Esc: close)`,
		minArgs: 1, run: (*App).cmdSearch}
}

func (a *App) cmdSearch(_ []string, rest string) tea.Cmd {
	b, user := a.d.b, a.d.id.Name
	q := api.SearchQuery{Text: rest, Limit: 100}
	var res api.SearchResult
	var failed error
	return a.op("", func(ctx context.Context) error {
		res, failed = b.Search(ctx, user, q)
		if errors.Is(failed, api.ErrBadQuery) {
			return nil // said in the pane's place, below
		}
		return failed
	}, func(a *App) tea.Cmd {
		if failed != nil {
			a.notice("search: " + Clean(strings.TrimPrefix(failed.Error(), api.ErrBadQuery.Error()+": "), 200))
			return nil
		}
		a.search = &searchView{query: rest, res: res}
		return nil
	})
}

// searchKey handles a key while the pane is open; done is false for keys
// it leaves to the input.
func (a *App) searchKey(k tea.KeyMsg) (cmd tea.Cmd, done bool) {
	s := a.search
	switch k.Type {
	case tea.KeyEsc:
		if s.ctx != nil {
			s.ctx = nil
		} else {
			a.search = nil
		}
		return nil, true
	case tea.KeyUp, tea.KeyDown, tea.KeyPgUp, tea.KeyPgDown:
		if s.ctx != nil {
			return nil, true
		}
		step := map[tea.KeyType]int{tea.KeyUp: -1, tea.KeyDown: 1, tea.KeyPgUp: -10, tea.KeyPgDown: 10}[k.Type]
		s.sel = max(0, min(len(s.res.Hits)-1, s.sel+step))
		return nil, true
	case tea.KeyEnter:
		if k.Alt || strings.TrimSpace(a.input.Value()) != "" || len(s.res.Hits) == 0 {
			return nil, false
		}
		if s.ctx != nil {
			return a.goToHit(s.ctx.hit), true
		}
		return a.showAround(s.res.Hits[s.sel]), true
	}
	return nil, false
}

// showAround reads the messages around hit off the event loop.
func (a *App) showAround(hit api.Message) tea.Cmd {
	s := a.search
	s.loading = true
	b := a.d.b
	around := &searchAround{hit: hit}
	return a.op("", func(context.Context) error {
		before, err := b.History(hit.Room, hit.Index+1, searchContextLines+1)
		if err == nil {
			var after []api.Message
			after, err = b.HistoryAfter(hit.Room, hit.Index, searchContextLines)
			around.msgs = append(before, after...)
		}
		if err != nil {
			around.err = historyErr(err)
		}
		return nil
	}, func(a *App) tea.Cmd {
		if a.search == s {
			s.loading, s.ctx = false, around
		}
		return nil
	})
}

// goToHit closes the pane and opens the hit's conversation (joining the
// room if need be).
func (a *App) goToHit(hit api.Message) tea.Cmd {
	a.search = nil
	if strings.HasPrefix(hit.Room, "@") {
		other := hit.To
		if other == a.d.id.Name || other == "" {
			other = hit.From
		}
		a.switchTo("@" + other)
		return nil
	}
	if slices.Contains(a.convs, hit.Room) {
		a.switchTo(hit.Room)
		return nil
	}
	return a.joinCmd(hit.Room, true, "")
}

// searchPane renders the pane in the message pane's place: h lines of
// width w.
func (a *App) searchPane(w, h int) []string {
	s := a.search
	out := a.paneBuf[:0]
	add := func(style paint, text string) {
		if len(out) < h {
			out = append(out, style.R(Pad(Fit(text, w), w)))
		}
	}
	if s.ctx != nil {
		c := s.ctx
		add(a.st.title, fmt.Sprintf(" %s — Enter: go there · Esc: back to the hits", convLabel(a.d.id.Name, c.hit)))
		if c.err != "" {
			add(a.st.warn, c.err)
		}
		for _, m := range c.msgs {
			style := a.st.plain
			mark := "  "
			if m.Index == c.hit.Index {
				style, mark = a.st.current, "▶ "
			}
			for _, l := range wrapPlain(mark+a.hitText(m, false), w) {
				add(style, l)
			}
		}
	} else {
		head := fmt.Sprintf(" search %s: %d hit", Clean(s.query, 60), len(s.res.Hits))
		if len(s.res.Hits) != 1 {
			head += "s"
		}
		if s.res.More {
			head += " (more: narrow it)"
		}
		add(a.st.title, head+" — ↑/↓ · Enter: in context · Esc: close")
		if s.res.Behind {
			add(a.st.warn, fmt.Sprintf("this node's index is catching up (entry %d of %d): the newest messages may be missing", s.res.Indexed, s.res.Applied))
		}
		if len(s.res.Hits) == 0 {
			add(a.st.system, "no messages match")
		}
		if s.loading {
			add(a.st.system, "loading…")
		}
		rows := max(h-len(out), 1)
		if s.sel < s.top {
			s.top = s.sel
		}
		if s.sel >= s.top+rows {
			s.top = s.sel - rows + 1
		}
		for i := s.top; i < len(s.res.Hits) && len(out) < h; i++ {
			style := a.st.plain
			if i == s.sel {
				style = a.st.current
			}
			add(style, a.hitText(s.res.Hits[i], true))
		}
	}
	blank := spaces(w)
	for len(out) < h {
		out = append(out, blank)
	}
	a.paneBuf = out
	return out
}

// hitText is one message on one line: time, where (with where), who, text.
func (a *App) hitText(m api.Message, where bool) string {
	t := m.Time.In(a.loc).Format("Jan 02 15:04")
	text := strings.ReplaceAll(CleanText(m.Text, 0), "\n", " ⏎ ")
	if m.Deleted() {
		text = "(message deleted)"
	} else if m.Edited() {
		text += " (edited)"
	}
	from := "<" + Clean(m.From, MaxNameLen) + ">"
	if m.Action {
		from = "* " + Clean(m.From, MaxNameLen)
	}
	if where {
		return fmt.Sprintf("%s %s %s %s", t, Clean(convLabel(a.d.id.Name, m), 40), from, text)
	}
	return fmt.Sprintf("%s %s %s", t, from, text)
}
