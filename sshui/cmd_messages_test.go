package sshui_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// msgLine is the JSON line of history and tail with what happened to a
// message since it was posted.
type msgLine struct {
	Index     uint64 `json:"index"`
	From      string `json:"from"`
	Text      string `json:"text"`
	ReplyTo   uint64 `json:"reply_to"`
	Edited    bool   `json:"edited"`
	Edits     int    `json:"edits"`
	EditedAt  string `json:"edited_at"`
	Deleted   bool   `json:"deleted"`
	DeletedBy string `json:"deleted_by"`
	Reactions []struct {
		Emoji string   `json:"emoji"`
		Count int      `json:"count"`
		Users []string `json:"users"`
	} `json:"reactions"`
	Replies  int `json:"replies"`
	Versions []struct {
		Index uint64 `json:"index"`
		Text  string `json:"text"`
	} `json:"versions"`
}

func jsonLines(t *testing.T, out string) []msgLine {
	t.Helper()
	var ls []msgLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m msgLine
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		ls = append(ls, m)
	}
	return ls
}

// Two users through real SSH: alice edits her message, bob may not; bob
// reacts and toggles; an admin deletes; history shows each as it is now
// and, with --versions, every text.
func TestExecEditDeleteReact(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	alice, bob := newSigner(t), newSigner(t)
	r := run(t, ts.addr, "alice", alice, "post general helo world")
	if r.code != 0 {
		t.Fatalf("post: %+v", r)
	}
	idx := strings.TrimSpace(r.out)
	run(t, ts.addr, "bob", bob, "post general hi alice")

	if r := run(t, ts.addr, "bob", bob, "edit "+idx+" pwned"); r.code != 1 || !strings.Contains(r.err, "you can edit only your own messages") {
		t.Fatalf("bob edits alice's message: %+v", r)
	}
	r = run(t, ts.addr, "alice", alice, "edit --json "+idx+" hello world")
	var ch struct {
		Index, Target uint64
		Op            string
	}
	if r.code != 0 || json.Unmarshal([]byte(r.out), &ch) != nil || fmt.Sprint(ch.Target) != idx || ch.Op != "edit" || ch.Index == 0 {
		t.Fatalf("edit --json: %+v (%+v)", r, ch)
	}
	r = run(t, ts.addr, "bob", bob, "history general")
	if !strings.Contains(r.out, "<alice> hello world (edited)") || strings.Contains(r.out, "helo") {
		t.Fatalf("history after an edit:\n%s", r.out)
	}
	r = run(t, ts.addr, "bob", bob, "history general --versions")
	if !strings.Contains(r.out, "    v1 ") || !strings.Contains(r.out, " helo world\n") || !strings.Contains(r.out, "    v2 ") {
		t.Fatalf("history --versions:\n%s", r.out)
	}
	ls := jsonLines(t, run(t, ts.addr, "bob", bob, "history general --json --versions").out)
	if len(ls) != 2 || !ls[0].Edited || ls[0].Edits != 1 || ls[0].EditedAt == "" || len(ls[0].Versions) != 2 ||
		ls[0].Versions[0].Text != "helo world" || ls[0].Versions[1].Text != "hello world" || ls[1].Versions != nil {
		t.Fatalf("history --json --versions: %+v", ls)
	}

	// Reactions toggle: on, on for a second user, off.
	if r := run(t, ts.addr, "bob", bob, "react "+idx+" 👍"); r.code != 0 || !strings.Contains(r.out, "reacted 👍 to "+idx) {
		t.Fatalf("react: %+v", r)
	}
	run(t, ts.addr, "alice", alice, "react --add "+idx+" 👍")
	ls = jsonLines(t, run(t, ts.addr, "bob", bob, "history general --json").out)
	if len(ls[0].Reactions) != 1 || ls[0].Reactions[0].Count != 2 || strings.Join(ls[0].Reactions[0].Users, ",") != "bob,alice" {
		t.Fatalf("reactions: %+v", ls[0].Reactions)
	}
	if r := run(t, ts.addr, "bob", bob, "react --json "+idx+" 👍"); r.code != 0 || !strings.Contains(r.out, `"on":false`) {
		t.Fatalf("react toggled off: %+v", r)
	}
	if r := run(t, ts.addr, "bob", bob, "history general"); !strings.Contains(r.out, "(edited) [👍 1]") {
		t.Fatalf("history with a reaction:\n%s", r.out)
	}

	// bob may not delete alice's message; an admin may; then nothing more
	// changes it.
	if r := run(t, ts.addr, "bob", bob, "delete "+idx); r.code != 1 || !strings.Contains(r.err, "only your own") {
		t.Fatalf("bob deletes alice's message: %+v", r)
	}
	if r := run(t, ts.addr, "admin", ts.admin, "delete "+idx+" off topic"); r.code != 0 {
		t.Fatalf("admin deletes: %+v", r)
	}
	r = run(t, ts.addr, "bob", bob, "history general")
	if !strings.Contains(r.out, "<alice> (message deleted by admin)") || strings.Contains(r.out, "hello") {
		t.Fatalf("history after a deletion:\n%s", r.out)
	}
	ls = jsonLines(t, run(t, ts.addr, "bob", bob, "history general --json --versions").out)
	if !ls[0].Deleted || ls[0].Text != "" || ls[0].DeletedBy != "admin" || ls[0].Versions != nil || ls[0].Reactions != nil {
		t.Fatalf("a deleted message's JSON: %+v", ls[0])
	}
	if r := run(t, ts.addr, "alice", alice, "edit "+idx+" back"); r.code != 1 || !strings.Contains(r.err, "message deleted") {
		t.Fatalf("editing a deleted message: %+v", r)
	}
	if r := run(t, ts.addr, "alice", alice, "react "+idx+" 👍"); r.code != 1 || !strings.Contains(r.err, "message deleted") {
		t.Fatalf("reacting to a deleted message: %+v", r)
	}
}

