package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// botScript is the example bot of docs/BOTS.md, read from the page itself
// so that what the docs show is what runs here.
func botScript(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "BOTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- pingbot:begin")
	if !ok {
		t.Fatal("docs/BOTS.md has no pingbot:begin marker")
	}
	body, _, ok := strings.Cut(rest, "<!-- pingbot:end -->")
	if !ok {
		t.Fatal("docs/BOTS.md has no pingbot:end marker")
	}
	_, code, ok := strings.Cut(body, "```sh\n")
	if !ok {
		t.Fatal("docs/BOTS.md: no sh block between the markers")
	}
	code, _, ok = strings.Cut(code, "```")
	if !ok {
		t.Fatal("docs/BOTS.md: the sh block does not end")
	}
	return code
}

// botLine is a line of history --json, with what the bot test checks.
type botLine struct {
	Index   uint64 `json:"index"`
	ID      string `json:"id"`
	From    string `json:"from"`
	Text    string `json:"text"`
	ReplyTo uint64 `json:"reply_to"`
}

func (c *cluster) botHistory(id string) []botLine {
	c.t.Helper()
	out, err := c.run(id, "reader", c.userKey("reader"), 10*time.Second, "history general --json --limit 1000")
	if err != nil {
		c.t.Fatal(err)
	}
	var ls []botLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l botLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			c.t.Fatalf("history line %q: %v", sc.Text(), err)
		}
		ls = append(ls, l)
	}
	return ls
}

// pongs counts the bot's replies to each message.
func pongs(ls []botLine) map[uint64]int {
	n := map[uint64]int{}
	for _, l := range ls {
		if l.From == "pingbot" && l.Text == "pong" {
			n[l.ReplyTo]++
		}
	}
	return n
}

// bot is the example bot running under sh, in a process group of its own.
type bot struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

func startBot(t *testing.T, script, syncnet, state, logPath string) *bot {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", script)
	cmd.Env = append(os.Environ(), "SYNCNET="+syncnet, "ROOM=general", "STATE="+state)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &bot{cmd: cmd, done: make(chan struct{}), log: logf}
	go func() { _ = cmd.Wait(); close(b.done) }()
	t.Cleanup(b.stop)
	return b
}

// stop kills the bot's whole process group (sh, its ssh commands).
func (b *bot) stop() {
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	<-b.done
	_ = b.log.Close()
}

// The bot of docs/BOTS.md against three real nodes, through OpenSSH: a
// "!ping" gets one "pong" reply; the bot's node is killed, a "!ping" posted
// meanwhile is answered once the node is back; a bot restarted with a
// stale STATE reads the pings again and answers none twice.
func TestPingBotFromDocs(t *testing.T) {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("the example bot runs OpenSSH's ssh, which is not installed here")
	}
	c := start(t, 3)
	dir := t.TempDir()
	script := filepath.Join(dir, "pingbot.sh")
	if err := os.WriteFile(script, []byte(botScript(t)), 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "pingbot_key")
	writeKeyFile(t, key)
	syncnet := fmt.Sprintf("%s -p %d -i %s -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no "+
		"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=2 pingbot@127.0.0.1",
		sshBin, c.nodes["node1"].ports[0], key)
	state := filepath.Join(dir, "pingbot.last")
	logPath := filepath.Join(dir, "pingbot.log")
	if _, err := c.post("node2", "alice", "general", "before-the-bot", "b0"); err != nil {
		t.Fatal(err)
	}
	old, err := c.post("node2", "alice", "general", "!ping", "p0") // before the bot: not answered
	if err != nil {
		t.Fatal(err)
	}
	b := startBot(t, script, syncnet, state, logPath)
	waitFor := func(what string, cond func(ls []botLine) bool) []botLine {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ls := c.botHistory("node3")
			if cond(ls) {
				return ls
			}
			if time.Now().After(deadline) {
				logged, _ := os.ReadFile(logPath)
				t.Fatalf("%s: history %+v\nbot's output:\n%s", what, ls, logged)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The bot saved where it starts before it answers anything.
	waitUntil(t, 30*time.Second, func() bool { s, _ := os.ReadFile(state); return len(s) > 0 }, func() string {
		logged, _ := os.ReadFile(logPath)
		return "the bot never saved where it starts; its output:\n" + string(logged)
	})

	p1, err := c.post("node2", "alice", "general", "!ping", "p1")
	if err != nil {
		t.Fatal(err)
	}
	c.post("node3", "bob", "general", "!ping is a command", "x1")
	ls := waitFor("a pong to the first ping", func(ls []botLine) bool { return pongs(ls)[p1] == 1 })
	if n := pongs(ls); n[old] != 0 || len(n) != 1 {
		t.Fatalf("pongs %v: want one, to %d", n, p1)
	}

	// The bot's node dies; a ping posted meanwhile is answered once it is
	// back (the bot connects again from its STATE).
	c.kill9("node1")
	p2, err := c.post("node2", "alice", "general", "!ping", "p2")
	if err != nil {
		t.Fatal(err)
	}
	c.restart("node1")
	waitFor("a pong to the ping posted while the bot's node was down", func(ls []botLine) bool { return pongs(ls)[p2] == 1 })

	// A bot that lost its place (a stale STATE) reads both pings again and
	// posts pong-INDEX again: the same ids, so nothing twice.
	b.stop()
	if err := os.WriteFile(state, []byte(fmt.Sprintln(old)), 0o600); err != nil {
		t.Fatal(err)
	}
	startBot(t, script, syncnet, state, logPath)
	p3, err := c.post("node3", "alice", "general", "!ping", "p3")
	if err != nil {
		t.Fatal(err)
	}
	ls = waitFor("a pong to the third ping", func(ls []botLine) bool { return pongs(ls)[p3] == 1 })
	if n := pongs(ls); len(n) != 3 || n[p1] != 1 || n[p2] != 1 || n[p3] != 1 {
		t.Fatalf("after a restart from a stale state: pongs %v, want one each to %d, %d, %d", n, p1, p2, p3)
	}
	for _, l := range ls {
		if l.From == "pingbot" && l.ID != fmt.Sprint("pong-", l.ReplyTo) {
			t.Errorf("a pong with id %q answers %d", l.ID, l.ReplyTo)
		}
	}
}

func waitUntil(t *testing.T, d time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
