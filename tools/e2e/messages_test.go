package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// changedLine is a line of history --json --versions with what edits,
// deletions, replies and reactions add.
type changedLine struct {
	Index     uint64 `json:"index"`
	From      string `json:"from"`
	Text      string `json:"text"`
	ReplyTo   uint64 `json:"reply_to"`
	Edits     int    `json:"edits"`
	Deleted   bool   `json:"deleted"`
	DeletedBy string `json:"deleted_by"`
	Replies   int    `json:"replies"`
	Reactions []struct {
		Emoji string   `json:"emoji"`
		Users []string `json:"users"`
	} `json:"reactions"`
	Versions []struct {
		Text string `json:"text"`
	} `json:"versions"`
}

func (c *cluster) changedHistory(id string) ([]changedLine, error) {
	out, err := c.run(id, "reader", c.userKey("reader"), 10*time.Second, "history general --json --versions")
	if err != nil {
		return nil, err
	}
	var ls []changedLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m changedLine
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			return nil, fmt.Errorf("%s: %q: %w", id, l, err)
		}
		ls = append(ls, m)
	}
	return ls, nil
}

// Edits, replies, reactions and a deletion by two users on different
// nodes of real processes, through SSH; a leader killed with -9 between
// them; the killed node restarted: every node shows the same history, and
// wal replay --until shows the room before and after the edit.
func TestMessageChangesOnRealNodes(t *testing.T) {
	c := start(t, 3)
	runOK := func(id, user, cmd string) string {
		t.Helper()
		out, err := c.run(id, user, c.userKey(user), postTimeout, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	a, err := c.post("node1", "alice", "general", "helo world", "a1")
	if err != nil {
		t.Fatal(err)
	}
	reply := runOK("node2", "bob", fmt.Sprintf("post --id b1 --reply %d general hi alice", a))
	edit := runOK("node2", "alice", fmt.Sprintf("edit %d hello world", a))
	runOK("node3", "bob", fmt.Sprintf("react %d 👍", a))
	if _, err := c.run("node3", "bob", c.userKey("bob"), postTimeout, fmt.Sprintf("edit %d bob was here", a)); err == nil ||
		!strings.Contains(err.Error(), "you can edit only your own messages") {
		t.Fatalf("bob editing alice's message: %v", err)
	}

	lead := c.waitLeader()
	c.kill9(lead)
	var alive []string
	for _, id := range c.ids {
		if id != lead {
			alive = append(alive, id)
		}
	}
	c.waitLeader()
	// A survivor may still be learning of the new leader: retry as users do.
	retry := func(id, user, cmd string) string {
		t.Helper()
		var out string
		var err error
		for i := 0; i < 20; i++ {
			if out, err = c.run(id, user, c.userKey(user), postTimeout, cmd); err == nil {
				return strings.TrimSpace(out)
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Fatal(err)
		return ""
	}
	retry(alive[0], "alice", fmt.Sprintf("edit %d hello, world", a))
	out, err := c.run(alive[1], "admin", c.admin, postTimeout, "delete --json "+reply+" off topic")
	if err != nil || !strings.Contains(out, `"op":"delete"`) {
		t.Fatalf("an admin's deletion: %q %v", out, err)
	}
	c.restart(lead)

	want := fmt.Sprint([]string{
		fmt.Sprintf(`%d alice "hello, world" edits=2 replies=1 versions=3 👍[bob]`, a),
		fmt.Sprintf(`%s bob "" re=%d deleted by admin`, reply, a),
	})
	view := func(ls []changedLine) string {
		var out []string
		for _, l := range ls {
			s := fmt.Sprintf("%d %s %q", l.Index, l.From, l.Text)
			if l.ReplyTo != 0 {
				s += fmt.Sprintf(" re=%d", l.ReplyTo)
			}
			if l.Edits > 0 {
				s += fmt.Sprintf(" edits=%d", l.Edits)
			}
			if l.Deleted {
				s += " deleted by " + l.DeletedBy
			}
			if l.Replies > 0 {
				s += fmt.Sprintf(" replies=%d", l.Replies)
			}
			if len(l.Versions) > 0 {
				s += fmt.Sprintf(" versions=%d", len(l.Versions))
			}
			for _, r := range l.Reactions {
				s += fmt.Sprintf(" %s%v", r.Emoji, r.Users)
			}
			out = append(out, s)
		}
		return fmt.Sprint(out)
	}
	var first []changedLine
	for _, id := range c.ids {
		deadline := time.Now().Add(20 * time.Second)
		for {
			ls, err := c.changedHistory(id)
			if err == nil && view(ls) == want {
				if first == nil {
					first = ls
				} else if !reflect.DeepEqual(ls, first) {
					t.Fatalf("%s differs:\n%+v\n%+v", id, ls, first)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: history %s (err %v), want %s", id, view(ls), err, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// The WAL of the restarted node, offline: the room before and after
	// the first edit.
	c.term(lead)
	walDir := filepath.Join(c.dir, "data", lead, "wal")
	e, _ := strconv.ParseUint(edit, 10, 64)
	replay := func(until uint64) string {
		t.Helper()
		out, err := exec.Command(binPath, "wal", "replay", "--until", fmt.Sprint(until), "--room", "general", walDir).CombinedOutput()
		if err != nil {
			t.Fatalf("wal replay --until %d: %v\n%s", until, err, out)
		}
		return string(out)
	}
	if out := replay(e - 1); !strings.Contains(out, "<alice> helo world\n") {
		t.Fatalf("before the edit:\n%s", out)
	}
	if out := replay(e); !strings.Contains(out, "<alice> hello world (edited)\n") {
		t.Fatalf("after the edit:\n%s", out)
	}
	out2, err := exec.Command(binPath, "wal", "export", "--room", "general", "--include-deleted", walDir).CombinedOutput()
	if err != nil || !strings.Contains(string(out2), `"text":"hi alice"`) || !strings.Contains(string(out2), `"deleted":true`) {
		t.Fatalf("wal export --include-deleted: %v\n%s", err, out2)
	}
}
