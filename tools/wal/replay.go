package walcmd

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/state"
)

const replayHelp = `Rebuild the cluster state from a WAL with the node's own code (chat,
identity, moderation, presence) and print a summary: rooms with their topic,
members and message counts, users, totals, and the bans and mutes in force
(who, by whom, where, since which cluster index, until when, why) at the
state's time, the names an admin released, the private rooms (owner, who
they let in), the keys added to names and the notification settings. Only committed entries are
applied (those the WAL records as committed, which may lag the cluster by up
to 100ms of traffic); --include-uncommitted
applies the uncommitted tail too. --until stops at a cluster index (a number)
or at a time (RFC 3339, e.g. 2026-11-26T14:05:00Z, or "2026-11-26 14:05" in
UTC): the state is that of the longest prefix of the log whose entries are
not later than it. With --room R (general or #general), also print that
room's messages as they stood then (index, time, author, text with control
characters escaped; an edited message shows its last text and "(edited)", a
deleted one "(deleted by NAME)" without its text, a reply "[re INDEX]"); a
direct conversation is named by its two names, sorted: @alice,bob.`

func runReplay(e *env, args []string) error {
	fs := newFlags(e, "replay", "[--until INDEX|TIME] [--room R] [--include-uncommitted] DIR", replayHelp)
	untilArg := fs.String("until", "", "stop at this cluster index or time")
	room := fs.String("room", "", "also print this room's messages")
	uncommitted := fs.Bool("include-uncommitted", false, "also apply entries above the recorded commit index")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	until, err := parseUntil(*untilArg)
	if err != nil {
		return err
	}
	f := startFolder(until)
	defer f.close()
	a, err := load(e, pos[0], "replay", foldOpts{fold: f, tail: *uncommitted})
	if err != nil {
		return err
	}
	r := f.result(a)
	r.printSummary(e)
	r.printAccess(e) // replay_access.go
	r.printModeration(e)
	if *room == "" {
		return nil
	}
	name, err := r.resolveRoom(*room)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nroom %s: %d message(s)\n", clean(name), r.roomCount(name))
	r.eachMessage(name, func(m api.Message) error {
		_, err := fmt.Fprintln(e.stdout, txtLine(m, ""))
		return err
	})
	return nil
}

// until is a point in the log: a cluster index or a wall time.
type until struct {
	index uint64
	time  int64 // Unix ns; 0 = not set
	arg   string
}

var untilLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

func parseUntil(s string) (until, error) {
	if s == "" {
		return until{}, nil
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		if n == 0 {
			return until{}, exitf(ExitUsage, "--until 0: cluster indexes start at 1")
		}
		return until{index: n, arg: s}, nil
	}
	for _, layout := range untilLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return until{time: t.UnixNano(), arg: s}, nil
		}
	}
	return until{}, exitf(ExitUsage, "--until %q: want a cluster index or a time such as 2026-11-26T14:05:00Z", s)
}

// rebuilt is node/state folded up to a point.
type rebuilt struct {
	a           *analysis
	st          *state.State
	uncommitted bool
	until       until
	counts      map[string]int // messages per room (state.Chat.MessageCounts)
	users       []string       // folder.users, sorted
	last        uint64         // cluster index of the last applied entry (0: none)
	lastTime    int64          // the last wall time among the applied entries
	mod         *moderation    // bans and mutes applied (folder.mod)
}

func (r *rebuilt) printSummary(e *env) {
	w, a := e.stdout, r.a
	scope := "committed entries only"
	if r.uncommitted {
		scope = "committed and uncommitted entries"
	}
	fmt.Fprintf(w, "replayed %s: %s (the WAL records commit up to index %d of %d)\n",
		a.src.dir, scope, a.log.Commit, a.log.LastIndex())
	if r.until.arg != "" {
		fmt.Fprintf(w, "until %s\n", r.until.arg)
	}
	fmt.Fprintf(w, "state at cluster index %d, time %s\n", r.last, fmtTime(r.lastTime))
	rooms := r.st.Chat.Rooms()
	fmt.Fprintf(w, "rooms %d, users %d, messages %d (%d direct)\n", len(rooms), len(r.users), r.st.Chat.Count(), r.directCount(rooms))
	fmt.Fprintf(w, "\n%-20s %8s %8s %10s  %s\n", "ROOM", "MEMBERS", "MESSAGES", "LAST INDEX", "TOPIC")
	for _, ri := range rooms {
		fmt.Fprintf(w, "%-20s %8d %8d %10d  %s\n", clean(ri.Name), ri.Members, r.roomCount(ri.Name), ri.LastIndex, clean(ri.Topic))
		if m := r.st.Chat.Members(ri.Name); len(m) > 0 {
			fmt.Fprintf(w, "  members: %s\n", cleanJoin(m))
		}
	}
	fmt.Fprintf(w, "\nusers: %s\n", cleanJoin(capList(r.users, maxNames)))
}

