package sshui

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

func cmdHistory() command {
	c := command{name: "history", usage: "ROOM [--limit N] [--json] [--versions]   |   history --thread INDEX [...]",
		summary: "Print a room's committed messages in cluster order (ROOM may be @NAME), as they are now:\n" +
			"edited text, deleted messages as \"(message deleted)\", the message a reply answers, reactions, replies.\n" +
			"With --thread INDEX, print message INDEX and its replies (ROOM may be left out)."}
	c.run = func(e *execEnv) int { return runHistory(e, c) }
	return c
}

func runHistory(e *execEnv, c command) int {
	fs := newFlags(c)
	limit := fs.Int("limit", 50, "number of most recent messages (max 10000)")
	asJSON := fs.Bool("json", false, "JSON lines: index, id, room, from, text, lamport, time (and reply_to, edited, deleted, reactions, replies)")
	versions := fs.Bool("versions", false, "also every text an edited message had (JSON: versions)")
	thread := fs.String("thread", "", "print message INDEX and its replies (the newest --limit of them)")
	pos, code, ok := parseArgs(e, c, fs)
	if !ok {
		return code
	}
	if *thread != "" {
		return runThread(e, c, fs, pos, *thread, *limit, *asJSON, *versions)
	}
	if len(pos) != 1 {
		return usageErr(e, c, fs, "need exactly one room")
	}
	if *limit < 1 || *limit > 10000 {
		return usageErr(e, c, fs, "--limit must be 1..10000")
	}
	room, err := roomArg(e, pos[0])
	if err != nil {
		return usageErr(e, c, fs, "%v", err)
	}
	if code, ok := e.mayRead("history", room); !ok {
		return code
	}
	if why := missingRoom(e, pos[0], room); why != "" {
		return e.errorf("history: %s", why)
	}
	msgs, err := e.b.History(room, 0, *limit)
	if err != nil {
		return e.errorf("history: %s", historyErr(err))
	}
	return printMessages(e, msgs, *asJSON, *versions)
}

// historyErr explains a failed History read in one line. The node could
// not read its own log; nothing is lost, so a retry (here or on another
// node) may work.
func historyErr(err error) string {
	return "history unavailable: this node could not read its log (" + Clean(err.Error(), 300) + "); nothing is lost, retry or use another node"
}

// messageDoc is the JSON line shape of history and tail (a contract).
type messageDoc struct {
	Index   uint64 `json:"index"`
	ID      string `json:"id"`
	Room    string `json:"room"`
	From    string `json:"from"`
	To      string `json:"to,omitempty"`
	Text    string `json:"text"`
	Lamport uint64 `json:"lamport"`
	Time    string `json:"time"`
	Action  bool   `json:"action,omitempty"`
	// What happened since it was posted (cmd_messages.go).
	ReplyTo   uint64        `json:"reply_to,omitempty"`
	Edited    bool          `json:"edited,omitempty"`
	Edits     int           `json:"edits,omitempty"`
	EditedAt  string        `json:"edited_at,omitempty"`
	Deleted   bool          `json:"deleted,omitempty"`
	DeletedBy string        `json:"deleted_by,omitempty"`
	Reactions []reactionDoc `json:"reactions,omitempty"`
	Replies   int           `json:"replies,omitempty"`
	LastReply uint64        `json:"last_reply,omitempty"`
	Versions  []versionDoc  `json:"versions,omitempty"`
}

// printMessageVersions prints m as it is now, and versions (the texts an
// edited message had: history --versions) with it.
func printMessageVersions(w io.Writer, m api.Message, asJSON bool, versions []api.Version) error {
	if asJSON {
		d := messageDoc{Index: m.Index, ID: m.ID, Room: m.Room, From: m.From, To: m.To,
			Text: m.Text, Lamport: m.Lamport, Time: m.Time.UTC().Format(time.RFC3339Nano), Action: m.Action}
		d.withExtra(m, versions)
		return writeJSON(w, d)
	}
	// A message of several lines keeps them, each after the first
	// indented, so every line that starts at column 0 is a message.
	from := Clean(m.From, MaxNameLen)
	text := strings.ReplaceAll(CleanText(m.Text, 0), "\n", "\n    ")
	if m.Deleted() {
		text = deletedText(m)
	}
	before, after := decorations(m)
	line := fmt.Sprintf("%s %d <%s> %s%s%s\n", m.Time.UTC().Format(time.RFC3339), m.Index, from, before, text, after)
	if m.Action {
		line = fmt.Sprintf("%s %d * %s %s%s%s\n", m.Time.UTC().Format(time.RFC3339), m.Index, from, before, text, after)
	}
	if _, err := io.WriteString(w, line); err != nil {
		return err
	}
	return printVersions(w, versions)
}
