package sshui

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

const searchHelp = `TEXT: words (every one must be in the message), "quoted phrases" (the words in
this order), and prefix* (a word that starts so). Case, accents on Latin, Greek and
Cyrillic letters and full-width forms are ignored; Chinese, Japanese, Korean and
Thai text is matched by pairs of characters. Over ssh, quote the phrase twice:
  ssh HOST 'search "deploy the build"'
Only rooms and direct conversations you may read are searched; hits are the
messages as they are now (edited text; deleted messages never show), newest first.`

func cmdSearch() command {
	c := command{name: "search", usage: "[--room ROOM] [--from USER] [--since T] [--limit N] [--json] TEXT",
		summary: "Search the messages you may read; newest first.\n" + searchHelp}
	c.run = func(e *execEnv) int { return runSearch(e, c) }
	return c
}

// searchArgs is a parsed search command line.
type searchArgs struct {
	q      api.SearchQuery
	asJSON bool
	status bool
}

// parseSearchArgs parses the words of a search command line (flags
// anywhere, "--" ends them; the other words, joined by spaces, are the
// text) for user at now. ok is false when the command ends with code.
func parseSearchArgs(e *execEnv, c command, fs *flag.FlagSet) (a searchArgs, code int, ok bool) {
	room := fs.String("room", "", "only this room, or @NAME for your direct conversation with NAME")
	from := fs.String("from", "", "only messages of this user")
	since := fs.String("since", "", "only messages at or after T: a time (2026-01-02T15:04:05Z, 2026-01-02) or an age (90m, 36h, 7d)")
	fs.IntVar(&a.q.Limit, "limit", api.SearchDefaultLimit, fmt.Sprintf("at most N hits (1..%d)", api.SearchMaxLimit))
	fs.BoolVar(&a.asJSON, "json", false, "JSON lines: index, id, room, from, to, text, lamport, time, action, edited")
	fs.BoolVar(&a.status, "status", false, "print this node's search index instead (state, entries covered)")
	pos, code, ok := parseArgs(e, c, fs)
	if !ok {
		return a, code, false
	}
	a.q.Text = strings.Join(pos, " ")
	if a.status {
		if a.q.Text != "" {
			return a, usageErr(e, c, fs, "--status takes no TEXT"), false
		}
		return a, exitOK, true
	}
	if strings.TrimSpace(a.q.Text) == "" {
		return a, usageErr(e, c, fs, "need TEXT to search for"), false
	}
	if a.q.Limit < 1 || a.q.Limit > api.SearchMaxLimit {
		return a, usageErr(e, c, fs, "--limit must be 1..%d", api.SearchMaxLimit), false
	}
	if *room != "" {
		r, err := roomArg(e, *room)
		if err != nil {
			return a, usageErr(e, c, fs, "--room: %v", err), false
		}
		a.q.Room = r
	}
	if *from != "" {
		u, err := NormalizeName(*from)
		if err != nil {
			return a, usageErr(e, c, fs, "--from: %v", err), false
		}
		a.q.From = u
	}
	if *since != "" {
		t, err := parseSince(*since, e.now())
		if err != nil {
			return a, usageErr(e, c, fs, "--since: %v", err), false
		}
		a.q.Since = t
	}
	return a, exitOK, true
}

// parseSince reads --since: an RFC 3339 time, a date (midnight UTC), or an
// age before now (a Go duration, or whole days: 7d).
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 && n <= 100000 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2026-01-02T15:04:05Z, 2026-01-02) nor an age (90m, 36h, 7d)", Clean(s, 40))
}

func runSearch(e *execEnv, c command) int {
	fs := newFlags(c)
	a, code, ok := parseSearchArgs(e, c, fs)
	if !ok {
		return code
	}
	if a.status {
		st := e.b.SearchStatus()
		e.finish()
		if a.asJSON {
			_ = writeJSON(e.out, st)
			return exitOK
		}
		_, _ = fmt.Fprintf(e.out, "search index: %s; covers entry %d of %d applied; %d texts in %d segments, %s on disk\n",
			Clean(st.State, 200), st.Indexed, st.Applied, st.Docs, st.Segments, sizeText(st.Bytes))
		return exitOK
	}
	if a.q.Room != "" {
		if !e.b.CanRead(e.id.Name, a.q.Room) {
			return e.errorf("search: you may not read %s", Clean(a.q.Room, 80))
		}
		if why := missingRoom(e, "#"+a.q.Room, a.q.Room); why != "" && !strings.HasPrefix(a.q.Room, "@") {
			return e.errorf("search: %s", why)
		}
	}
	res, err := e.b.Search(e.ctx, e.id.Name, a.q)
	switch {
	case errors.Is(err, api.ErrBadQuery):
		return usageErr(e, c, fs, "%s", Clean(strings.TrimPrefix(err.Error(), api.ErrBadQuery.Error()+": "), 300))
	case err != nil:
		return e.errorf("search: %s", Clean(err.Error(), 300))
	}
	e.finish()
	for _, m := range res.Hits {
		if err := printHit(e.out, e.id.Name, m, a.asJSON); err != nil {
			return exitOK
		}
	}
	if res.Behind {
		_, _ = fmt.Fprintf(e.err, "note: this node's search index is catching up (entry %d of %d): the newest messages may be missing\n", res.Indexed, res.Applied)
	}
	switch {
	case res.More:
		_, _ = fmt.Fprintf(e.err, "(more hits than --limit %d: narrow the search, or raise the limit)\n", a.q.Limit)
	case len(res.Hits) == 0 && !a.asJSON:
		_, _ = fmt.Fprintln(e.err, "no messages match")
	}
	return exitOK
}

// hitDoc is the JSON line of a search hit (a contract, docs/CONTRACTS.md).
type hitDoc struct {
	Index   uint64 `json:"index"`
	ID      string `json:"id"`
	Room    string `json:"room"`
	From    string `json:"from"`
	To      string `json:"to,omitempty"`
	Text    string `json:"text"`
	Lamport uint64 `json:"lamport"`
	Time    string `json:"time"`
	Action  bool   `json:"action,omitempty"`
	Edited  bool   `json:"edited,omitempty"`
}

// printHit prints one hit: time, index, where (#room, or @NAME for the
// direct conversation with NAME), author, text.
func printHit(w io.Writer, user string, m api.Message, asJSON bool) error {
	if asJSON {
		return writeJSON(w, hitDoc{Index: m.Index, ID: m.ID, Room: m.Room, From: m.From, To: m.To, Text: m.Text,
			Lamport: m.Lamport, Time: m.Time.UTC().Format(time.RFC3339Nano), Action: m.Action, Edited: m.Edited()})
	}
	text := strings.ReplaceAll(CleanText(m.Text, 0), "\n", "\n    ")
	if m.Edited() {
		text += " (edited)"
	}
	from := Clean(m.From, MaxNameLen)
	sep := "<" + from + ">"
	if m.Action {
		sep = "* " + from
	}
	_, err := fmt.Fprintf(w, "%s %d %s %s %s\n", m.Time.UTC().Format(time.RFC3339), m.Index, Clean(convLabel(user, m), 80), sep, text)
	return err
}

// convLabel names a hit's conversation for user: #room, or @NAME for
// user's direct conversation with NAME.
func convLabel(user string, m api.Message) string {
	if m.IsDM() || strings.HasPrefix(m.Room, "@") {
		other := m.To
		if other == user || other == "" {
			other = m.From
		}
		return "@" + other
	}
	return "#" + m.Room
}

func sizeText(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
