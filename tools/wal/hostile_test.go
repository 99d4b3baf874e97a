package walcmd

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/syncnet/syncnet/eventlog"
)

// hostile is text a client may send to attack a terminal that shows it: an
// OSC 52 clipboard write, a C1 CSI (U+009B) clearing the screen, a
// right-to-left override disguising a file name, a carriage return that
// overwrites the line, DEL and a byte that is not UTF-8.
const hostile = "x\x1b]52;c;aGkK\x07\u009b2J\u202egnp.exe\u202c\r\x7f\xff"

// hostileLog writes a WAL whose every user-supplied field carries hostile
// text: names, room, topic, ban and mute reasons, request and client
// message ids, message and direct message texts.
func hostileLog(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "node1", "wal")
	b := newBuilder(t, dir, 1<<20)
	b.newTerm(1, "node1")
	user, room := "eve"+hostile, "room"+hostile
	b.entry(&eventlog.UserRegistered{Name: user, KeyFingerprint: "SHA256:" + hostile})
	b.entry(&eventlog.RoomCreated{Room: room, By: user})
	b.entry(&eventlog.RoomTopicSet{Room: room, Topic: "topic" + hostile, By: user})
	b.entry(&eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: room, User: user}})
	b.lamport++
	b.tick++
	b.raw(eventlog.Header{Origin: b.origin, Term: b.term, Index: b.next, Lamport: b.lamport, Time: b.now(),
		Author: user, RequestID: "req" + hostile},
		&eventlog.MessagePosted{Room: room, From: user, Text: "text" + hostile + "\nline two", ClientMsgID: "id" + hostile})
	b.entry(&eventlog.DirectMessage{From: user, To: "bob" + hostile, Text: "dm" + hostile, ClientMsgID: "dm-id" + hostile})
	b.entry(&eventlog.UserMuted{Moderation: eventlog.Moderation{Target: "bob" + hostile, By: user, Room: room, Reason: "why" + hostile}})
	b.entry(&eventlog.UserBanned{Moderation: eventlog.Moderation{Target: "mallory" + hostile, By: user, Reason: "why" + hostile}})
	b.commit()
	return b.close()
}

// unsafeOn returns the first byte or rune of out that a terminal may act on,
// keeping the newlines that end lines (and, if keepInField, tabs and
// newlines inside a csv field); "" if there is none.
func unsafeOn(out string, keepInField bool) string {
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRuneInString(out[i:])
		switch {
		case r == '\n', keepInField && r == '\t':
		case r == utf8.RuneError && n == 1, r < 0x20, r == 0x7f, unsafeRune(r):
			return out[i : i+n]
		}
		i += n
	}
	return ""
}

// Regression: the client --id was stored raw and printed raw by `wal
// export` (csv, jsonl) and `wal dump --json`: ESC ] 52, U+009B and U+202E
// reached the auditor's terminal. No output of any subcommand may carry
// a character a terminal acts on, whatever field of the log it came from;
// jsonl and dump --json still give back the exact text when decoded.
func TestHostileTextEscapedEverywhere(t *testing.T) {
	dir := hostileLog(t)
	room := "room" + hostile
	runs := [][]string{
		{"dump", dir},
		{"dump", "--json", dir},
		{"verify", dir},
		{"stats", dir},
		{"replay", "--room", room, dir},
		{"export", "--room", room, dir},
		{"export", "--room", room, "--format", "csv", dir},
		{"export", "--room", room, "--format", "txt", dir},
		{"export", "--room", "@bob" + hostile + ",eve" + hostile, dir},
		{"diff", dir, dir},
	}
	for _, args := range runs {
		r := wal(t, args...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d: %s\n%s", args, r.code, r.msg, r.stderr)
		}
		csvOut := args[len(args)-2] == "csv"
		if bad := unsafeOn(r.stdout, csvOut); bad != "" {
			t.Errorf("wal %s: stdout carries %q raw:\n%s", strings.Join(args[:len(args)-1], " "), bad, r.stdout)
		}
		if bad := unsafeOn(r.stderr+r.msg, false); bad != "" {
			t.Errorf("wal %s: stderr carries %q raw:\n%s", strings.Join(args[:len(args)-1], " "), bad, r.stderr+r.msg)
		}
	}

	// jsonl is the exact form: decoded, the fields are what was posted
	// (encoding/json turns the byte that is not UTF-8 into U+FFFD).
	exact := strings.ToValidUTF8(hostile, "\ufffd")
	r := wal(t, "export", "--room", room, dir)
	var row exportRow
	if err := json.Unmarshal([]byte(r.stdout), &row); err != nil {
		t.Fatalf("export jsonl: %v\n%s", err, r.stdout)
	}
	if row.ID != "id"+exact || row.Text != "text"+exact+"\nline two" || row.Room != "room"+exact || row.From != "eve"+exact {
		t.Errorf("export jsonl decodes to %+v, want the exact fields", row)
	}
	r = wal(t, "dump", "--json", "--kind", "message_posted", dir)
	var rec struct{ Body map[string]any }
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("dump --json: %v\n%s", err, r.stdout)
	}
	if rec.Body["client_msg_id"] != "id"+exact {
		t.Errorf("dump --json: client_msg_id decodes to %q, want %q", rec.Body["client_msg_id"], "id"+exact)
	}

	// csv keeps a message's lines (a quoted field may hold them) and shows
	// the rest as the readable escapes.
	r = wal(t, "export", "--room", room, "--format", "csv", dir)
	rows, err := csv.NewReader(bufio.NewReader(strings.NewReader(r.stdout))).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("export csv: %d rows, %v\n%s", len(rows), err, r.stdout)
	}
	if got, want := rows[1][7], "id"+clean(hostile); got != want {
		t.Errorf("export csv: id %q, want %q", got, want)
	}
	if got, want := rows[1][5], "text"+clean(hostile)+"\nline two"; got != want {
		t.Errorf("export csv: text %q, want %q", got, want)
	}
}
