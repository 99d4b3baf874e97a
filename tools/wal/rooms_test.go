package walcmd

import (
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// Regression: `--room '#general'` was refused ("no room") where the SSH
// `history '#dev'` accepts it. A room is named with or without its '#' (and
// in any case, as the chat folds names) wherever the wal tools take one.
func TestRoomWithHash(t *testing.T) {
	dir := chatLog(t)
	for _, cmd := range [][]string{{"replay"}, {"export"}, {"export", "--format", "txt"}} {
		plain := wal(t, append(cmd, "--room", "general", dir)...)
		if plain.code != 0 {
			t.Fatalf("%q --room general: %+v", cmd, plain)
		}
		for _, name := range []string{"#general", "#General", "GENERAL"} {
			r := wal(t, append(cmd, "--room", name, dir)...)
			if r.code != 0 || r.stdout != plain.stdout {
				t.Errorf("%q --room %s: exit %d (%s), stdout equal to --room general's: %v", cmd, name, r.code, r.msg, r.stdout == plain.stdout)
			}
		}
	}
	if r := wal(t, "replay", "--room", "#nosuchroom", dir); r.code != ExitProblem || !strings.Contains(r.msg, `no room "nosuchroom"`) {
		t.Errorf("replay --room #nosuchroom: exit %d, %q; want 1 naming the room without its #", r.code, r.msg)
	}
}

// Regression: `wal export` required --room, so there was no way to export
// the whole history. Without --room it exports every room and direct
// conversation in cluster order, each row naming its room.
func TestExportAllRooms(t *testing.T) {
	dir := chatLog(t)
	r := wal(t, "export", dir)
	if r.code != 0 {
		t.Fatalf("export without --room: exit %d: %s\n%s", r.code, r.msg, r.stderr)
	}
	var rows []exportRow
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var row exportRow
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		rows = append(rows, row)
	}
	perRoom := map[string]int{}
	for i, row := range rows {
		if row.Room == "" {
			t.Errorf("row %+v names no room", row)
		}
		if i > 0 && row.Index <= rows[i-1].Index {
			t.Errorf("row %d at index %d after index %d: not in cluster order", i, row.Index, rows[i-1].Index)
		}
		perRoom[row.Room]++
	}
	for _, room := range []string{"general", "ops", "@bob,carol"} {
		one := wal(t, "export", "--room", room, dir)
		if want := strings.Count(one.stdout, "\n"); perRoom[room] != want {
			t.Errorf("room %s: %d rows in the whole export, %d in its own", room, perRoom[room], want)
		}
	}
	if len(perRoom) != 3 {
		t.Errorf("rooms exported: %v, want general, ops and @bob,carol", perRoom)
	}
	if !strings.Contains(r.stderr, "every room") {
		t.Errorf("export's note does not say it exported every room: %q", r.stderr)
	}
	txt := wal(t, "export", "--format", "txt", dir)
	if !strings.Contains(txt.stdout, ` room="@bob,carol" lamport=`) || !strings.Contains(txt.stdout, ` room="ops" lamport=`) {
		t.Errorf("export --format txt without --room does not name each message's room:\n%s", txt.stdout)
	}
	csvAll := wal(t, "export", "--format", "csv", dir)
	recs, err := csv.NewReader(strings.NewReader(csvAll.stdout)).ReadAll()
	if csvAll.code != 0 || err != nil || len(recs) != len(rows)+1 || recs[0][2] != "room" {
		t.Errorf("export --format csv without --room: exit %d, %d records (%v), want a header with a room column and %d rows", csvAll.code, len(recs), err, len(rows))
	}
}

// Regression: `wal export --help` spoke of "I5", an invariant's name in the
// design notes. Help speaks the user's language: no invariant names, no
// Go package or record type names.
func TestHelpSpeaksUsersLanguage(t *testing.T) {
	internal := regexp.MustCompile(`\bI[0-9]\b|node/state|eventlog|ReplicatedLog|CommittedUpTo|Describe|encoding/`)
	for _, c := range subcommands() {
		r := wal(t, c.name, "--help")
		if m := internal.FindAllString(r.stderr+r.stdout, -1); m != nil {
			t.Errorf("wal %s --help mentions %q:\n%s", c.name, m, r.stderr+r.stdout)
		}
	}
}