// Replies: post --reply, the thread, a reply to a reply joining the first
// one's thread, and the errors.
func TestExecReplyAndThread(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	alice, bob := newSigner(t), newSigner(t)
	root := strings.TrimSpace(run(t, ts.addr, "alice", alice, "post general lunch?").out)
	run(t, ts.addr, "alice", alice, "post general unrelated")
	r := run(t, ts.addr, "bob", bob, "post --reply "+root+" general yes")
	if r.code != 0 {
		t.Fatalf("post --reply: %+v", r)
	}
	reply := strings.TrimSpace(r.out)
	if r := run(t, ts.addr, "alice", alice, "post --reply "+reply+" general 12:30?"); r.code != 0 {
		t.Fatalf("reply to a reply: %+v", r)
	}
	r = run(t, ts.addr, "bob", bob, "history --thread "+root)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.Contains(lines[0], "<alice> lunch? [2 replies]") ||
		!strings.Contains(lines[1], "<bob> [re "+root+"] yes") || !strings.Contains(lines[2], "<alice> [re "+root+"] 12:30?") {
		t.Fatalf("history --thread:\n%s", r.out)
	}
	ls := jsonLines(t, run(t, ts.addr, "bob", bob, "history general --json").out)
	if fmt.Sprint(ls[0].Replies) != "2" || fmt.Sprint(ls[2].ReplyTo) != root || fmt.Sprint(ls[3].ReplyTo) != root {
		t.Fatalf("history --json of a thread: %+v", ls)
	}
	for cmd, want := range map[string]string{
		"post --reply 999 general x":         "no message 999",
		"post --reply " + root + " @alice x": "not in this conversation",
		"history --thread 999":               "no message 999",
		"history --thread " + root + " dev":  "not in dev",
	} {
		if r := run(t, ts.addr, "bob", bob, cmd); r.code != 1 || !strings.Contains(r.err, want) {
			t.Errorf("%s: %+v, want %q", cmd, r, want)
		}
	}
}

func TestExecMessageChangeUsage(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	for _, c := range []string{"edit", "delete", "react"} {
		if r := run(t, ts.addr, "alice", k, c+" --help"); r.code != 0 || !strings.Contains(r.out, "usage: "+c) || !strings.Contains(r.out, "--json") {
			t.Errorf("%s --help: %+v", c, r)
		}
	}
	for cmd, want := range map[string]string{
		"edit":                      "need the index",
		"edit x text":               "not a message index",
		"edit 0 text":               "not a message index",
		"edit 5":                    "empty text", // stdin is empty
		"delete":                    "need the index",
		"delete -3":                 "flag provided but not defined",
		"react 5":                   "need the message's index and one emoji",
		"react 5 a b":               "need the message's index and one emoji",
		"react --add --remove 5 x":  "exclude each other",
		"react 5 \x1b[31m":          "without spaces or control characters",
		"post --reply x general hi": "--reply: not a message index",
		"history --thread x":        "--thread: not a message index",
		"history --thread 1 a b":    "at most one room",
	} {
		if r := run(t, ts.addr, "alice", k, cmd); r.code != 2 || !strings.Contains(r.err, want) {
			t.Errorf("%q: %+v, want exit 2 and %q", cmd, r, want)
		}
	}
	for cmd, want := range map[string]string{
		"edit 42 text": "no message 42",
		"delete 42":    "no message 42",
		"react 42 👍":   "no message 42",
	} {
		if r := run(t, ts.addr, "alice", k, cmd); r.code != 1 || !strings.Contains(r.err, want) {
			t.Errorf("%q: %+v, want exit 1 and %q", cmd, r, want)
		}
	}
}
