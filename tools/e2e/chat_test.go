package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// chatProc is a running `syncnet chat --batch --trace`.
type chatProc struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error

	mu       sync.Mutex
	received []chatLine // stdout JSON lines
	states   []string   // stderr lines
	changed  chan struct{}
}

// chatLine is one stdout line of chat --batch --trace.
type chatLine struct {
	message
	Via  string `json:"via"`
	Recv string `json:"recv"`
}

// requireChat skips when the binary has no chat subcommand.
func requireChat(t testing.TB) {
	t.Helper()
	if out, err := exec.Command(binPath, "chat", "--help").CombinedOutput(); err != nil && !strings.Contains(string(out), "--batch") {
		t.Skipf("syncnet chat is not available (chat --help: %v)", err)
	}
}

// startChat runs the failover client as user in room over the given nodes,
// in that order.
func (c *cluster) startChat(user, room string, nodes []string) *chatProc {
	c.t.Helper()
	dir := filepath.Join(c.dir, "chat-"+user)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "id_ed25519")
	writeKeyFile(c.t, keyPath)
	var addrs []string
	for _, id := range nodes {
		addrs = append(addrs, c.nodes[id].sshAddr())
	}
	cmd := exec.Command(binPath, "chat", "--batch", "--trace", "--nodes", strings.Join(addrs, ","),
		"-i", keyPath, "--known-hosts", filepath.Join(dir, "known_hosts"), "--user", user, "--room", room,
		"--history", "0", "--linger", "1s")
	cmd.Env = append(os.Environ(), "HOME="+dir, "SSH_AUTH_SOCK=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &chatProc{t: c.t, cmd: cmd, done: make(chan error, 1), changed: make(chan struct{})}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		c.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); p.readStdout(stdout) }()
	go func() { defer readers.Done(); p.readStderr(stderr) }()
	go func() { readers.Wait(); p.done <- cmd.Wait() }()
	c.t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if c.t.Failed() {
			p.mu.Lock()
			c.t.Logf("---- chat stderr ----\n%s", strings.Join(p.states, "\n"))
			p.mu.Unlock()
		}
	})
	return p
}

func (p *chatProc) readStdout(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l chatLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			p.t.Errorf("chat stdout: %q: %v", sc.Text(), err)
			continue
		}
		p.update(func() { p.received = append(p.received, l) })
	}
}

func (p *chatProc) readStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		p.update(func() { p.states = append(p.states, line) })
	}
}

func (p *chatProc) update(f func()) {
	p.mu.Lock()
	f()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// waitFor waits until cond holds (checked under the lock after every line).
func (p *chatProc) waitFor(what string, within time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.After(within)
	for {
		p.mu.Lock()
		ok, ch := cond(), p.changed
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			p.t.Fatalf("chat: no %s within %s", what, within)
		}
	}
}

// waitState waits for a stderr line starting with prefix, after skip lines.
func (p *chatProc) waitState(prefix string, within time.Duration) string {
	p.t.Helper()
	var found string
	p.waitFor(fmt.Sprintf("stderr line %q", prefix), within, func() bool {
		for _, s := range p.states {
			if strings.HasPrefix(s, prefix) {
				found = s
				return true
			}
		}
		return false
	})
	return found
}

// waitReceived waits until every text has been received at least once.
func (p *chatProc) waitReceived(texts []string, within time.Duration) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("delivery of %d lines", len(texts)), within, func() bool {
		got := map[string]bool{}
		for _, l := range p.received {
			got[l.Text] = true
		}
		for _, x := range texts {
			if !got[x] {
				return false
			}
		}
		return true
	})
}

func (p *chatProc) send(lines ...string) {
	p.t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(p.stdin, l+"\n"); err != nil {
			p.t.Fatalf("chat stdin: %v", err)
		}
	}
}

// finish closes stdin and waits for the client to exit (all lines acked).
func (p *chatProc) finish(within time.Duration) {
	p.t.Helper()
	p.stdin.Close()
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Errorf("chat exited: %v", err)
		}
	case <-time.After(within):
		p.t.Fatalf("chat did not exit within %s of closing stdin", within)
	}
}

func texts(prefix string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}
