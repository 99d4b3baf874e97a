package walcmd

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

const exportHelp = `Write a transcript for archiving, rebuilt from the WAL alone: the committed
messages of one room (--room general or #general), or without --room of
every room and direct conversation, in cluster order, as the node's chat
holds them (a post retried by its client appears once, as users saw it).
Each message has its cluster index, time (RFC 3339, UTC), room, author,
text, Lamport time and client message id. A direct conversation is named by
its two names, sorted: --room @alice,bob. Only committed entries are applied
(those the WAL records as committed, which may lag the cluster by up to
100ms of traffic); --include-uncommitted applies the uncommitted tail too,
as 'wal replay' does. --format jsonl (default) keeps the text exactly as
posted, with the characters a terminal would act on (control characters,
escape sequences, bidi overrides) written as JSON \u escapes; csv has the
same columns and a header row, and shows those characters as escapes such
as \x1b (a message's line breaks are kept); txt is for reading and escapes
them too. --until exports the history as it stood at a cluster index or
time (see 'wal replay --help'). Each message is as it stood: an edited one
has its last text and "edited", a deleted one "deleted" and no text, a
reply "reply_to"; --versions adds every text an edited message had, and
--include-deleted keeps the text of deleted messages (the WAL never loses
it; a transcript leaves it out unless asked).`

func runExport(e *env, args []string) error {
	fs := newFlags(e, "export", exportSynopsis, exportHelp)
	room := fs.String("room", "", "room or direct conversation to export (default: every one)")
	format := fs.String("format", "jsonl", "jsonl, csv or txt")
	untilArg := fs.String("until", "", "export the room as it stood at this cluster index or time")
	uncommitted := fs.Bool("include-uncommitted", false, "also apply entries above the recorded commit index")
	versions := fs.Bool("versions", false, "also every text an edited message had")
	withDeleted := fs.Bool("include-deleted", false, "keep the text of deleted messages (left out by default)")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	write, ok := exporters[*format]
	if !ok {
		return exitf(ExitUsage, "export: unknown --format %q (jsonl, csv or txt)", *format)
	}
	until, err := parseUntil(*untilArg)
	if err != nil {
		return err
	}
	f := startFolder(until)
	defer f.close()
	a, err := load(e, pos[0], "export", foldOpts{fold: f, tail: *uncommitted})
	if err != nil {
		return err
	}
	r := f.result(a)
	what, msgs := "every room and direct conversation", messages(r.eachMessageAll)
	if *room != "" {
		name, err := r.resolveRoom(*room)
		if err != nil {
			return err
		}
		what = "room " + clean(name)
		msgs = func(fn func(api.Message) error) error { return r.eachMessage(name, fn) }
	}
	n, err := write(e, r.withChanges(msgs, *versions, *withDeleted), exportOpts{allRooms: *room == "", versions: *versions})
	if err != nil {
		return exitf(ExitInput, "export: write: %v", err)
	}
	if *uncommitted {
		e.note("exported %d message(s) of %s, up to cluster index %d including uncommitted entries (the WAL records commit up to index %d)",
			n, what, r.last, a.log.Commit)
		return nil
	}
	e.note("exported %d message(s) of %s, committed up to cluster index %d", n, what, r.last)
	return nil
}

const exportSynopsis = "[--room R] [--format jsonl|csv|txt] [--until INDEX|TIME] [--versions] [--include-deleted] [--include-uncommitted] DIR"

// messages calls fn with each message to export, in order, until fn
// returns an error, which it returns.
type messages func(fn func(api.Message) error) error

// exporters write messages and return how many they wrote, as o says
// (changes.go).
var exporters = map[string]func(e *env, msgs messages, o exportOpts) (int, error){
	"jsonl": exportJSONL,
	"csv":   exportCSV,
	"txt":   exportTXT,
}

// exportRow is one line of the jsonl transcript.
type exportRow struct {
	Index   uint64 `json:"index"`
	Time    string `json:"time"`
	Room    string `json:"room"`
	From    string `json:"from"`
	To      string `json:"to,omitempty"`
	Text    string `json:"text"`
	Lamport uint64 `json:"lamport"`
	ID      string `json:"id"`
	Action  bool   `json:"action,omitempty"`
	changeCols
}

func exportJSONL(e *env, msgs messages, _ exportOpts) (int, error) {
	enc := newJSONWriter(e.stdout)
	n := 0
	err := msgs(func(m api.Message) error {
		n++
		row := exportRow{Index: m.Index, Time: m.Time.UTC().Format(time.RFC3339Nano), Room: m.Room, From: m.From,
			To: m.To, Text: m.Text, Lamport: m.Lamport, ID: m.ID, Action: m.Action, changeCols: changeColsOf(m)}
		return enc.encode(row)
	})
	return n, err
}

func exportCSV(e *env, msgs messages, o exportOpts) (int, error) {
	w := csv.NewWriter(e.stdout)
	header := append([]string{"index", "time", "room", "from", "to", "text", "lamport", "id", "action"}, csvChangeHeader...)
	if o.versions {
		header = append(header, "versions")
	}
	_ = w.Write(header)
	n := 0
	_ = msgs(func(m api.Message) error {
		n++
		_ = w.Write(append([]string{strconv.FormatUint(m.Index, 10), m.Time.UTC().Format(time.RFC3339Nano), cleanCSV(m.Room), cleanCSV(m.From),
			cleanCSV(m.To), cleanCSV(m.Text), strconv.FormatUint(m.Lamport, 10), cleanCSV(m.ID), strconv.FormatBool(m.Action)},
			csvChangeCols(m, o.versions)...))
		return nil
	})
	w.Flush()
	return n, w.Error()
}

func exportTXT(e *env, msgs messages, o exportOpts) (int, error) {
	n := 0
	err := msgs(func(m api.Message) error {
		n++
		meta := fmt.Sprintf("lamport=%d id=%s", m.Lamport, strconv.Quote(m.ID))
		if o.allRooms {
			meta = "room=" + strconv.Quote(m.Room) + " " + meta
		}
		_, err := fmt.Fprintln(e.stdout, txtLine(m, meta))
		return err
	})
	return n, err
}
