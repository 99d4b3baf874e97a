package walcmd

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/eventlog"
)

// wal replay --until shows a room before and after each edit, reaction,
// reply and deletion; export shows the messages as they stand, every
// version with --versions, and a deleted text only with --include-deleted.
func TestReplayAndExportChanges(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node1", "wal")
	b := newBuilder(t, dir, 1<<20)
	b.newTerm(1, "node1")                                                                                           // 1
	b.msg("general", "alice", "helo world", "a1")                                                                   // 2
	b.msg("general", "bob", "my password is hunter2", "b1")                                                         // 3
	b.entry(&eventlog.MessageEdited{Conv: "general", Target: 2, TargetID: "a1", By: "alice", Text: "hello world"})  // 4
	b.entry(&eventlog.ReactionSet{Conv: "general", Target: 2, By: "bob", Emoji: "👍"})                               // 5
	b.entry(&eventlog.MessagePosted{Room: "general", From: "bob", Text: "hi!", ClientMsgID: "b2", ReplyTo: 2})      // 6
	b.entry(&eventlog.MessageDeleted{Conv: "general", Target: 3, TargetID: "b1", By: "bob"})                        // 7
	b.entry(&eventlog.MessageEdited{Conv: "general", Target: 2, TargetID: "a1", By: "bob", Text: "bob was here"})   // 8: refused
	b.entry(&eventlog.MessageEdited{Conv: "general", Target: 2, TargetID: "a1", By: "alice", Text: "hello, world"}) // 9
	b.commit()
	dir = b.close()

	replay := func(until string) string {
		t.Helper()
		r := wal(t, "replay", "--until", until, "--room", "general", dir)
		if r.code != 0 {
			t.Fatalf("replay --until %s: %+v", until, r)
		}
		return r.stdout
	}
	has := func(out, want string, yes bool) {
		t.Helper()
		if strings.Contains(out, want) != yes {
			t.Fatalf("%q in the output: %v, want %v:\n%s", want, !yes, yes, out)
		}
	}
	out := replay("3")
	has(out, "<alice> helo world\n", true)
	out = replay("4")
	has(out, "<alice> hello world (edited)\n", true)
	out = replay("6")
	has(out, "<alice> hello world (edited) [👍 1]\n", true)
	has(out, "<bob> [re 2] hi!\n", true)
	has(out, "<bob> my password is hunter2\n", true)
	out = replay("7")
	has(out, "<bob> (deleted by bob)\n", true)
	has(out, "hunter2", false)
	out = replay("9")
	has(out, "<alice> hello, world (edited) [👍 1]\n", true)
	has(out, "bob was here", false)

	export := func(args ...string) []map[string]any {
		t.Helper()
		r := wal(t, append(append([]string{"export", "--room", "general"}, args...), dir)...)
		if r.code != 0 {
			t.Fatalf("export %v: %+v", args, r)
		}
		var rows []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			var row map[string]any
			if err := json.Unmarshal([]byte(l), &row); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			rows = append(rows, row)
		}
		return rows
	}
	rows := export()
	if len(rows) != 3 || rows[0]["text"] != "hello, world" || rows[0]["edited"] != true || rows[0]["versions"] != nil ||
		rows[1]["deleted"] != true || rows[1]["text"] != "" || rows[2]["reply_to"] != 2.0 || rows[0]["replies"] != 1.0 {
		t.Fatalf("export: %v", rows)
	}
	if _, ok := rows[2]["edited"]; ok {
		t.Fatalf("a plain message has change fields: %v", rows[2])
	}
	rows = export("--versions")
	vs, _ := rows[0]["versions"].([]any)
	if len(vs) != 3 || vs[0].(map[string]any)["text"] != "helo world" || vs[2].(map[string]any)["text"] != "hello, world" {
		t.Fatalf("export --versions: %v", rows[0])
	}
	if rows[1]["text"] != "" || rows[1]["versions"] != nil {
		t.Fatalf("export --versions shows a deleted text: %v", rows[1])
	}
	rows = export("--include-deleted")
	if rows[1]["text"] != "my password is hunter2" || rows[1]["deleted"] != true {
		t.Fatalf("export --include-deleted: %v", rows[1])
	}
	r := wal(t, "export", "--room", "general", "--format", "csv", "--versions", dir)
	if !strings.Contains(r.stdout, "action,reply_to,edited,deleted,versions\n") || !strings.Contains(r.stdout, ",true,false,") {
		t.Fatalf("export csv --versions:\n%s", r.stdout)
	}
	r = wal(t, "export", "--room", "general", "--format", "txt", "--versions", dir)
	if !strings.Contains(r.stdout, "<alice> hello, world (edited) [👍 1]\n    v1 #2 ") || strings.Contains(r.stdout, "hunter2") {
		t.Fatalf("export txt --versions:\n%s", r.stdout)
	}
	r = wal(t, "dump", dir)
	for _, want := range []string{`message_edited`, `target=2 target_id="a1" by="alice" text="hello world"`, `message_deleted`, `reaction_set`, `reply_to=2`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dump lacks %q", want)
		}
	}
	// The WAL keeps the original: dump shows the deleted text (an audit
	// reads everything), export does not unless asked.
	if !strings.Contains(r.stdout, "hunter2") {
		t.Error("dump lost the deleted message's text")
	}
}