// roomCount returns how many messages a room (or direct conversation)
// holds: the chat plugin reports each message it keeps once.
func (r *rebuilt) roomCount(room string) int { return r.counts[room] }

func (r *rebuilt) directCount(rooms []api.RoomInfo) uint64 {
	var n uint64
	for _, ri := range rooms {
		n += uint64(r.roomCount(ri.Name))
	}
	return r.st.Chat.Count() - n
}

// resolveRoom returns the room or direct conversation an argument names:
// as given if it exists, else without a leading '#' ("#general", as the
// chat's commands accept it), else folded to lower case (as the chat folds
// names). Otherwise an error names the rooms that exist.
func (r *rebuilt) resolveRoom(arg string) (string, error) {
	bare := strings.TrimPrefix(arg, "#")
	for _, name := range []string{arg, bare, strings.ToLower(bare)} {
		if r.hasRoom(name) {
			return name, nil
		}
	}
	var names []string
	for _, ri := range r.st.Chat.Rooms() {
		names = append(names, ri.Name)
	}
	return "", exitf(ExitProblem, "no room %q at cluster index %d; rooms: %s", clean(bare), r.last, cleanJoin(names))
}

// hasRoom reports whether room is a room or a direct conversation with
// messages.
func (r *rebuilt) hasRoom(room string) bool {
	for _, ri := range r.st.Chat.Rooms() {
		if ri.Name == room {
			return true
		}
	}
	msgs, err := r.st.Chat.HistoryAfter(room, 0, 1)
	return err == nil && len(msgs) > 0 // a direct conversation
}

// historyChunk is how many messages eachMessage copies out of the chat
// plugin at a time.
const historyChunk = 1024

// eachMessage calls fn with the room's messages in index order, a chunk at a
// time, until fn returns an error, which it returns.
func (r *rebuilt) eachMessage(room string, fn func(api.Message) error) error {
	var after uint64
	for {
		msgs, err := r.st.HistoryAfter(room, after, historyChunk) // as they stood: edits, deletions (changes.go)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if err := fn(m); err != nil {
				return err
			}
		}
		if len(msgs) < historyChunk {
			return nil
		}
		after = msgs[len(msgs)-1].Index
	}
}

// txtLine renders a message for people: index, time, meta (if any), author,
// text.
func txtLine(m api.Message, meta string) string {
	head := fmt.Sprintf("#%d %s ", m.Index, m.Time.UTC().Format(time.RFC3339Nano))
	if meta != "" {
		head += meta + " "
	}
	text := changeText(m) // with "(edited)", a deletion, reactions (changes.go)
	switch {
	case m.Action:
		return fmt.Sprintf("%s* %s %s", head, clean(m.From), text)
	case m.To != "":
		return fmt.Sprintf("%s<%s -> %s> %s", head, clean(m.From), clean(m.To), text)
	}
	return fmt.Sprintf("%s<%s> %s", head, clean(m.From), text)
}

// maxNames bounds the user names a summary lists.
const maxNames = 30

// capList shortens ss to n names and a "(k more)" marker.
func capList(ss []string, n int) []string {
	if len(ss) <= n {
		return ss
	}
	return append(ss[:n:n], fmt.Sprintf("... (%d more)", len(ss)-n))
}

func cleanJoin(ss []string) string {
	if len(ss) == 0 {
		return "-"
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = clean(s)
	}
	return strings.Join(out, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
